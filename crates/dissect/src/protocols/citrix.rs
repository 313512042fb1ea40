//! Citrix ICA (TCP port 1494; 2598 with session reliability): both sides open with
//! the detection string `\x7f\x7fICA\0`. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "citrix",
    transports: &[Transport::Tcp],
    ports: &[1494, 2598],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    crate::kit::starts_with(data, b"\x7f\x7fICA\0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Server, b"\x7f\x7fICA\0"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\x7f\x7fICA\0\x01"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\x7f\x7f"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x7f\x7fIXA\0"), Probe::NoMatch);
    }
}
