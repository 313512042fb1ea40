//! Dropbox's LAN sync: discovery as JSON broadcasts on UDP 17500 naming the client
//! (`host_int`) and its shared folders (`namespaces`), and the commands clients
//! then exchange as CoAP messages on their command bus (a request's Uri-Path, an
//! answer's Location-Path, `Bus17Cmd`), which nDPI names Dropbox as well. Only the
//! protocol is recorded so far.

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
    if super::coap::message(data) {
        return Probe::from(has(b"Bus17Cmd"));
    }
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

    #[test]
    fn commands_over_coap() {
        use crate::kit::unhex;
        // `coap_mqtt.pcap`: a PUT to Bus17Cmd with its JSON, and the 2.04 answer
        // naming it as its Location-Path; a CoAP PUT elsewhere is CoAP's.
        let put = unhex("430335016f524d72445c4172084275733137436d641132ff7b7d");
        assert_eq!(probe(Side::Client, &put), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("634435016f524d8b2f722f4275733137436d64")), Probe::Match);
        let other = unhex("40039522b773746f726167650a6d797265736f75726365ff6d7964617461");
        assert_eq!(probe(Side::Client, &other), Probe::NoMatch);
    }
}
