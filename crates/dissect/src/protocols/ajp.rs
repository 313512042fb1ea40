//! AJP13, the Apache JServ Protocol (TCP port 8009), between a web server and its
//! servlet container: the web server's packets open with `12 34`, the container's
//! with `AB`, then a 16-bit length and a prefix code (forward request, shutdown,
//! ping, CPing from the server; body chunk, headers, end, get body, CPong back).
//! Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ajp",
    transports: &[Transport::Tcp],
    ports: &[8009],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, d: &[u8]) -> Probe {
    let (magic, codes): (&[u8], &[u8]) = match side {
        Side::Client => (&[0x12, 0x34], &[2, 7, 8, 10]),
        Side::Server => (b"AB", &[3, 4, 5, 6, 9]),
    };
    match crate::kit::starts_with(d, magic) {
        Probe::Match => {}
        other => return other,
    }
    let Some(h) = d.get(..5) else { return Probe::NeedMore };
    let len = u16::from_be_bytes([h[2], h[3]]);
    Probe::from((1..=8192).contains(&len) && codes.contains(&h[4]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cping_and_cpong() {
        // `ajp.pcap`.
        assert_eq!(probe(Side::Client, &[0x12, 0x34, 0x00, 0x01, 0x0a]), Probe::Match);
        assert_eq!(probe(Side::Server, b"AB\x00\x01\x09"), Probe::Match);
        assert_eq!(probe(Side::Server, b"AB\x00\x01\x02"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"ABCDE"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[0x12, 0x34, 0x00]), Probe::NeedMore);
    }
}
