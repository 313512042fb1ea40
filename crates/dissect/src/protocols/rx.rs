//! RX, the remote procedure calls of AFS (OpenAFS and kAFS: file servers on UDP
//! port 7000, volume and protection servers on 7002–7005). Every packet has a
//! 28-byte header: the client's epoch and connection id (its low two bits the
//! call's channel), the call number, sequence and serial numbers, a packet type,
//! flags, a security index and the service id. Both directions name the same
//! epoch and connection: a side's first packet naming the pair the other side's
//! did decides. Only the protocol is recorded.

use crate::kit::{be32, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rx",
    transports: &[Transport::Udp],
    ports: &[7000, 7001, 7002, 7003, 7004, 7005, 7007],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 28;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    if d.len() < HEADER {
        return Probe::NoMatch;
    }
    let word = |at| be32(d, at).unwrap_or_default();
    let (epoch, connection, serial) = (word(0), word(4) & !3, word(16));
    let (kind, security) = (d[20], d[23]);
    // Data, ack, busy, abort, ack-all, challenge, response, debug, params; version 13.
    let kind_ok = matches!(kind, 1..=9 | 13);
    // Security classes: none, the old Kerberos one, rxkad, rxgk.
    if !kind_ok || security > 5 || epoch == 0 || (serial == 0 && kind == 1) {
        return Probe::NoMatch;
    }
    Probe::Connection { id: epoch ^ connection.rotate_left(16), seq: serial as u16 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn both_sides_name_one_connection() {
        // `rx.pcap`: a call's first data packet and the server's answer.
        let call = unhex("570fb560 5c3fc988 00000001 00000001 00000001 01 05 00 00 0000 0049 000001f8");
        let answer = unhex("570fb560 5c3fc988 00000001 00000001 00000001 01 04 00 00 0000 0049 00000001");
        let (Probe::Connection { id: a, .. }, Probe::Connection { id: b, .. }) =
            (probe(Side::Client, &call), probe(Side::Server, &answer))
        else {
            panic!("both are RX packets");
        };
        assert_eq!(a, b);
        let mut other_channel = call.clone();
        other_channel[7] = 0x8b;
        assert_eq!(probe(Side::Client, &other_channel), probe(Side::Client, &call), "a channel of the connection");
        let mut kind = call.clone();
        kind[20] = 11;
        assert_eq!(probe(Side::Client, &kind), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &call[..27]), Probe::NoMatch);
    }
}
