//! SMB 1, 2 and 3 over TCP (direct on 445, or NetBIOS sessions on 139): the dialect
//! agreed, shares connected to, files opened, created or deleted, the client's OS and
//! LAN manager strings and account (SMB1 session setup), and the NTLMSSP exchange
//! inside session setups (user, domain, host). Messages are read by their NetBIOS
//! length; only the head of a long one (a read or a write) is kept.

use tyto_schema::{SessionRecord, TextField};

use crate::kit::messages::{Length, Streams};
use crate::kit::{le16, le32, ntlm, put_text, utf16le};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "smb",
    transports: &[Transport::Tcp],
    ports: &[445, 139],
    probe,
    new: || Box::<Smb>::default(),
    later: None,
};

/// Session setups, creates and tree connects fit well within this; the rest of a
/// longer message (file data) is skipped.
const MAX_MESSAGE: usize = 16 << 10;
/// SMB1 dialects a client may offer that are kept to name the one chosen.
const MAX_DIALECTS: usize = 16;
/// Commands followed in one SMB1 AndX chain or SMB2 compound.
const MAX_CHAIN: usize = 8;

const SMB1_FLAGS_REPLY: u8 = 0x80;
const SMB1_NEGOTIATE: u8 = 0x72;
const SMB1_FLAGS2_UNICODE: u16 = 0x8000;
const SMB2_FLAGS_SERVER_TO_REDIR: u32 = 0x1;

/// NetBIOS session service framing: a type, then a 17-bit (SMB2: 24-bit) length.
fn netbios(b: &[u8]) -> Length {
    match b.get(..4) {
        None => Length::NeedMore,
        Some(h) if matches!(h[0], 0x00 | 0x81..=0x85) => {
            Length::Is(4 + (usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3])))
        }
        Some(_) => Length::Bad,
    }
}

fn is_smb(header: &[u8]) -> bool {
    matches!(header, [0xfc..=0xff, b'S', b'M', b'B', ..])
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if data.len() < 8 {
        return if data.first().is_some_and(|t| *t != 0) { Probe::NoMatch } else { Probe::NeedMore };
    }
    // A session message whose payload is an SMB header.
    Probe::from(data[0] == 0 && is_smb(&data[4..8]))
}

/// NUL-terminated strings from `at`, UTF-16LE (aligned to 2 from the SMB header) or
/// 8-bit; at most `n`.
fn strings(smb: &[u8], mut at: usize, unicode: bool, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    if unicode && at % 2 == 1 {
        at += 1;
    }
    while out.len() < n && at < smb.len() {
        let rest = &smb[at..];
        let (s, used) = if unicode {
            let end = rest.chunks_exact(2).position(|c| c == [0, 0]).map_or(rest.len() & !1, |i| i * 2);
            (utf16le(&rest[..end]), end + 2)
        } else {
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            (String::from_utf8_lossy(&rest[..end]).into_owned(), end + 1)
        };
        out.push(s);
        at += used;
    }
    out
}

#[derive(Default)]
pub struct Smb {
    streams: Streams,
    /// SMB1 dialects the client offered, in order: the server answers with an index.
    dialects: Vec<String>,
    encrypted: bool,
}

/// What one SMB message adds: written after the stream is read, to keep borrows apart.
#[derive(Default)]
struct Found {
    fields: Vec<(TextField, String)>,
    ntlm: Vec<ntlm::Message>,
    dialects: Option<Vec<String>>,
    encrypted: bool,
    /// An SMB1 command other than the dialect negotiation.
    smb1: bool,
}

impl Found {
    fn put(&mut self, field: TextField, value: String) {
        if !value.is_empty() {
            self.fields.push((field, value));
        }
    }

    fn blob(&mut self, blob: &[u8]) {
        if let Some(m) = ntlm::find(blob) {
            if m.kind == 3 {
                for (f, v) in [
                    (text_field!("smb.user"), &m.user),
                    (text_field!("smb.domain"), &m.domain),
                    (text_field!("host.smb"), &m.host),
                ] {
                    if let Some(v) = v {
                        self.put(f, v.clone());
                    }
                }
            }
            self.ntlm.push(m);
        }
    }
}

/// One SMB1 message (header at 0): the commands of its AndX chain.
fn smb1(m: &[u8], dialects: &[String], found: &mut Found) {
    let (Some(&cmd), Some(&flags), Some(flags2)) = (m.get(4), m.get(9), le16(m, 10)) else { return };
    let reply = flags & SMB1_FLAGS_REPLY != 0;
    let unicode = flags2 & SMB1_FLAGS2_UNICODE != 0;
    let (mut cmd, mut at) = (cmd, 32usize);
    for _ in 0..MAX_CHAIN {
        let Some(&wc) = m.get(at) else { return };
        let words = at + 1;
        let bytes_at = words + 2 * usize::from(wc) + 2;
        let Some(byte_count) = le16(m, bytes_at - 2) else { return };
        let bytes = m.get(bytes_at..(bytes_at + usize::from(byte_count)).min(m.len())).unwrap_or(&[]);
        let word = |i: usize| le16(m, words + 2 * i).unwrap_or(0);
        match (cmd, reply) {
            // Negotiate: the dialects offered, then the index of the one chosen.
            (0x72, false) => {
                let list = bytes
                    .split(|b| *b == 0)
                    .filter_map(|d| d.strip_prefix(&[0x02]))
                    .take(MAX_DIALECTS)
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .collect();
                found.dialects = Some(list);
            }
            (0x72, true) if wc >= 1 => {
                if let Some(d) = dialects.get(usize::from(word(0))) {
                    found.put(text_field!("smb.dialect"), d.clone());
                }
            }
            // Session setup: extended security (a blob, then OS, LAN manager, domain).
            (0x73, false) if wc == 12 => {
                let blob_len = usize::from(word(7));
                if let Some(blob) = bytes.get(..blob_len) {
                    found.blob(blob);
                }
                let mut s = strings(m, bytes_at + blob_len, unicode, 3).into_iter();
                for f in [text_field!("smb.os"), text_field!("smb.ver"), text_field!("smb.domain")] {
                    found.put(f, s.next().unwrap_or_default());
                }
            }
            // Session setup with passwords: account, domain, OS, LAN manager.
            (0x73, false) if wc == 13 => {
                let skip = usize::from(word(7)) + usize::from(word(8));
                let mut s = strings(m, bytes_at + skip, unicode, 4).into_iter();
                for f in
                    [text_field!("smb.user"), text_field!("smb.domain"), text_field!("smb.os"), text_field!("smb.ver")]
                {
                    found.put(f, s.next().unwrap_or_default());
                }
            }
            (0x73, true) if wc == 4 => {
                if let Some(blob) = bytes.get(..usize::from(word(3))) {
                    found.blob(blob);
                }
            }
            // Tree connect: password, then the path.
            (0x75, false) if wc == 4 => {
                let path = strings(m, bytes_at + usize::from(word(3)), unicode, 1);
                found.put(text_field!("smb.share"), path.into_iter().next().unwrap_or_default());
            }
            // NT create, open: the file name.
            (0xa2 | 0x2d, false) => {
                found.put(
                    text_field!("smb.fn"),
                    strings(m, bytes_at, unicode, 1).into_iter().next().unwrap_or_default(),
                );
            }
            // Delete: a buffer format byte, then the name.
            (0x06, false) if bytes.first() == Some(&0x04) => {
                found.put(
                    text_field!("smb.fn"),
                    strings(m, bytes_at + 1, unicode, 1).into_iter().next().unwrap_or_default(),
                );
            }
            _ => {}
        }
        // AndX commands chain the next one at an offset from the header.
        let andx = matches!(cmd, 0x73 | 0x75 | 0xa2 | 0x2d | 0x24 | 0x2e | 0x2f) && wc >= 2;
        let (next, offset) = (m.get(words).copied().unwrap_or(0xff), usize::from(word(1)));
        if !andx || next == 0xff || offset <= at {
            return;
        }
        (cmd, at) = (next, offset);
    }
}

/// One SMB2 message (header at 0) and the rest of its compound.
fn smb2(m: &[u8], found: &mut Found) {
    let mut at = 0usize;
    for _ in 0..MAX_CHAIN {
        let Some(h) = m.get(at..) else { return };
        if h.len() < 64 || !h.starts_with(b"\xfeSMB") {
            return;
        }
        let (cmd, flags, next) = (le16(h, 12).unwrap_or(0xffff), le32(h, 16).unwrap_or(0), le32(h, 20));
        let reply = flags & SMB2_FLAGS_SERVER_TO_REDIR != 0;
        let body = &h[64..];
        // Offsets in bodies count from the start of this message's header.
        let field = |off_at: usize, len_at: usize| -> Option<&[u8]> {
            let off = usize::from(le16(body, off_at)?);
            let len = usize::from(le16(body, len_at)?);
            h.get(off..off.checked_add(len)?)
        };
        match (cmd, reply) {
            (0, true) => {
                if let Some(d) = le16(body, 4).filter(|d| *d != 0 && *d != 0x02ff) {
                    found.put(
                        text_field!("smb.dialect"),
                        format!("SMB {}.{}.{}", (d >> 8) & 0xf, (d >> 4) & 0xf, d & 0xf),
                    );
                }
            }
            (1, false) => {
                if let Some(blob) = field(12, 14) {
                    found.blob(blob);
                }
            }
            (1, true) => {
                if let Some(blob) = field(4, 6) {
                    found.blob(blob);
                }
            }
            (3, false) => {
                if let Some(path) = field(4, 6) {
                    found.put(text_field!("smb.share"), utf16le(path));
                }
            }
            (5, false) => {
                if let Some(name) = field(44, 46) {
                    found.put(text_field!("smb.fn"), utf16le(name));
                }
            }
            _ => {}
        }
        match next {
            Some(n) if n >= 64 => at += n as usize,
            _ => return,
        }
    }
}

impl Dissector for Smb {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let mut found = Found::default();
        let dialects = &self.dialects;
        self.streams.push(side, data, MAX_MESSAGE, netbios, |msg, _cut| {
            // Other NetBIOS session packets (session request, keep-alive) carry no SMB.
            let Some(smb) = msg.get(4..).filter(|_| msg[0] == 0) else { return };
            match smb.get(..4) {
                Some(b"\xffSMB") => {
                    // A negotiation that offers SMB1 among newer dialects is not SMB1 in use.
                    found.smb1 |= smb.get(4).is_some_and(|c| *c != SMB1_NEGOTIATE);
                    smb1(smb, dialects, &mut found);
                }
                Some(b"\xfeSMB") => smb2(smb, &mut found),
                // Encrypted (transform header) or compressed: nothing to read.
                Some(b"\xfdSMB") => found.encrypted = true,
                _ => {}
            }
        });
        if found.smb1 {
            crate::risk::add(rec, crate::risk::Risk::SmbInsecureVersion);
        }
        if let Some(d) = found.dialects {
            self.dialects = d;
        }
        self.encrypted |= found.encrypted;
        for (f, v) in found.fields {
            put_text(rec, f, &v);
        }
        for m in &found.ntlm {
            ntlm::record(rec, m);
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        !(self.encrypted || self.streams.broken())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;

    fn nb(smb: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, (smb.len() >> 8) as u8, smb.len() as u8];
        out.extend_from_slice(smb);
        out
    }

    fn smb2_header(cmd: u16, reply: bool) -> Vec<u8> {
        let mut h = b"\xfeSMB".to_vec();
        h.extend_from_slice(&64u16.to_le_bytes());
        h.resize(12, 0);
        h.extend_from_slice(&cmd.to_le_bytes());
        h.resize(16, 0);
        h.extend_from_slice(&u32::from(reply).to_le_bytes());
        h.resize(64, 0);
        h
    }

    fn u16s(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn smb2_dialect_share_file_and_ntlm_user() {
        let mut rec = SessionRecord::default();
        let mut s = Smb::default();
        // Negotiate response: SMB 3.1.1.
        let mut neg = smb2_header(0, true);
        neg.extend_from_slice(&[65, 0, 1, 0, 0x11, 0x03]);
        neg.resize(64 + 65, 0);
        // Session setup request with a raw NTLM AUTHENTICATE.
        let auth = ntlm::tests::authenticate("CORP", "alice", "WS01");
        let mut setup = smb2_header(1, false);
        let mut body = vec![25, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&(64u16 + 24).to_le_bytes());
        body.extend_from_slice(&(auth.len() as u16).to_le_bytes());
        body.extend_from_slice(&[0; 8]);
        setup.extend_from_slice(&body);
        setup.extend_from_slice(&auth);
        // Tree connect then create, as one compound.
        let path = u16s("\\\\srv\\IPC$");
        let mut tree = smb2_header(3, false);
        tree.extend_from_slice(&[9, 0, 0, 0, 72, 0]);
        tree.extend_from_slice(&(path.len() as u16).to_le_bytes());
        tree.extend_from_slice(&path);
        while !tree.len().is_multiple_of(8) {
            tree.push(0);
        }
        let next = tree.len() as u32;
        tree[20..24].copy_from_slice(&next.to_le_bytes());
        let name = u16s("srvsvc");
        let mut create = smb2_header(5, false);
        let mut body = vec![57, 0];
        body.resize(44, 0);
        body.extend_from_slice(&120u16.to_le_bytes());
        body.extend_from_slice(&(name.len() as u16).to_le_bytes());
        body.resize(56, 0);
        create.extend_from_slice(&body);
        create.extend_from_slice(&name);
        tree.extend_from_slice(&create);
        let mut client = nb(&setup);
        client.extend_from_slice(&nb(&tree));
        assert_eq!(probe(Side::Client, &client), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        for chunk in client.chunks(7) {
            s.feed(Side::Client, chunk, &mut rec);
        }
        s.feed(Side::Server, &nb(&neg), &mut rec);
        assert_eq!(texts(&rec, "smb.dialect"), ["SMB 3.1.1"]);
        assert_eq!(texts(&rec, "smb.user"), ["alice"]);
        assert_eq!(texts(&rec, "smb.domain"), ["CORP"]);
        assert_eq!(texts(&rec, "host.smb"), ["ws01"]);
        assert_eq!(texts(&rec, "ntlm.version"), ["10.0.19041"]);
        assert_eq!(texts(&rec, "smb.share"), ["\\\\srv\\IPC$"]);
        assert_eq!(texts(&rec, "smb.fn"), ["srvsvc"]);
        assert!(rec.protocols.contains(&"ntlm".to_string()));
    }

    #[test]
    fn smb1_negotiate_session_setup_tree_and_create() {
        let mut rec = SessionRecord::default();
        let mut s = Smb::default();
        let header = |cmd: u8, reply: bool| {
            let mut h = b"\xffSMB".to_vec();
            h.push(cmd);
            h.resize(9, 0);
            h.push(if reply { 0x80 } else { 0 });
            h.extend_from_slice(&0u16.to_le_bytes()); // OEM strings
            h.resize(32, 0);
            h
        };
        let mut neg = header(0x72, false);
        let dialects = b"\x02PC NETWORK PROGRAM 1.0\0\x02NT LANMAN 1.0\0\x02NT LM 0.12\0";
        neg.push(0);
        neg.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
        neg.extend_from_slice(dialects);
        s.feed(Side::Client, &nb(&neg), &mut rec);
        let mut answer = header(0x72, true);
        answer.push(17);
        answer.extend_from_slice(&1u16.to_le_bytes());
        answer.resize(answer.len() + 32 + 2, 0);
        s.feed(Side::Server, &nb(&answer), &mut rec);
        assert_eq!(texts(&rec, "smb.dialect"), ["NT LANMAN 1.0"]);
        // Session setup (13 words) with a chained tree connect.
        let mut setup = header(0x73, false);
        setup.push(13);
        let mut words = vec![0x75, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        words.resize(26, 0);
        setup.extend_from_slice(&words);
        let strs = b"\0user\0WORKGROUP\0Unix\0Samba 3.6.3\0";
        setup.extend_from_slice(&(strs.len() as u16).to_le_bytes());
        setup.extend_from_slice(strs);
        let tree_at = setup.len() as u16;
        setup[32 + 1 + 2..32 + 1 + 4].copy_from_slice(&tree_at.to_le_bytes());
        setup.push(4);
        setup.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 1, 0]);
        let tail = b"\0\\\\LOCALHOST\\MP3\0?????\0";
        setup.extend_from_slice(&(tail.len() as u16).to_le_bytes());
        setup.extend_from_slice(tail);
        s.feed(Side::Client, &nb(&setup), &mut rec);
        let mut create = header(0xa2, false);
        create.push(24);
        create.extend_from_slice(&[0xff; 48]);
        create.extend_from_slice(&9u16.to_le_bytes());
        create.extend_from_slice(b"\\tmp\\foo\0");
        s.feed(Side::Client, &nb(&create), &mut rec);
        assert_eq!(texts(&rec, "smb.user"), ["user"]);
        assert_eq!(texts(&rec, "smb.domain"), ["WORKGROUP"]);
        assert_eq!(texts(&rec, "smb.os"), ["Unix"]);
        assert_eq!(texts(&rec, "smb.ver"), ["Samba 3.6.3"]);
        assert_eq!(texts(&rec, "smb.share"), ["\\\\LOCALHOST\\MP3"]);
        assert_eq!(texts(&rec, "smb.fn"), ["\\tmp\\foo"]);
    }

    #[test]
    fn long_writes_are_skipped_not_buffered() {
        let mut rec = SessionRecord::default();
        let mut s = Smb::default();
        let mut write = smb2_header(9, false);
        write.resize(200_000, 0xaa);
        let mut stream = vec![0, (write.len() >> 16) as u8, (write.len() >> 8) as u8, write.len() as u8];
        stream.extend_from_slice(&write);
        let mut neg = smb2_header(0, true);
        neg.extend_from_slice(&[65, 0, 1, 0, 0x02, 0x03]);
        neg.resize(64 + 65, 0);
        for chunk in stream.chunks(1460) {
            s.feed(Side::Client, chunk, &mut rec);
        }
        s.feed(Side::Client, &nb(&neg), &mut rec);
        // The message after 200 kB of write is read: the framing held.
        assert_eq!(texts(&rec, "smb.dialect"), ["SMB 3.0.2"]);
        assert!(s.wants_more());
    }
}
