//! DTLS (RFC 6347, RFC 9147) over UDP: the clear handshake of epoch 0, whose
//! messages are TLS's with a cookie in the ClientHello and may come in fragments;
//! known also from any later datagram of records (a capture that missed the hellos).
//! Fields are TLS's (`tls.*`, `cert.*`); JA4 starts with `d`.

use tyto_schema::SessionRecord;

use crate::protocols::tls::{handshake_message, Flavor};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "dtls",
    transports: &[Transport::Udp],
    // Not 443: QUIC is what UDP 443 mostly carries.
    ports: &[4433, 5061, 5684, 3391],
    probe,
    new: || Box::new(Dtls::default()),
    later: None,
};

const CONTENT_HANDSHAKE: u8 = 22;
/// Record header: type, version, epoch, sequence (6), length.
const RECORD_HEADER: usize = 13;
/// Handshake header: type, length (3), message sequence (2), offset (3), fragment length (3).
const HANDSHAKE_HEADER: usize = 12;
/// A handshake message longer than a certificate chain is not followed.
const MAX_MESSAGE: usize = 64 * 1024;
/// Messages looked at per side: hellos, certificates, a retransmission or two.
const MAX_MESSAGES: usize = 16;

fn dtls_version(hi: u8, lo: u8) -> bool {
    matches!((hi, lo), (0xfe, 0xff) | (0xfe, 0xfd) | (0xfe, 0xfc) | (0x01, 0x00))
}

/// Records after the hellos (the rest of the handshake, change cipher spec,
/// alerts, application data): a datagram that is DTLS records to the byte, each of
/// a DTLS version, a content type TLS has, a small epoch and a sequence number
/// below 2^32, the records of a later epoch encrypted and so longer than a MAC.
fn records(data: &[u8]) -> bool {
    let mut at = 0usize;
    while at < data.len() {
        let Some(h) = data.get(at..at + RECORD_HEADER) else { return false };
        let epoch = u16::from_be_bytes([h[3], h[4]]);
        let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
        let ok = (20..=23).contains(&h[0])
            && dtls_version(h[1], h[2])
            && epoch < 16
            && h[5..7] == [0, 0]
            && len > 0
            && (epoch == 0 || len >= 16);
        if !ok {
            return false;
        }
        at += RECORD_HEADER + len;
    }
    at == data.len()
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    // A hello says which side sent it: only the other records go by their framing.
    let hello = data.first() == Some(&CONTENT_HANDSHAKE)
        && data.get(3..5) == Some(&[0, 0])
        && data.get(13).is_some_and(|k| matches!(k, 1..=3));
    if !hello && records(data) && data.len() >= RECORD_HEADER + 16 {
        return Probe::Match;
    }
    if data.len() < RECORD_HEADER + HANDSHAKE_HEADER {
        return Probe::NoMatch;
    }
    let epoch0 = data[3] == 0 && data[4] == 0;
    // Client: ClientHello; server: HelloVerifyRequest or ServerHello.
    let kind_ok = match side {
        Side::Client => data[13] == 1,
        Side::Server => data[13] == 2 || data[13] == 3,
    };
    Probe::from(data[0] == CONTENT_HANDSHAKE && dtls_version(data[1], data[2]) && epoch0 && kind_ok)
}

/// A handshake message being put together from in-order fragments.
#[derive(Default)]
struct Message {
    seq: u16,
    kind: u8,
    len: usize,
    body: Vec<u8>,
}

#[derive(Default)]
struct SideState {
    current: Option<Message>,
    /// Sequence numbers already handled (retransmissions are skipped).
    next_seq: u16,
    handled: usize,
    done: bool,
}

#[derive(Default)]
pub struct Dtls {
    sides: [SideState; 2],
}

impl Dtls {
    /// One fragment: `hh` is its 12-byte handshake header.
    fn fragment(&mut self, side: Side, hh: &[u8], frag: &[u8], rec: &mut SessionRecord) {
        let kind = hh[0];
        let len = u32::from_be_bytes([0, hh[1], hh[2], hh[3]]) as usize;
        let seq = u16::from_be_bytes([hh[4], hh[5]]);
        let offset = u32::from_be_bytes([0, hh[6], hh[7], hh[8]]) as usize;
        let st = &mut self.sides[side as usize];
        if seq < st.next_seq || len > MAX_MESSAGE {
            return;
        }
        let m = st.current.get_or_insert_with(|| Message { seq, kind, len, body: Vec::new() });
        if m.seq != seq || m.kind != kind || m.len != len {
            // A new message before the last was whole: start over with this one.
            *m = Message { seq, kind, len, body: Vec::new() };
        }
        // Fragments are taken in order; a repeat or a hole waits for the retransmission.
        if offset == m.body.len() && offset + frag.len() <= len {
            m.body.extend_from_slice(frag);
        }
        if m.body.len() == len {
            let m = st.current.take().unwrap_or_default();
            st.next_seq = seq.saturating_add(1);
            st.handled += 1;
            if st.handled >= MAX_MESSAGES {
                st.done = true;
            }
            handshake_message(Flavor::Dtls, side, m.kind, &m.body, rec);
        }
    }
}

impl Dissector for Dtls {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let mut at = 0;
        while let Some(h) = data.get(at..at + RECORD_HEADER) {
            if self.sides[side as usize].done {
                return;
            }
            let len = u16::from_be_bytes([h[11], h[12]]) as usize;
            let Some(payload) = data.get(at + RECORD_HEADER..at + RECORD_HEADER + len) else { return };
            at += RECORD_HEADER + len;
            let epoch = u16::from_be_bytes([h[3], h[4]]);
            if h[0] != CONTENT_HANDSHAKE || epoch != 0 {
                // Encrypted from here on in this direction (ChangeCipherSpec, epoch 1+).
                if h[0] == 20 || epoch != 0 {
                    self.sides[side as usize].done = true;
                }
                continue;
            }
            let mut p = 0;
            while let Some(hh) = payload.get(p..p + HANDSHAKE_HEADER) {
                let flen = u32::from_be_bytes([0, hh[9], hh[10], hh[11]]) as usize;
                let Some(frag) = payload.get(p + HANDSHAKE_HEADER..p + HANDSHAKE_HEADER + flen) else { break };
                self.fragment(side, hh, frag, rec);
                p += HANDSHAKE_HEADER + flen;
            }
        }
    }

    fn wants_more(&self) -> bool {
        !self.sides.iter().all(|s| s.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    /// A datagram of records after the hellos: change cipher spec, then an encrypted
    /// Finished in epoch 1; application data alone.
    #[test]
    fn records_after_the_hellos() {
        let rec = |kind: u8, epoch: u8, len: usize| {
            let mut r = vec![kind, 0xfe, 0xfd, 0, epoch, 0, 0, 0, 0, 0, 5];
            r.extend_from_slice(&(len as u16).to_be_bytes());
            r.extend(std::iter::repeat_n(0x5c, len));
            r
        };
        let flight = [rec(20, 0, 1), rec(22, 1, 48)].concat();
        assert_eq!(probe(Side::Server, &flight), Probe::Match);
        assert_eq!(probe(Side::Client, &rec(23, 1, 100)), Probe::Match);
        // A record cut short, an epoch-1 record too short for its MAC, TLS's version.
        assert_eq!(probe(Side::Client, &rec(23, 1, 100)[..90]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[rec(20, 0, 1), rec(23, 1, 8)].concat()), Probe::NoMatch);
        let mut tls = rec(23, 1, 100);
        tls[1..3].copy_from_slice(&[3, 3]);
        assert_eq!(probe(Side::Client, &tls), Probe::NoMatch);
        // Cisco AnyConnect's pre-standard DTLS (version 0x0100), after its hellos
        // (`anyconnect-vpn.pcap`): application data of epoch 1.
        let mut cisco = rec(23, 1, 112);
        cisco[1..3].copy_from_slice(&[1, 0]);
        assert_eq!(probe(Side::Client, &cisco), Probe::Match);
    }

    fn record(version: [u8; 2], kind: u8, seq: u16, body: &[u8], offset: usize, flen: usize) -> Vec<u8> {
        let frag = &body[offset..offset + flen];
        let mut hs = vec![kind];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&seq.to_be_bytes());
        hs.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&(flen as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(frag);
        let mut r = vec![22, version[0], version[1], 0, 0, 0, 0, 0, 0, 0, 1];
        r.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        r.extend_from_slice(&hs);
        r
    }

    /// A DTLS 1.2 ClientHello with a cookie and SNI, sent in two fragments.
    #[test]
    fn fragmented_client_hello_with_cookie() {
        let mut body = vec![0xfe, 0xfd];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[3, 1, 2, 3]); // cookie
        body.extend_from_slice(&[0, 4, 0xc0, 0x2b, 0xc0, 0x2f]);
        body.extend_from_slice(&[1, 0]);
        let name = b"dtls.example";
        let mut sni = vec![0, 0];
        let list_len = (name.len() + 3) as u16;
        sni.extend_from_slice(&(list_len + 2).to_be_bytes());
        sni.extend_from_slice(&list_len.to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        body.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        body.extend_from_slice(&sni);
        let first = record([0xfe, 0xfd], 1, 0, &body, 0, 20);
        assert_eq!(probe(Side::Client, &first), Probe::Match);
        assert_eq!(probe(Side::Server, &first), Probe::NoMatch);
        let mut d = Dtls::default();
        let mut rec = SessionRecord::default();
        d.feed(Side::Client, &first, &mut rec);
        assert!(rec.extra.get("host.tls").is_none());
        let mut second = record([0xfe, 0xfd], 1, 0, &body, 20, body.len() - 20);
        // A truncated record after it is ignored.
        second.extend_from_slice(&[22, 0xfe, 0xfd, 0, 0]);
        d.feed(Side::Client, &second, &mut rec);
        assert_eq!(rec.extra.get("host.tls"), Some(&Values::Text(vec!["dtls.example".into()])));
        match rec.extra.get("tls.ja4") {
            Some(Values::Text(v)) => assert!(v[0].starts_with("dd2d0201"), "{v:?}"),
            other => panic!("{other:?}"),
        }
        // A retransmission changes nothing.
        d.feed(Side::Client, &first, &mut rec);
        d.feed(Side::Client, &second, &mut rec);
        assert_eq!(rec.extra.get("host.tls"), Some(&Values::Text(vec!["dtls.example".into()])));
    }
}
