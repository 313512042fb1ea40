//! Knowing the application whatever the port.
//!
//! Each protocol is one module: a pure parser, its per-session state (a
//! [`Dissector`]) and one immutable [`Protocol`] description in [`PROTOCOLS`], the
//! one list of every protocol. [`Dissectors`] plugs them into the flow layer: for each
//! session it keeps the first bytes of each direction, asks every protocol's cheap
//! probe, and hands the stream to the protocol whose probe recognises the payload.
//! The port decides nothing while payload can; when no payload settles it, the
//! well-known port gives a guess that is labelled as one (`protocols.how`).

pub mod afp;
pub mod ajp;
pub mod alicloud;
pub mod amqp;
pub mod avast;
pub mod bgp;
pub mod bitcoin;
pub mod bittorrent;
pub mod c37118;
pub mod capwap;
pub mod cassandra;
pub mod ceph;
pub mod checkmk;
pub mod citrix;
mod classify;
pub mod coap;
pub mod crynet;
pub mod dcerpc;
mod der;
pub mod dhcp;
pub mod dhcpv6;
pub mod diameter;
pub mod discord;
pub mod dnp3;
pub mod dns;
pub mod dnscrypt;
pub mod drda;
pub mod dropbox;
pub mod dtls;
pub mod eaq;
pub mod enip;
pub mod esp;
pub mod ethereum;
pub mod expect;
pub mod fins;
pub mod fix;
pub mod ftp;
pub mod gearman;
pub mod genshin;
pub mod giop;
pub mod git;
pub mod gnutella;
pub mod gtpc;
pub mod h323;
pub mod hartip;
pub mod hislip;
pub mod hl7;
pub mod hpvirtgrp;
pub mod http;
pub mod http2;
pub mod iec104;
pub mod imap;
pub mod irc;
pub mod isakmp;
pub mod jrmi;
pub mod kerberos;
pub mod kismet;
pub mod ldap;
mod lines;
pub mod lisp;
pub mod memcache;
mod messages;
pub mod mgcp;
pub mod modbus;
pub mod monero;
pub mod mongodb;
pub mod mqtt;
pub mod munin;
pub mod mysql;
pub mod nats;
pub mod nfs;
pub mod nintendo;
pub mod nntp;
mod ntlm;
pub mod ntp;
pub mod opcua;
pub mod openvpn;
pub mod oracle;
pub mod pop3;
pub mod postgres;
pub mod pptp;
mod psiphon;
pub mod ptp;
pub mod quic;
pub mod radius;
pub mod rdp;
pub mod redis;
pub mod riotgames;
pub mod risk;
pub mod rsh;
pub mod rsync;
pub mod rtmp;
pub mod rtp;
pub mod rtsp;
pub mod s7comm;
pub mod sdrtn;
pub mod sip;
pub mod skinny;
pub mod slp;
pub mod smb;
pub mod smpp;
pub mod smtp;
pub mod snmp;
pub mod socks;
pub mod someip;
mod sql;
pub mod ssdp;
pub mod ssh;
pub mod stun;
pub mod syslog;
pub mod tds;
pub mod teamspeak;
pub mod telegram;
pub mod telnet;
pub mod teredo;
pub mod tftp;
pub mod tls;
pub mod viber;
pub mod vnc;
pub mod weave;
pub mod whatsapp;
pub mod wireguard;
pub mod xiaomi;
pub mod xmpp;
pub mod zabbix;

use tyto_schema::SessionRecord;

pub use classify::{Classifier, Dissectors, PLAUSIBLE_RUN, PROBE_BYTES, PROBE_DATAGRAMS};

/// Which side sent the bytes: the side that opened the session is the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// What a probe says of the first bytes of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// This is the protocol.
    Match,
    /// It is not.
    NoMatch,
    /// Too few bytes to tell.
    NeedMore,
    /// One datagram that could be the protocol, whose header has too little magic
    /// for one to prove it (RTP, uTP): `stream` names the stream it belongs to (RTP's
    /// SSRC) and `seq` its place in it. Datagrams of one side that keep to one stream
    /// with advancing sequence numbers decide (see [`PLAUSIBLE_RUN`]).
    Plausible { stream: u32, seq: u16 },
}

/// A probe that can always tell from what it has: yes or no.
impl From<bool> for Probe {
    fn from(matches: bool) -> Probe {
        if matches {
            Probe::Match
        } else {
            Probe::NoMatch
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Reassembled byte streams.
    Tcp,
    /// One payload at a time.
    Udp,
    /// IP protocol 50's payloads, one packet at a time.
    Esp,
}

/// One protocol, described once.
pub struct Protocol {
    /// The value added to `protocols`.
    pub name: &'static str,
    pub transports: &'static [Transport],
    /// Ports the protocol usually runs on: only for labelled guesses.
    pub ports: &'static [u16],
    /// A cheap look at the first bytes one side sent (the stream so far, or one datagram).
    pub probe: fn(Side, &[u8]) -> Probe,
    /// A fresh per-session state.
    pub new: fn() -> Box<dyn Dissector>,
    /// A look at bytes that may begin any message of the protocol but its first, for
    /// a stream picked up part-way or after lost bytes; `None` where `probe` already
    /// recognises every message, or where only the first can be told apart.
    pub later: Option<fn(Side, &[u8]) -> Probe>,
}

/// One session's parser for one protocol. It writes what it learns into the record
/// through the catalogue (`rec.extra`), and never fails: malformed input is recorded
/// as an anomaly or ignored, and parsing goes on or stops.
///
/// When `rec.transactions` is `Some`, a request/answer protocol also files one
/// [`tyto_schema::Transaction`] per pair; `rec.stop_ns` is then the time of the
/// packet that delivered the bytes being fed.
pub trait Dissector: Send {
    /// In-order stream bytes (TCP) or one datagram's payload (UDP).
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord);
    /// The row is about to be written: what is pending (a request not answered yet)
    /// is filed with it.
    fn end(&mut self, _rec: &mut SessionRecord) {}
    /// `len` bytes of a direction are lost; a stream parser resynchronises or stops.
    fn gap(&mut self, _side: Side, _len: u64) {}
    /// Whether more bytes could still teach anything.
    fn wants_more(&self) -> bool {
        true
    }
    /// Asked after every stream feed: `Some(n)` when this protocol ended after the
    /// first `n` bytes of that feed and another one follows on the same connection
    /// (STARTTLS, a proxy's tunnel). The session is then classified afresh from there.
    fn handoff(&mut self) -> Option<usize> {
        None
    }
}

/// Every protocol Tyto recognises. Adding one is a module and a line here.
pub static PROTOCOLS: &[&Protocol] = &[
    &http::PROTOCOL,
    &http2::PROTOCOL,
    &tls::PROTOCOL,
    &ssh::PROTOCOL,
    &dns::PROTOCOL,
    &dnscrypt::PROTOCOL,
    &bittorrent::PROTOCOL,
    &kerberos::PROTOCOL,
    &isakmp::PROTOCOL,
    &esp::PROTOCOL,
    &smb::PROTOCOL,
    &dcerpc::PROTOCOL,
    &ldap::PROTOCOL,
    &rdp::PROTOCOL,
    &tds::PROTOCOL,
    &postgres::PROTOCOL,
    &mqtt::PROTOCOL,
    &modbus::PROTOCOL,
    &opcua::PROTOCOL,
    &s7comm::PROTOCOL,
    &s7comm::PLUS,
    &iec104::PROTOCOL,
    &teredo::PROTOCOL,
    &dnp3::PROTOCOL,
    &oracle::PROTOCOL,
    &bgp::PROTOCOL,
    &irc::PROTOCOL,
    &radius::PROTOCOL,
    &tftp::PROTOCOL,
    &zabbix::PROTOCOL,
    &fix::PROTOCOL,
    &xmpp::PROTOCOL,
    &rtsp::PROTOCOL,
    &bitcoin::PROTOCOL,
    &redis::PROTOCOL,
    &mongodb::PROTOCOL,
    &memcache::PROTOCOL,
    &telnet::PROTOCOL,
    &vnc::PROTOCOL,
    &openvpn::PROTOCOL,
    &wireguard::PROTOCOL,
    &dhcpv6::PROTOCOL,
    &ethereum::PROTOCOL,
    &discord::PROTOCOL,
    &sdrtn::PROTOCOL,
    &alicloud::PROTOCOL,
    &nfs::PROTOCOL,
    &whatsapp::PROTOCOL,
    &dropbox::PROTOCOL,
    &gnutella::PROTOCOL,
    &socks::PROTOCOL,
    &smtp::PROTOCOL,
    &ftp::PROTOCOL,
    &ftp::DATA,
    &imap::PROTOCOL,
    &pop3::PROTOCOL,
    &mysql::PROTOCOL,
    &dtls::PROTOCOL,
    &quic::PROTOCOL,
    &stun::PROTOCOL,
    &snmp::PROTOCOL,
    &sip::PROTOCOL,
    &dhcp::PROTOCOL,
    &ssdp::PROTOCOL,
    &syslog::PROTOCOL,
    &slp::PROTOCOL,
    &git::PROTOCOL,
    &pptp::PROTOCOL,
    &rsync::PROTOCOL,
    &nntp::PROTOCOL,
    &gearman::PROTOCOL,
    &hl7::PROTOCOL,
    &smpp::PROTOCOL,
    &diameter::PROTOCOL,
    &ceph::PROTOCOL,
    &checkmk::PROTOCOL,
    &citrix::PROTOCOL,
    &giop::PROTOCOL,
    &jrmi::PROTOCOL,
    &kismet::PROTOCOL,
    &drda::PROTOCOL,
    &afp::PROTOCOL,
    &teamspeak::PROTOCOL,
    &gtpc::PROTOCOL,
    &someip::PROTOCOL,
    // Industrial, voice, messaging and network services with their own framing.
    &h323::PROTOCOL,
    &enip::PROTOCOL,
    &hislip::PROTOCOL,
    &c37118::PROTOCOL,
    &skinny::PROTOCOL,
    &mgcp::PROTOCOL,
    &cassandra::PROTOCOL,
    &amqp::PROTOCOL,
    &nats::PROTOCOL,
    &munin::PROTOCOL,
    &ajp::PROTOCOL,
    &rsh::PROTOCOL,
    &coap::PROTOCOL,
    &capwap::PROTOCOL,
    &lisp::PROTOCOL,
    &fins::PROTOCOL,
    &hartip::PROTOCOL,
    &ptp::PROTOCOL,
    // Applications known by their own framing or markers.
    &weave::PROTOCOL,
    &avast::PROTOCOL,
    &hpvirtgrp::PROTOCOL,
    &monero::PROTOCOL,
    &xiaomi::PROTOCOL,
    &viber::PROTOCOL,
    &genshin::PROTOCOL,
    &nintendo::PROTOCOL,
    &telegram::PROTOCOL,
    &crynet::PROTOCOL,
    &riotgames::PROTOCOL,
    &eaq::PROTOCOL,
    // A version byte and a long random block: only after everything else.
    &rtmp::PROTOCOL,
    &rtp::RTCP,
    // Last: their headers have no magic, so every other protocol is asked first.
    &rtp::PROTOCOL,
    &ntp::PROTOCOL,
];

/// Adds a value to a dissector field. The names are the catalogue's and fixed in the
/// code; a mismatch is a bug the unit tests catch, so it is ignored at run time
/// rather than allowed to disturb capture.
fn put_text(rec: &mut SessionRecord, field: &str, value: &str) {
    let r = rec.extra.add_text(field, value);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

/// A span of time in nanoseconds, into a duration field (in microseconds).
fn put_duration(rec: &mut SessionRecord, field: &str, ns: i64) {
    let r = rec.extra.add_int(field, tyto_schema::time::span_micros(ns));
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

fn put_int(rec: &mut SessionRecord, field: &str, value: i64) {
    let r = rec.extra.add_int(field, value);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

fn put_ip(rec: &mut SessionRecord, field: &str, value: tyto_packet::Addr) {
    let r = rec.extra.add_ip(field, value);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

fn put_time(rec: &mut SessionRecord, field: &str, ns: i64) {
    let r = rec.extra.add_time(field, ns);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

/// A probe for a fixed opening: `Match` once the bytes start with `token`,
/// `NeedMore` while they are a prefix of it.
fn starts_with(data: &[u8], token: &[u8]) -> Probe {
    let n = data.len().min(token.len());
    if data[..n] != token[..n] {
        Probe::NoMatch
    } else if n < token.len() {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

/// A probe whose checks passed on a message of `len` bytes: `Match` once it is all
/// there.
fn once_whole(data: &[u8], len: usize) -> Probe {
    framed(data, len, |_| true)
}

/// A probe whose checks passed on a first message of `len` bytes, in a framing where
/// messages follow one another: `NeedMore` until it is all there, `Match` when the
/// stream ends with it, and when more bytes follow, whether `next` accepts them as
/// the start of another message.
fn framed(data: &[u8], len: usize, next: impl FnOnce(&[u8]) -> bool) -> Probe {
    match data.get(len..) {
        None => Probe::NeedMore,
        Some([]) => Probe::Match,
        Some(rest) => Probe::from(next(rest)),
    }
}

/// Little-endian integers at an offset, when the bytes are there (SMB, NTLMSSP).
fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Big-endian (network order) ones, where a parser reads many.
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// An Ethernet address as the catalogue keeps them: `00:1a:2b:03:04:05`.
fn mac_text(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// UTF-16LE text (SMB, NTLMSSP, TDS, RDP), bad units replaced.
fn utf16le(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or('\u{fffd}')).collect()
}

/// Lower-case hex, as fingerprints, hashes and SPIs are recorded.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dissector of a protocol whose name is all that is recorded so far.
struct NameOnly;

impl Dissector for NameOnly {
    fn feed(&mut self, _side: Side, _data: &[u8], _rec: &mut SessionRecord) {}

    fn wants_more(&self) -> bool {
        false
    }
}

/// Files a finished transaction with the row; its index, while the row lasts.
fn file_transaction(rec: &mut SessionRecord, t: tyto_schema::Transaction) -> Option<usize> {
    rec.transactions.as_mut().and_then(|list| list.push(t))
}

/// A request waiting for its answer, as the request/answer protocols hold it: when
/// it was sent, and its transaction when the row keeps them. The answer then gives
/// the protocol's `*.response-time` and the transaction the same figure.
struct Asked {
    sent_ns: i64,
    txn: Option<tyto_schema::Transaction>,
}

impl Asked {
    /// A request of `kind` whose last byte came in the newest packet.
    fn new(rec: &SessionRecord, kind: &'static str, bytes: usize) -> Asked {
        let txn = rec.transactions.is_some().then(|| {
            let mut t = tyto_schema::Transaction::new(kind);
            t.request_ns = Some(rec.stop_ns);
            t.request_bytes = bytes as u64;
            t
        });
        Asked { sent_ns: rec.stop_ns, txn }
    }

    /// A value of the request or of its answer, for its transaction.
    fn note(&mut self, field: &str, text: &str) {
        if let Some(t) = &mut self.txn {
            let r = t.values.add_text(field, text);
            debug_assert!(r.is_ok(), "{field}: {r:?}");
        }
    }

    /// Bytes of the answer read so far.
    fn answer_bytes(&mut self, n: usize) {
        if let Some(t) = &mut self.txn {
            t.response_bytes += n as u64;
        }
    }

    /// The answer came (in the newest packet): its time goes into `field` and the
    /// transaction is filed.
    fn answered(self, rec: &mut SessionRecord, field: &str) {
        let now = rec.stop_ns;
        self.answered_at(rec, field, now)
    }

    /// The answer began at `at_ns` (and ends in the newest packet).
    fn answered_at(self, rec: &mut SessionRecord, field: &str, at_ns: i64) {
        let took = at_ns - self.sent_ns;
        put_duration(rec, field, took);
        if let Some(mut t) = self.txn {
            t.response_ns = Some(at_ns);
            t.response_us = Some(tyto_schema::time::span_micros(took));
            file_transaction(rec, t);
        }
    }

    /// Never answered: filed as it is.
    fn unanswered(self, rec: &mut SessionRecord) {
        if let Some(t) = self.txn {
            file_transaction(rec, t);
        }
    }

    /// The row is being written with these requests still waiting: their
    /// transactions go with it, unanswered; their times stay, so an answer in the
    /// session's next row is still timed.
    fn file_waiting<'a>(waiting: impl IntoIterator<Item = &'a mut Asked>, rec: &mut SessionRecord) {
        for asked in waiting {
            if let Some(t) = asked.txn.take() {
                file_transaction(rec, t);
            }
        }
    }
}

/// Bytes from a hex dump (tests quote captures this way).
#[cfg(test)]
fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

fn add_protocol(rec: &mut SessionRecord, name: &str) {
    if !rec.protocols.iter().any(|p| p == name) {
        rec.protocols.push(name.to_string());
    }
}
