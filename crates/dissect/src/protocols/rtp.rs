//! RTP and RTCP over UDP (RFC 3550; RTP/RTCP multiplexed on one port pair, RFC
//! 5761). Neither has magic: an RTCP datagram is recognised when it is a compound
//! packet that starts with a sender or receiver report and whose packet lengths add
//! up to the datagram (allowing SRTCP's index and tag); RTP when several datagrams
//! in a row have a version-2 header whose CSRC list, extension and padding fit and
//! whose payload type is assigned (see [`Probe::Plausible`]). Per session: payload
//! types, codecs of the static ones, SSRCs, and RTCP's canonical names (SDES CNAME,
//! often `user@host`). Arkime has no such fields: the names are ours.

use tyto_schema::SessionRecord;

use crate::kit::{add_protocol, put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rtp",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::<Rtp>::default(),
    later: None,
};

pub static RTCP: Protocol = Protocol {
    name: "rtcp",
    transports: &[Transport::Udp],
    ports: &[],
    probe: probe_rtcp,
    new: || Box::<Rtp>::default(),
    later: None,
};

const HEADER: usize = 12;
/// RTCP packet types: SR, RR, SDES, BYE, APP, transport and payload feedback, XR.
const SR: u8 = 200;
const RR: u8 = 201;
const SDES: u8 = 202;
const RTCP_TYPES: std::ops::RangeInclusive<u8> = 200..=207;
/// Packets of one compound datagram looked at.
const MAX_COMPOUND: usize = 16;
/// Datagrams read per session, and SSRCs and names kept.
const MAX_DATAGRAMS: u32 = 256;

/// Payload types assigned statically (RFC 3551) and their codecs; 96–127 are
/// dynamic (named by the session's SDP, not seen here).
fn codec(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU",
        3 => "GSM",
        4 => "G723",
        5 | 6 => "DVI4",
        7 => "LPC",
        8 => "PCMA",
        9 => "G722",
        10 | 11 => "L16",
        12 => "QCELP",
        13 => "CN",
        14 => "MPA",
        15 => "G728",
        16 | 17 => "DVI4",
        18 => "G729",
        25 => "CelB",
        26 => "JPEG",
        28 => "nv",
        31 => "H261",
        32 => "MPV",
        33 => "MP2T",
        34 => "H263",
        _ => return None,
    })
}

/// An RTP header that holds together: version 2, its CSRCs, extension and padding
/// inside the datagram, an assigned payload type.
pub(crate) fn rtp_header(d: &[u8]) -> Option<u8> {
    let h = d.get(..HEADER)?;
    if h[0] >> 6 != 2 {
        return None;
    }
    let pt = h[1] & 0x7f;
    if codec(pt).is_none() && !(96..=127).contains(&pt) {
        return None;
    }
    let mut at = HEADER + 4 * usize::from(h[0] & 0x0f);
    if h[0] & 0x10 != 0 {
        let x = d.get(at..at + 4)?;
        at += 4 + 4 * usize::from(u16::from_be_bytes([x[2], x[3]]));
    }
    let padding = if h[0] & 0x20 != 0 { usize::from(*d.last()?) } else { 0 };
    (at + padding <= d.len() && (h[0] & 0x20 == 0 || padding > 0)).then_some(pt)
}

/// The packets of an RTCP compound datagram: (type, whole packet), or `None` when
/// it is not one.
pub(crate) fn compound(d: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    // The first packet is a report, unpadded, whose length is that of its report
    // blocks (six words each) after a sender's info (five) or none.
    let h = d.get(..4)?;
    let blocks = u16::from(h[0] & 0x1f);
    let words = u16::from_be_bytes([h[2], h[3]]);
    let fits = match h[1] {
        SR => words == 6 + 6 * blocks,
        RR => words == 1 + 6 * blocks,
        _ => false,
    };
    if !fits || h[0] & 0x20 != 0 {
        return None;
    }
    let mut packets = Vec::new();
    let mut at = 0;
    while at < d.len() && packets.len() < MAX_COMPOUND {
        let h = d.get(at..at + 4)?;
        if h[0] >> 6 != 2 || !RTCP_TYPES.contains(&h[1]) {
            break;
        }
        let len = 4 + 4 * usize::from(u16::from_be_bytes([h[2], h[3]]));
        packets.push((h[1], d.get(at..at + len)?));
        at += len;
    }
    // SRTCP appends a 4-byte index and an authentication tag of 0, 4, 10 or 16 bytes.
    matches!(d.len() - at, 0 | 4 | 8 | 14 | 20).then_some(packets)
}

/// A stream is its SSRC; its sequence numbers advance by one per packet.
pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if rtp_header(data).is_some() {
        let stream = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        Probe::Plausible { stream, seq: u16::from_be_bytes([data[2], data[3]]) }
    } else {
        Probe::NoMatch
    }
}

pub fn probe_rtcp(_side: Side, data: &[u8]) -> Probe {
    Probe::from(compound(data).is_some())
}

/// SDES chunks: an SSRC, then items (type, length, text) up to a zero type, padded
/// to a word.
fn sdes(p: &[u8], rec: &mut SessionRecord) {
    let chunks = usize::from(p[0] & 0x1f);
    let mut at = 4;
    for _ in 0..chunks {
        at += 4;
        while let Some(&kind) = p.get(at) {
            if kind == 0 {
                at = (at + 4) & !3;
                break;
            }
            let Some(&len) = p.get(at + 1) else { return };
            let Some(text) = p.get(at + 2..at + 2 + usize::from(len)) else { return };
            if kind == 1 && !text.is_empty() {
                put_text(rec, text_field!("rtcp.cname"), &String::from_utf8_lossy(text));
            }
            at += 2 + usize::from(len);
        }
    }
}

/// What an RTP header shows, encrypted payload or not (SRTP keeps it in clear).
pub(crate) fn header_values(data: &[u8], rec: &mut SessionRecord) {
    let Some(pt) = rtp_header(data) else { return };
    put_int(rec, int_field!("rtp.payloadType"), i64::from(pt));
    if let Some(c) = codec(pt) {
        put_text(rec, text_field!("rtp.codec"), c);
    }
    put_text(
        rec,
        text_field!("rtp.ssrc"),
        &format!("{:08x}", u32::from_be_bytes([data[8], data[9], data[10], data[11]])),
    );
}

#[derive(Default)]
pub struct Rtp {
    datagrams: u32,
}

impl Dissector for Rtp {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.datagrams += 1;
        // RTCP first: with rtcp-mux its types 200–207 read as RTP's marker bit and
        // payload types 72–79, which are not assigned.
        if let Some(packets) = compound(data) {
            add_protocol(rec, &RTCP);
            for (kind, p) in packets {
                if kind == SDES {
                    sdes(p, rec);
                }
            }
        } else if rtp_header(data).is_some() {
            add_protocol(rec, &PROTOCOL);
            header_values(data, rec);
        }
    }

    fn wants_more(&self) -> bool {
        self.datagrams < MAX_DATAGRAMS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn rtp(pt: u8, seq: u16) -> Vec<u8> {
        let mut d = vec![0x80, pt];
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&[0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78]);
        d.extend_from_slice(&[0xd5; 160]);
        d
    }

    #[test]
    fn rtp_needs_a_run_rtcp_walks_its_compound() {
        assert_eq!(probe(Side::Client, &rtp(0, 1)), Probe::Plausible { stream: 0x1234_5678, seq: 1 });
        assert_eq!(probe(Side::Client, &rtp(111, 2)), Probe::Plausible { stream: 0x1234_5678, seq: 2 });
        assert_eq!(probe(Side::Client, &rtp(72, 1)), Probe::NoMatch, "RTCP's range");
        assert_eq!(probe(Side::Client, &[0x45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Probe::NoMatch);
        // Receiver report (one block) and SDES with a CNAME.
        let mut rr = vec![0x81, RR, 0, 7, 1, 2, 3, 4];
        rr.extend_from_slice(&[0; 24]);
        let mut sd = vec![0x81, SDES, 0, 4, 1, 2, 3, 4, 1, 7];
        sd.extend_from_slice(b"bob@pc1");
        sd.extend_from_slice(&[0, 0, 0]);
        let mut both = rr.clone();
        both.extend_from_slice(&sd);
        assert_eq!(probe_rtcp(Side::Server, &both), Probe::Match);
        assert_eq!(probe_rtcp(Side::Server, &both[..both.len() - 2]), Probe::NoMatch);
        assert_eq!(probe_rtcp(Side::Server, &rtp(0, 1)), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut r = Rtp::default();
        r.feed(Side::Client, &rtp(8, 1), &mut rec);
        r.feed(Side::Server, &both, &mut rec);
        assert_eq!(rec.extra.get("rtp.codec"), Some(&Values::Text(vec!["PCMA".into()])));
        assert_eq!(rec.extra.get("rtp.ssrc"), Some(&Values::Text(vec!["12345678".into()])));
        assert_eq!(rec.extra.get("rtcp.cname"), Some(&Values::Text(vec!["bob@pc1".into()])));
        assert_eq!(rec.protocols, ["rtp", "rtcp"]);
    }
}
