//! Tabular Data Stream (Microsoft SQL Server, Sybase): the user of a TDS 7 login or
//! of a TDS 4.2/5.0 login record, and NTLMSSP inside logins and SSPI messages.
//! Logins after an encrypting pre-login are inside TLS and not seen.

use tyto_schema::SessionRecord;

use crate::messages::{Length, Streams};
use crate::{ntlm, put_text, utf16le, Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "tds",
    transports: &[Transport::Tcp],
    ports: &[1433],
    probe,
    new: || Box::<Tds>::default(),
    later: Some(later_packets),
};

const SQL_BATCH: u8 = 0x01;
const LOGIN_LEGACY: u8 = 0x02;
const RPC: u8 = 0x03;
const LOGIN7: u8 = 0x10;
const SSPI: u8 = 0x11;
const PRELOGIN: u8 = 0x12;
const TABULAR_RESULT: u8 = 0x04;
const ATTENTION: u8 = 0x06;
const BULK_LOAD: u8 = 0x07;
const TRANSACTION_MANAGER: u8 = 0x0e;
const MAX_PACKET: usize = 32 << 10;
const MAX_PACKETS: u32 = 16;

/// The 8-byte packet header: type, status, length (header included), channel,
/// packet number, window.
fn packet(b: &[u8]) -> Length {
    match b.get(..8) {
        None => Length::NeedMore,
        Some(h) if h[1] & !0x1f == 0 && h[7] == 0 => match usize::from(u16::from_be_bytes([h[2], h[3]])) {
            n if n >= 8 => Length::Is(n),
            _ => Length::Bad,
        },
        Some(_) => Length::Bad,
    }
}

/// Packets after the login, from either side: SQL batches, RPCs, attentions, bulk
/// loads, transaction requests and tabular results, whole to the byte, numbered one
/// after another on each side (two packets at least, or one of over 64 bytes).
fn later_packets(_side: Side, data: &[u8]) -> Probe {
    let mut at = 0usize;
    let mut last_number: Option<u8> = None;
    let mut packets = 0;
    while at < data.len() {
        let len = match packet(&data[at..]) {
            Length::NeedMore => return Probe::NeedMore,
            Length::Bad => return Probe::NoMatch,
            Length::Is(n) => n,
        };
        let h = &data[at..at + 8];
        let number = h[6];
        let kind_ok = matches!(h[0], SQL_BATCH | RPC | TABULAR_RESULT | ATTENTION | BULK_LOAD | TRANSACTION_MANAGER);
        // Each message's packets count up from 1; a new message may start again.
        let numbered = number == 1 || last_number.is_some_and(|n| number == n.wrapping_add(1));
        if !kind_ok || !numbered || len > MAX_PACKET {
            return Probe::NoMatch;
        }
        last_number = Some(number);
        packets += 1;
        at += len;
    }
    if at > data.len() {
        Probe::NeedMore
    } else if packets >= 2 || at > 64 {
        Probe::Match
    } else {
        Probe::NeedMore
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    let Some(h) = data.get(..8) else {
        return if data.first().is_none_or(|t| matches!(*t, PRELOGIN | LOGIN7 | LOGIN_LEGACY)) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if !matches!(packet(data), Length::Is(_)) || h[1] > 1 || !(16..=MAX_PACKET).contains(&len) {
        return Probe::NoMatch;
    }
    let Some(p) = data.get(8..len) else { return Probe::NeedMore };
    let ok = match h[0] {
        // Pre-login: option tokens (type, offset, length) up to 0xff; the first is
        // the version, its data right after the table.
        PRELOGIN => {
            let end = p.iter().step_by(5).position(|t| *t == 0xff);
            end.is_some_and(|n| n > 0 && p[0] == 0 && usize::from(u16::from_be_bytes([p[1], p[2]])) == n * 5 + 1)
        }
        // Login7: its own length first, equal to the packet's payload when whole.
        LOGIN7 => p.len() >= 94 && u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize == p.len(),
        // The fixed legacy login record: 30-byte names each with its length byte.
        LOGIN_LEGACY => p.len() >= 62 && p[30] <= 30 && p[61] <= 30 && p[61] > 0,
        _ => false,
    };
    Probe::from(ok)
}

#[derive(Default)]
pub struct Tds {
    streams: Streams,
    packets: u32,
}

fn login(kind: u8, p: &[u8], rec: &mut SessionRecord) {
    let user = match kind {
        LOGIN7 if p.len() >= 94 => {
            // Offset/length pairs (in UTF-16 units) after the 36-byte fixed part; the
            // user name is the second.
            let off = usize::from(u16::from_le_bytes([p[40], p[41]]));
            let len = usize::from(u16::from_le_bytes([p[42], p[43]])) * 2;
            p.get(off..off + len).map(utf16le)
        }
        LOGIN_LEGACY if p.len() >= 62 => {
            let len = usize::from(p[61]).min(30);
            Some(String::from_utf8_lossy(&p[31..31 + len]).into_owned())
        }
        _ => None,
    };
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        put_text(rec, "user", &u);
    }
}

impl Dissector for Tds {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let packets = &mut self.packets;
        self.streams.push(side, data, MAX_PACKET, packet, |p, _cut| {
            if *packets >= MAX_PACKETS {
                return;
            }
            *packets += 1;
            let payload = &p[8..];
            match p[0] {
                LOGIN7 | LOGIN_LEGACY if side == Side::Client => login(p[0], payload, rec),
                _ => {}
            }
            // NTLM rides in the login (SSPI data), SSPI messages, and the server's
            // answers (an SSPI token in the login response).
            if matches!(p[0], LOGIN7 | SSPI | 0x04) {
                if let Some(m) = ntlm::find(payload) {
                    ntlm::record(rec, &m);
                }
            }
            // Queries follow: nothing more to learn.
            if matches!(p[0], SQL_BATCH | RPC) {
                *packets = MAX_PACKETS;
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.packets < MAX_PACKETS && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    /// A connection picked up after the login: an SQL batch and its result.
    #[test]
    fn packets_after_the_login() {
        let mut batch = tds(SQL_BATCH, &[0x41; 80]);
        assert_eq!(later_packets(Side::Client, &batch), Probe::Match);
        assert_eq!(later_packets(Side::Client, &batch[..40]), Probe::NeedMore);
        let result = tds(TABULAR_RESULT, &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(later_packets(Side::Server, &result), Probe::NeedMore, "short and alone");
        assert_eq!(later_packets(Side::Server, &[result.clone(), result.clone()].concat()), Probe::Match);
        // A login is the first probe's; a type TDS lacks is nothing.
        assert_eq!(later_packets(Side::Client, &tds(LOGIN7, &[0; 100])), Probe::NoMatch);
        batch[0] = 0x42;
        assert_eq!(later_packets(Side::Client, &batch), Probe::NoMatch);
    }

    fn tds(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() + 8) as u16;
        let mut p = vec![kind, 1];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[0, 0, 1, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn prelogin_then_login7_user_and_ntlm() {
        let prelogin = tds(PRELOGIN, &[0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xff, 16, 0, 0, 0, 0, 0, 0]);
        assert_eq!(probe(Side::Client, &prelogin), Probe::Match);
        assert_eq!(probe(Side::Client, &prelogin[..4]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x16\x03\x01\x00\x10\x01\x00\x0c\x03\x03abcdefgh"), Probe::NoMatch);
        let user: Vec<u8> = "testuser".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let sspi = ntlm::tests::authenticate("TDSDOM", "mona", "H");
        let mut login = vec![0u8; 94];
        login[40..42].copy_from_slice(&94u16.to_le_bytes());
        login[42..44].copy_from_slice(&8u16.to_le_bytes());
        login.extend_from_slice(&user);
        login.extend_from_slice(&sspi);
        let n = login.len() as u32;
        login[..4].copy_from_slice(&n.to_le_bytes());
        let login = tds(LOGIN7, &login);
        assert_eq!(probe(Side::Client, &login), Probe::Match);
        let mut rec = SessionRecord::default();
        let mut t = Tds::default();
        t.feed(Side::Client, &prelogin, &mut rec);
        for c in login.chunks(10) {
            t.feed(Side::Client, c, &mut rec);
        }
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["testuser".into(), "mona".into()])));
    }
}
