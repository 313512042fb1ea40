//! BACnet/IP (ASHRAE 135 Annex J): building automation over UDP (port 47808). A
//! BVLC header (type 0x81, a function, the datagram's length) and, for the
//! functions that carry one, an NPDU (version 1, its control byte, the networks it
//! crosses) and an APDU whose first nibble is its type. Recorded as Arkime records
//! it: the BVLC function, the APDU type, the service of requests (confirmed and
//! unconfirmed), and object names, the first character string of an I-Am, I-Have or
//! Who-Has, or of a ReadProperty(-Multiple) answer. BACnet/IPv6 (Annex U, type
//! 0x82) is named only: its BVLC numbers its functions otherwise and carries
//! virtual MAC addresses (Arkime reads it as BACnet/IP, which misnames them).

use tyto_schema::{text_field, SessionRecord};

use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "bacnet",
    transports: &[Transport::Udp],
    ports: &[47808],
    probe,
    new: || Box::new(Bacnet),
    later: None,
};

const BACNET_IP: u8 = 0x81;
const BACNET_IPV6: u8 = 0x82;
const FORWARDED_NPDU: u8 = 0x04;

/// BVLC functions 0 to 12, by Arkime's names.
const FUNCTIONS: [&str; 13] = [
    "result",
    "write-bdt",
    "read-bdt",
    "read-bdt-ack",
    "forwarded-npdu",
    "register-foreign-device",
    "read-fdt",
    "read-fdt-ack",
    "delete-fdt-entry",
    "distribute-broadcast",
    "original-unicast",
    "original-broadcast",
    "secured-bvll",
];

/// APDU types (the first byte's high nibble).
const APDU_TYPES: [&str; 8] = [
    "confirmed-request",
    "unconfirmed-request",
    "simple-ack",
    "complex-ack",
    "segment-ack",
    "error",
    "reject",
    "abort",
];

/// Confirmed services 0 to 29.
const CONFIRMED: [&str; 30] = [
    "acknowledge-alarm",
    "confirmed-cov-notification",
    "confirmed-event-notification",
    "get-alarm-summary",
    "get-enrollment-summary",
    "subscribe-cov",
    "atomic-read-file",
    "atomic-write-file",
    "add-list-element",
    "remove-list-element",
    "create-object",
    "delete-object",
    "read-property",
    "read-property-conditional",
    "read-property-multiple",
    "write-property",
    "write-property-multiple",
    "device-communication-control",
    "confirmed-private-transfer",
    "confirmed-text-message",
    "reinitialize-device",
    "vt-open",
    "vt-close",
    "vt-data",
    "authenticate",
    "request-key",
    "read-range",
    "life-safety-operation",
    "subscribe-cov-property",
    "get-event-information",
];

/// Unconfirmed services 0 to 9.
const UNCONFIRMED: [&str; 10] = [
    "i-am",
    "i-have",
    "unconfirmed-cov-notification",
    "unconfirmed-event-notification",
    "unconfirmed-private-transfer",
    "unconfirmed-text-message",
    "time-synchronization",
    "who-has",
    "who-is",
    "utc-time-synchronization",
];
const READ_PROPERTY: u8 = 12;
const READ_PROPERTY_MULTIPLE: u8 = 14;

/// The BVLC header, whole and naming this datagram's length: its type and function.
fn bvlc(d: &[u8]) -> Option<(u8, u8)> {
    let (&[kind, function, hi, lo], _) = d.split_first_chunk::<4>()?;
    let ok = matches!(kind, BACNET_IP | BACNET_IPV6)
        && usize::from(function) < FUNCTIONS.len()
        && usize::from(u16::from_be_bytes([hi, lo])) == d.len();
    ok.then_some((kind, function))
}

/// The APDU of a datagram whose function carries an NPDU (none for a network-layer
/// message): past the BVLC header, a forwarded message's origin, the NPDU's version,
/// control byte, destination and source networks and hop count.
fn apdu(d: &[u8], function: u8) -> Option<&[u8]> {
    let mut at = 4;
    match function {
        // The origin's IPv4 address and port.
        FORWARDED_NPDU => at += 6,
        0x09..=0x0b => {}
        _ => return None,
    }
    let (&version, &control) = (d.get(at)?, d.get(at + 1)?);
    if version != 1 || control & 0x80 != 0 {
        return None;
    }
    at += 2;
    for present in [0x20, 0x08] {
        if control & present != 0 {
            at += 3 + usize::from(*d.get(at + 2)?);
        }
    }
    if control & 0x20 != 0 {
        at += 1;
    }
    d.get(at..).filter(|a| !a.is_empty())
}

/// The first character string in `d`, sought byte by byte as Arkime seeks it: an
/// application or context tag 7 with its length (5: a length byte follows), a
/// character-set byte, then the text.
fn first_string(d: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    while d.len() - at >= 3 {
        let tag = d[at];
        at += 1;
        if tag & 0xf8 != 0x70 && tag & 0xf8 != 0x38 {
            continue;
        }
        let len = match tag & 0x07 {
            5 => {
                at += 1;
                usize::from(d[at - 1])
            }
            n @ 0..=4 => usize::from(n),
            _ => continue,
        };
        if len == 0 || d.len() - at < len {
            return None;
        }
        return Some(&d[at + 1..at + len]).filter(|s| !s.is_empty());
    }
    None
}

/// The BVLC header decides (a datagram whose NPDU is malformed is still BACnet's:
/// its session's next datagrams are read).
pub fn probe(_side: Side, d: &[u8]) -> Probe {
    Probe::from(bvlc(d).is_some())
}

pub struct Bacnet;

impl Dissector for Bacnet {
    fn feed(&mut self, _side: Side, d: &[u8], rec: &mut SessionRecord) {
        let Some((_, function)) = bvlc(d).filter(|(kind, _)| *kind == BACNET_IP) else { return };
        put_text(rec, text_field!("bacnet.function"), FUNCTIONS[usize::from(function)]);
        let Some(a) = apdu(d, function) else { return };
        let apdu_type = a[0] >> 4;
        put_text(rec, text_field!("bacnet.apdu-type"), APDU_TYPES[usize::from(apdu_type & 0x07)]);
        let (service, names) = match apdu_type {
            // Type and flags, maximum segments and response, invoke id, then (when
            // segmented) sequence number and window, then the service.
            0 => {
                let at = if a[0] & 0x08 != 0 { 5 } else { 3 };
                (a.get(at).and_then(|&s| CONFIRMED.get(usize::from(s))), None)
            }
            1 => {
                let s = a.get(1).copied();
                let named = s.filter(|&s| s <= 1 || s == 7).map(|_| &a[2..]);
                (s.and_then(|s| UNCONFIRMED.get(usize::from(s))), named)
            }
            3 => {
                let read = matches!(a.get(2), Some(&(READ_PROPERTY | READ_PROPERTY_MULTIPLE)));
                (None, read.then(|| &a[3..]))
            }
            _ => (None, None),
        };
        if let Some(service) = service {
            put_text(rec, text_field!("bacnet.service"), service);
        }
        if let Some(name) = names.and_then(first_string) {
            put_text(rec, text_field!("bacnet.object-name"), &String::from_utf8_lossy(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;
    use crate::kit::unhex;

    #[test]
    fn requests_answers_and_object_names() {
        let mut rec = SessionRecord::default();
        // A confirmed ReadProperty of a device's object name (invoke id 1).
        let read = unhex("810a001101040275010c0c020000011977");
        assert_eq!(probe(Side::Client, &read), Probe::Match);
        Bacnet.feed(Side::Client, &read, &mut rec);
        // Its answer: complex-ack of read-property, the name "AHU-1" (UTF-8 charset 0).
        let answer = unhex("810a001a0100300c0c0c020000011977 3e7506004148552d313f".replace(' ', "").as_str());
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        Bacnet.feed(Side::Server, &answer, &mut rec);
        // An unconfirmed Who-Is broadcast through a router (destination network 0xffff).
        let who_is = unhex("810b000c0120ffff00ff1008");
        assert_eq!(probe(Side::Client, &who_is), Probe::Match);
        Bacnet.feed(Side::Client, &who_is, &mut rec);
        assert_eq!(texts(&rec, "bacnet.function"), ["original-unicast", "original-broadcast"]);
        assert_eq!(texts(&rec, "bacnet.apdu-type"), ["confirmed-request", "complex-ack", "unconfirmed-request"]);
        assert_eq!(texts(&rec, "bacnet.service"), ["read-property", "who-is"]);
        assert_eq!(texts(&rec, "bacnet.object-name"), ["AHU-1"]);
    }

    #[test]
    fn odd_datagrams_are_not_bacnet_and_break_nothing() {
        assert_eq!(probe(Side::Client, &unhex("810a0012010402")), Probe::NoMatch, "length says more");
        assert_eq!(probe(Side::Client, &unhex("830a0006010c")), Probe::NoMatch, "type 0x83");
        assert_eq!(probe(Side::Client, &unhex("810d0006010c")), Probe::NoMatch, "function 13");
        // `bacnet-stack-services.pcap`, frame 1: an APDU with no NPDU before it.
        let odd = unhex("810a000b10072c0200003d");
        assert_eq!(probe(Side::Client, &odd), Probe::Match);
        let mut rec = SessionRecord::default();
        Bacnet.feed(Side::Client, &odd, &mut rec);
        assert_eq!(texts(&rec, "bacnet.function"), ["original-unicast"]);
        assert!(texts(&rec, "bacnet.apdu-type").is_empty());
        // BACnet/IPv6: named, its functions not read as BACnet/IP's.
        let v6 = unhex("82010009000102030a");
        assert_eq!(probe(Side::Client, &v6), Probe::Match);
        Bacnet.feed(Side::Client, &v6, &mut rec);
        assert_eq!(texts(&rec, "bacnet.function"), ["original-unicast"]);
        assert_eq!(probe(Side::Client, &unhex("81000006")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("810000060000")), Probe::Match, "a BVLC result");
        for d in [&b""[..], &[0x81], &unhex("810a0008012005"), &unhex("810a000701080a"), &unhex("810b0007010010")] {
            Bacnet.feed(Side::Client, d, &mut rec);
        }
        assert_eq!(first_string(&unhex("7505")), None);
        assert_eq!(first_string(&unhex("00750900")), None, "the length runs past the end");
    }
}
