//! PPTP's control connection (RFC 2637, TCP port 1723), the VPN whose data then flows
//! in GRE: every control message, either way, is a length, message type 1 (control),
//! the magic cookie 0x1A2B3C4D and a control message type (1 to 15), so any message
//! names the protocol, whichever side and wherever the capture began. Only the
//! protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "pptp",
    transports: &[Transport::Tcp],
    ports: &[1723],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

const MAGIC_COOKIE: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];
/// The longest control message (Start-Control-Connection-Request and -Reply: 156).
const MAX_MESSAGE: u16 = 220;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..10) else {
        // The first bytes already tell: a length a message can have, a type of 1.
        let length_ok = data.get(..2).is_none_or(|l| (12..=MAX_MESSAGE).contains(&u16::from_be_bytes([l[0], l[1]])));
        let type_ok = data.get(2..4).is_none_or(|t| t == [0, 1]);
        let ok = length_ok && type_ok && MAGIC_COOKIE.starts_with(data.get(4..).unwrap_or(&[]));
        return if ok { Probe::NeedMore } else { Probe::NoMatch };
    };
    let len = u16::from_be_bytes([h[0], h[1]]);
    let control_type = u16::from_be_bytes([h[8], h[9]]);
    Probe::from(
        (12..=MAX_MESSAGE).contains(&len)
            && h[2..4] == [0, 1]
            && h[4..8] == MAGIC_COOKIE
            && (1..=15).contains(&control_type),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_from_either_side() {
        // Start-Control-Connection-Request (as in the shared capture), its reply.
        let mut request = vec![0x00, 0x9c, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x01, 0, 0];
        request.resize(156, 0);
        assert_eq!(probe(Side::Client, &request), Probe::Match);
        let mut reply = request.clone();
        reply[9] = 2;
        assert_eq!(probe(Side::Server, &reply), Probe::Match);
        assert_eq!(probe(Side::Client, &request[..6]), Probe::NeedMore);
        let mut wrong = request.clone();
        wrong[7] = 0;
        assert_eq!(probe(Side::Client, &wrong), Probe::NoMatch);
        wrong = request.clone();
        wrong[9] = 16;
        assert_eq!(probe(Side::Client, &wrong), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GE"), Probe::NoMatch, "no message is that long");
        assert_eq!(probe(Side::Client, &[0, 0x9c, 0, 2]), Probe::NoMatch, "not a control message");
    }
}
