//! FIX (Financial Information eXchange) sessions: tag=value fields separated by SOH,
//! starting with `8=FIX.4.x` or `8=FIXT.1.1` then the body length `9=`. Only the
//! protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol =
    Protocol { name: "fix", transports: &[Transport::Tcp], ports: &[], probe, new: || Box::new(NameOnly), later: None };

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    const BEGIN: &[u8] = b"8=FIX";
    if data.len() < BEGIN.len() {
        return if BEGIN.starts_with(data) { Probe::NeedMore } else { Probe::NoMatch };
    }
    if !data.starts_with(BEGIN) {
        return Probe::NoMatch;
    }
    // The begin string, SOH, then the body length.
    match data.iter().position(|b| *b == 0x01) {
        Some(soh) if soh <= 12 => match data.get(soh + 1..soh + 3) {
            Some(next) => Probe::from(next == b"9="),
            None => Probe::NeedMore,
        },
        None if data.len() <= 12 => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_string_and_length() {
        assert_eq!(probe(Side::Client, b"8=FIX.4.2\x019=65\x0135=A\x01"), Probe::Match);
        assert_eq!(probe(Side::Client, b"8=FIXT.1.1\x019=5\x01"), Probe::Match);
        assert_eq!(probe(Side::Client, b"8=FI"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"8=FIX.4.2\x0135=A"), Probe::NoMatch);
    }
}
