//! OICQ, Tencent QQ's own messaging protocol over UDP (servers on port 8000): every
//! message is framed by a 0x02 byte and a 0x03 byte around a header of version,
//! command and sequence number (and, from a client, the user's QQ number). Only the
//! protocol is recorded: what follows the header is encrypted.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "oicq",
    transports: &[Transport::Udp],
    ports: &[8000, 4000],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// Flag, version, command, sequence number: the header every message has.
const HEADER: usize = 7;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    if d.len() < HEADER + 1 {
        return Probe::NoMatch;
    }
    let version = u16::from_be_bytes([d[1], d[2]]);
    let command = u16::from_be_bytes([d[3], d[4]]);
    // Commands are numbered below 0x100 (login 0x22, messages 0x16 and 0x17 …).
    Probe::from(d[0] == 0x02 && d[d.len() - 1] == 0x03 && version != 0 && (1..0x100).contains(&command))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn framed_messages() {
        // `oicq.pcap`: a client's message to a server on port 8000.
        let d = unhex("023b0b0001001756 1f0c7b00000000000000000003 0c949fb3510c59cbd527d19e6953482ec8770801030e4703");
        assert_eq!(probe(Side::Client, &d), Probe::Match);
        let mut unframed = d.clone();
        *unframed.last_mut().unwrap() = 0x04;
        assert_eq!(probe(Side::Client, &unframed), Probe::NoMatch);
        let mut command = d.clone();
        command[3] = 0x12;
        assert_eq!(probe(Side::Client, &command), Probe::NoMatch, "no command so high");
        assert_eq!(probe(Side::Client, &d[..5]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[0x02, 0x03]), Probe::NoMatch);
    }
}
