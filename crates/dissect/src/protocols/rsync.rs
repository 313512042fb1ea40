//! The rsync daemon's protocol (TCP port 873): both sides open with the greeting
//! `@RSYNCD: ` and a protocol version (`@RSYNCD: 31.0`), so either side's first
//! line names it. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rsync",
    transports: &[Transport::Tcp],
    ports: &[873],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const GREETING: &[u8] = b"@RSYNCD: ";

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    // The greeting, then the version's first digit.
    match (crate::kit::starts_with(data, GREETING), data.get(GREETING.len())) {
        (Probe::Match, Some(digit)) => Probe::from(digit.is_ascii_digit()),
        (Probe::Match, None) => Probe::NeedMore,
        (said, _) => said,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_from_either_side() {
        assert_eq!(probe(Side::Client, b"@RSYNCD: 30.0\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"@RSYNCD: 31.0 sha512 sha256\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"@RSYN"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"@RSYNCD: x\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"SSH-2.0-OpenSSH_9.6\r\n"), Probe::NoMatch);
    }
}
