//! SOCKS 4, 4a and 5 (RFC 1928, RFC 1929): the destination the client asks for, the
//! user name, and a handoff to whatever the tunnel then carries once the proxy agrees.

use std::cell::Cell;
use std::net::Ipv4Addr;

use tyto_packet::Addr;
use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{put_int, put_ip, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "socks",
    transports: &[Transport::Tcp],
    ports: &[1080],
    probe,
    new: || Box::new(Socks::default()),
    later: None,
};

/// The longest negotiation message: a SOCKS5 request with a 255-byte name, or a
/// SOCKS4a request with a user and a name.
const MAX_MESSAGE: usize = 600;

/// The client speaks first and then waits, so its first bytes are exactly one greeting.
pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NoMatch;
    }
    match data.first() {
        None => Probe::NeedMore,
        Some(4) => match socks4_request(data) {
            // The whole first message: a SOCKS4 client waits for the answer before
            // it sends more (on viber.pcap a datagram-sized message began `04 02`).
            Parse::Done(_, used) => Probe::from(used == data.len()),
            Parse::More if data.len() < MAX_MESSAGE => Probe::NeedMore,
            _ => Probe::NoMatch,
        },
        Some(5) => {
            let Some(&n) = data.get(1) else { return Probe::NeedMore };
            let Some(methods) = data.get(2..2 + n as usize) else { return Probe::NeedMore };
            // Methods: 0 none, 1 GSSAPI, 2 user/password, 3–9 IANA, 0x80–0xFE private.
            let valid = |m: &u8| *m <= 9 || (0x80..=0xfe).contains(m);
            Probe::from(n > 0 && data.len() == 2 + n as usize && methods.iter().all(valid))
        }
        Some(_) => Probe::NoMatch,
    }
}

enum Parse<T> {
    Done(T, usize),
    More,
    Bad,
}

/// Destination asked for: address or name, and port.
struct Target {
    ip: Option<Addr>,
    host: Option<String>,
    port: u16,
}

fn cstr(data: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = data.get(from..)?;
    let nul = rest.iter().position(|b| *b == 0)?;
    Some((&rest[..nul], from + nul + 1))
}

fn printable(s: &[u8]) -> bool {
    s.iter().all(|b| (0x20..0x7f).contains(b))
}

/// `04 cmd port ip user\0 [host\0]`.
fn socks4_request(data: &[u8]) -> Parse<(Target, String)> {
    if data.len() < 9 {
        return Parse::More;
    }
    if !matches!(data[1], 1 | 2) {
        return Parse::Bad;
    }
    let port = u16::from_be_bytes([data[2], data[3]]);
    let ip = Ipv4Addr::new(data[4], data[5], data[6], data[7]);
    let Some((user, end)) = cstr(data, 8) else {
        return if data.len() - 8 > 255 { Parse::Bad } else { Parse::More };
    };
    if !printable(user) {
        return Parse::Bad;
    }
    let user = String::from_utf8_lossy(user).into_owned();
    // SOCKS4a: 0.0.0.x with x ≠ 0 says a host name follows.
    let o = ip.octets();
    if o[..3] == [0, 0, 0] && o[3] != 0 {
        let Some((host, end)) = cstr(data, end) else { return Parse::More };
        if host.is_empty() || !printable(host) {
            return Parse::Bad;
        }
        let host = String::from_utf8_lossy(host).into_owned();
        return Parse::Done((Target { ip: None, host: Some(host), port }, user), end);
    }
    Parse::Done((Target { ip: Some(Addr::from_v4(ip.octets())), host: None, port }, user), end)
}

/// `atyp addr port` of a SOCKS5 request or reply, from `at`.
fn socks5_address(data: &[u8], at: usize) -> Parse<Target> {
    let Some(&atyp) = data.get(at) else { return Parse::More };
    let (ip, host, end) = match atyp {
        1 => {
            let Some(a) = data.get(at + 1..at + 5) else { return Parse::More };
            (Some(Addr::from_v4([a[0], a[1], a[2], a[3]])), None, at + 5)
        }
        3 => {
            let Some(&n) = data.get(at + 1) else { return Parse::More };
            let Some(name) = data.get(at + 2..at + 2 + n as usize) else { return Parse::More };
            (None, Some(String::from_utf8_lossy(name).into_owned()), at + 2 + n as usize)
        }
        4 => {
            let Some(a) = data.get(at + 1..at + 17) else { return Parse::More };
            let mut o = [0u8; 16];
            o.copy_from_slice(a);
            (Some(Addr(o)), None, at + 17)
        }
        _ => return Parse::Bad,
    };
    let Some(p) = data.get(end..end + 2) else { return Parse::More };
    Parse::Done(Target { ip, host, port: u16::from_be_bytes([p[0], p[1]]) }, end + 2)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Step {
    /// SOCKS4 request / SOCKS5 greeting (client); SOCKS4 reply / method choice (server).
    #[default]
    First,
    /// SOCKS5: user/password or the request (client); auth status or reply (server).
    Negotiating,
    Done,
}

#[derive(Default)]
pub struct Socks {
    version: u8,
    /// Each side's negotiation messages: their lengths come from their contents
    /// ([`length`]), the next one's shape from the step reached.
    streams: Streams,
    step: [Step; 2],
    handoff: Option<usize>,
}

fn record_target(t: &Target, rec: &mut SessionRecord) {
    if let Some(ip) = t.ip {
        put_ip(rec, ip_field!("ip.socks"), ip);
    }
    if let Some(h) = &t.host {
        put_text(rec, text_field!("host.socks"), h);
    }
    put_int(rec, int_field!("port.socks"), i64::from(t.port));
}

/// The length of the message `data` begins with, from what `side` sends at `step`.
fn length(side: Side, version: u8, step: Step, data: &[u8]) -> Length {
    let byte = |i: usize| data.get(i).map(|b| usize::from(*b));
    let from_lengths = |known: Option<usize>| known.map_or(Length::NeedMore, Length::Is);
    match (side, version, step) {
        (Side::Client, 4, Step::First) => match socks4_request(data) {
            Parse::Done(_, n) => Length::Is(n),
            Parse::More => Length::NeedMore,
            Parse::Bad => Length::Bad,
        },
        (Side::Server, 4, Step::First) => Length::Is(8),
        (Side::Client, 5, Step::First) => from_lengths(byte(1).map(|n| 2 + n)),
        // RFC 1929: 01 ulen user plen password.
        (Side::Client, 5, Step::Negotiating) if data.first() == Some(&1) => {
            from_lengths(byte(1).and_then(|ulen| byte(2 + ulen).map(|plen| 3 + ulen + plen)))
        }
        (Side::Client, 5, Step::Negotiating) if data.first().is_some_and(|v| *v != 5) => Length::Bad,
        (Side::Server, 5, Step::First) => Length::Is(2),
        (Side::Server, 5, Step::Negotiating) if data.first() == Some(&1) => Length::Is(2),
        (_, 5, Step::Negotiating) => match socks5_address(data, 3) {
            Parse::Done(_, n) => Length::Is(n),
            Parse::More => Length::NeedMore,
            Parse::Bad => Length::Bad,
        },
        _ => Length::Bad,
    }
}

/// What one whole message says: the step it leads to, and whether it opens the tunnel.
fn message(side: Side, version: u8, step: Step, m: &[u8], rec: &mut SessionRecord) -> (Step, bool) {
    match (side, version, step) {
        (Side::Client, 4, Step::First) => {
            if let Parse::Done((t, user), _) = socks4_request(m) {
                record_target(&t, rec);
                if !user.is_empty() {
                    put_text(rec, text_field!("socks.user"), &user);
                }
            }
            (Step::Done, false)
        }
        (Side::Server, 4, Step::First) => (Step::Done, m[0] == 0 && m[1] == 0x5a),
        (_, 5, Step::First) => (Step::Negotiating, false),
        (Side::Client, 5, Step::Negotiating) if m[0] == 1 => {
            let user = &m[2..2 + usize::from(m[1])];
            put_text(rec, text_field!("socks.user"), &String::from_utf8_lossy(user));
            (Step::Negotiating, false)
        }
        (Side::Server, 5, Step::Negotiating) if m[0] == 1 => (Step::Negotiating, false),
        (Side::Client, 5, Step::Negotiating) => {
            if let Parse::Done(t, _) = socks5_address(m, 3) {
                record_target(&t, rec);
            }
            (Step::Done, false)
        }
        (Side::Server, 5, Step::Negotiating) => (Step::Done, m[0] == 5 && m[1] == 0),
        _ => (Step::Done, false),
    }
}

impl Dissector for Socks {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let i = side as usize;
        if self.step[i] == Step::Done {
            return;
        }
        if self.version == 0 {
            match (side, data.first()) {
                (Side::Client, Some(&v)) if v == 4 || v == 5 => self.version = v,
                _ => {
                    self.step = [Step::Done; 2];
                    return;
                }
            }
        }
        let version = self.version;
        // Read by the framing for the next message's length, moved on by each message.
        let step = Cell::new(self.step[i]);
        let before = self.streams.held(side);
        let (mut used, mut tunnel) = (0usize, None);
        self.streams.push(
            side,
            data,
            MAX_MESSAGE,
            |m| length(side, version, step.get(), m),
            |m, cut| {
                used += m.len();
                if cut || tunnel.is_some() || step.get() == Step::Done {
                    return;
                }
                let (next, opens) = message(side, version, step.get(), m, rec);
                step.set(next);
                if opens {
                    // The reply's last byte is in this feed: what follows is the tunnel's.
                    tunnel = Some(used.saturating_sub(before));
                }
            },
        );
        self.step[i] = if self.streams.side_broken(side) { Step::Done } else { step.get() };
        if let Some(end) = tunnel {
            self.handoff = Some(end.min(data.len()));
            self.step = [Step::Done; 2];
            self.streams = Streams::default();
        }
    }

    fn gap(&mut self, _side: Side, _len: u64) {
        self.step = [Step::Done; 2];
        self.streams = Streams::default();
    }

    fn wants_more(&self) -> bool {
        self.step.iter().any(|s| *s != Step::Done)
    }

    fn handoff(&mut self) -> Option<usize> {
        self.handoff.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn socks5_with_password_hands_over_after_the_reply() {
        let mut s = Socks::default();
        let mut rec = SessionRecord::default();
        assert_eq!(probe(Side::Client, &[5, 2, 0, 2]), Probe::Match);
        s.feed(Side::Client, &[5, 2, 0, 2], &mut rec);
        s.feed(Side::Server, &[5, 2], &mut rec);
        s.feed(Side::Client, b"\x01\x04user\x04pass", &mut rec);
        s.feed(Side::Server, &[1, 0], &mut rec);
        let mut req = vec![5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.com");
        req.extend_from_slice(&[0, 80]);
        for b in &req {
            s.feed(Side::Client, &[*b], &mut rec);
            assert_eq!(s.handoff(), None);
        }
        s.feed(Side::Server, &[5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90, b'H', b'T'], &mut rec);
        assert_eq!(s.handoff(), Some(10));
        assert_eq!(rec.extra.get("socks.user"), Some(&Values::Text(vec!["user".into()])));
        assert_eq!(rec.extra.get("host.socks"), Some(&Values::Text(vec!["example.com".into()])));
        assert_eq!(rec.extra.get("port.socks"), Some(&Values::Int(vec![80])));
    }

    #[test]
    fn socks4a_and_refusals() {
        let mut s = Socks::default();
        let mut rec = SessionRecord::default();
        let req = b"\x04\x01\x01\xbb\x00\x00\x00\x01bob\x00login.live.com\x00";
        assert_eq!(probe(Side::Client, &req[..5]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, req), Probe::Match);
        s.feed(Side::Client, req, &mut rec);
        // 0x5b: rejected, no tunnel.
        s.feed(Side::Server, &[0, 0x5b, 0, 0, 0, 0, 0, 0], &mut rec);
        assert_eq!(s.handoff(), None);
        assert_eq!(rec.extra.get("host.socks"), Some(&Values::Text(vec!["login.live.com".into()])));
        assert_eq!(probe(Side::Client, b"\x05\x01\x00GET"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, &[5, 0]), Probe::NoMatch);
    }

    #[test]
    fn a_socks4_request_is_the_whole_first_message() {
        let req = b"\x04\x01\x00\x50\x0a\x00\x00\x01user\x00";
        assert_eq!(probe(Side::Client, req), Probe::Match);
        let mut more = req.to_vec();
        more.extend_from_slice(b"data before the answer");
        assert_eq!(probe(Side::Client, &more), Probe::NoMatch, "a client waits for the answer");
    }

    #[test]
    fn hostile_lengths_stay_bounded() {
        let mut s = Socks::default();
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, &[4, 1, 0, 80, 0, 0, 0, 1], &mut rec);
        for _ in 0..100 {
            s.feed(Side::Client, &[b'a'; 100], &mut rec);
        }
        assert!(s.streams.held(Side::Client) <= MAX_MESSAGE);
        assert_eq!(s.step[0], Step::Done, "no user name ends within the bound");
    }
}
