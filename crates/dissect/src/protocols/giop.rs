//! CORBA's GIOP (IIOP over TCP, port 683 or any the ORB chooses): every message,
//! either way, begins with `GIOP`, a version 1.0 to 1.3, flags (byte order and
//! fragments) and a message type (0 to 7), so any message names it. Only the
//! protocol is recorded (as nDPI, under `corba`).

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "corba",
    transports: &[Transport::Tcp],
    ports: &[683],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..8) else {
        return match crate::kit::starts_with(data, b"GIOP") {
            Probe::Match => Probe::NeedMore,
            said => said,
        };
    };
    Probe::from(&h[..4] == b"GIOP" && h[4] == 1 && h[5] <= 3 && h[6] & 0xfc == 0 && h[7] <= 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Client, b"GIOP\x01\x02\0\0\0\0\0\xd8"), Probe::Match);
        assert_eq!(probe(Side::Server, b"GIOP\x01\x02\x01\x01\0\0\0\x51"), Probe::Match);
        assert_eq!(probe(Side::Client, b"GIO"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GIOP\x02\x00\0\0"), Probe::NoMatch);
    }
}
