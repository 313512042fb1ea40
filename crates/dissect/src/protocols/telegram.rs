//! Telegram's call relays (UDP, ports 500–600 among others): every relay datagram
//! opens with the call's 16-byte peer tag, then exactly twelve 0xFF bytes that mark
//! the relay's own messages (a client's address query, the relay's answer with the
//! client's public address). The call's own datagrams carry the tag and then
//! ciphertext, and the relay's messages come back every few seconds, so a flow
//! picked up among its call datagrams waits for one. Only the protocol is recorded
//! so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "telegram",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

const TAG: usize = 16;
const MARK: usize = 12;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let ok = d.len() >= 40
        && d[TAG..TAG + MARK].iter().all(|&b| b == 0xff)
        && d[TAG + MARK] != 0xff
        // A tag of all 0xFF would make the twelve anywhere.
        && d[..TAG].iter().any(|&b| b != 0xff);
    Probe::from(ok)
}

/// Any datagram: a relay message decides; one long enough to be the call's own (a
/// tag and at least a block of ciphertext) leaves the flow to a later one.
pub fn later(side: Side, d: &[u8]) -> Probe {
    match probe(side, d) {
        Probe::NoMatch if d.len() >= TAG + 16 => Probe::NeedMore,
        said => said,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn relay_query_and_answer() {
        // `telegram.pcap`.
        let query = unhex("2fe49fa76c4eb433cbcd82a1bbea621efffffffffffffffffffffffffeffffff127fb2abab6d515d");
        assert_eq!(probe(Side::Client, &query), Probe::Match);
        let mut answer = unhex("2fe49fa76c4eb433cbcd82a1bbea621effffffffffffffffffffffffc77215c075dab25e");
        answer.extend(unhex("127fb2abab6d515d00000000000000000000ffff570bcdc34df40000"));
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        let mut thirteen = query.clone();
        thirteen[28] = 0xff;
        assert_eq!(probe(Side::Client, &thirteen), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &query[..39]), Probe::NoMatch);
        // A call datagram waits for the relay's next message; a short one is not the call's.
        let call = unhex("dc4c00291565b7acbc236da9eda0d597317db64a86f15cbd99cfa1b6d4df04b514283de7");
        assert_eq!(probe(Side::Client, &call), Probe::NoMatch);
        assert_eq!(later(Side::Client, &call), Probe::NeedMore);
        assert_eq!(later(Side::Client, &call[..20]), Probe::NoMatch);
        assert_eq!(later(Side::Server, &answer), Probe::Match);
    }
}
