//! WireGuard over UDP: its four message types each have a fixed size or a fixed
//! granularity, after a type byte and three zero bytes. Only the protocol is
//! recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "wireguard",
    transports: &[Transport::Udp],
    ports: &[51820],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..4) else { return Probe::NoMatch };
    if h[1..] != [0, 0, 0] {
        return Probe::NoMatch;
    }
    let ok = match h[0] {
        1 => data.len() == 148, // handshake initiation
        2 => data.len() == 92,  // handshake response
        3 => data.len() == 64,  // cookie reply
        // Transport data: receiver index, counter, then the payload padded to 16
        // bytes and its 16-byte tag.
        4 => data.len() >= 32 && (data.len() - 16).is_multiple_of(16),
        _ => false,
    };
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sizes() {
        let mut init = vec![1, 0, 0, 0];
        init.resize(148, 0x42);
        assert_eq!(probe(Side::Client, &init), Probe::Match);
        assert_eq!(probe(Side::Client, &init[..147]), Probe::NoMatch);
        let mut data = vec![4, 0, 0, 0];
        data.resize(32 + 64, 0x17);
        assert_eq!(probe(Side::Server, &data), Probe::Match);
        assert_eq!(probe(Side::Server, &data[..50]), Probe::NoMatch);
    }
}
