//! Diameter (RFC 6733, TCP or SCTP port 3868), the authentication and charging
//! protocol of mobile networks: every message, either way, begins with version 1, a
//! length that is a multiple of four, flags whose low four bits are reserved (zero),
//! a command code and an application id. A message of a known command names the
//! protocol. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "diameter",
    transports: &[Transport::Tcp],
    ports: &[3868],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

/// Command codes of the base protocol and its common applications (credit
/// control, S6a/S6d, Gx, Rx, Cx/Dx, Sh, SWx…).
const COMMANDS: &[u32] = &[
    257, 258, 271, 272, 274, 275, 280, 282, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 316, 317, 318, 319, 320,
    321, 322, 323, 324, 8388620, 8388622,
];
/// A message's largest believable size.
const MAX_MESSAGE: u32 = 1 << 20;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..20) else {
        return if data.first().is_none_or(|v| *v == 1) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    let code = u32::from_be_bytes([0, h[5], h[6], h[7]]);
    let flags = h[4];
    Probe::from(
        h[0] == 1
            && (20..=MAX_MESSAGE).contains(&len)
            && len.is_multiple_of(4)
            && flags & 0x0f == 0
            && COMMANDS.contains(&code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_of_known_commands() {
        // From the shared capture: a Credit-Control request (272, R and P flags) and its answer.
        let request = b"\x01\0\x01\x58\x80\0\x01\x10\0\0\0\x04\x02\xea\x49\x30\x26\xf0\0\x03";
        assert_eq!(probe(Side::Client, request), Probe::Match);
        let answer = b"\x01\0\0\xec\x40\0\x01\x10\0\0\0\x04\x02\xea\x49\x30\x26\xf0\0\x03";
        assert_eq!(probe(Side::Server, answer), Probe::Match);
        assert_eq!(probe(Side::Client, &request[..5]), Probe::NeedMore);
        let mut odd = *request;
        odd[3] = 0x59;
        assert_eq!(probe(Side::Client, &odd), Probe::NoMatch, "a length not a multiple of four");
        let mut unknown = *request;
        unknown[7] = 0x99;
        assert_eq!(probe(Side::Client, &unknown), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: x\r\n"), Probe::NoMatch);
    }
}
