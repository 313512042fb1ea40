//! QUIC over UDP. IETF QUIC (RFC 9000/9001, v2 RFC 9369, drafts 22–34): the Initial
//! packets are protected with keys anyone can derive from the client's first
//! destination connection id, so they are decrypted here and the TLS ClientHello and
//! ServerHello inside their CRYPTO frames read as TLS's (SNI, ALPN, JA3, JA4 with `q`).
//! Google QUIC (Q0xx) sends its CHLO in clear: server name and user agent tags.

use std::collections::BTreeMap;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::{AeadInPlace, Nonce};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;
use tyto_schema::SessionRecord;

use crate::kit::put_text;
use crate::protocols::tls::{handshake_message, Flavor};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "quic",
    transports: &[Transport::Udp],
    ports: &[443, 80, 8443],
    probe,
    new: || Box::new(Quic::default()),
    later: None,
};

/// CRYPTO bytes gathered per direction: a ClientHello with post-quantum key shares
/// is a few KiB; a server's first flight with certificates is not read past this.
const MAX_CRYPTO: u64 = 16 * 1024;
/// Initial packets decrypted per direction before giving up on a hello.
const MAX_INITIALS: usize = 8;

const V1: u32 = 0x0000_0001;
const V2: u32 = 0x6b33_43cf;

/// Salt and key labels of an IETF version, None for versions whose Initial keys are unknown.
fn version_keys(v: u32) -> Option<(&'static [u8; 20], &'static str)> {
    const SALT_V1: [u8; 20] = hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
    const SALT_V2: [u8; 20] = hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9");
    const SALT_D29: [u8; 20] = hex20("afbfec289993d24c9e9786f19c6111e04390a899");
    const SALT_D23: [u8; 20] = hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502");
    const SALT_D22: [u8; 20] = hex20("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a");
    // Google QUIC over IETF packets: Q050 (its own handshake inside), T050 and T051 (TLS).
    const SALT_Q050: [u8; 20] = hex20("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45");
    const SALT_T050: [u8; 20] = hex20("7ff579e5acd072915580304c43a2367c60488310");
    const SALT_T051: [u8; 20] = hex20("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d");
    match v {
        V1 => Some((&SALT_V1, "quic")),
        V2 => Some((&SALT_V2, "quicv2")),
        0xff00_001d..=0xff00_0022 => Some((&SALT_D29, "quic")),
        // Facebook's mvfst: its draft-27 based and experimental versions.
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e | 0xface_b010 | 0xface_b011 | 0xface_b013 => {
            Some((&SALT_D23, "quic"))
        }
        0xff00_0016 | 0xface_b001 => Some((&SALT_D22, "quic")),
        0x5130_3530 => Some((&SALT_Q050, "quic")),
        0x5430_3530 => Some((&SALT_T050, "quic")),
        0x5430_3531 => Some((&SALT_T051, "quic")),
        _ => None,
    }
}

const fn hex20(s: &str) -> [u8; 20] {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

fn version_name(v: u32) -> String {
    match v {
        V1 => "1".into(),
        V2 => "2".into(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        _ => {
            let b = v.to_be_bytes();
            if b[0] == b'Q' || b[0] == b'T' {
                String::from_utf8_lossy(&b).into_owned()
            } else {
                format!("0x{v:08x}")
            }
        }
    }
}

/// A variable-length integer (RFC 9000 16): value and bytes used.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for x in &bytes[1..] {
        v = (v << 8) | u64::from(*x);
    }
    Some((v, len))
}

/// The long-header fields of an Initial packet.
struct Initial<'a> {
    version: u32,
    dcid: &'a [u8],
    /// Offset of the packet number and the end of this packet in the datagram.
    pn_offset: usize,
    end: usize,
}

/// Parses a long header at the front of `d`; `Ok(None)` for a long-header packet that
/// is not an Initial (its end is given so that coalesced packets can be skipped).
fn long_header(d: &[u8]) -> Result<Option<Initial<'_>>, Option<usize>> {
    let first = *d.first().ok_or(None)?;
    if first & 0x80 == 0 {
        return Err(None);
    }
    let version = u32::from_be_bytes(d.get(1..5).ok_or(None)?.try_into().map_err(|_| None)?);
    // Connection ids are at most 20 bytes in every version Tyto knows.
    let dlen = *d.get(5).ok_or(None)? as usize;
    let dcid = d.get(6..6 + dlen).filter(|c| c.len() <= 20).ok_or(None)?;
    let mut at = 6 + dlen;
    let slen = *d.get(at).filter(|l| **l <= 20).ok_or(None)? as usize;
    at += 1 + slen;
    let kind = (first >> 4) & 3;
    // QUIC v2 numbers the long-header types afresh (RFC 9369 3.2).
    let (initial, retry) = if version == V2 { (kind == 1, kind == 0) } else { (kind == 0, kind == 3) };
    if version == 0 || version_keys(version).is_none() {
        return Err(None);
    }
    if initial {
        let (tlen, n) = varint(d.get(at..).ok_or(None)?).ok_or(None)?;
        at += n + usize::try_from(tlen).map_err(|_| None)?;
    } else if retry {
        // A Retry has no length: its token and 16-byte integrity tag fill the
        // datagram. A server sends it first, so it names a flow whose client's
        // Initial was not seen.
        return if d.len() >= at + 16 { Err(Some(d.len())) } else { Err(None) };
    }
    let (len, n) = varint(d.get(at..).ok_or(None)?).ok_or(None)?;
    at += n;
    let end = at.checked_add(usize::try_from(len).map_err(|_| None)?).ok_or(None)?;
    if end > d.len() {
        return Err(None);
    }
    if !initial {
        return Err(Some(end));
    }
    Ok(Some(Initial { version, dcid, pn_offset: at, end }))
}

fn expand_label(hk: &Hkdf<Sha256>, label: &str, len: usize) -> Option<Vec<u8>> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0; len];
    hk.expand(&info, &mut out).ok()?;
    Some(out)
}

struct Keys {
    key: Vec<u8>,
    iv: Vec<u8>,
    hp: Vec<u8>,
}

/// Initial keys of one side (RFC 9001 5.2).
fn initial_keys(version: u32, dcid: &[u8], side: Side) -> Option<Keys> {
    let (salt, prefix) = version_keys(version)?;
    let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let label = match side {
        Side::Client => "client in",
        Side::Server => "server in",
    };
    let secret = expand_label(&initial, label, 32)?;
    let hk = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    Some(Keys {
        key: expand_label(&hk, &format!("{prefix} key"), 16)?,
        iv: expand_label(&hk, &format!("{prefix} iv"), 12)?,
        hp: expand_label(&hk, &format!("{prefix} hp"), 16)?,
    })
}

/// Removes header protection and decrypts one Initial packet: its frames.
fn decrypt(packet: &[u8], pn_offset: usize, keys: &Keys) -> Option<Vec<u8>> {
    let sample = packet.get(pn_offset + 4..pn_offset + 20)?;
    let hp = aes::Aes128::new_from_slice(&keys.hp).ok()?;
    let mut mask = aes::Block::clone_from_slice(sample);
    hp.encrypt_block(&mut mask);
    let mut header = packet.get(..pn_offset + 4)?.to_vec();
    header[0] ^= mask[0] & 0x0f;
    let pn_len = usize::from(header[0] & 3) + 1;
    let mut pn = 0u64;
    for i in 0..pn_len {
        header[pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(header[pn_offset + i]);
    }
    header.truncate(pn_offset + pn_len);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&keys.iv);
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let mut payload = packet.get(pn_offset + pn_len..)?.to_vec();
    let aead = Aes128Gcm::new_from_slice(&keys.key).ok()?;
    aead.decrypt_in_place(Nonce::<Aes128Gcm>::from_slice(&nonce), &header, &mut payload).ok()?;
    Some(payload)
}

/// The CRYPTO frames of decrypted Initial frames: (offset, data).
fn crypto_frames(mut f: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    while let Some(&t) = f.first() {
        match t {
            0x00 | 0x01 => f = &f[1..],
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges, [ECN counts].
                let mut at = 1;
                let mut fields = Vec::new();
                for _ in 0..4 {
                    let Some((v, n)) = f.get(at..).and_then(varint) else { return out };
                    fields.push(v);
                    at += n;
                }
                let ranges = fields[2].min(1024);
                let extra = ranges * 2 + if t == 0x03 { 3 } else { 0 };
                for _ in 0..extra {
                    let Some((_, n)) = f.get(at..).and_then(varint) else { return out };
                    at += n;
                }
                f = &f[at..];
            }
            0x06 => {
                let Some((off, n1)) = f.get(1..).and_then(varint) else { return out };
                let Some((len, n2)) = f.get(1 + n1..).and_then(varint) else { return out };
                let start = 1 + n1 + n2;
                let Some(data) = usize::try_from(len).ok().and_then(|l| f.get(start..start.checked_add(l)?)) else {
                    return out;
                };
                out.push((off, data));
                f = &f[start + data.len()..];
            }
            // CONNECTION_CLOSE or anything not allowed in an Initial: stop.
            _ => return out,
        }
    }
    out
}

#[derive(Default)]
struct CryptoStream {
    /// Fragments by offset, and the bytes contiguous from 0 taken out of them.
    pieces: BTreeMap<u64, Vec<u8>>,
    held: u64,
    joined: Vec<u8>,
    initials: usize,
    done: bool,
}

impl CryptoStream {
    fn add(&mut self, off: u64, data: &[u8]) {
        let end = off.saturating_add(data.len() as u64);
        if end > MAX_CRYPTO || end <= self.joined.len() as u64 || self.held > MAX_CRYPTO {
            return;
        }
        self.held += data.len() as u64;
        self.pieces.entry(off).or_insert_with(|| data.to_vec());
        // Join what now follows on from the contiguous prefix (overlaps trimmed).
        while let Some((&o, _)) = self.pieces.iter().next() {
            let have = self.joined.len() as u64;
            if o > have {
                break;
            }
            let piece = self.pieces.remove(&o).unwrap_or_default();
            let skip = (have - o) as usize;
            if skip < piece.len() {
                self.joined.extend_from_slice(&piece[skip..]);
            }
        }
    }

    /// A whole handshake message at the front: its type and body.
    fn message(&self) -> Option<(u8, &[u8])> {
        let h = self.joined.get(..4)?;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        Some((h[0], self.joined.get(4..4 + len)?))
    }
}

#[derive(Default)]
pub struct Quic {
    /// The client's first destination connection id: both sides' Initial keys come from it.
    dcid: Option<Vec<u8>>,
    version: Option<u32>,
    streams: [CryptoStream; 2],
    gquic_done: bool,
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match long_header(data) {
        // The client opens with an Initial it can only send to a fresh id of 8+ bytes.
        Ok(Some(i)) if side == Side::Client && i.dcid.len() >= 8 && data.len() >= 1200 => Probe::Match,
        Ok(Some(_)) if side == Side::Server => Probe::Match,
        _ if gquic_chlo(data).is_some() => Probe::Match,
        _ if long_header_packets(data) => Probe::Match,
        _ => match gquic_public_header(data).or_else(|| gquic_ietf_header(data)) {
            Some((cid, number)) => Probe::Connection { id: cid, seq: number },
            // A packet that omits the connection id (the server's, mostly): its
            // packet numbers advancing decide, as the client's ids would.
            None => match gquic_without_id(data) {
                Some(number) => Probe::Plausible { stream: 0, seq: number },
                // A flow picked up after its handshake: the client's packets name
                // the id the server gave it, under first bytes masked afresh.
                None if short_header(data) => {
                    Probe::Masked { stream: u32::from_be_bytes([data[5], data[6], data[7], data[8]]), mark: data[0] }
                }
                None => Probe::NoMatch,
            },
        },
    }
}

/// A Google QUIC packet (Q043 and before) without a connection id, as servers send
/// them: public flags with the id bit clear, no reset or reserved bits, then the
/// packet number (after the diversification nonce when 0x04 says one follows), and
/// something after it. Gives the packet number's low 16 bits (big-endian, as from
/// Q039 on; a one-byte number reads the same either way).
fn gquic_without_id(data: &[u8]) -> Option<u16> {
    let flags = *data.first()?;
    if flags & 0xcb != 0 {
        return None;
    }
    let nonce = if flags & 0x04 != 0 { 32 } else { 0 };
    let len = [1, 2, 4, 6][usize::from((flags >> 4) & 3)];
    let number = data.get(1 + nonce..1 + nonce + len)?;
    if data.len() <= 1 + nonce + len {
        return None;
    }
    Some(match number {
        [low] => u16::from(*low),
        [.., high, low] => u16::from_be_bytes([*high, *low]),
        [] => return None,
    })
}

/// A Google QUIC packet of Q046 to Q049, which took IETF's invariant header but
/// kept packet numbers in clear: a long header of a `Q0xx` version (connection id
/// lengths as two nibbles, each +3) or a short header `0x40 | length-1` with the
/// server's 8-byte id. Gives the id's last four bytes and the packet number's low
/// bits, which advance as any gQUIC packet's do.
fn gquic_ietf_header(data: &[u8]) -> Option<(u32, u16)> {
    let flags = *data.first()?;
    let (cid, number_at) = if flags & 0xc0 == 0xc0 {
        let v = data.get(1..5)?;
        if v[0] != b'Q' || !v[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let lengths = *data.get(5)?;
        let nibble = |n: u8| if n == 0 { 0 } else { usize::from(n) + 3 };
        let (dcil, scil) = (nibble(lengths >> 4), nibble(lengths & 0x0f));
        // The one id a Q046 packet carries: the server's, as destination or source.
        let id = match (dcil, scil) {
            (8, 0) | (0, 8) => data.get(6..14)?,
            _ => return None,
        };
        (id, 14)
    } else if flags & 0xfc == 0x40 {
        (data.get(1..9)?, 9)
    } else {
        return None;
    };
    let len = usize::from(flags & 0x03) + 1;
    let number = data.get(number_at..number_at + len)?;
    if data.len() <= number_at + len {
        return None;
    }
    let low = match number {
        [b] => u16::from(*b),
        [.., a, b] => u16::from_be_bytes([*a, *b]),
        [] => return None,
    };
    Some((u32::from_be_bytes([cid[4], cid[5], cid[6], cid[7]]), low))
}

/// A Google QUIC packet after the handshake (Q043 and before): public flags with a
/// connection id, no reset, and a packet number in clear. Alone it proves nothing;
/// datagrams that keep one connection id with advancing numbers do.
fn gquic_public_header(data: &[u8]) -> Option<(u32, u16)> {
    let flags = *data.first()?;
    // Reserved and multipath bits clear, no reset, an 8-byte connection id.
    if flags & 0xc2 != 0 || flags & 0x08 == 0 {
        return None;
    }
    let cid = u32::from_be_bytes(data.get(5..9)?.try_into().ok()?);
    let mut at = 9;
    if flags & 0x01 != 0 {
        let v = data.get(at..at + 4)?;
        if v[0] != b'Q' || !v[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        at += 4;
    }
    // 0x04 with the id: before Q025 the two bits together meant an 8-byte id; later
    // 0x04 alone announces the server's diversification nonce, which servers send
    // only while omitting the id. Either way no nonce follows here.
    let len = [1, 2, 4, 6][usize::from((flags >> 4) & 3)];
    let number = data.get(at..at + len)?;
    // Encrypted frames follow: a packet carries something after its number.
    if data.len() <= at + len {
        return None;
    }
    let low = match number {
        [b] => u16::from(*b),
        [.., a, b] => u16::from_be_bytes([*a, *b]),
        [] => return None,
    };
    Some((cid, low))
}

/// What may be an IETF QUIC packet with a short header (RFC 9000 17.3): the header
/// form bit clear and the fixed bit set (a peer may grease it, RFC 9287, but a
/// first byte below 0x40 is too common a thing to keep every such flow probing),
/// then a connection id of the receiver's choosing (possibly empty; 8 bytes or
/// more when not: its bytes 5 to 8 are what [`probe`] compares), a protected
/// packet number and an encrypted payload: at least 1 + 4 + 16 bytes, which text
/// is not.
fn short_header(d: &[u8]) -> bool {
    d.len() > 20 && d[0] & 0xc0 == 0x40 && !d[1..21].iter().all(|b| b.is_ascii_graphic() || *b == b' ')
}

/// Long-header packets (Initial, 0-RTT, Handshake) of a known version that fill the
/// datagram to the byte, possibly followed by one short-header packet: what either
/// side sends in its first flights. A capture that missed the client's first Initial
/// still names QUIC from the packets after it.
fn long_header_packets(d: &[u8]) -> bool {
    let mut at = 0;
    let mut packets = 0;
    while let Some(rest) = d.get(at..).filter(|r| !r.is_empty()) {
        // (The fixed bit is not looked at: a peer may grease it, RFC 9287; the
        // known version is what counts.)
        if rest[0] & 0x80 == 0 {
            // A coalesced short-header packet runs to the end of the datagram.
            return packets > 0;
        }
        at += match long_header(rest) {
            Ok(Some(initial)) => initial.end,
            Err(Some(end)) => end,
            _ => return false,
        };
        packets += 1;
    }
    packets > 0
}

/// Google QUIC: the version after the public flags and 8-byte connection id, and the
/// clear CHLO message somewhere in the first packet.
fn gquic_chlo(data: &[u8]) -> Option<(u32, usize)> {
    let flags = *data.first()?;
    let v = if flags & 0x80 != 0 {
        // Q046 to Q049 use IETF's long header, with the CHLO still in clear.
        data.get(1..5)?
    } else if flags & 0x09 == 0x09 {
        // Public flags: version present (0x01), 8-byte connection id (0x08).
        data.get(9..13)?
    } else {
        return None;
    };
    if v[0] != b'Q' || !v[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let at = data.windows(4).take(128).position(|w| w == b"CHLO")?;
    Some((u32::from_be_bytes([v[0], v[1], v[2], v[3]]), at))
}

/// Tags of a gQUIC handshake message: `CHLO`, count, padding, (tag, end offset)…, values.
fn gquic_tags(msg: &[u8], rec: &mut SessionRecord) {
    let Some(n) = msg.get(4..6).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize) else { return };
    let values_at = 8 + n.min(256) * 8;
    let mut start = 0usize;
    for i in 0..n.min(256) {
        let Some(e) = msg.get(8 + i * 8..16 + i * 8) else { return };
        let end = u32::from_le_bytes([e[4], e[5], e[6], e[7]]) as usize;
        let Some(value) = msg.get(values_at + start..values_at + end) else { return };
        match &e[..4] {
            b"SNI\0" => put_text(rec, text_field!("host.quic"), &String::from_utf8_lossy(value)),
            b"UAID" => put_text(rec, text_field!("quic.user-agent"), &String::from_utf8_lossy(value)),
            _ => {}
        }
        start = end;
    }
}

impl Quic {
    fn ietf(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let mut at = 0;
        while at < data.len() {
            let packet = &data[at..];
            match long_header(packet) {
                Ok(Some(init)) => {
                    let end = init.end;
                    if side == Side::Client && self.dcid.is_none() {
                        self.dcid = Some(init.dcid.to_vec());
                    }
                    if self.version.is_none() {
                        self.version = Some(init.version);
                        put_text(rec, text_field!("quic.version"), &version_name(init.version));
                    }
                    self.initial(side, &packet[..end], &init, rec);
                    at += end;
                }
                Err(Some(end)) => at += end,
                Ok(None) | Err(None) => return,
            }
        }
    }

    fn initial(&mut self, side: Side, packet: &[u8], init: &Initial<'_>, rec: &mut SessionRecord) {
        let st = &mut self.streams[side as usize];
        if st.done || st.initials >= MAX_INITIALS {
            st.done = true;
            return;
        }
        st.initials += 1;
        let Some(dcid) = &self.dcid else { return };
        let Some(keys) = initial_keys(init.version, dcid, side) else { return };
        let Some(frames) = decrypt(packet, init.pn_offset, &keys) else { return };
        for (off, data) in crypto_frames(&frames) {
            st.add(off, data);
        }
        if let Some((kind, body)) = st.message() {
            handshake_message(Flavor::Quic, side, kind, body, rec);
            st.done = true;
            st.pieces.clear();
            st.joined = Vec::new();
        }
    }
}

impl Dissector for Quic {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if let (false, Some((version, at))) = (self.gquic_done, gquic_chlo(data)) {
            self.gquic_done = true;
            put_text(rec, text_field!("quic.version"), &version_name(version));
            gquic_tags(&data[at..], rec);
            return;
        }
        self.ietf(side, data, rec);
    }

    fn wants_more(&self) -> bool {
        !(self.gquic_done || self.streams[0].done && self.streams[1].done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets after the client's first Initial: a server's coalesced Initial and
    /// Handshake, and a Google QUIC client's packets after its CHLO.
    #[test]
    fn later_packets_of_a_connection() {
        let long = |kind: u8, body: usize| {
            let mut p = vec![0xc0 | (kind << 4), 0, 0, 0, 1, 8];
            p.extend_from_slice(&[7; 8]);
            p.push(0);
            if kind == 0 {
                p.push(0); // no token
            }
            p.extend_from_slice(&[0x40 | (body >> 8) as u8, body as u8]);
            p.extend(std::iter::repeat_n(0x33, body));
            p
        };
        let coalesced = [long(0, 120), long(2, 900)].concat();
        assert_eq!(probe(Side::Client, &coalesced), Probe::Match);
        // A length that does not end the datagram, or an unknown version.
        assert_eq!(probe(Side::Client, &coalesced[..coalesced.len() - 1]), Probe::NoMatch);
        let mut unknown = long(2, 900);
        unknown[4] = 9;
        assert_eq!(probe(Side::Client, &unknown), Probe::NoMatch);

        // Q024, `quic.pcap`: public flags 0x0c, the connection id, packet number 3.
        let mut g = vec![0x0c, 0xb2, 0xde, 0x5d, 0xf1, 0x4f, 0x55, 0x45, 0xeb, 0x03];
        g.extend_from_slice(&[0xae; 27]);
        assert_eq!(probe(Side::Client, &g), Probe::Connection { id: 0x4f5545eb, seq: 3 });
        g[0] = 0x0e; // a reset
        assert_eq!(probe(Side::Client, &g), Probe::NoMatch);
        // An IETF short header (`quic_0RTT.pcap`, the server's after the handshake)
        // proves nothing but leaves QUIC possible; text with such a first byte does not.
        let short = hex("5e6f8826258830e43b08a70d1d3f90b33703b579144f4b5a3c0a");
        assert_eq!(probe(Side::Server, &short), Probe::Masked { stream: 0x8830e43b, mark: 0x5e });
        assert_eq!(probe(Side::Server, b"Hello there, this is no packet"), Probe::NoMatch);
        // The server's packets omit the id (`00 01 …`, or 0x04 and a nonce): their
        // packet numbers advancing decide.
        let mut server = vec![0x00, 0x01];
        server.extend_from_slice(&[0x5c; 30]);
        assert_eq!(probe(Side::Server, &server), Probe::Plausible { stream: 0, seq: 1 });
        assert_eq!(probe(Side::Server, &server[..2]), Probe::NoMatch, "nothing after the number");
        let mut nonce = vec![0x14];
        nonce.extend_from_slice(&[0x9c; 32]);
        nonce.extend_from_slice(&[0x01, 0x02, 0x77, 0x77]);
        assert_eq!(probe(Side::Server, &nonce), Probe::Plausible { stream: 0, seq: 0x0102 });

        // Q046, `quic_q46.pcap`: the server's long header (no destination id, the
        // 8-byte source id, a 4-byte number), then the client's short header with it.
        let long = hex("c35130343605eacfe6e706df272d000000056c6b26edeab5bec41b317d1c400424200300");
        assert_eq!(probe(Side::Server, &long), Probe::Connection { id: 0x06df272d, seq: 5 });
        let short = hex("40eacfe6e706df272d0cd315fe32f9b9e492e16cbd7b55e0d7339b49");
        assert_eq!(probe(Side::Client, &short), Probe::Connection { id: 0x06df272d, seq: 0x0c });
        let mut other = long.clone();
        other[5] = 0x55; // two ids: not a version Tyto knows the header of
        assert_eq!(probe(Side::Server, &other), Probe::NoMatch);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 9001 appendix A.1.
    #[test]
    fn initial_keys_of_rfc_9001() {
        let dcid = hex("8394c8f03e515708");
        let c = initial_keys(V1, &dcid, Side::Client).unwrap();
        assert_eq!(c.key, hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv, hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp, hex("9f50449e04a0e810283a1e9933adedd2"));
        let s = initial_keys(V1, &dcid, Side::Server).unwrap();
        assert_eq!(s.key, hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.hp, hex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    #[test]
    fn a_servers_retry_names_the_flow_in_either_version() {
        // Long header, the version, an 8-byte id each way, a token and the tag.
        let retry = |first: u8, version: u32, tail: usize| {
            let mut p = vec![first];
            p.extend_from_slice(&version.to_be_bytes());
            p.extend_from_slice(&[8, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
            p.extend(std::iter::repeat_n(0x5a, tail));
            p
        };
        assert_eq!(probe(Side::Server, &retry(0xf0, V1, 10 + 16)), Probe::Match);
        assert_eq!(probe(Side::Client, &retry(0xf0, V1, 10 + 16)), Probe::Match, "roles not known yet");
        // v2's Retry is type 0 (its type 3 is a Handshake, which carries a length).
        assert_eq!(probe(Side::Server, &retry(0xc0, V2, 10 + 16)), Probe::Match);
        // No room for the integrity tag: not a Retry.
        assert_eq!(probe(Side::Server, &retry(0xf0, V1, 15)), Probe::NoMatch);
    }

    #[test]
    fn crypto_fragments_out_of_order_and_overlapping() {
        let mut c = CryptoStream::default();
        c.add(4, b"efgh");
        assert!(c.message().is_none());
        c.add(0, &[1, 0, 0, 6]);
        c.add(6, b"ghij");
        assert_eq!(c.message(), Some((1, &b"efghij"[..])));
        // Past the bound: ignored.
        c.add(MAX_CRYPTO, b"x");
        // Frames: PADDING, PING, ACK, CRYPTO; then a truncated CRYPTO.
        let frames = [0, 0, 1, 2, 5, 0, 0, 1, 6, 0, 2, b'h', b'i', 6, 0, 9, b'x'];
        assert_eq!(crypto_frames(&frames), vec![(0, &b"hi"[..])]);
    }

    #[test]
    fn hostile_headers_are_refused() {
        assert!(matches!(long_header(&[0xc0, 0, 0, 0, 1, 255]), Err(None)));
        assert!(matches!(long_header(&[0xc0, 0, 0, 0, 1, 0, 0, 0x3f]), Err(None)));
        assert_eq!(probe(Side::Client, &[0xc0, 0, 0, 0, 1, 8, 1, 2]), Probe::NoMatch);
        let mut q = Quic::default();
        let mut rec = SessionRecord::default();
        let mut d = vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0x9e];
        d.resize(1200, 0);
        q.feed(Side::Client, &d, &mut rec);
        assert_eq!(rec.extra.get("quic.version"), Some(&tyto_schema::Values::Text(vec!["1".into()])));
        assert!(rec.extra.get("host.quic").is_none());
    }
}
