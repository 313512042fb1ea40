//! The one list of protocols, in the order their probes are asked.

use crate::protocols::*;
use crate::{Protocol, SubProtocol};

/// Every protocol Tyto recognises. Adding one is a module and a line here.
///
/// The order is the order probes are asked in, and the first that matches names the
/// session: where two probes accept the same bytes the earlier wins. Those meetings
/// found in the shared captures are kept in `testdata/probe-order.txt` and tested;
/// protocols whose headers carry no magic (RTP, NTP) come last.
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
    &ospf::PROTOCOL,
    &smb::PROTOCOL,
    &dcerpc::PROTOCOL,
    &ldap::PROTOCOL,
    &rdp::PROTOCOL,
    &tds::PROTOCOL,
    &postgres::PROTOCOL,
    &mqtt::PROTOCOL,
    // `ES` and a 32-bit length: below 64 KiB, the shape of a Modbus header.
    &elasticsearch::PROTOCOL,
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
    &c1222::PROTOCOL,
    &skinny::PROTOCOL,
    &mgcp::PROTOCOL,
    &megaco::PROTOCOL,
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
    &bacnet::PROTOCOL,
    &adb::PROTOCOL,
    &pana::PROTOCOL,
    &sigtran::M3UA,
    &sigtran::M2UA,
    // Applications known by their own framing or markers.
    &weave::PROTOCOL,
    &avast::PROTOCOL,
    &hpvirtgrp::PROTOCOL,
    &monero::PROTOCOL,
    &xiaomi::PROTOCOL,
    &viber::PROTOCOL,
    &genshin::PROTOCOL,
    &nintendo::PROTOCOL,
    &oicq::PROTOCOL,
    &source_engine::PROTOCOL,
    &raknet::PROTOCOL,
    &edonkey::PROTOCOL,
    &tinc::PROTOCOL,
    &iax::PROTOCOL,
    &rx::PROTOCOL,
    &teamviewer::PROTOCOL,
    &telegram::PROTOCOL,
    &crynet::PROTOCOL,
    &riotgames::PROTOCOL,
    &eaq::PROTOCOL,
    &zoom::PROTOCOL,
    // Named by HTTP's upgrade; picked up part-way only by a frame of text.
    &websocket::PROTOCOL,
    // A version byte and a long random block: only after everything else.
    &rtmp::PROTOCOL,
    &rtp::RTCP,
    // Last: their headers have no magic, so every other protocol is asked first.
    &rtp::PROTOCOL,
    &ntp::PROTOCOL,
];

/// The sub-protocols (see [`SubProtocol`]) named by the protocols' parses besides
/// their own names; DCE/RPC's interfaces follow, from its table of UUIDs.
static SUB_PROTOCOLS: &[&SubProtocol] = &[
    &dns::MDNS,
    &dns::LLMNR,
    &dns::NBNS,
    &tls::TOR,
    &tls::PSIPHON,
    &tls::DOT,
    &tls::DOQ,
    &stun::SRTP,
    &crate::kit::ntlm::NTLM,
    &enip::CIP,
    &sigtran::SCCP,
    &sigtran::CAMEL,
    &sigtran::ISUP,
    &sigtran::TUP,
];

/// Every sub-protocol a row's `protocols` may name.
pub fn sub_protocols() -> impl Iterator<Item = &'static SubProtocol> {
    SUB_PROTOCOLS.iter().copied().chain(dcerpc::INTERFACES.iter().map(|(_, s)| s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Probe, Side};

    fn position(name: &str) -> usize {
        PROTOCOLS.iter().position(|p| p.name == name).unwrap_or_else(|| panic!("{name} is not registered"))
    }

    /// The order decides where two probes accept the same bytes: each case from a
    /// real capture, with the protocol that must win (`testdata/probe-order.txt`).
    #[test]
    fn where_two_probes_accept_the_same_bytes_the_right_one_is_asked_first() {
        let cases = include_str!("../testdata/probe-order.txt");
        let mut n = 0;
        for line in cases.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let f: Vec<&str> = line.split(' ').collect();
            let [first, after, side, capture, hex] = f[..] else { panic!("bad line: {line}") };
            let side = if side == "client" { Side::Client } else { Side::Server };
            let bytes = crate::kit::unhex(hex);
            for name in [first, after] {
                let p = PROTOCOLS[position(name)];
                assert_eq!((p.probe)(side, &bytes), Probe::Match, "{name}'s probe on {capture}'s payload");
            }
            assert!(position(first) < position(after), "{first} must be asked before {after} ({capture})");
            n += 1;
        }
        assert!(n >= 5);
    }

    /// One name, one meaning: no two protocols or sub-protocols share a name (but
    /// DCE/RPC interfaces known under two UUIDs), and every parent is registered.
    #[test]
    fn every_protocol_is_registered_once() {
        let mut subs: Vec<(&str, Option<*const Protocol>)> = Vec::new();
        for s in sub_protocols() {
            if let Some(parent) = s.parent {
                assert!(PROTOCOLS.iter().any(|p| std::ptr::eq(*p, parent)), "{}'s parent", s.name);
            }
            subs.push((s.name, s.parent.map(|p| p as *const Protocol)));
        }
        subs.sort_unstable();
        subs.dedup();
        let mut names: Vec<&str> = PROTOCOLS.iter().map(|p| p.name).chain(subs.iter().map(|s| s.0)).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
    }
}
