//! Checkmk's agent (TCP port 6556): asked nothing, it sends its report, whose
//! first section header is `<<<check_mk>>>`. The agent's side names the protocol,
//! from any section header (`<<<df>>>`) when the report was picked up part-way.
//! Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "checkmk",
    transports: &[Transport::Tcp],
    ports: &[6556],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

/// A section header: `<<<`, the section's name (and options after `:`), `>>>`, the
/// line's end.
pub fn later(_side: Side, data: &[u8]) -> Probe {
    let Some(rest) = data.strip_prefix(b"<<<") else {
        return if b"<<<".starts_with(data) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let name = rest.iter().take_while(|c| c.is_ascii_alphanumeric() || b"_:=.,()-".contains(c)).count();
    match rest.get(name..name + 4) {
        _ if name == 0 || name > 64 => Probe::NoMatch,
        Some(b">>>\n") => Probe::Match,
        Some(_) => Probe::NoMatch,
        None if b">>>\n".starts_with(&rest[name..]) => Probe::NeedMore,
        None => Probe::NoMatch,
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        Side::Client => Probe::NeedMore,
        Side::Server => crate::kit::starts_with(data, b"<<<check_mk>>>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Server, b"<<<check_mk>>>\nVersion: 1.4.0p9\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"<<<check"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"<html>"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"<<<check_mk>>>\n"), Probe::NeedMore, "the agent speaks");
    }

    /// `check_mk_new.pcap` after its first section.
    #[test]
    fn any_section_header_later() {
        assert_eq!(later(Side::Server, b"<<<df>>>\nudev 494092\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"<<<local:sep(0)>>>\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"<<<df>"), Probe::NeedMore);
        assert_eq!(later(Side::Server, b"<<<>>>\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"<<<df>>> trailing\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"<html>"), Probe::NoMatch);
    }
}
