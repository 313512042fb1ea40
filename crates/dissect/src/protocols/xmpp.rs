//! XMPP (Jabber) client and server streams: an XML stream opened with
//! `<stream:stream`, after an optional XML declaration, or stanzas (`<presence`,
//! `<message`, `<iq`) naming Jabber's namespaces, or the stream's closing tag. Only the protocol is recorded
//! so far; STARTTLS is not followed yet.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "xmpp",
    transports: &[Transport::Tcp],
    ports: &[5222, 5269],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// The stream header is within the first few hundred bytes.
const LOOK: usize = 512;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let head = &data[..data.len().min(LOOK)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    // A connection seen only at its end: the stream's closing tag, which names the
    // stream namespace's prefix as XMPP defines it.
    const CLOSE: &str = "</stream:stream>";
    if t.starts_with(CLOSE) {
        return Probe::Match;
    }
    if !t.is_empty() && CLOSE.starts_with(t) {
        return Probe::NeedMore;
    }
    // A stream header, or (a connection caught in its middle) a stanza.
    let opens = ["<?xml", "<stream:stream", "<presence", "<message", "<iq "];
    if !opens.iter().any(|o| t.starts_with(o) || o.starts_with(t)) {
        return Probe::NoMatch;
    }
    let stanza = opens[2..].iter().any(|o| t.starts_with(o));
    if (t.contains("<stream:stream") || stanza) && (t.contains("jabber") || t.contains("xmpp")) {
        Probe::Match
    } else if data.len() < LOOK {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_headers() {
        let s = b"<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
        assert_eq!(probe(Side::Client, s), Probe::Match);
        assert_eq!(probe(Side::Client, b"<?xml version='1.0'?>"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"<html><body>"), Probe::NoMatch);
        // `jabber.pcap`: a connection whose only payload is the client closing it.
        assert_eq!(probe(Side::Client, b"</stream:stream>"), Probe::Match);
        assert_eq!(probe(Side::Client, b"</stream:"), Probe::NeedMore);
        assert_eq!(
            probe(Side::Client, b"<presence to='room@conference.example'><c xmlns='http://jabber.org/protocol/caps'/>"),
            Probe::Match
        );
        assert_eq!(probe(Side::Client, b"<message><body>hi</body></message>"), Probe::NeedMore);
    }
}
