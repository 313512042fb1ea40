//! Knowing the application whatever the port.
//!
//! Each protocol is one module: a pure parser, its per-session state (a
//! [`Dissector`]) and one immutable [`Protocol`] description in [`PROTOCOLS`], the
//! one list of every protocol. [`Dissectors`] plugs them into the flow layer: for each
//! session it keeps the first bytes of each direction, asks every protocol's cheap
//! probe, and hands the stream to the protocol whose probe recognises the payload.
//! The port decides nothing while payload can; when no payload settles it, the
//! well-known port gives a guess that is labelled as one (`protocols.how`).

#[macro_use]
extern crate tyto_schema;

mod classify;
mod kit;
pub mod protocols;
mod registry;
pub mod risk;

use tyto_schema::SessionRecord;

pub use classify::{Classifier, Dissectors, PLAUSIBLE_RUN, PROBE_BYTES, PROBE_DATAGRAMS};
pub use registry::{sub_protocols, PROTOCOLS};

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
    /// As [`Probe::Plausible`], for a protocol whose packets name one connection id
    /// in both directions (Google QUIC): a side's first datagram naming the id the
    /// other side's did decides.
    Connection { id: u32, seq: u16 },
    /// A datagram whose header names a connection id (`stream`) and nothing in
    /// clear that counts, but whose first byte's low bits are masked afresh in every
    /// packet (IETF QUIC's short header, RFC 9001 5.4): datagrams of one side that
    /// keep the id while `mark` (that first byte) changes continue a run, as
    /// advancing numbers do.
    Masked { stream: u32, mark: u8 },
    /// A datagram carrying a marker where the protocol's header puts it, too short
    /// for one to prove it, in a header with no number that advances (TeamViewer's
    /// 0x17 0x24 at byte 11): datagrams of one side that carry the same `stream`
    /// continue a run.
    Marked { stream: u32 },
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
    /// IP protocol 89's payloads (OSPF), one packet at a time.
    Ospf,
    /// IP protocol 132's chunks (SCTP, after its common header), one packet at a time.
    Sctp,
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
    /// A look at bytes that may begin any message of the protocol but its first: a
    /// stream picked up part-way or after lost bytes, or any datagram (a flow's
    /// first datagrams may not have been seen); `None` where `probe` already
    /// recognises every message, or where only the first can be told apart.
    pub later: Option<fn(Side, &[u8]) -> Probe>,
}

/// A protocol named while another is parsed, never probed on its own: DNS's
/// local-network relatives by their ports, DNS over TLS by its ALPN, Tor and Psiphon
/// by their certificates, DCE/RPC's interfaces by their UUIDs. Listed with the
/// protocols in [`registry`], so every name a row's `protocols` can hold is known.
pub struct SubProtocol {
    /// The value added to `protocols`.
    pub name: &'static str,
    /// The protocol whose parse names it; `None` for one carried by many (NTLMSSP
    /// inside SMB, HTTP, LDAP, SMTP…).
    pub parent: Option<&'static Protocol>,
}

/// What [`kit::add_protocol`] takes: a registered protocol or sub-protocol, never
/// free text.
pub trait Named {
    fn name(&self) -> &'static str;
}

impl Named for Protocol {
    fn name(&self) -> &'static str {
        self.name
    }
}

impl Named for SubProtocol {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// What one session taught the others of its pipeline ([`Dissector::learnt`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Learnt {
    /// The calling application its STUN messages named: a call's other sessions from
    /// the same endpoints are that application's too.
    Call(&'static str),
    /// Addresses its DNS answers gave for a name, with the name.
    Names(Vec<(tyto_packet::Addr, String)>),
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
    /// With [`Dissector::handoff`]: the protocol that follows, when the switch names
    /// it (HTTP's `101 Switching Protocols` to `Upgrade: websocket`); it is then
    /// decided, not probed for.
    fn successor(&self) -> Option<&'static Protocol> {
        None
    }
    /// Asked after every stream feed: the connections this session announced for
    /// others (FTP's data connections), for the pipeline's table of expectations.
    fn announced(&mut self) -> Vec<kit::expect::Announcement> {
        Vec::new()
    }
    /// Asked after every feed: what this session's messages have just taught other
    /// sessions, for the pipeline's tables; each lesson is handed on once.
    fn learnt(&mut self) -> Option<Learnt> {
        None
    }
}
