//! Ceph's messenger (monitors on TCP port 6789 and 3300, daemons on 6800 and up):
//! both sides open with a banner, `ceph v027` (protocol 1) or `ceph v2\n`
//! (protocol 2), so either side's first bytes name it. Only the protocol is
//! recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ceph",
    transports: &[Transport::Tcp],
    ports: &[6789, 3300],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match crate::kit::starts_with(data, b"ceph v027") {
        Probe::NoMatch => crate::kit::starts_with(data, b"ceph v2\n"),
        said => said,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Server, b"ceph v027\0\0\0\0"), Probe::Match);
        assert_eq!(probe(Side::Client, b"ceph v2\n\x10\0"), Probe::Match);
        assert_eq!(probe(Side::Client, b"ceph"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"cephalopod"), Probe::NoMatch);
    }
}
