//! Megaco (H.248, RFC 3525), the control of media gateways by their call agents,
//! in its text encoding over UDP or TCP (port 2944): every message opens with
//! `MEGACO/` or its short form `!/`, the version, and the sender's id (a domain
//! name in angle brackets, an address in square brackets, or an MTP address).
//! Recognised from that opening; only the protocol is recorded.

use crate::kit::lines::starts_with_ci;
use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "megaco",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[2944, 2945],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let rest = if let Some(r) = d.strip_prefix(b"!/") {
        r
    } else if starts_with_ci(d, b"MEGACO/") {
        &d[7..]
    } else if b"MEGACO/".get(..d.len()).is_some_and(|p| p.eq_ignore_ascii_case(d)) || d == b"!" {
        return Probe::NeedMore;
    } else {
        return Probe::NoMatch;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = &rest[digits..];
    let spaces = after.iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
    match (digits, spaces, after.get(spaces)) {
        (1..=2, 1.., Some(b'<' | b'[')) => Probe::Match,
        (1..=2, 1.., Some(b'M' | b'm')) => match after[spaces..].get(..4) {
            Some(mtp) => Probe::from(mtp.eq_ignore_ascii_case(b"MTP{")),
            None => Probe::NeedMore,
        },
        (0..=2, _, None) if rest.len() < 8 => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_openings() {
        // `FAX-Call-t38-CA-TDM-SIP-FB-1.pcap`: both the short and the long form.
        assert_eq!(probe(Side::Client, b"!/1 <iMSS>\nT=555282713{C=-{AV=DS/1/5{AT{M}}}}"), Probe::Match);
        assert_eq!(probe(Side::Server, b"!/1 [10.23.1.42]:2944 P = 555282713{"), Probe::Match);
        assert_eq!(probe(Side::Client, b"MEGACO/1 [124.124.124.222]:55555\r\nTransaction = 9998 {"), Probe::Match);
        assert_eq!(probe(Side::Client, b"MEGACO/3 MTP{0A1B}\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"MEGA"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"MEGACO/1 MT"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"MEGACO/1 MTX{"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"!/1"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"!/1 hello"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"MEGACO/x <a>"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
