//! ANSI C12.22 (IEEE 1703), smart meters' messages (port 1153, TCP and UDP): each
//! an ACSE PDU, `[APPLICATION 0]` holding the called and calling AP titles and
//! invocation ids and the user information whose first byte is the EPSEM flags. A
//! PDU whose first element is the called AP title, the called invocation id or the
//! calling AP title decides, as Arkime's classifier. Read as Arkime files them
//! (`c1222.*`): the AP titles (absolute object identifiers), the invocation ids, and
//! the flags' security mode and response control.

use tyto_schema::SessionRecord;

use crate::kit::der::{header, integer, oid_text, tlv, Header};
use crate::kit::messages::{Length, Streams};
use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "c1222",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[1153],
    probe,
    new: || Box::<C1222>::default(),
    later: Some(probe),
};

/// `[APPLICATION 0]`, constructed: the ACSE PDU.
const ACSE: u8 = 0x60;
/// A PDU's largest size read (C12.22's own messages are a few hundred bytes).
const MAX_MESSAGE: usize = 64 << 10;

/// An ACSE PDU's length, the PDU alone being the message.
fn message(d: &[u8]) -> Length {
    if d.first().is_some_and(|t| *t != ACSE) {
        return Length::Bad;
    }
    match header(d) {
        Header::NeedMore => Length::NeedMore,
        Header::Bad => Length::Bad,
        Header::Is { size, len, .. } if size + len <= MAX_MESSAGE => Length::Is(size + len),
        Header::Is { .. } => Length::Bad,
    }
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    match message(d) {
        Length::NeedMore => return Probe::NeedMore,
        Length::Bad | Length::Is(0) => return Probe::NoMatch,
        Length::Is(_) => {}
    }
    let Header::Is { size, .. } = header(d) else { return Probe::NoMatch };
    // The first element's tag: the called AP title [2], the called AP invocation id
    // [4] or the calling AP title [6], each constructed.
    match d.get(size) {
        None => Probe::NeedMore,
        Some(tag) => Probe::from(matches!(tag, 0xa2 | 0xa4 | 0xa6)),
    }
}

const SECURITY_MODES: [&str; 4] = ["cleartext", "cleartext-with-auth", "ciphertext-with-auth", "unknown"];
const RESPONSE_CONTROLS: [&str; 4] = ["always", "on-exception", "never", "unknown"];

/// Elements of a PDU read at most.
const MAX_ELEMENTS: usize = 16;

/// One ACSE PDU's elements.
fn read(pdu: &[u8], rec: &mut SessionRecord) {
    let Some((ACSE, mut elements, _)) = tlv(pdu) else { return };
    for _ in 0..MAX_ELEMENTS {
        let Some((tag, contents, rest)) = tlv(elements) else { return };
        elements = rest;
        match tag & 0x1f {
            // AP titles: an absolute object identifier (a relative one is not read,
            // as Arkime does not).
            n @ (2 | 6) => {
                if let Some(oid) = tlv(contents).and_then(|(t, oid, _)| (t == 0x06).then(|| oid_text(oid)).flatten()) {
                    let field =
                        if n == 2 { text_field!("c1222.calledApTitle") } else { text_field!("c1222.callingApTitle") };
                    put_text(rec, field, &oid);
                }
            }
            n @ (4 | 8) => {
                let id = tlv(contents).and_then(|(t, v, _)| (t == 0x02).then(|| integer(v, 8)).flatten());
                if let Some(id) = id.filter(|id| *id >= 0) {
                    let field = if n == 4 {
                        int_field!("c1222.calledApInvocationId")
                    } else {
                        int_field!("c1222.callingApInvocationId")
                    };
                    put_int(rec, field, id);
                }
            }
            // User information: EXTERNAL, then its encoding, whose first byte is the
            // EPSEM flags.
            30 => {
                let flags = tlv(contents)
                    .and_then(|(_, external, _)| tlv(external))
                    .and_then(|(_, epsem, _)| epsem.first().copied());
                if let Some(flags) = flags {
                    let (mode, response) = (usize::from((flags >> 2) & 3), usize::from(flags & 3));
                    put_text(rec, text_field!("c1222.securityMode"), SECURITY_MODES[mode]);
                    put_text(rec, text_field!("c1222.responseControl"), RESPONSE_CONTROLS[response]);
                }
            }
            _ => {}
        }
    }
}

/// PDUs read per session: the associations that open it name what it is.
const MAX_MESSAGES: u32 = 64;

#[derive(Default)]
pub struct C1222 {
    streams: Streams,
    messages: u32,
}

impl Dissector for C1222 {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        // A datagram holds one PDU, which its length delimits as in a stream.
        let messages = &mut self.messages;
        self.streams.push(side, data, MAX_MESSAGE, message, |pdu, cut| {
            if !cut && *messages < MAX_MESSAGES {
                *messages += 1;
                read(pdu, rec);
            }
        });
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
    use crate::kit::testing::{ints, texts};
    use crate::kit::unhex;

    /// `../arkime/c1222.pcap`: a request from port 1577 and the meter's answer.
    const REQUEST: &str = "6047a211060f2b060104018285638e7f85f1c24e00a60a06082b06010401828563a806020413e81421ac0fa20da00ba10980010081044c97f489be0d280b81098865f1e271a71f7f27";
    const ANSWER: &str = "606da20a06082b06010401828563a406020413e81421a611060f2b060104018285638e7f85f1c24e00a80302012cac0fa20da00ba10980010081044c97f489be2e282c812a88e6976be9206159ccea0cd39941f3f24409e294a1f98463865e8b96c5e576039a90e4e70fa138a2d998";

    #[test]
    fn probes_by_the_first_element_of_an_acse_pdu() {
        let request = unhex(REQUEST);
        assert_eq!(probe(Side::Client, &request), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex(ANSWER)), Probe::Match);
        assert_eq!(probe(Side::Client, &request[..2]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, &[0x60]), Probe::NeedMore);
        // SPNEGO's GSS-API token: [APPLICATION 0], then an object identifier.
        assert_eq!(probe(Side::Client, &unhex("6082012006062b0601050502a08201")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("302a")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }

    #[test]
    fn titles_invocation_ids_and_epsem_flags() {
        let mut rec = SessionRecord::default();
        let mut c = C1222::default();
        let request = unhex(REQUEST);
        c.feed(Side::Client, &request[..9], &mut rec);
        c.feed(Side::Client, &request[9..], &mut rec);
        c.feed(Side::Server, &unhex(ANSWER), &mut rec);
        let titles = ["1.3.6.1.4.1.33507.1919.12345678.0", "1.3.6.1.4.1.33507"];
        assert_eq!(texts(&rec, "c1222.calledApTitle"), titles);
        assert_eq!(texts(&rec, "c1222.callingApTitle"), [titles[1], titles[0]]);
        assert_eq!(ints(&rec, "c1222.calledApInvocationId"), [333976609]);
        assert_eq!(ints(&rec, "c1222.callingApInvocationId"), [333976609, 44]);
        assert_eq!(texts(&rec, "c1222.securityMode"), ["ciphertext-with-auth"]);
        assert_eq!(texts(&rec, "c1222.responseControl"), ["always"]);
    }

    #[test]
    fn absurd_lengths_and_other_framings_stop_a_direction() {
        let mut rec = SessionRecord::default();
        let mut c = C1222::default();
        c.feed(Side::Client, &unhex("6084ffffffff"), &mut rec);
        c.feed(Side::Server, &unhex("30030201ff"), &mut rec);
        assert!(!c.wants_more());
        assert!(texts(&rec, "c1222.calledApTitle").is_empty());
    }
}
