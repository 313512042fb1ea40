//! OpenVPN's control channel: the client's hard-reset packet that opens a session,
//! over TCP (after a 2-byte length) or UDP, with its 8-byte session id, and without
//! or with tls-auth (an HMAC of SHA-1, SHA-256 or SHA-512, then a replay id and
//! time). tls-crypt wraps the packet and is not recognised. Only the protocol is
//! recorded so far.

use crate::{NameOnly, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "openvpn",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[1194],
    probe,
    new: || Box::new(NameOnly),
};

/// P_CONTROL_HARD_RESET_CLIENT_V2 and _V3, key id 0.
fn client_reset(op: u8) -> bool {
    op == 7 << 3 || op == 10 << 3
}

/// The packet after its opcode and session id: an empty acknowledgement list and
/// message id 0, straight away or after tls-auth's HMAC, replay id and time.
fn reset_body(rest: &[u8]) -> bool {
    let tail_ok = |t: &[u8]| t.len() >= 5 && t[0] == 0 && t[1..5] == [0, 0, 0, 0];
    [0, 20 + 8, 32 + 8, 64 + 8].iter().any(|&skip| {
        rest.len() >= skip + 5 && {
            let t = &rest[skip..];
            // The packet ends there, or a TLS record (the ClientHello) starts (V3 may carry one).
            tail_ok(t) && (t.len() == 5 || t.get(5) == Some(&0x16))
        }
    })
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    // Over TCP, a length counting the rest of the packet comes first.
    if data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        if len >= 14 && data.len() >= 2 + len && client_reset(data[2]) && reset_body(&data[11..2 + len]) {
            return Probe::Match;
        }
    }
    match data.first() {
        Some(&op) if client_reset(op) && data.len() >= 14 => Probe::from(reset_body(&data[9..])),
        Some(&op) if client_reset(op) => Probe::NoMatch,
        // A TCP length whose packet has not arrived whole yet.
        Some(_) if data.len() < 16 && data.get(2).is_none_or(|op| client_reset(*op)) => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_resets() {
        let plain = [0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0];
        assert_eq!(probe(Side::Client, &plain), Probe::Match);
        let mut auth = vec![0x38, 1, 2, 3, 4, 5, 6, 7, 8];
        auth.extend_from_slice(&[0x99; 20]);
        auth.extend_from_slice(&[0, 0, 0, 1, 0x60, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(probe(Side::Client, &auth), Probe::Match);
        let mut tcp = vec![0, plain.len() as u8];
        tcp.extend_from_slice(&plain);
        assert_eq!(probe(Side::Client, &tcp), Probe::Match);
        assert_eq!(probe(Side::Client, &tcp[..3]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, &[0x38, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0, 0, 0]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
