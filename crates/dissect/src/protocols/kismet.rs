//! Kismet's client protocol (TCP port 2501): the server opens with the line
//! `*KISMET: ` (its version and start time), and sends every other record as
//! `*NAME: fields`; the client asks with `!ID COMMAND …`. A connection picked up
//! later is named from either. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "kismet",
    transports: &[Transport::Tcp],
    ports: &[2501],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

/// A record (`*NAME: `: a name of capitals, digits and `_`) or a command (`!ID NAME `).
pub fn later(_side: Side, data: &[u8]) -> Probe {
    let word = |b: &[u8], end: u8| -> Option<usize> {
        let n = b.iter().position(|c| *c == end)?;
        let ok = (2..=16).contains(&n)
            && b[0].is_ascii_uppercase()
            && b[..n].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        ok.then_some(n)
    };
    let Some(&first) = data.first() else { return Probe::NeedMore };
    let rest = &data[1..];
    let found = match first {
        b'*' => {
            rest.get(..18).unwrap_or(rest).contains(&b':')
                && word(rest, b':').is_some_and(|n| rest.get(n + 1) == Some(&b' '))
        }
        b'!' => {
            let id = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            (1..=10).contains(&id) && rest.get(id) == Some(&b' ') && word(&rest[id + 1..], b' ').is_some()
        }
        _ => return Probe::NoMatch,
    };
    if found {
        Probe::Match
    } else if data.len() < 32 && !data.contains(&b'\n') {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        Side::Client => Probe::NeedMore,
        Side::Server => crate::kit::starts_with(data, b"*KISMET: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Server, b"*KISMET: 0.0.0 1144004381 \x01Kismet\x01 2005"), Probe::Match);
        assert_eq!(probe(Side::Server, b"*KIS"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"*OK Hello"), Probe::NoMatch);
    }

    /// `kismet.pcap` after the opening: records, and the client's command.
    #[test]
    fn records_and_commands_later() {
        assert_eq!(later(Side::Server, b"*TIME: 1144004385\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"*CARD: 10.19.83.1:3501 kismet_drone "), Probe::Match);
        assert_eq!(later(Side::Client, b"!0 ENABLE GPS lat,lon,alt,spd,heading\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"*TI"), Probe::NeedMore);
        assert_eq!(later(Side::Server, b"*ok: lower case\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"* A list item, not a record\n"), Probe::NoMatch);
        assert_eq!(later(Side::Client, b"!important: no id\n"), Probe::NoMatch);
    }
}
