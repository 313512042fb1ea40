//! Valve's Source engine server queries over UDP (port 27015; Counter-Strike, Team
//! Fortress and the other games on the engine answer them): a message outside a
//! game connection begins with four 0xFF bytes and a type letter. Recognised are the
//! queries (`T` info with its fixed text, `U` players, `V` rules, each after a
//! challenge) and their answers (`A` a challenge, `I` info, `D` players, `E`
//! rules). Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "source-engine",
    transports: &[Transport::Udp],
    ports: &[27015],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const OUT_OF_BAND: [u8; 4] = [0xff; 4];
const INFO_QUERY: &[u8] = b"TSource Engine Query\0";

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(message) = d.strip_prefix(&OUT_OF_BAND) else { return Probe::NoMatch };
    let matches = match message {
        // The info query, with a challenge after the text once the server asked.
        [b'T', ..] => message.starts_with(INFO_QUERY) && matches!(message.len() - INFO_QUERY.len(), 0 | 4),
        // Players and rules queries, and a challenge: a 32-bit number.
        [b'U' | b'V' | b'A', rest @ ..] => rest.len() == 4,
        // Info: a protocol version, then the server's name, map, folder and game,
        // each NUL-terminated.
        [b'I', _version, rest @ ..] => rest.iter().filter(|b| **b == 0).count() >= 4,
        // Players and rules: a count, then entries with names.
        [b'D' | b'E', _count, rest @ ..] => rest.contains(&0),
        _ => false,
    };
    Probe::from(matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_answers() {
        // `source_engine.pcap`: an info query to port 27015.
        let query = b"\xff\xff\xff\xffTSource Engine Query\0";
        assert_eq!(probe(Side::Client, query), Probe::Match);
        assert_eq!(probe(Side::Client, b"\xff\xff\xff\xffTSource Engine Query\0\x01\x02\x03\x04"), Probe::Match);
        assert_eq!(probe(Side::Server, b"\xff\xff\xff\xffA\x4b\xa1\x10\x7e"), Probe::Match);
        assert_eq!(
            probe(Side::Server, b"\xff\xff\xff\xffI\x11My server\0de_dust2\0cstrike\0Counter-Strike\0\x0a\x00"),
            Probe::Match
        );
        // Quake III's out-of-band commands share the marker, not the letters.
        assert_eq!(probe(Side::Client, b"\xff\xff\xff\xffgetstatus\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\xff\xff\xff\xffTSource Engine"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\xff\xff\xff\xffA\x01"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\xff\xff\xff"), Probe::NoMatch);
    }
}
