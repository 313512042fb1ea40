//! CAPWAP (RFC 5415, UDP 5246 control and 5247 data), between wireless access
//! points and their controller. After a zero preamble the header gives its own
//! length (HLEN, in 4-byte words) and the wireless binding (1: IEEE 802.11). A
//! control message then carries a message type (1–26), a sequence number and the
//! length of what follows it, which must fill the datagram. DTLS-protected CAPWAP
//! (preamble type 1, as the control channel is once joined): the preamble, three
//! zero bytes, then DTLS records that fill the datagram. Only the protocol is
//! recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "capwap",
    transports: &[Transport::Udp],
    ports: &[5246, 5247],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const IEEE_80211: u32 = 1;
/// The T flag: the payload is in the binding's native frame format.
const NATIVE_FRAME: u32 = 1 << 8;

/// The DTLS header's preamble (version 0, type 1) and its reserved bytes.
const DTLS_PREAMBLE: [u8; 4] = [1, 0, 0, 0];

/// DTLS records (RFC 6347: content type, version, epoch, sequence number, length)
/// that fill `d` to the byte.
fn dtls_records(mut d: &[u8]) -> bool {
    let mut records = 0;
    while !d.is_empty() {
        let Some(h) = d.get(..13) else { return false };
        let version_ok = h[1] == 0xfe && matches!(h[2], 0xff | 0xfd | 0xfc);
        let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
        if !(20..=26).contains(&h[0]) || !version_ok || d.len() < 13 + len {
            return false;
        }
        d = &d[13 + len..];
        records += 1;
    }
    records > 0
}

fn message(d: &[u8]) -> bool {
    if let Some(records) = d.strip_prefix(&DTLS_PREAMBLE) {
        return dtls_records(records);
    }
    let Some(h) = d.get(..8) else { return false };
    if h[0] != 0 {
        return false;
    }
    let word = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    let hlen = 4 * (word >> 19) as usize;
    let binding = (word >> 9) & 0x1f;
    if hlen < 8 || hlen > d.len() || binding != IEEE_80211 {
        return false;
    }
    let rest = &d[hlen..];
    if word & NATIVE_FRAME != 0 {
        // An 802.11 frame: at least its frame control, duration and one address.
        return rest.len() >= 10;
    }
    // Control header: type (enterprise 0), sequence, length of what follows, flags.
    let Some(c) = rest.get(..8) else { return false };
    let kind = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    let len = usize::from(u16::from_be_bytes([c[5], c[6]]));
    (1..=26).contains(&kind) && len + 5 == rest.len()
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    Probe::from(message(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn discovery_and_data() {
        // `capwap.pcap`: a discovery request's headers (its elements are padded here).
        let mut discovery = unhex("002002100000000006580a20690e20e800000001000066000014");
        discovery.resize(16 + 5 + 0x66, 0);
        assert_eq!(probe(Side::Client, &discovery), Probe::Match);
        assert_eq!(probe(Side::Client, &discovery[..60]), Probe::NoMatch);
        let data = unhex("0020032000000000010400000000000000400000580a20690e20000000000000580a20690e20");
        assert_eq!(probe(Side::Client, &data), Probe::Match);
        // The control channel once joined: DTLS records after the DTLS preamble
        // (`capwap.pcap`, a ClientHello's record header).
        let mut hello = unhex("0100000016feff000000000000000000380100002c");
        hello.resize(4 + 13 + 0x38, 0);
        assert_eq!(probe(Side::Client, &hello), Probe::Match);
        assert_eq!(probe(Side::Client, &hello[..hello.len() - 1]), Probe::NoMatch, "a record cut short");
        let mut not_dtls = hello.clone();
        not_dtls[5] = 0x03;
        assert_eq!(probe(Side::Client, &not_dtls), Probe::NoMatch);
        let mut other_binding = data.clone();
        other_binding[2] = 0x05;
        assert_eq!(probe(Side::Client, &other_binding), Probe::NoMatch);
    }
}
