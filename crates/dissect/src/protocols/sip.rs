//! SIP (RFC 3261) over UDP and TCP: request methods, response codes, Call-ID and
//! User-Agent from each message's start line and headers.

use tyto_schema::SessionRecord;

use crate::kit::lines::{starts_with_ci, trim};
use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "sip",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[5060, 5061],
    probe,
    new: || Box::new(Sip { messages: 0 }),
    later: None,
};

const METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];
/// Messages read per session: a call's signalling is a few dozen.
const MAX_MESSAGES: usize = 64;

fn start_line(data: &[u8]) -> Option<&[u8]> {
    let nl = data.iter().take(512).position(|b| *b == b'\n')?;
    Some(trim(&data[..nl]))
}

/// `METHOD sip:… SIP/2.0` or `SIP/2.0 code reason`.
fn is_sip(line: &[u8]) -> bool {
    if starts_with_ci(line, b"SIP/2.0 ") {
        return line.get(8..11).is_some_and(|c| c.iter().all(u8::is_ascii_digit));
    }
    let Some(sp) = line.iter().position(|b| *b == b' ') else { return false };
    METHODS.iter().any(|m| m.as_bytes() == &line[..sp]) && line.ends_with(b"SIP/2.0")
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match start_line(data) {
        Some(l) if is_sip(l) => Probe::Match,
        Some(_) => Probe::NoMatch,
        None if data.len() < 512 && !data.is_empty() && data[0].is_ascii_uppercase() => Probe::NeedMore,
        None => Probe::NoMatch,
    }
}

/// The user part of a `sip:` or `sips:` URI in a From or To value (`"A" <sip:alice@x>;tag=1`
/// → `alice`); a `tel:` URI names no user.
fn uri_user(value: &str) -> Option<&str> {
    let lower = value.to_ascii_lowercase();
    let at = lower.find("sips:").map(|i| i + 5).or_else(|| lower.find("sip:").map(|i| i + 4))?;
    let rest = &value[at..];
    let end = rest.find(['>', ';', ' ', '?']).unwrap_or(rest.len());
    let (user, _) = rest[..end].split_once('@')?;
    let user = user.split(':').next().unwrap_or(user);
    (!user.is_empty()).then_some(user)
}

/// The `username="…"` of Digest credentials.
fn auth_user(value: &str) -> Option<&str> {
    let at = value.to_ascii_lowercase().find("username=")? + "username=".len();
    let rest = value[at..].trim_start();
    let user = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => &rest[..rest.find([',', ' ']).unwrap_or(rest.len())],
    };
    (!user.is_empty()).then_some(user)
}

pub struct Sip {
    messages: usize,
}

impl Dissector for Sip {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        // Datagrams hold one message each; on TCP only messages starting a segment are read.
        self.messages += 1;
        let Some(line) = start_line(data) else { return };
        if !is_sip(line) {
            return;
        }
        let text = String::from_utf8_lossy(&data[..data.len().min(8192)]);
        let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
        let first = lines.next().unwrap_or("");
        if let Some(code) = first.strip_prefix("SIP/2.0 ") {
            if let Ok(c) = code.get(..3).unwrap_or("").parse::<i64>() {
                put_int(rec, int_field!("sip.statuscode"), c);
            }
        } else if let Some((m, _)) = first.split_once(' ') {
            put_text(rec, text_field!("sip.method"), m);
        }
        for l in lines.take_while(|l| !l.is_empty()) {
            let Some((name, value)) = l.split_once(':') else { continue };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "call-id" | "i" => put_text(rec, text_field!("sip.callid"), value),
                "user-agent" | "server" => put_text(rec, text_field!("sip.user-agent"), value),
                "from" | "f" => {
                    put_text(rec, text_field!("sip.from"), value);
                    uri_user(value).into_iter().for_each(|u| put_text(rec, text_field!("sip.user"), u));
                }
                "to" | "t" => {
                    put_text(rec, text_field!("sip.to"), value);
                    uri_user(value).into_iter().for_each(|u| put_text(rec, text_field!("sip.user"), u));
                }
                "via" | "v" => put_text(rec, text_field!("sip.via"), value),
                "contact" | "m" => put_text(rec, text_field!("sip.contact"), value),
                "authorization" | "proxy-authorization" => {
                    auth_user(value).into_iter().for_each(|u| put_text(rec, text_field!("sip.user"), u));
                }
                _ => {}
            }
        }
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn register_and_its_answer() {
        let req = b"REGISTER sip:example.org SIP/2.0\r\nCall-ID: abc@host\r\nUser-Agent: Linphone/5\r\n\r\n";
        assert_eq!(probe(Side::Client, req), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        let mut s = Sip { messages: 0 };
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, req, &mut rec);
        s.feed(Side::Server, b"SIP/2.0 401 Unauthorized\r\ni: abc@host\r\nServer: Asterisk\r\n\r\n", &mut rec);
        assert_eq!(rec.extra.get("sip.method"), Some(&Values::Text(vec!["REGISTER".into()])));
        assert_eq!(rec.extra.get("sip.statuscode"), Some(&Values::Int(vec![401])));
        assert_eq!(rec.extra.get("sip.callid"), Some(&Values::Text(vec!["abc@host".into()])));
        assert_eq!(rec.extra.get("sip.user-agent"), Some(&Values::Text(vec!["Linphone/5".into(), "Asterisk".into()])));
    }

    /// Arkime's From, To, Via and Contact values as sent, and the users of their
    /// `sip:` URIs and of Digest credentials.
    #[test]
    fn parties_and_users() {
        let mut s = Sip { messages: 0 };
        let mut rec = SessionRecord::default();
        let invite = b"INVITE sip:bob@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9\r\n\
f: \"Alice\" <sip:alice:pw@a.example>;tag=1\r\nTo: <tel:+4412>\r\nm: <sip:alice@10.0.0.1:5060>\r\n\
Proxy-Authorization: Digest username=\"alice2\", realm=\"a\"\r\n\r\n";
        s.feed(Side::Client, invite, &mut rec);
        let texts = |f: &str| match rec.extra.get(f) {
            Some(Values::Text(v)) => v.clone(),
            _ => Vec::new(),
        };
        assert_eq!(texts("sip.via"), ["SIP/2.0/UDP 10.0.0.1;branch=z9"]);
        assert_eq!(texts("sip.from"), ["\"Alice\" <sip:alice:pw@a.example>;tag=1"]);
        assert_eq!(texts("sip.to"), ["<tel:+4412>"]);
        assert_eq!(texts("sip.contact"), ["<sip:alice@10.0.0.1:5060>"]);
        assert_eq!(texts("sip.user"), ["alice", "alice2"]);
    }
}
