//! DNS over UDP and TCP (RFC 1035; TCP messages carry a two-byte length): query
//! names, types and classes, header flags, response codes, and the records of every
//! section as Arkime files them (name, type, class, TTL; A/AAAA addresses, CNAME, NS
//! and MX names with MX's preference, TXT strings). A pure, bounded parser of one
//! message.

use std::borrow::Cow;
use tyto_packet::Addr;

use tyto_schema::{Extra, SessionRecord, Transaction};

use crate::kit::add_text;
use crate::kit::file_transaction;
use crate::kit::messages::{Framed, HandOn};
use crate::{Dissector, Probe, Protocol, Side, SubProtocol, Transport};

/// DNS's message format on the ports of its local-network relatives.
pub static MDNS: SubProtocol = SubProtocol { name: "mdns", parent: Some(&PROTOCOL) };
pub static LLMNR: SubProtocol = SubProtocol { name: "llmnr", parent: Some(&PROTOCOL) };
pub static NBNS: SubProtocol = SubProtocol { name: "nbns", parent: Some(&PROTOCOL) };

pub static PROTOCOL: Protocol = Protocol {
    name: "dns",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[53, 5353, 5355],
    probe,
    new: || Box::new(Dns::default()),
    later: None,
};

/// Compression pointers followed per name: more is a loop.
const MAX_POINTERS: usize = 16;
/// A name's length in presentation form (RFC 1035 limit, with dots).
const MAX_NAME: usize = 255;
/// Questions and records read per message.
const MAX_RECORDS: usize = 64;
/// Queries waiting for their answer, per session (a resolver's shared socket can
/// have many in flight); the oldest goes out unanswered past this.
const MAX_PENDING: usize = 32;

/// One message, as far as it parsed.
#[derive(Debug, Default, PartialEq)]
pub struct Message {
    pub id: u16,
    pub response: bool,
    pub opcode: u8,
    pub rcode: u8,
    /// The header's flag bits (AA, TC, RD, RA, AD, CD), as sent.
    pub flags: u16,
    pub questions: Vec<(String, u16, u16)>,
    /// The records of the answer, authority and additional sections.
    pub answers: Vec<Record>,
}

impl Message {
    /// Whether a record of type `kind` (CNAME 5, NS 2, MX 15) names `name`.
    fn names(&self, kind: u16, name: &str) -> bool {
        self.answers
            .iter()
            .any(|r| r.rtype == kind && matches!(&r.data, Answer::Name(n) if n.eq_ignore_ascii_case(name)))
    }
}

/// One resource record.
#[derive(Debug, PartialEq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Addresses for A/AAAA, a name for CNAME/NS/MX, strings for TXT.
    pub data: Answer,
    /// MX's preference.
    pub priority: Option<u16>,
}

#[derive(Debug, PartialEq)]
pub enum Answer {
    Addr(Addr),
    /// A NetBIOS name's addresses (NBNS's NB record: flags and an IPv4 address each).
    NetbiosAddrs(Vec<Addr>),
    Name(String),
    /// A TXT record's character-strings.
    Texts(Vec<String>),
    /// A DS, RRSIG, NSEC, CAA or HTTPS record as Arkime presents it (`CAA 0 issue
    /// letsencrypt.org`).
    Presented(String),
    Other,
}

/// Character-strings of one TXT record kept at most.
const MAX_TXT_STRINGS: usize = 16;

/// A TXT record's data: strings each prefixed by its length.
fn txt_strings(mut rdata: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = rdata.split_first() {
        let Some(text) = rest.get(..usize::from(len)) else { break };
        if out.len() < MAX_TXT_STRINGS {
            out.push(String::from_utf8_lossy(text).into_owned());
        }
        rdata = &rest[usize::from(len)..];
    }
    out
}

/// Parameters of an HTTPS record kept at most, and values of each.
const MAX_SVC_PARAMS: usize = 16;

/// A record's data in Arkime's presentation: the type's name, then its fields as
/// RFC 4034 (DS, RRSIG without the signature, NSEC with the types its bitmap
/// names), RFC 8659 (CAA) and RFC 9460 (HTTPS: the priority, the target, and the
/// `alpn`, `port`, `ipv4hint` and `ipv6hint` parameters) write them. `rdata` starts
/// at `start` of the message `m` (names inside it may point back into `m`).
fn presented(m: &[u8], start: usize, rdata: &[u8], rtype: u16) -> Option<String> {
    let u32_at = |at: usize| Some(u32::from(u16_at(rdata, at)?) << 16 | u32::from(u16_at(rdata, at + 2)?));
    match rtype {
        // A DS without its digest is malformed (Arkime drops it too).
        43 if rdata.len() > 4 => {
            let digest: String = rdata[4..].iter().map(|b| format!("{b:02X}")).collect();
            Some(format!("DS {} {} {} {digest}", u16_at(rdata, 0)?, rdata.get(2)?, rdata.get(3)?))
        }
        46 => {
            // The signer's name lies inside the record (a record cut short has none).
            if rdata.len() <= 18 {
                return None;
            }
            let (signer, after) = name(m, start + 18)?;
            if after > start + rdata.len() {
                return None;
            }
            Some(format!(
                "RRSIG {} {} {} {} {} {} {} {signer}",
                type_name(u16_at(rdata, 0)?),
                rdata.get(2)?,
                rdata.get(3)?,
                u32_at(4)?,
                u32_at(8)?,
                u32_at(12)?,
                u16_at(rdata, 16)?,
            ))
        }
        47 => {
            let (next, after) = name(m, start)?;
            let mut types = Vec::new();
            let mut bitmaps = rdata.get(after.checked_sub(start)?..)?;
            // Windows of up to 256 types: the window's number, its length, its bits.
            while let [window, len, rest @ ..] = bitmaps {
                let Some(bits) = rest.get(..usize::from(*len)) else { break };
                for (i, byte) in bits.iter().enumerate() {
                    for bit in (0..8).filter(|b| byte & (0x80 >> b) != 0) {
                        types.push(type_name(u16::from(*window) << 8 | (i * 8 + bit) as u16));
                    }
                }
                bitmaps = &rest[usize::from(*len)..];
            }
            Some(format!("NSEC {next} {}", types.join(" ")))
        }
        257 => {
            let (flags, tag_len) = (*rdata.first()?, usize::from(*rdata.get(1)?));
            let tag = String::from_utf8_lossy(rdata.get(2..2 + tag_len)?);
            let value = String::from_utf8_lossy(&rdata[2 + tag_len..]);
            Some(format!("CAA {flags} {tag} {value}"))
        }
        65 => {
            let (target, after) = name(m, start + 2)?;
            let mut params = Vec::new();
            let mut rest = rdata.get(after.checked_sub(start)?..)?;
            while let (Some(key), Some(len)) = (u16_at(rest, 0), u16_at(rest, 2)) {
                let Some(value) = rest.get(4..4 + usize::from(len)) else { break };
                let shown = match key {
                    1 => Some(format!("alpn={}", txt_strings(value).join(","))),
                    3 => Some(format!("port={}", u16_at(value, 0).map_or(String::new(), |p| p.to_string()))),
                    4 => Some(format!("ipv4hint={}", hints::<4>(value, |a| std::net::Ipv4Addr::from(a).to_string()))),
                    6 => Some(format!("ipv6hint={}", hints::<16>(value, |a| std::net::Ipv6Addr::from(a).to_string()))),
                    _ => None,
                };
                if params.len() < MAX_SVC_PARAMS {
                    params.extend(shown);
                }
                rest = &rest[4 + usize::from(len)..];
            }
            Some(format!("HTTPS {} {target} {}", u16_at(rdata, 0)?, params.join(" ")))
        }
        _ => None,
    }
}

/// An HTTPS record's address hints: addresses of `N` bytes back to back, shown by
/// `show` and joined with commas (a piece shorter than an address is left out).
fn hints<const N: usize>(value: &[u8], show: impl Fn([u8; N]) -> String) -> String {
    let addresses = value.chunks_exact(N).take(MAX_SVC_PARAMS).filter_map(|a| <[u8; N]>::try_from(a).ok());
    addresses.map(show).collect::<Vec<_>>().join(",")
}

fn u16_at(m: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*m.get(at)?, *m.get(at + 1)?]))
}

/// Reads a (possibly compressed) name at `at`; returns it and where the record goes on.
fn name(m: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut next = None;
    let mut jumps = 0;
    loop {
        let len = *m.get(at)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Some((if out.is_empty() { ".".into() } else { out }, next.unwrap_or(at + 1)));
            }
            0x00 => {
                let label = m.get(at + 1..at + 1 + len)?;
                if !out.is_empty() {
                    out.push('.');
                }
                for &b in label {
                    // Printable ASCII as is, anything else escaped as \DDD (as dig does).
                    if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                        out.push(b as char);
                    } else {
                        out.push_str(&format!("\\{b:03}"));
                    }
                }
                if out.len() > MAX_NAME * 4 {
                    return None;
                }
                at += 1 + len;
            }
            0xc0 => {
                jumps += 1;
                if jumps > MAX_POINTERS {
                    return None;
                }
                let target = (u16_at(m, at)? & 0x3fff) as usize;
                next.get_or_insert(at + 2);
                at = target;
            }
            _ => return None,
        }
    }
}

/// Parses one DNS message; `None` if its header or questions do not parse.
pub fn parse(m: &[u8]) -> Option<Message> {
    let flags = u16_at(m, 2)?;
    let qd = u16_at(m, 4)? as usize;
    // Answer, authority and additional records alike: name servers and their
    // addresses often come in the latter two.
    let an = [u16_at(m, 6)?, u16_at(m, 8)?, u16_at(m, 10)?].iter().map(|n| *n as usize).sum::<usize>();
    let mut msg = Message {
        id: u16_at(m, 0)?,
        response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        rcode: (flags & 0xf) as u8,
        flags,
        ..Message::default()
    };
    let mut at = 12;
    for _ in 0..qd.min(MAX_RECORDS) {
        let (n, next) = name(m, at)?;
        msg.questions.push((n, u16_at(m, next)?, u16_at(m, next + 2)?));
        at = next + 4;
    }
    for _ in 0..an.min(MAX_RECORDS) {
        let Some((n, next)) = name(m, at) else { break };
        let (Some(rtype), Some(class), Some(ttl_hi), Some(ttl_lo), Some(rdlen)) =
            (u16_at(m, next), u16_at(m, next + 2), u16_at(m, next + 4), u16_at(m, next + 6), u16_at(m, next + 8))
        else {
            break;
        };
        let start = next + 10;
        let Some(rdata) = m.get(start..start + rdlen as usize) else { break };
        let answer = match (rtype, rdata.len()) {
            (1, 4) => Answer::Addr(Addr::from_v4([rdata[0], rdata[1], rdata[2], rdata[3]])),
            (28, 16) => Answer::Addr(Addr(rdata.try_into().ok()?)),
            (5 | 2, _) => name(m, start).map_or(Answer::Other, |(n, _)| Answer::Name(n)),
            (15, _) => name(m, start + 2).map_or(Answer::Other, |(n, _)| Answer::Name(n)),
            (16, _) => Answer::Texts(txt_strings(rdata)),
            (43 | 46 | 47 | 65 | 257, _) => presented(m, start, rdata, rtype).map_or(Answer::Other, Answer::Presented),
            (32, n) if n > 0 && n % 6 == 0 => Answer::NetbiosAddrs(
                rdata.chunks_exact(6).take(MAX_RECORDS).map(|e| Addr::from_v4([e[2], e[3], e[4], e[5]])).collect(),
            ),
            _ => Answer::Other,
        };
        let priority = if rtype == 15 { u16_at(rdata, 0) } else { None };
        msg.answers.push(Record {
            name: n,
            rtype,
            class,
            ttl: u32::from(ttl_hi) << 16 | u32::from(ttl_lo),
            data: answer,
            priority,
        });
        at = start + rdlen as usize;
    }
    Some(msg)
}

/// A datagram (or TCP message) looks like DNS when its header is sane and its
/// questions parse to the end of the question section.
fn looks_like_dns(m: &[u8]) -> bool {
    let (Some(flags), Some(qd), Some(an)) = (u16_at(m, 2), u16_at(m, 4), u16_at(m, 6)) else { return false };
    let opcode = (flags >> 11) & 0xf;
    // A response that repeats no question, as mDNS announcements and NBNS answers
    // are sent (RFC 6762 6, RFC 1002 4.2): its records make the case instead.
    let records_only = flags & 0x8000 != 0 && opcode == 0 && qd == 0 && (1..=64).contains(&an);
    // Z bit clear, a known opcode, one to a few questions.
    if flags & 0x0040 != 0 || opcode > 6 || opcode == 3 || qd > 4 || (qd == 0 && !records_only) {
        return false;
    }
    let class_ok = |class: u16| matches!(class & 0x7fff, 1 | 3 | 4 | 254 | 255);
    parse(m).is_some_and(|msg| {
        msg.questions.iter().all(|(_, _, class)| class_ok(*class))
            && (!records_only || (!msg.answers.is_empty() && msg.answers.iter().all(|r| class_ok(r.class))))
    })
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if data.len() >= 12 && looks_like_dns(data) {
        return Probe::Match;
    }
    if data.len() < 2 {
        return Probe::NeedMore;
    }
    // DNS over TCP: a length, then the message. A session's first message is a
    // query or a short answer: a larger length is taken as not DNS, so text
    // protocols ("GE" = 18245) are not held waiting.
    let Some(len) = u16_at(data, 0).map(usize::from) else { return Probe::NoMatch };
    let body = &data[2..];
    if !(12..=4096).contains(&len) {
        return Probe::NoMatch;
    }
    if body.len() >= len {
        return if looks_like_dns(&body[..len]) { Probe::Match } else { Probe::NoMatch };
    }
    match (u16_at(body, 2), u16_at(body, 4)) {
        (Some(flags), Some(qd)) if flags & 0x0040 == 0 && (1..=4).contains(&qd) => Probe::NeedMore,
        (Some(_), Some(_)) => Probe::NoMatch,
        _ => Probe::NeedMore,
    }
}

fn type_name(t: u16) -> Cow<'static, str> {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        13 => "HINFO".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        29 => "LOC".into(),
        35 => "NAPTR".into(),
        39 => "DNAME".into(),
        41 => "OPT".into(),
        43 => "DS".into(),
        46 => "RRSIG".into(),
        47 => "NSEC".into(),
        44 => "SSHFP".into(),
        48 => "DNSKEY".into(),
        50 => "NSEC3".into(),
        51 => "NSEC3PARAM".into(),
        52 => "TLSA".into(),
        64 => "SVCB".into(),
        65 => "HTTPS".into(),
        99 => "SPF".into(),
        249 => "TKEY".into(),
        250 => "TSIG".into(),
        251 => "IXFR".into(),
        252 => "AXFR".into(),
        255 => "ANY".into(),
        257 => "CAA".into(),
        n => format!("TYPE{n}").into(),
    }
}

fn class_name(c: u16) -> Cow<'static, str> {
    // The top bit is mDNS's unicast-response (question) or cache-flush (record) bit.
    match c & 0x7fff {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        255 => "ANY".into(),
        c => format!("CLASS{c}").into(),
    }
}

fn rcode_name(r: u8) -> Cow<'static, str> {
    match r {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}").into(),
    }
}

fn opcode_name(o: u8) -> Cow<'static, str> {
    match o {
        0 => "QUERY".into(),
        1 => "IQUERY".into(),
        2 => "STATUS".into(),
        4 => "NOTIFY".into(),
        5 => "UPDATE".into(),
        n => format!("OPCODE{n}").into(),
    }
}

/// A name looked up, in `host.dns`: an internationalised name decoded (`уаноо.қаз`),
/// its `xn--` form in `dns.puny`, as Arkime files them.
fn add_host(extra: &mut Extra, name: &str) {
    match crate::kit::idn::to_unicode(name) {
        Some(unicode) => {
            add_text(extra, text_field!("host.dns"), &unicode);
            add_text(extra, text_field!("dns.puny"), &name.to_ascii_lowercase());
        }
        None => add_text(extra, text_field!("host.dns"), name),
    }
}

/// Writes what a message says into a session's (or a transaction's) values.
fn record(msg: &Message, extra: &mut Extra) {
    add_text(extra, text_field!("dns.opcode"), &opcode_name(msg.opcode));
    if msg.response {
        add_text(extra, text_field!("dns.status"), &rcode_name(msg.rcode));
    }
    for (n, qtype, qclass) in &msg.questions {
        // The root (".", as in DNSKEY or NS queries for the root) names no host.
        if n != "." {
            add_host(extra, n);
            add_text(extra, text_field!("dns.query.host"), n);
        }
        add_text(extra, text_field!("dns.query.type"), &type_name(*qtype));
        add_text(extra, text_field!("dns.query.class"), &class_name(*qclass));
    }
    // As Arkime files them: a response's flags and records (every section; not EDNS's
    // OPT pseudo-record), and none of a NOTIFY or an UPDATE (their sections are a
    // zone's serial and changes, not answers).
    if !msg.response {
        return record_names(msg, extra);
    }
    for (bit, flag) in [(0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"), (0x0020, "AD"), (0x0010, "CD")]
    {
        if msg.flags & bit != 0 {
            add_text(extra, text_field!("dns.header_flags"), flag);
        }
    }
    let answers = || msg.answers.iter().filter(|a| !matches!(msg.opcode, 4 | 5) && a.rtype != 41);
    let r = extra.add_int(int_field!("dns.answer.cnt").0, answers().count() as i64);
    debug_assert!(r.is_ok());
    for a in answers() {
        // An internationalised name decoded, as in `host.dns`.
        let unicode = crate::kit::idn::to_unicode(&a.name);
        let name = match (&unicode, a.name.as_str()) {
            (Some(u), _) => u.as_str(),
            (None, ".") => "<root>",
            (None, n) => n,
        };
        add_text(extra, text_field!("dns.answer.name"), name);
        add_text(extra, text_field!("dns.answer.type"), &type_name(a.rtype));
        add_text(extra, text_field!("dns.answer.class"), &class_name(a.class));
        let r = extra.add_int(int_field!("dns.answer.ttl").0, i64::from(a.ttl));
        debug_assert!(r.is_ok());
        if let Some(p) = a.priority {
            let r = extra.add_int(int_field!("dns.answer.priority").0, i64::from(p));
            debug_assert!(r.is_ok());
        }
        if let Answer::Addr(ip) = &a.data {
            let r = extra.add_ip(ip_field!("dns.answer.ip").0, *ip);
            debug_assert!(r.is_ok());
        }
    }
    record_names(msg, extra);
}

/// The addresses and names the records give (every section, as before Arkime's
/// answer fields: `ip.dns`, CNAMEs, name and mail servers, TXT strings).
fn record_names(msg: &Message, extra: &mut Extra) {
    // As Arkime files an address by whose it is: a name server's (NS) or a mail
    // server's (MX) the response names, or a name looked up (asked, or a CNAME's
    // target) — or several of these; an address of no such name is an answer's.
    let asked = |name: &str| msg.questions.iter().any(|(q, _, _)| q.eq_ignore_ascii_case(name)) || msg.names(5, name);
    // Most responses name no server: their addresses are answers, unasked.
    let servers = msg.answers.iter().any(|r| matches!(r.rtype, 2 | 15));
    for Record { name, rtype, data: a, .. } in &msg.answers {
        match (rtype, a) {
            (_, Answer::Addr(ip)) => {
                let (nameserver, mailserver) = match servers {
                    true => (msg.names(2, name), msg.names(15, name)),
                    false => (false, false),
                };
                for (holds, field) in [
                    (nameserver, ip_field!("ip.dns.nameserver")),
                    (mailserver, ip_field!("ip.dns.mailserver")),
                    (!nameserver && !mailserver || asked(name), ip_field!("ip.dns")),
                ] {
                    if holds {
                        let r = extra.add_ip(field.0, *ip);
                        debug_assert!(r.is_ok());
                    }
                }
            }
            (5, Answer::Name(n)) => {
                add_text(extra, text_field!("dns.answer.cname"), n);
                // As Arkime: a CNAME's target is a host the session looked up too.
                add_host(extra, n);
            }
            (2, Answer::Name(n)) => add_text(extra, text_field!("host.dns.nameserver"), n),
            (15, Answer::Name(n)) => add_text(extra, text_field!("host.dns.mailserver"), n),
            (16, Answer::Texts(texts)) => {
                for t in texts {
                    add_text(extra, text_field!("dns.answer.txt"), t);
                }
            }
            (43, Answer::Presented(t)) => add_text(extra, text_field!("dns.answer.ds"), t),
            (46, Answer::Presented(t)) => add_text(extra, text_field!("dns.answer.rrsig"), t),
            (47, Answer::Presented(t)) => add_text(extra, text_field!("dns.answer.nsec"), t),
            (65, Answer::Presented(t)) => add_text(extra, text_field!("dns.answer.https"), t),
            (257, Answer::Presented(t)) => add_text(extra, text_field!("dns.answer.caa"), t),
            _ => {}
        }
    }
}

/// A NetBIOS name from its DNS form (RFC 1001's first-level encoding: 32 letters
/// `A`–`P`, two per byte): its 15 characters without the padding spaces, the 16th
/// (the service suffix) aside. Another name is no NetBIOS name.
fn netbios_name(encoded: &str) -> Option<String> {
    let label = encoded.split('.').next()?.as_bytes();
    if label.len() != 32 {
        return None;
    }
    let nibble = |c: u8| c.to_ascii_uppercase().checked_sub(b'A').filter(|n| *n < 16);
    let bytes: Vec<u8> =
        label.chunks_exact(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect::<Option<_>>()?;
    // Control bytes dress some names (`\x01\x02__MSBROWSE__\x02`): left out.
    let printable: Vec<u8> = bytes[..15].iter().copied().filter(|b| *b >= 0x20).collect();
    let name = String::from_utf8_lossy(&printable).trim_end().to_string();
    (!name.is_empty()).then_some(name)
}

/// NBNS's values (Arkime's `nbns.*`): names asked for and their kinds, names
/// answered or registered and their addresses.
fn record_netbios(msg: &Message, extra: &mut Extra) {
    for (n, qtype, _) in &msg.questions {
        if let Some(name) = netbios_name(n) {
            add_text(extra, text_field!("nbns.queryHost"), &name);
            add_text(extra, text_field!("nbns.name"), &name);
        }
        let kind = match qtype {
            32 => "NB",
            33 => "NBSTAT",
            _ => continue,
        };
        add_text(extra, text_field!("nbns.queryType"), kind);
    }
    for r in &msg.answers {
        if let Some(name) = netbios_name(&r.name) {
            add_text(extra, text_field!("nbns.host"), &name);
            add_text(extra, text_field!("nbns.name"), &name);
        }
        if let Answer::NetbiosAddrs(addrs) = &r.data {
            for a in addrs {
                let res = extra.add_ip(ip_field!("nbns.ip").0, *a);
                debug_assert!(res.is_ok());
            }
        }
    }
}

#[derive(Default)]
pub struct Dns {
    /// TCP: bytes of an incomplete message per side.
    tcp: [Framed; 2],
    /// Whether this session's messages come length-prefixed (decided by the first).
    framed: Option<bool>,
    /// Queries not answered yet, by message id, oldest first.
    pending: std::collections::VecDeque<(u16, Transaction)>,
    /// When the queries not answered yet were seen, by message id, oldest first
    /// (kept whether or not the row keeps transactions: they give the response times).
    asked: std::collections::VecDeque<(u16, i64)>,
    /// The response time the message being read gave (an answer that timed its
    /// query): its transaction's, so the two agree.
    timed: Option<i64>,
    /// Addresses answers gave for the name asked, until the classifier files them.
    resolved: Vec<(Addr, String)>,
}

/// Addresses one session hands on between two of the classifier's asks at most.
const MAX_RESOLVED: usize = 64;

/// A query sent again with its id within this long is a copy of the first (the
/// client's retransmission); later it is a new query (Wireshark's default too).
const RETRANSMISSION_NS: i64 = 5_000_000_000;

impl Dns {
    /// The addresses a response gives for its first question's name (directly, or
    /// through the CNAMEs it answers with), each with that name.
    fn note_resolved(&mut self, msg: &Message) {
        let Some((asked, ..)) = msg.questions.first() else { return };
        let on_chain = |name: &str| name.eq_ignore_ascii_case(asked) || msg.names(5, name);
        for r in &msg.answers {
            if let Answer::Addr(ip) = r.data {
                if self.resolved.len() < MAX_RESOLVED && on_chain(&r.name) {
                    self.resolved.push((ip, asked.to_ascii_lowercase()));
                }
            }
        }
    }

    /// Times a message from its header alone (id and QR), so a message whose body
    /// does not parse is still paired: an answer times the first query of its id
    /// (copies sent again within [`RETRANSMISSION_NS`] are answered with it), and
    /// copies of the answer time nothing — as Wireshark pairs them.
    fn time(&mut self, header: &[u8], rec: &mut SessionRecord) {
        self.timed = None;
        let (Some(id), Some(&flags)) = (u16_at(header, 0), header.get(2)) else { return };
        if header.len() < 12 {
            return;
        }
        let now = rec.stop_ns;
        if flags & 0x80 == 0 {
            match self.asked.iter().position(|(i, _)| *i == id) {
                Some(at) if now - self.asked[at].1 < RETRANSMISSION_NS => {}
                found => {
                    if let Some(at) = found {
                        self.asked.remove(at);
                    }
                    if self.asked.len() >= MAX_PENDING {
                        self.asked.pop_front();
                    }
                    self.asked.push_back((id, now));
                }
            }
        } else if let Some(at) = self.asked.iter().position(|(i, _)| *i == id) {
            if let Some((_, asked_ns)) = self.asked.remove(at) {
                crate::kit::put_duration(rec, duration_field!("dns.response-time"), now - asked_ns);
                self.timed = Some(tyto_schema::time::span_micros(now - asked_ns));
            }
        }
    }

    fn message(&mut self, msg: &Message, len: usize, rec: &mut SessionRecord) {
        record(msg, &mut rec.extra);
        if msg.response && !rec.protocols.iter().any(|p| [MDNS.name, LLMNR.name, NBNS.name].contains(&p.as_str())) {
            self.note_resolved(msg);
        }
        if rec.protocols.iter().any(|p| p == NBNS.name) {
            record_netbios(msg, &mut rec.extra);
        }
        if msg.questions.iter().any(|(n, ..)| crate::protocols::dnscrypt::is_certificate_query(n)) {
            crate::kit::add_protocol(rec, &crate::protocols::dnscrypt::PROTOCOL);
        }
        // The newest packet's time is the one that carried this message.
        let now = rec.stop_ns;
        if rec.transactions.is_none() {
            return;
        }
        if !msg.response {
            let mut t = Transaction::new("dns");
            t.request_ns = Some(now);
            t.request_bytes = len as u64;
            record(msg, &mut t.values);
            if self.pending.len() >= MAX_PENDING {
                if let Some((_, old)) = self.pending.pop_front() {
                    file_transaction(rec, old);
                }
            }
            self.pending.push_back((msg.id, t));
            return;
        }
        // An answer goes with the oldest query of its id and first question.
        let question = msg.questions.first().map(|(n, ..)| n.as_str());
        let asked = self.pending.iter().position(|(id, t)| {
            *id == msg.id
                && match (question, t.values.get("host.dns")) {
                    (Some(q), Some(tyto_schema::Values::Text(names))) => {
                        names.iter().any(|n| n.eq_ignore_ascii_case(q))
                    }
                    _ => true,
                }
        });
        let mut t = match asked.and_then(|i| self.pending.remove(i)) {
            Some((_, t)) => t,
            None => Transaction::new("dns"),
        };
        t.response_ns = Some(now);
        t.response_us = self.timed.take();
        t.response_bytes = len as u64;
        record(msg, &mut t.values);
        file_transaction(rec, t);
    }
}

impl Dissector for Dns {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.framed.is_none() {
            self.framed = Some(!looks_like_dns(data));
            // DNS's message format on the ports of its local-network relatives: the
            // payload said DNS, the port says which of them.
            for (port, sub) in [(5353, &MDNS), (5355, &LLMNR), (137, &NBNS)] {
                if rec.src_port == port || rec.dst_port == port {
                    crate::kit::add_protocol(rec, sub);
                }
            }
        }
        if self.framed == Some(false) {
            self.time(data, rec);
            // Over 512 bytes in one datagram: past what DNS over UDP promised before
            // EDNS, and what amplification and tunnels send.
            if let Some(msg) = parse(data) {
                if data.len() > 512 {
                    crate::risk::add(rec, crate::risk::Risk::DnsLargePacket);
                }
                self.message(&msg, data.len(), rec);
            }
            return;
        }
        // Each message whole (a 2-byte length, at most 64 KiB), handled once the
        // feed is read: handling needs `self`.
        let mut messages: Vec<Vec<u8>> = Vec::new();
        let length = |h: &[u8]| Some(usize::from(u16::from_be_bytes([h[0], h[1]])));
        self.tcp[side as usize].feed(
            data,
            2,
            HandOn::AtEnd,
            length,
            |_| usize::MAX,
            |_, m, _| messages.push(m.to_vec()),
        );
        for m in messages {
            self.time(&m, rec);
            if let Some(msg) = parse(&m) {
                self.message(&msg, m.len(), rec);
            }
        }
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        // Queries never answered go out as they are.
        while let Some((_, t)) = self.pending.pop_front() {
            file_transaction(rec, t);
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.tcp[side as usize] = Framed::default();
    }

    fn learnt(&mut self) -> Option<crate::Learnt> {
        (!self.resolved.is_empty()).then(|| crate::Learnt::Names(std::mem::take(&mut self.resolved)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    /// A response for www.example.com: CNAME to example.com (compressed), then A.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 16]);
        m.extend_from_slice(&[0xc0, 16, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
        m
    }

    #[test]
    fn names_types_codes_and_answers() {
        let msg = parse(&response()).unwrap();
        assert!(msg.response);
        assert_eq!(msg.questions, [("www.example.com".to_string(), 1, 1)]);
        let r = |name: &str, rtype, data| Record { name: name.into(), rtype, class: 1, ttl: 60, data, priority: None };
        assert_eq!(msg.answers[0], r("www.example.com", 5, Answer::Name("example.com".into())));
        assert_eq!(msg.answers[1], r("example.com", 1, Answer::Addr(Addr::from_v4([93, 184, 216, 34]))));
        let mut d = Dns::default();
        let mut rec = SessionRecord::default();
        d.feed(Side::Server, &response(), &mut rec);
        assert_eq!(
            rec.extra.get("host.dns"),
            Some(&Values::Text(vec!["www.example.com".into(), "example.com".into()])),
            "the name asked and the CNAME's target"
        );
        assert_eq!(rec.extra.get("dns.status"), Some(&Values::Text(vec!["NOERROR".into()])));
        assert_eq!(rec.extra.get("ip.dns"), Some(&Values::Ip(vec![Addr::from_v4([93, 184, 216, 34])])));
        // Each record as Arkime files it.
        let texts = |f: &str| rec.extra.texts(f).to_vec();
        assert_eq!(texts("dns.answer.name"), ["www.example.com", "example.com"]);
        assert_eq!(texts("dns.answer.type"), ["CNAME", "A"]);
        assert_eq!(texts("dns.answer.class"), ["IN"]);
        assert_eq!(rec.extra.ints("dns.answer.ttl"), [60]);
        assert_eq!(rec.extra.ints("dns.answer.cnt"), [2]);
        assert_eq!(texts("dns.header_flags"), ["RD", "RA"]);
        assert_eq!(texts("dns.query.host"), ["www.example.com"]);
        assert_eq!(rec.extra.ips("dns.answer.ip"), [Addr::from_v4([93, 184, 216, 34])]);
        // The address, through the CNAME, is the name asked's: handed on once.
        let names = vec![(Addr::from_v4([93, 184, 216, 34]), "www.example.com".to_string())];
        assert_eq!(d.learnt(), Some(crate::Learnt::Names(names)));
        assert_eq!(d.learnt(), None);
    }

    #[test]
    fn mail_exchangers_with_their_preference() {
        let mut m = vec![0, 7, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x07example\x03com\x00\x00\x0f\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 15, 0, 1, 0, 1, 0, 0, 0, 9, 0, 10]);
        m.extend_from_slice(b"\x04mail\xc0\x0c");
        let mut rec = SessionRecord::default();
        Dns::default().feed(Side::Server, &m, &mut rec);
        assert_eq!(rec.extra.texts("host.dns.mailserver"), ["mail.example.com"]);
        assert_eq!(rec.extra.ints("dns.answer.priority"), [10]);
        assert_eq!(rec.extra.ints("dns.answer.ttl"), [65536]);
        assert_eq!(rec.extra.texts("dns.header_flags"), ["AA", "RD", "RA"]);
    }

    /// CAA, NSEC (its next name compressed) and HTTPS records as Arkime shows them;
    /// every cut of the message parses or not, without a panic, and never reads a
    /// record's data past its end.
    #[test]
    fn dnssec_caa_and_https_records_as_arkime_shows_them() {
        let mut m = vec![0, 7, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend_from_slice(b"\x07example\x03com\x00\x01\x01\x00\x01");
        let caa = b"\x00\x05issueletsencrypt.org";
        m.extend_from_slice(&[0xc0, 12, 1, 1, 0, 1, 0, 0, 0, 60, 0, caa.len() as u8]);
        m.extend_from_slice(caa);
        // NSEC: next name "next.example.com", then the bitmap of window 0: A (1),
        // NS (2), AAAA (28), RRSIG (46), NSEC (47).
        let nsec = [&b"\x04next\xc0\x0c"[..], &[0, 6, 0x60, 0, 0, 0x08, 0, 0x03]].concat();
        m.extend_from_slice(&[0xc0, 12, 0, 47, 0, 1, 0, 0, 0, 60, 0, nsec.len() as u8]);
        m.extend_from_slice(&nsec);
        let https = [&[0u8, 1, 0][..], &[0, 1, 0, 6, 2, b'h', b'2', 2, b'h', b'3'], &[0, 3, 0, 2, 1, 187]].concat();
        m.extend_from_slice(&[0xc0, 12, 0, 65, 0, 1, 0, 0, 0, 60, 0, https.len() as u8]);
        m.extend_from_slice(&https);
        let mut rec = SessionRecord::default();
        Dns::default().feed(Side::Server, &m, &mut rec);
        assert_eq!(rec.extra.texts("dns.answer.caa"), ["CAA 0 issue letsencrypt.org"]);
        assert_eq!(rec.extra.texts("dns.answer.nsec"), ["NSEC next.example.com A NS AAAA RRSIG NSEC"]);
        assert_eq!(rec.extra.texts("dns.answer.https"), ["HTTPS 1 . alpn=h2,h3 port=443"]);
        for end in 12..m.len() {
            let _ = parse(&m[..end]);
        }
        // An RRSIG whose data ends before its signer's name has none to show.
        let rrsig = [0u8, 1, 13, 2, 0, 0, 14, 16, 0, 0, 0, 1, 0, 0, 0, 2, 0x30, 0x39];
        let mut cut = m[..12].to_vec();
        cut[7] = 1;
        cut.extend_from_slice(&m[12..29]);
        cut.extend_from_slice(&[0xc0, 12, 0, 46, 0, 1, 0, 0, 0, 60, 0, rrsig.len() as u8]);
        cut.extend_from_slice(&rrsig);
        cut.extend_from_slice(b"\x07example\x03com\x00");
        assert_eq!(parse(&cut).unwrap().answers[0].data, Answer::Other);
        let mut whole = cut[..cut.len() - 13].to_vec();
        let at = whole.len() - rrsig.len() - 1;
        whole[at] = rrsig.len() as u8 + 13;
        whole.extend_from_slice(b"\x07example\x03com\x00");
        assert_eq!(
            parse(&whole).unwrap().answers[0].data,
            Answer::Presented("RRSIG A 13 2 3600 1 2 12345 example.com".into())
        );
    }

    #[test]
    fn tcp_messages_in_every_segmentation() {
        let m = response();
        let mut stream = (m.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&m);
        stream.extend_from_slice(&stream.clone());
        assert_eq!(probe(Side::Server, &stream), Probe::Match);
        for split in [1, 3, 13, 100] {
            let mut d = Dns::default();
            let mut rec = SessionRecord::default();
            for part in stream.chunks(split) {
                d.feed(Side::Server, part, &mut rec);
            }
            assert_eq!(rec.extra.get("dns.answer.cname"), Some(&Values::Text(vec!["example.com".into()])), "{split}");
        }
    }

    fn query(id: u16, name: &[u8]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m
    }

    /// Response times, with or without transactions kept: an answer times the first
    /// query of its id when the query was sent again within 5 s, the new one when
    /// later; a copy of the answer times nothing; a body that does not parse still
    /// has its header timed.
    #[test]
    fn answers_are_timed_as_wireshark_pairs_them() {
        let mut d = Dns::default();
        let mut rec = SessionRecord::default();
        let ms = |t: i64| t * 1_000_000;
        let answer = |id: u16| {
            let mut m = response();
            m[..2].copy_from_slice(&id.to_be_bytes());
            m
        };
        let at = |d: &mut Dns, rec: &mut SessionRecord, t: i64, side: Side, m: &[u8]| {
            rec.stop_ns = ms(t);
            d.feed(side, m, rec);
        };
        let q = query(0x1234, b"\x03www\x07example\x03com\x00");
        at(&mut d, &mut rec, 0, Side::Client, &q);
        at(&mut d, &mut rec, 1_000, Side::Client, &q);
        at(&mut d, &mut rec, 1_015, Side::Server, &response());
        at(&mut d, &mut rec, 1_020, Side::Server, &response());
        // Sent again after 5 s: a new query.
        at(&mut d, &mut rec, 10_000, Side::Client, &query(9, b"\x01a\x00"));
        at(&mut d, &mut rec, 15_500, Side::Client, &query(9, b"\x01a\x00"));
        at(&mut d, &mut rec, 15_512, Side::Server, &answer(9));
        // A damaged answer: its header is enough.
        at(&mut d, &mut rec, 20_000, Side::Client, &query(10, b"\x01b\x00"));
        at(&mut d, &mut rec, 20_003, Side::Server, &answer(10)[..14]);
        assert_eq!(rec.extra.get("dns.response-time"), Some(&Values::Int(vec![1_015_000, 12_000, 3_000])));
        assert!(rec.transactions.is_none());
    }

    /// Each query is paired with its answer by id (two in flight at once, answered
    /// out of order); a query never answered is filed when the row is written; nothing
    /// is filed when the row keeps no transactions.
    #[test]
    fn queries_pair_with_their_answers() {
        let mut d = Dns::default();
        let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
        rec.stop_ns = 1_000;
        d.feed(Side::Client, &query(0x1234, b"\x03www\x07example\x03com\x00"), &mut rec);
        rec.stop_ns = 2_000;
        d.feed(Side::Client, &query(7, b"\x05other\x07example\x00"), &mut rec);
        rec.stop_ns = 3_000;
        d.feed(Side::Server, &response(), &mut rec);
        rec.stop_ns = 4_000;
        d.feed(Side::Client, &query(8, b"\x04lost\x07example\x00"), &mut rec);
        d.end(&mut rec);
        let list = &rec.transactions.as_ref().unwrap().list;
        assert_eq!(list.len(), 3, "{list:#?}");
        let answered = &list[0];
        assert_eq!((answered.request_ns, answered.response_ns), (Some(1_000), Some(3_000)));
        assert_eq!(answered.response_bytes, response().len() as u64);
        assert_eq!(answered.values.get("dns.status"), Some(&Values::Text(vec!["NOERROR".into()])));
        assert_eq!(answered.values.get("ip.dns"), Some(&Values::Ip(vec![Addr::from_v4([93, 184, 216, 34])])));
        for (t, name) in [(&list[1], "other.example"), (&list[2], "lost.example")] {
            assert_eq!(t.response_ns, None);
            assert_eq!(t.values.get("host.dns"), Some(&Values::Text(vec![name.into()])));
            assert_eq!(t.values.get("dns.status"), None);
        }

        let mut rec = SessionRecord::default();
        let mut d = Dns::default();
        d.feed(Side::Client, &query(1, b"\x01a\x00"), &mut rec);
        d.feed(Side::Server, &response(), &mut rec);
        d.end(&mut rec);
        assert!(rec.transactions.is_none());
    }

    #[test]
    fn txt_records_give_their_strings_within_bounds() {
        assert_eq!(txt_strings(b"\x05hello\x00\x03abc"), ["hello", "", "abc"]);
        assert_eq!(txt_strings(b"\x05hel"), Vec::<String>::new(), "a string past the record's end");
        assert_eq!(txt_strings(&[1, b'x'].repeat(40)).len(), MAX_TXT_STRINGS);
    }

    /// NBNS: names decoded from their first-level encoding, what was asked and
    /// registered, and the addresses of NB records.
    /// Responses that repeat no question (an mDNS announcement; `netbios.pcap`'s
    /// NBSTAT answers are the same shape) are DNS by their records.
    #[test]
    fn responses_without_questions() {
        let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x05host1\x05local\x00");
        m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 7]);
        assert_eq!(probe(Side::Server, &m), Probe::Match);
        // A record cut short, a query that asks nothing, an unknown class.
        assert_eq!(probe(Side::Server, &m[..m.len() - 1]), Probe::NoMatch);
        let mut query = m.clone();
        query[2] = 0;
        assert_eq!(probe(Side::Client, &query), Probe::NoMatch);
        let mut class = m.clone();
        let at = m.len() - 12;
        class[at] = 0x12;
        assert_eq!(probe(Side::Server, &class), Probe::NoMatch);
    }

    #[test]
    fn netbios_names_and_addresses() {
        let encode = |name: &str, suffix: u8| -> Vec<u8> {
            let mut raw = format!("{name:<15}").into_bytes();
            raw.push(suffix);
            let mut label = vec![32u8];
            for b in raw {
                label.push(b'A' + (b >> 4));
                label.push(b'A' + (b & 15));
            }
            label.push(0);
            label
        };
        // A registration: one question (NB), one additional NB record of 10.1.2.3.
        let mut m = vec![0x12, 0x34, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend(encode("WORKSTATION", 0));
        m.extend([0, 32, 0, 1]);
        m.extend([0xc0, 12, 0, 32, 0, 1, 0, 0, 0, 60, 0, 6, 0, 0, 10, 1, 2, 3]);
        let mut d = Dns::default();
        let mut rec = SessionRecord { src_port: 137, dst_port: 137, ..SessionRecord::default() };
        d.feed(Side::Client, &m, &mut rec);
        assert_eq!(rec.extra.texts("nbns.queryHost"), ["WORKSTATION"]);
        assert_eq!(rec.extra.texts("nbns.queryType"), ["NB"]);
        assert_eq!(rec.extra.texts("nbns.host"), ["WORKSTATION"]);
        assert_eq!(rec.extra.texts("nbns.name"), ["WORKSTATION"]);
        assert_eq!(rec.extra.ips("nbns.ip"), [Addr::from_v4([10, 1, 2, 3])]);
        assert_eq!(netbios_name("fhepfcelehfcepfffacacacacacacaaa").as_deref(), Some("WORKGROUP"));
        assert_eq!(netbios_name("www.example.com"), None);
        assert_eq!(netbios_name("abacfpfpenfdecfcepfhfdeffpfpacab").as_deref(), Some("__MSBROWSE__"));
    }

    #[test]
    fn loops_and_truncation_are_refused() {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert!(parse(&m).is_none(), "a pointer to itself");
        m.truncate(13);
        assert!(parse(&m).is_none());
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n\r\n"), Probe::NoMatch);
    }
}
