//! MongoDB's wire protocol: a message header (length, request id, response-to,
//! opcode) that a client opens with a query or an OP_MSG. Only the protocol is
//! recorded so far.

use crate::{NameOnly, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol =
    Protocol { name: "mongodb", transports: &[Transport::Tcp], ports: &[27017], probe, new: || Box::new(NameOnly) };

const OP_QUERY: i32 = 2004;
const OP_COMPRESSED: i32 = 2012;
const OP_MSG: i32 = 2013;
/// The server's default limit on a message.
const MAX_MESSAGE: i32 = 48_000_000;

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    let Some(h) = data.get(..16) else { return Probe::NeedMore };
    let i32_at = |i: usize| i32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (len, response_to, opcode) = (i32_at(0), i32_at(8), i32_at(12));
    if !(21..=MAX_MESSAGE).contains(&len) || response_to != 0 {
        return Probe::NoMatch;
    }
    let body = &data[16..];
    let ok = match opcode {
        // Flags, then a section of kind 0: one BSON document whose length fits.
        OP_MSG => match body.get(..9) {
            Some(b) => {
                let doc = i32::from_le_bytes([b[5], b[6], b[7], b[8]]);
                b[1..4] == [0, 0, 0] && b[4] <= 1 && (5..=len - 20).contains(&doc)
            }
            None => return Probe::NeedMore,
        },
        // Flags, then a NUL-terminated `db.collection` name.
        OP_QUERY => {
            let name = body.get(4..).unwrap_or(&[]);
            match name.iter().position(|b| *b == 0) {
                Some(end) => end > 0 && name[..end].contains(&b'.') && name[..end].iter().all(|b| b.is_ascii_graphic()),
                None => return if name.len() < 256 { Probe::NeedMore } else { Probe::NoMatch },
            }
        }
        // The original opcode, then sizes and a known compressor (noop, snappy, zlib, zstd).
        OP_COMPRESSED => match body.get(..9) {
            Some(b) => matches!(i32::from_le_bytes([b[0], b[1], b[2], b[3]]), OP_QUERY | OP_MSG) && b[8] <= 3,
            None => return Probe::NeedMore,
        },
        _ => false,
    };
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_as_op_msg_and_legacy_query() {
        let mut m = Vec::new();
        m.extend_from_slice(&41i32.to_le_bytes());
        m.extend_from_slice(&7i32.to_le_bytes());
        m.extend_from_slice(&0i32.to_le_bytes());
        m.extend_from_slice(&OP_MSG.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0]);
        m.extend_from_slice(&20i32.to_le_bytes());
        m.extend_from_slice(&[0x10, b'h', b'i', 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        assert_eq!(probe(Side::Client, &m[..10]), Probe::NeedMore);
        let mut q = Vec::new();
        q.extend_from_slice(&60i32.to_le_bytes());
        q.extend_from_slice(&1i32.to_le_bytes());
        q.extend_from_slice(&0i32.to_le_bytes());
        q.extend_from_slice(&OP_QUERY.to_le_bytes());
        q.extend_from_slice(&[0, 0, 0, 0]);
        q.extend_from_slice(b"admin.$cmd\0");
        assert_eq!(probe(Side::Client, &q), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: example.org\r\n"), Probe::NoMatch);
    }
}
