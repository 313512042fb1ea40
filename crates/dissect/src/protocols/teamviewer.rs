//! TeamViewer's remote-control sessions (TCP and UDP port 5938, or tunnelled):
//! over TCP, messages of the magic 0x11 0x30, a command, flags and a little-endian
//! length of the body after a 24-byte header, recognised from any message start by
//! lengths that lead exactly from one to the next (the older 0x17 0x24 commands a
//! client sends first leave it open); over UDP, datagrams with 0x17 0x24 at byte 11
//! (after a connection id and a counter that need not advance), three of one side
//! (nDPI asks four of either): a capture that missed the first datagrams, or holds
//! one side only, still has them. Only the protocol is recorded.

use crate::kit::messages::Length;
use crate::kit::{chained, le32, starts_with, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "teamviewer",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[5938],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

const HEADER: usize = 24;
/// A message's body at most: screen updates run to tens of KiB.
const MAX_BODY: usize = 1 << 20;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    if d.get(11..13) == Some(&[0x17, 0x24]) && d.len() >= 16 && !d.starts_with(&[0x11, 0x30]) {
        // A datagram: the magic after the connection's id; the id changes with the
        // channel a datagram belongs to, so the magic alone makes the run.
        return Probe::Marked { stream: 0x1724 };
    }
    // The older commands a client opens with: nothing that decides, but no reason
    // to rule the protocol out before the server's framed answer.
    if d.starts_with(&[0x17, 0x24]) {
        return Probe::NeedMore;
    }
    chained(d, |m| match le32(m, 4) {
        _ if starts_with(m, &[0x11, 0x30]) == Probe::NoMatch => Length::Bad,
        None => Length::NeedMore,
        Some(n) if n as usize <= MAX_BODY => Length::Is(HEADER + n as usize),
        Some(_) => Length::Bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn framed_messages_over_tcp() {
        // `teamviewer.pcap`: the server's first message, 24 bytes of body.
        let mut first = unhex("1130 36 00 18000000 01000000 00000000 1b000000 18000000");
        first.resize(HEADER + 24, 0);
        assert_eq!(probe(Side::Server, &first), Probe::Match);
        assert_eq!(probe(Side::Server, &first[..30]), Probe::NeedMore);
        let mut two = first.clone();
        two.extend_from_slice(&first);
        assert_eq!(probe(Side::Server, &two), Probe::Match);
        two.push(0x11);
        assert_eq!(probe(Side::Server, &two), Probe::NeedMore);
        two.push(0x31);
        assert_eq!(probe(Side::Server, &two), Probe::NoMatch);
        // The client's older commands: open.
        assert_eq!(probe(Side::Client, &unhex("17240a20000000000000000000480080000100000014800000")), Probe::NeedMore);
    }

    #[test]
    fn datagrams_carry_the_magic() {
        // `teamviewer.pcap`: the server's datagrams, of several channels.
        let marked = Probe::Marked { stream: 0x1724 };
        for d in ["0000000000000000 0000 03 1724 4750000500000000", "0100000001000000 4426 0b 1724 7085000100000017"] {
            assert_eq!(probe(Side::Server, &unhex(d)), marked);
        }
        assert_eq!(probe(Side::Server, &unhex("0000000000000000 4426 03 1725 73040000")), Probe::NoMatch);
        assert_eq!(probe(Side::Server, &unhex("0000000000000000 4426 03 1724 7304")), Probe::NoMatch, "too short");
    }
}
