//! Discord voice over UDP: the IP discovery exchange that opens each voice
//! connection (74 bytes: type 1 or 2, length 70, SSRC, the address as NUL-padded
//! text, port), before the RTP media; and the keep-alive pings a client sends its
//! voice servers, echoed back (8 bytes: `13 37 CA FE` and a little-endian counter).
//! Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "discord",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const SIZE: usize = 74;
const PING_MAGIC: [u8; 4] = [0x13, 0x37, 0xca, 0xfe];
const PING: usize = 8;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if data.len() == PING && data.starts_with(&PING_MAGIC) {
        return Probe::Match;
    }
    if data.len() != SIZE || data[2..4] != [0, 70] || data[0] != 0 {
        return Probe::NoMatch;
    }
    let address = &data[8..72];
    let text = address.iter().take_while(|b| **b != 0).count();
    let padded = address[text..].iter().all(|b| *b == 0);
    let ok = match data[1] {
        // The request carries no address; the answer the client's public one.
        1 => padded,
        2 => padded && text > 0 && address[..text].iter().all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':')),
        _ => false,
    };
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_ping() {
        // `discord.pcap`: a ping and its echo are the same 8 bytes.
        assert_eq!(probe(Side::Client, &[0x13, 0x37, 0xca, 0xfe, 5, 0, 0, 0]), Probe::Match);
        assert_eq!(probe(Side::Client, &[0x13, 0x37, 0xca, 0xfe, 5, 0, 0, 0, 0]), Probe::NoMatch);
    }

    #[test]
    fn ip_discovery() {
        let mut req = vec![0, 1, 0, 70, 0, 2, 0x4b, 0x18];
        req.resize(SIZE, 0);
        assert_eq!(probe(Side::Client, &req), Probe::Match);
        let mut answer = vec![0, 2, 0, 70, 0, 2, 0x4b, 0x18];
        answer.extend_from_slice(b"84.59.132.100");
        answer.resize(72, 0);
        answer.extend_from_slice(&[0xc3, 0x50]);
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        assert_eq!(probe(Side::Server, &answer[..73]), Probe::NoMatch);
        req[20] = 1;
        assert_eq!(probe(Side::Client, &req), Probe::NoMatch);
    }
}
