//! tinc, a mesh VPN: its daemons meet over TCP (port 655) with lines of text, the
//! first an ID request (`0 NAME 17`, the protocol version, with a minor version in
//! tinc 1.1: `17.7`), answered the same way; the VPN's packets then go over UDP,
//! encrypted. Recognised from the ID line; only the protocol is recorded.

use crate::kit::{starts_with, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "tinc",
    transports: &[Transport::Tcp],
    ports: &[655],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// Node names are letters, digits and underscores.
const MAX_NAME: usize = 255;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(rest) = d.strip_prefix(b"0 ") else { return starts_with(d, b"0 ") };
    let Some(end) = rest.iter().position(|b| *b == b'\n') else {
        let plausible =
            rest.len() <= MAX_NAME + 8 && rest.iter().all(|b| b.is_ascii_alphanumeric() || b" _.".contains(b));
        return if plausible { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = &rest[..end];
    let mut words = line.split(|b| *b == b' ');
    let (Some(name), Some(version), None) = (words.next(), words.next(), words.next()) else { return Probe::NoMatch };
    let name_ok =
        !name.is_empty() && name.len() <= MAX_NAME && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let (major, minor) = match version.iter().position(|b| *b == b'.') {
        Some(dot) => (&version[..dot], Some(&version[dot + 1..])),
        None => (version, None),
    };
    let version_ok =
        major == b"17" && minor.is_none_or(|m| !m.is_empty() && m.len() <= 3 && m.iter().all(u8::is_ascii_digit));
    Probe::from(name_ok && version_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_requests() {
        // `tinc.pcap`: both daemons' ID lines.
        assert_eq!(probe(Side::Client, b"0 think 17\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"0 t 17\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"0 node_2 17.7\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"0 think"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"0"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"0 think 16\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"0 think 17 x\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"0 th/nk 17\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
