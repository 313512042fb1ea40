//! MGCP (RFC 3435, UDP ports 2427 and 2727), media gateway control: text commands
//! `VERB transaction-id endpoint MGCP version` and numeric responses. A command line
//! decides; a response alone keeps the question open. Only the protocol is recorded
//! so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "mgcp",
    transports: &[Transport::Udp],
    ports: &[2427, 2727],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const VERBS: [&[u8]; 9] = [b"EPCF", b"CRCX", b"MDCX", b"DLCX", b"RQNT", b"NTFY", b"AUEP", b"AUCX", b"RSIP"];

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let line = d.split(|&b| b == b'\n').next().unwrap_or(d);
    let mut words = line.split(|&b| b == b' ');
    let first = words.next().unwrap_or_default();
    if VERBS.contains(&first) {
        let id = words.next().unwrap_or_default();
        let _endpoint = words.next();
        let (protocol, version) = (words.next(), words.next());
        let ok = !id.is_empty()
            && id.iter().all(u8::is_ascii_digit)
            && protocol == Some(b"MGCP".as_slice())
            && version.is_some_and(|v| v.first().is_some_and(u8::is_ascii_digit));
        return Probe::from(ok);
    }
    // A response: a three-digit code and the transaction id.
    let response = first.len() == 3
        && first.iter().all(u8::is_ascii_digit)
        && words.next().is_some_and(|id| !id.is_empty() && id.iter().all(u8::is_ascii_digit));
    if response {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_and_response() {
        // `mgcp.pcap`.
        let rqnt = b"RQNT 1 *@gateway44.myplace.com MGCP 0.1\r\nR: l/hd\r\n";
        assert_eq!(probe(Side::Client, rqnt), Probe::Match);
        assert_eq!(probe(Side::Server, b"510 1 Protocol Error: Forbidden parameter line\r\n"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"RQNT x *@gw MGCP 0.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"NOTIFY sip:a SIP/2.0\r\n"), Probe::NoMatch);
    }
}
