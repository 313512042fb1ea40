//! Zabbix agent and sender protocol: every message starts with `ZBXD` and a flags
//! byte (1 plain, 3 compressed, 5 large). Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "zabbix",
    transports: &[Transport::Tcp],
    ports: &[10050, 10051],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    const MAGIC: &[u8] = b"ZBXD";
    match data.get(..5) {
        Some(h) => Probe::from(h.starts_with(MAGIC) && matches!(h[4], 1 | 3 | 5 | 7)),
        None if MAGIC.starts_with(data) => Probe::NeedMore,
        None => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header() {
        assert_eq!(probe(Side::Client, b"ZBXD\x01\x10\x00\x00\x00\x00\x00\x00\x00{\"request\""), Probe::Match);
        assert_eq!(probe(Side::Server, b"ZBX"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"ZBXD\x02"), Probe::NoMatch);
    }
}
