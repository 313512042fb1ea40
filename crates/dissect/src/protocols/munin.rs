//! Munin (TCP port 4949), the monitoring node's line protocol: the node greets with
//! `# munin node at <host>`, the master asks `cap`, `list`, `fetch`, `config`…
//! The greeting alone decides. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "munin",
    transports: &[Transport::Tcp],
    ports: &[4949],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, d: &[u8]) -> Probe {
    match side {
        Side::Server => crate::kit::starts_with(d, b"# munin node at "),
        // The master speaks second; its first words could be anyone's.
        Side::Client => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting() {
        assert_eq!(probe(Side::Server, b"# munin node at gw-ct\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"# munin"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"# mulled wine\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"cap multigraph dirtyconfig\n"), Probe::NoMatch);
    }
}
