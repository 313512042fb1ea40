//! BGP-4 (RFC 4271) over TCP: the types of the messages exchanged, framed by their
//! all-ones marker and length. A session's row ends at its first packet five
//! seconds or more after a message (the session going on in a linked row), as
//! Arkime writes BGP sessions: a peering's keepalives make a row each burst.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "bgp",
    transports: &[Transport::Tcp],
    ports: &[179],
    probe,
    new: || Box::<Bgp>::default(),
    later: None,
};

const MAX_MESSAGE: usize = 4096;
/// A pause in the messages that ends a row (Arkime's BGP parser: five seconds).
const QUIET_NS: i64 = 5_000_000_000;
const MAX_MESSAGES: u32 = 256;
const TYPES: [&str; 6] = ["", "OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH"];

fn message(b: &[u8]) -> Length {
    let marker = &b[..b.len().min(16)];
    if marker.iter().any(|x| *x != 0xff) {
        return Length::Bad;
    }
    match b.get(16..19) {
        None => Length::NeedMore,
        Some([hi, lo, kind]) => match usize::from(u16::from_be_bytes([*hi, *lo])) {
            n @ 19..=65535 if (1..=5).contains(kind) => Length::Is(n),
            _ => Length::Bad,
        },
        Some(_) => Length::Bad,
    }
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match message(data) {
        Length::NeedMore => Probe::NeedMore,
        Length::Is(_) => Probe::Match,
        Length::Bad => Probe::NoMatch,
    }
}

#[derive(Default)]
pub struct Bgp {
    streams: Streams,
    messages: u32,
}

impl Dissector for Bgp {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let messages = &mut self.messages;
        let mut spoke = false;
        self.streams.push(side, data, MAX_MESSAGE, message, |m, _| {
            spoke = true;
            if *messages < MAX_MESSAGES {
                *messages += 1;
                put_text(rec, text_field!("bgp.type"), TYPES[usize::from(m[18])]);
            }
        });
        if spoke {
            rec.quiet_after_ns = Some(rec.stop_ns.saturating_add(QUIET_NS));
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn open_and_keepalives() {
        let mut open = vec![0xff; 16];
        open.extend_from_slice(&[0, 29, 1, 4, 0xfd, 0xe8, 0, 180, 10, 0, 0, 1, 0]);
        let mut keepalive = vec![0xff; 16];
        keepalive.extend_from_slice(&[0, 19, 4]);
        assert_eq!(probe(Side::Client, &open), Probe::Match);
        assert_eq!(probe(Side::Client, &open[..10]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\xff\xfb\x01"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut b = Bgp::default();
        let mut stream = open.clone();
        stream.extend_from_slice(&keepalive);
        for c in stream.chunks(5) {
            b.feed(Side::Client, c, &mut rec);
        }
        assert_eq!(rec.extra.get("bgp.type"), Some(&Values::Text(vec!["OPEN".into(), "KEEPALIVE".into()])));
    }
}
