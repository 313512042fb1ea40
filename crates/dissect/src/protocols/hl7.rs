//! HL7 version 2, the health-care messages, over MLLP (the Minimal Lower Layer
//! Protocol): a message is framed by 0x0B … 0x1C 0x0D and begins with its header
//! segment `MSH` and the field and encoding separators (`MSH|^~\&`); acknowledgements
//! come back the same way. Any message names the protocol. Only the protocol is
//! recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "hl7",
    transports: &[Transport::Tcp],
    ports: &[2575],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    // The start byte, `MSH`, the field separator, then four encoding characters.
    let Some(h) = data.get(..9) else {
        let want = b"\x0bMSH";
        let n = data.len().min(want.len());
        return if data[..n] == want[..n] { Probe::NeedMore } else { Probe::NoMatch };
    };
    let field = h[4];
    let encoding = &h[5..9];
    let separators_ok = field.is_ascii_punctuation()
        && encoding.iter().all(|c| c.is_ascii_punctuation() && *c != field)
        && encoding[3] != encoding[0];
    Probe::from(&h[..4] == b"\x0bMSH" && separators_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_messages_and_acknowledgements() {
        assert_eq!(probe(Side::Client, b"\x0bMSH|^~\\&|SENDING_APPLICATION|SENDING_FACILITY|"), Probe::Match);
        assert_eq!(probe(Side::Server, b"\x0bMSH|^~\\&|RECEIVING_APPLICATION|"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\x0bMS"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"MSH|^~\\&|no frame"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\x0bMSHabcdefgh"), Probe::NoMatch);
    }
}
