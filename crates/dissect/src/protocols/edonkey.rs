//! eDonkey, the peer-to-peer file-sharing protocol of eMule and its relatives, over
//! TCP: messages of a protocol byte (0xE3 eDonkey, 0xC5 eMule's extensions, 0xD4
//! packed), a little-endian length and an opcode. Recognised from any message
//! start by lengths that lead from one message exactly to the next. Only the
//! protocol is recorded.

use crate::kit::messages::Length;
use crate::kit::{chained, le32, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "edonkey",
    transports: &[Transport::Tcp],
    ports: &[4661, 4662],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

/// A message's length at most (eMule sends file parts in messages of about 10 KiB;
/// its limit is 2 MB).
const MAX_MESSAGE: usize = 2 << 20;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    chained(d, |m| match (m[0], le32(m, 1)) {
        (0xe3 | 0xc5 | 0xd4, None) => Length::NeedMore,
        (0xe3 | 0xc5 | 0xd4, Some(n)) if (1..=MAX_MESSAGE).contains(&(n as usize)) => Length::Is(5 + n as usize),
        _ => Length::Bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_that_follow_each_other() {
        // `edonkey.pcap`: a hello of 119 bytes after its header.
        let mut hello = vec![0xe3, 0x77, 0, 0, 0, 0x01];
        hello.resize(5 + 0x77, 0x10);
        assert_eq!(probe(Side::Client, &hello), Probe::Match);
        assert_eq!(probe(Side::Client, &hello[..60]), Probe::NeedMore);
        let mut two = hello.clone();
        two.extend_from_slice(&[0xc5, 2, 0, 0, 0, 0x60, 0x01]);
        assert_eq!(probe(Side::Client, &two), Probe::Match);
        two.push(0xe3);
        assert_eq!(probe(Side::Client, &two), Probe::NeedMore, "a next message begun");
        let mut other = hello.clone();
        other[0] = 0xe4;
        assert_eq!(probe(Side::Client, &other), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[0xe3, 0, 0, 0, 0, 1]), Probe::NoMatch, "no opcode");
        assert_eq!(probe(Side::Client, &[0xe3, 0xff, 0xff, 0xff, 0x7f, 1]), Probe::NoMatch, "too long");
    }
}
