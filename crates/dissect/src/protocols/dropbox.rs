//! Dropbox's LAN sync discovery: JSON broadcasts on UDP 17500 naming the client
//! (`host_int`) and its shared folders (`namespaces`). Only the protocol is recorded
//! so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "dropbox",
    transports: &[Transport::Udp],
    ports: &[17500],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let head = &data[..data.len().min(512)];
    let has = |key: &[u8]| head.windows(key.len()).any(|w| w == key);
    Probe::from(head.starts_with(b"{\"") && has(b"\"host_int\"") && has(b"\"namespaces\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_sync_broadcast() {
        let b = br#"{"version": [2, 0], "port": 17500, "host_int": 3304026240131671127, "displayname": "", "namespaces": [1, 2]}"#;
        assert_eq!(probe(Side::Client, b), Probe::Match);
        assert_eq!(probe(Side::Client, br#"{"version": [2, 0]}"#), Probe::NoMatch);
    }
}
