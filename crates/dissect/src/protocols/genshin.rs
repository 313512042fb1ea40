//! Genshin Impact (miHoYo), two openings. Over UDP the game's KCP transport opens
//! with a 20-byte handshake: `000000FF`, zero, a conversation id, the constant
//! `499602D2` and `FFFFFFFF` (the server answers `00000145`, its ids, `499602D2`,
//! `14514545`). Over TCP the launcher's first messages carry `01000000`, a length
//! byte that counts the whole message, a type (7 asks, 8 answers) and two zero bytes.
//! Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "genshin",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HANDSHAKE: usize = 20;
const KCP_CONSTANT: [u8; 4] = [0x49, 0x96, 0x02, 0xd2];

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    // A KCP handshake is a datagram of its own; a TCP message opens a stream.
    if d.len() == HANDSHAKE && d[12..16] == KCP_CONSTANT {
        let ok = (d[..8] == [0, 0, 0, 0xff, 0, 0, 0, 0] && d[16..] == [0xff; 4])
            || (d[..4] == [0, 0, 0x01, 0x45] && d[16..] == [0x14, 0x51, 0x45, 0x45]);
        if ok {
            return Probe::Match;
        }
    }
    match crate::kit::starts_with(d, &[0x01, 0, 0, 0]) {
        Probe::Match => {}
        other => return other,
    }
    let Some(h) = d.get(..8) else { return Probe::NeedMore };
    let len = usize::from(h[4]);
    if !(7..=8).contains(&h[5]) || h[6..8] != [0, 0] || len < 16 {
        return Probe::NoMatch;
    }
    crate::kit::once_whole(d, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn kcp_handshake_and_launcher_messages() {
        // `genshin-impact.pcap`.
        assert_eq!(probe(Side::Client, &unhex("000000ff0000000000000000499602d2ffffffff")), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("00000145000318323a0da215499602d214514545")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("000000ff0000000000000000499602d3ffffffff")), Probe::NoMatch);
        let mut hello = unhex("010000002a0700000000aec675e100004da6");
        assert_eq!(probe(Side::Client, &hello), Probe::NeedMore);
        hello.resize(0x2a, 0);
        assert_eq!(probe(Side::Client, &hello), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("010000002a0900000000aec675e10000")), Probe::NoMatch);
    }
}
