//! SSH: the version banners both sides send, then each side's KEXINIT: HASSH and
//! HASSH-server (MD5 of the key exchange, cipher, MAC and compression lists each
//! side offers), the fingerprints of SSH clients and servers that survive port and
//! address changes; then the server's host key from its key exchange reply (Arkime's
//! `ssh.key`, the key blob in base64). Everything after NEWKEYS is encrypted.

use base64::Engine;
use md5::{Digest, Md5};
use tyto_schema::SessionRecord;

use crate::kit::lines::LineReader;
use crate::kit::messages::{Framed, HandOn};
use crate::kit::{hex, put_text, starts_with};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ssh",
    transports: &[Transport::Tcp],
    ports: &[22, 2222],
    probe,
    new: || Box::new(Ssh::default()),
    later: None,
};

/// RFC 4253: the banner line is at most 255 bytes with its CR LF.
const MAX_BANNER: usize = 255;
/// A KEXINIT with every list a client may offer stays well below this.
const MAX_KEXINIT: usize = 16 << 10;
const MSG_KEXINIT: u8 = 20;
const MSG_NEWKEYS: u8 = 21;
/// KEXDH_REPLY and KEX_ECDH_REPLY; 33 is the group exchange's reply (31 there is the
/// group, whose first field is no key: the key type's name tells them apart).
const MSG_KEX_REPLIES: [u8; 2] = [31, 33];
/// Packets of the server read after its KEXINIT while looking for its reply.
const MAX_KEX_PACKETS: u8 = 4;
const MAX_LINES_BEFORE_BANNER: u32 = 32;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    starts_with(data, b"SSH-")
}

/// One direction: its lines up to the version banner, then its first binary
/// packet, the KEXINIT, and on the server's side the key exchange reply.
#[derive(Default)]
struct Direction {
    lines: LineReader,
    /// Lines read, the banner's included.
    count: u32,
    banner_seen: bool,
    packets: Framed,
    /// Binary packets read.
    read: u8,
    done: bool,
}

#[derive(Default)]
pub struct Ssh {
    dirs: [Direction; 2],
}

/// The name-lists of a KEXINIT payload (message type first), in order.
fn name_lists(payload: &[u8]) -> Option<Vec<&[u8]>> {
    let mut rest = payload.strip_prefix(&[MSG_KEXINIT])?.get(16..)?; // the cookie
    let mut lists = Vec::with_capacity(10);
    for _ in 0..10 {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        lists.push(rest.get(4..4 + len)?);
        rest = &rest[4 + len..];
    }
    Some(lists)
}

/// HASSH of one side's offer: key exchange, then its direction's ciphers, MACs and
/// compression (client to server for the client, server to client for the server).
fn hassh(lists: &[&[u8]], side: Side) -> String {
    let pick = match side {
        Side::Client => [0, 2, 4, 6],
        Side::Server => [0, 3, 5, 7],
    };
    let joined = pick.map(|i| lists[i]).join(&b';');
    hex(&Md5::digest(joined))
}

/// A binary packet's body (after its length): padding length, payload, padding.
fn kexinit(side: Side, packet: &[u8], rec: &mut SessionRecord) {
    if let Some(lists) = payload(packet).and_then(name_lists) {
        let field = match side {
            Side::Client => text_field!("ssh.hassh"),
            Side::Server => text_field!("ssh.hasshServer"),
        };
        put_text(rec, field, &hassh(&lists, side));
    }
}

/// The payload of a binary packet's body (padding length, payload, padding).
fn payload(packet: &[u8]) -> Option<&[u8]> {
    let (&padding, rest) = packet.split_first()?;
    rest.get(..rest.len().checked_sub(usize::from(padding))?)
}

/// The host key of a key exchange reply (its first string), when it is one: a key
/// blob starts with its type's name (`ssh-ed25519`, `ecdsa-sha2-nistp256`,
/// `rsa-sha2-512`, `sk-…`, `x509v3-…`).
fn host_key(payload: &[u8]) -> Option<&[u8]> {
    let (&code, rest) = payload.split_first()?;
    if !MSG_KEX_REPLIES.contains(&code) {
        return None;
    }
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let blob = rest.get(4..4 + len)?;
    let type_len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4 + type_len)?;
    let known = [&b"ssh-"[..], b"ecdsa-", b"rsa-", b"sk-", b"x509v3-"].iter().any(|p| name.starts_with(p));
    (known && name.iter().all(|b| b.is_ascii_graphic())).then_some(blob)
}

impl Direction {
    /// Reads lines until the banner; returns the bytes of `data` it used.
    fn banner(&mut self, data: &[u8], rec: &mut SessionRecord) -> usize {
        let (count, seen, done) = (&mut self.count, &mut self.banner_seen, &mut self.done);
        let used = self.lines.feed(data, |line| {
            *count += 1;
            if line.starts_with(b"SSH-") {
                let banner = String::from_utf8_lossy(&line[..line.len().min(MAX_BANNER)]);
                put_text(rec, text_field!("ssh.ver"), banner.trim_end());
                *seen = true;
                // SSH 1 has no KEXINIT.
                *done = banner.starts_with("SSH-1.") && !banner.starts_with("SSH-1.99");
                false
            } else {
                // A server may send a few lines before its version; not endless ones.
                *done = *count > MAX_LINES_BEFORE_BANNER;
                !*done
            }
        });
        used.unwrap_or(data.len())
    }
}

impl Dissector for Ssh {
    fn feed(&mut self, side: Side, mut data: &[u8], rec: &mut SessionRecord) {
        let d = &mut self.dirs[side as usize];
        if !d.banner_seen && !d.done {
            data = &data[d.banner(data, rec)..];
        }
        if !d.banner_seen || d.done || data.is_empty() {
            return;
        }
        let body = |h: &[u8]| u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let length = |h: &[u8]| Some(body(h)).filter(|n| (16..=MAX_KEXINIT).contains(n));
        let (read, mut finished) = (&mut d.read, false);
        let framed = d.packets.feed(data, 4, HandOn::AtEnd, length, body, |_, packet, _| {
            if finished {
                return;
            }
            *read += 1;
            if *read == 1 {
                kexinit(side, packet, rec);
                // The client's KEXINIT is all it sends in clear worth reading.
                finished = side == Side::Client;
                return;
            }
            let payload = payload(packet).unwrap_or_default();
            let key = host_key(payload);
            if let Some(key) = key {
                put_text(rec, text_field!("ssh.key"), &base64::engine::general_purpose::STANDARD.encode(key));
            }
            finished = key.is_some() || payload.first() == Some(&MSG_NEWKEYS) || *read > MAX_KEX_PACKETS;
        });
        // What was wanted is read, or the framing was not SSH's.
        d.done = finished || !framed;
        if d.done {
            *d = Direction { banner_seen: true, done: true, ..Direction::default() };
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.dirs[side as usize] = Direction { done: true, ..Direction::default() };
    }

    fn wants_more(&self) -> bool {
        self.dirs.iter().any(|d| !d.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn both_banners_in_pieces() {
        let mut s = Ssh::default();
        let mut rec = SessionRecord::default();
        for b in b"SSH-2.0-OpenSSH_9.6\r\n\0\0\0" {
            s.feed(Side::Client, &[*b], &mut rec);
        }
        s.feed(Side::Server, b"SSH-2.0-dropbear_2022.83\r\n", &mut rec);
        assert_eq!(
            rec.extra.get("ssh.ver"),
            Some(&Values::Text(vec!["ssh-2.0-openssh_9.6".into(), "ssh-2.0-dropbear_2022.83".into()]))
        );
        assert!(s.wants_more());
        assert_eq!(probe(Side::Server, b"SS"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"GET /"), Probe::NoMatch);
    }

    fn kexinit(lists: [&str; 10]) -> Vec<u8> {
        let mut payload = vec![MSG_KEXINIT];
        payload.extend_from_slice(&[7; 16]);
        for l in lists {
            payload.extend_from_slice(&(l.len() as u32).to_be_bytes());
            payload.extend_from_slice(l.as_bytes());
        }
        payload.extend_from_slice(&[0, 0, 0, 0, 0]);
        packet(&payload)
    }

    /// A binary packet around a payload (padding to a multiple of 8).
    fn packet(payload: &[u8]) -> Vec<u8> {
        let padding = 8 - (payload.len() + 5) % 8 + 4;
        let mut p = ((payload.len() + padding + 1) as u32).to_be_bytes().to_vec();
        p.push(padding as u8);
        p.extend_from_slice(payload);
        p.resize(p.len() + padding, 0);
        p
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }

    /// The host key of the server's reply, not the group exchange's group before it;
    /// nothing after NEWKEYS.
    #[test]
    fn the_servers_host_key_from_its_key_exchange_reply() {
        let blob = [string(b"ssh-ed25519"), string(&[0xAB; 32])].concat();
        let mut server = b"SSH-2.0-srv\r\n".to_vec();
        server.extend_from_slice(&kexinit([
            "diffie-hellman-group-exchange-sha256",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]));
        // KEX_DH_GEX_GROUP: p and g, no key.
        server.extend_from_slice(&packet(&[vec![31], string(&[0x00, 0xff, 0xff]), string(&[2])].concat()));
        server.extend_from_slice(&packet(&[vec![33], string(&blob), string(&[1; 64]), string(&[2; 80])].concat()));
        server.extend_from_slice(&packet(&[MSG_NEWKEYS]));
        for split in [1, 7, 1000] {
            let mut s = Ssh::default();
            let mut rec = SessionRecord::default();
            for c in server.chunks(split) {
                s.feed(Side::Server, c, &mut rec);
            }
            let want = base64::engine::general_purpose::STANDARD.encode(&blob);
            assert_eq!(rec.extra.get("ssh.key"), Some(&Values::Text(vec![want])), "{split}");
            assert!(s.dirs[Side::Server as usize].done, "{split}");
        }
        // A reply whose first string is no key is not one.
        assert_eq!(host_key(&[vec![31], string(&[0x00, 0xff, 0xff]), string(&[2])].concat()), None);
        assert_eq!(host_key(&[31, 0, 0, 0, 200]), None);
    }

    #[test]
    fn hassh_of_both_sides_after_the_banners() {
        let lists = [
            "curve25519-sha256",
            "ssh-ed25519",
            "aes128-ctr",
            "aes256-ctr",
            "hmac-sha2-256",
            "hmac-sha1",
            "none",
            "zlib",
            "",
            "",
        ];
        let mut client = b"SSH-2.0-OpenSSH_9.6\r\n".to_vec();
        client.extend_from_slice(&kexinit(lists));
        let mut s = Ssh::default();
        let mut rec = SessionRecord::default();
        for c in client.chunks(9) {
            s.feed(Side::Client, c, &mut rec);
        }
        s.feed(Side::Server, b"SSH-2.0-srv\r\n", &mut rec);
        s.feed(Side::Server, &kexinit(lists), &mut rec);
        let md5 = |t: &str| hex(&Md5::digest(t.as_bytes()));
        assert_eq!(
            rec.extra.get("ssh.hassh"),
            Some(&Values::Text(vec![md5("curve25519-sha256;aes128-ctr;hmac-sha2-256;none")]))
        );
        assert_eq!(
            rec.extra.get("ssh.hasshServer"),
            Some(&Values::Text(vec![md5("curve25519-sha256;aes256-ctr;hmac-sha1;zlib")]))
        );
        // The client is read; the server's key exchange reply is still to come.
        assert!(s.dirs[Side::Client as usize].done);
        assert!(s.wants_more());
    }
}
