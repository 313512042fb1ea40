//! Syslog (RFC 3164, RFC 5424) over UDP: a message opens with `<PRI>`, a priority of
//! at most 191, followed by a version digit or a timestamp.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "syslog",
    transports: &[Transport::Udp],
    ports: &[514],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, data: &[u8]) -> Probe {
    // Syslog over UDP is one-way: the sender is the client.
    if side == Side::Server || data.first() != Some(&b'<') {
        return Probe::NoMatch;
    }
    let Some(close) = data.iter().take(5).position(|b| *b == b'>') else { return Probe::NoMatch };
    let digits = &data[1..close];
    let pri = std::str::from_utf8(digits).ok().and_then(|s| s.parse::<u16>().ok());
    let next = data.get(close + 1);
    let printable = data[close + 1..].iter().take(32).all(|b| *b >= 0x20 || *b == b'\t');
    let leading_zero = digits.len() > 1 && digits[0] == b'0';
    match (pri, next) {
        (Some(p), Some(n)) if p <= 191 && !leading_zero && printable && (n.is_ascii_alphanumeric() || *n == b' ') => {
            Probe::Match
        }
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsd_and_rfc5424() {
        assert_eq!(probe(Side::Client, b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed"), Probe::Match);
        assert_eq!(probe(Side::Client, b"<165>1 2003-10-11T22:14:15.003Z host app - ID47 - msg"), Probe::Match);
        assert_eq!(probe(Side::Client, b"<192>1 x"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"<034>x"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"<html>"), Probe::NoMatch);
    }
}
