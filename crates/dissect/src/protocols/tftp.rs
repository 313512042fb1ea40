//! TFTP (RFC 1350) read and write requests on UDP: the opcode and the file name.
//! The transfer itself runs between other ports, as a session of its own: blocks of
//! data one way (opcode 3, a block number, up to 64 KiB with RFC 2348's block size
//! option), each acknowledged by its number the other way (opcode 4, four bytes
//! exactly). Both sides sending those decide, as does one side's run of advancing
//! block numbers: a capture that starts mid-transfer, or holds one side, is named.

use tyto_schema::SessionRecord;

use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "tftp",
    transports: &[Transport::Udp],
    ports: &[69],
    probe,
    new: || Box::<Tftp>::default(),
    later: None,
};

const OPCODES: [&str; 6] = ["", "rrq", "wrq", "data", "ack", "error"];
const MAX_DATAGRAMS: u32 = 16;
/// A data block's bytes at most (RFC 2348: 65,464).
const MAX_BLOCK: usize = 65_464;
/// The id both sides' transfer datagrams give the classifier: a transfer has no
/// connection id of its own; that both sides send blocks or acknowledgements is the
/// evidence.
const TRANSFER: u32 = u32::from_be_bytes(*b"tftp");

/// A request: opcode 1 or 2, a file name, a known mode, each ending in NUL.
fn request(data: &[u8]) -> Option<(u8, &[u8])> {
    let (&[0, op], rest) = data.split_first_chunk::<2>()? else { return None };
    if !matches!(op, 1 | 2) {
        return None;
    }
    let mut parts = rest.split(|b| *b == 0);
    let name = parts.next().filter(|n| !n.is_empty() && n.len() <= 512 && n.iter().all(|b| *b >= 0x20))?;
    let mode = parts.next()?;
    let known = [&b"netascii"[..], b"octet", b"mail"].iter().any(|m| mode.eq_ignore_ascii_case(m));
    (known && data.last() == Some(&0)).then_some((op, name))
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    // A transfer: a data block or an acknowledgement, numbered by its block.
    match data {
        [0, 3, hi, lo, rest @ ..] if rest.len() <= MAX_BLOCK => {
            return Probe::Connection { id: TRANSFER, seq: u16::from_be_bytes([*hi, *lo]) };
        }
        [0, 4, hi, lo] => return Probe::Connection { id: TRANSFER, seq: u16::from_be_bytes([*hi, *lo]) },
        _ => {}
    }
    match side {
        Side::Client => Probe::from(request(data).is_some()),
        // An answer comes from another port: seen here only on one port, as an error.
        Side::Server => Probe::NeedMore,
    }
}

#[derive(Default)]
pub struct Tftp {
    datagrams: u32,
}

impl Dissector for Tftp {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.datagrams += 1;
        if let Some((op, name)) = request(data) {
            put_text(rec, text_field!("tftp.opcode"), OPCODES[usize::from(op)]);
            put_text(rec, text_field!("tftp.filename"), &String::from_utf8_lossy(name));
        } else if let [0, op @ 3..=5, ..] = data {
            put_text(rec, text_field!("tftp.opcode"), OPCODES[usize::from(*op)]);
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

    #[test]
    fn read_request() {
        let rrq = b"\x00\x01rfc1350.txt\x00octet\x00";
        assert_eq!(probe(Side::Client, rrq), Probe::Match);
        assert_eq!(probe(Side::Client, b"\x00\x01name\x00bogus\x00"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\x00\x01"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut t = Tftp::default();
        t.feed(Side::Client, rrq, &mut rec);
        t.feed(Side::Server, b"\x00\x03\x00\x01data", &mut rec);
        assert_eq!(rec.extra.get("tftp.filename"), Some(&Values::Text(vec!["rfc1350.txt".into()])));
        assert_eq!(rec.extra.get("tftp.opcode"), Some(&Values::Text(vec!["rrq".into(), "data".into()])));
    }

    #[test]
    fn transfers_name_their_blocks() {
        // `tftp.pcap`: block 1 of a file, its acknowledgement; an acknowledgement is
        // four bytes exactly.
        let mut data = b"\x00\x03\x00\x01".to_vec();
        data.resize(516, b'x');
        let named = Probe::Connection { id: TRANSFER, seq: 1 };
        assert_eq!(probe(Side::Server, &data), named);
        assert_eq!(probe(Side::Client, b"\x00\x04\x00\x01"), named);
        assert_eq!(probe(Side::Client, b"\x00\x04\x00\x01\x00"), Probe::NoMatch);
        data.resize(4 + MAX_BLOCK + 1, b'x');
        assert_eq!(probe(Side::Server, &data), Probe::NeedMore, "a block too large");
    }
}
