//! HP's virtual machine group management channel (TCP, seen on port 5223): each
//! message is a type byte and a big-endian length that counts the whole message.
//! The client opens with a type 0x16 message whose fourth byte is zero, the server
//! answers with type 0x17. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "hpvirtgrp",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let opening = match side {
        Side::Client => 0x16,
        Side::Server => 0x17,
    };
    let Some(&kind) = data.first() else { return Probe::NeedMore };
    if kind != opening {
        return Probe::NoMatch;
    }
    let Some(h) = data.get(..4) else { return Probe::NeedMore };
    let len = usize::from(u16::from_be_bytes([h[1], h[2]]));
    // TLS records also open with 0x16 (or 0x17); their major version 3 sits where
    // this length's high byte does. A connection picked up at the server's hello
    // would otherwise look like this one.
    if h[1] == 0x03 || h[3] != 0 || len < 8 {
        return Probe::NoMatch;
    }
    crate::kit::once_whole(data, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn opening_and_answer() {
        // `hpvirtgrp.pcap`: 132 bytes from the client, 52 from the server.
        let mut hello = unhex("16008400aa884262dfab49b28b532ce4");
        assert_eq!(probe(Side::Client, &hello), Probe::NeedMore);
        hello.resize(0x84, 0x11);
        assert_eq!(probe(Side::Client, &hello), Probe::Match);
        let mut answer = unhex("17003400b7815bba0a8be9354ed0b5ef");
        answer.resize(0x34, 0x22);
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        assert_eq!(probe(Side::Server, &hello), Probe::NoMatch);
        // A TLS 1.0 record.
        assert_eq!(probe(Side::Client, &unhex("160301020001")), Probe::NoMatch);
        // A TLS 1.2 server hello, seen from a connection whose opening was missed.
        let mut server_hello = unhex("1603030044020000400303b117b81ba6");
        server_hello.resize(0x400, 0);
        assert_eq!(probe(Side::Client, &server_hello), Probe::NoMatch);
    }
}
