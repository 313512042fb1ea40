//! SS7 over SIGTRAN (SCTP): M3UA (payload protocol 3, RFC 4666) and M2UA (2, RFC
//! 3331) carrying MTP3's users. A DATA chunk of that payload protocol holding a
//! message of the adaptation layer (version 1, its length the chunk's) decides.
//! Read as Arkime files them: every transfer's service indicator (`m3ua.si`, M2UA's
//! from its MTP3 header); ISUP (5) and TUP (4) named; SCCP's unitdata (3) with the
//! called and calling point codes (`sccp.dst`, `sccp.src`) and the TCAP it carries;
//! when TCAP's dialogue names a CAMEL application context (CAP phases 1 to 4), its
//! components' operation codes (`tcap.opcode`, `camel.op`) and an InitialDP's
//! calling and called numbers and IMSI (`camel.calling`, `camel.called`,
//! `camel.imsi`).

use tyto_schema::SessionRecord;

use crate::kit::der::{tlv, tlv_cut};
use crate::kit::sctp::{data_chunks, user_messages, Fragments};
use crate::kit::{add_protocol, be16, be32, put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, SubProtocol, Transport};

pub static M3UA: Protocol = Protocol {
    name: "m3ua",
    transports: &[Transport::Sctp],
    ports: &[2905],
    probe: probe_m3ua,
    new: || Box::<Sigtran>::default(),
    later: None,
};

pub static M2UA: Protocol = Protocol {
    name: "m2ua",
    transports: &[Transport::Sctp],
    ports: &[2904],
    probe: probe_m2ua,
    new: || Box::<Sigtran>::default(),
    later: None,
};

pub static SCCP: SubProtocol = SubProtocol { name: "sccp", parent: None };
pub static CAMEL: SubProtocol = SubProtocol { name: "camel", parent: None };
pub static ISUP: SubProtocol = SubProtocol { name: "isup", parent: None };
pub static TUP: SubProtocol = SubProtocol { name: "tup", parent: None };

/// SCTP payload protocol identifiers (IANA).
const PPID_M2UA: u32 = 2;
const PPID_M3UA: u32 = 3;

/// An adaptation layer's common header: version 1, its length the message's.
fn adaptation_message(m: &[u8]) -> bool {
    m.len() >= 8 && m[0] == 1 && m[1] == 0 && be32(m, 4).is_some_and(|n| n as usize == m.len())
}

/// The first user message of the packet's protocol decides; a packet without
/// one (INIT, SACK, HEARTBEAT) leaves it open.
fn probe_ppid(ppid: u32, d: &[u8]) -> Probe {
    match user_messages(d).next() {
        None => Probe::NeedMore,
        Some((id, m)) => Probe::from(id == ppid && adaptation_message(m)),
    }
}

pub fn probe_m3ua(_side: Side, d: &[u8]) -> Probe {
    probe_ppid(PPID_M3UA, d)
}

pub fn probe_m2ua(_side: Side, d: &[u8]) -> Probe {
    probe_ppid(PPID_M2UA, d)
}

/// An adaptation message's parameters after its header: (tag, value) each.
fn parameters(m: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = m.get(8..).unwrap_or_default();
    std::iter::from_fn(move || {
        let (tag, len) = (be16(rest, 0)?, usize::from(be16(rest, 2)?));
        let value = rest.get(4..len).filter(|_| len >= 4)?;
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((tag, value))
    })
}

/// An M3UA transfer (class 1, DATA): the Protocol Data parameter's service
/// indicator and MTP3 user data. RFC 4666's parameter (0x0210) gives OPC, DPC, SI,
/// NI, MP and SLS before the data; its drafts' (0x0002) held the MTP3 message.
fn m3ua_transfer(m: &[u8]) -> Option<(u8, &[u8])> {
    if m.get(2..4) != Some(&[1, 1]) {
        return None;
    }
    parameters(m).find_map(|(tag, data)| match tag {
        0x0210 => Some((*data.get(8)?, data.get(12..)?)),
        0x0002 => mtp3(data),
        _ => None,
    })
}

/// An MTP3 message: the service information octet's indicator, and the user data
/// after the routing label (ITU, four bytes).
fn mtp3(m: &[u8]) -> Option<(u8, &[u8])> {
    Some((m.first()? & 0x0f, m.get(5..)?))
}

/// An M2UA DATA message (class 6, type 1): its Protocol Data's MTP3 message (after
/// a length indicator byte in Protocol Data 2).
fn m2ua_data(m: &[u8]) -> Option<(u8, &[u8])> {
    if m.get(2..4) != Some(&[6, 1]) {
        return None;
    }
    parameters(m).find_map(|(tag, data)| match tag {
        0x0300 => mtp3(data),
        0x0301 => mtp3(data.get(1..)?),
        _ => None,
    })
}

/// SCCP's unitdata (UDT): the called and calling parties' point codes, and the data
/// (TCAP).
fn sccp_unitdata<'a>(d: &'a [u8], rec: &mut SessionRecord) -> Option<&'a [u8]> {
    const UDT: u8 = 0x09;
    if d.len() < 6 || d[0] != UDT {
        return None;
    }
    // Each pointer counts from where it stands: an address's length, then its
    // indicator, then (when its lowest bit says so) a 14-bit point code.
    let party = |pointer_at: usize| -> Option<i64> {
        let at = pointer_at + usize::from(d[pointer_at]);
        let len = usize::from(*d.get(at)?);
        let address = d.get(at + 1..at + 1 + len).filter(|a| a.len() >= 3)?;
        (address[0] & 0x01 != 0).then(|| i64::from(u16::from_le_bytes([address[1], address[2]]) & 0x3fff))
    };
    if let Some(pc) = party(2) {
        put_int(rec, int_field!("sccp.dst"), pc);
    }
    if let Some(pc) = party(3) {
        put_int(rec, int_field!("sccp.src"), pc);
    }
    let at = 4 + usize::from(d[4]);
    let len = usize::from(*d.get(at)?);
    d.get(at + 1..at + 1 + len)
}

/// CAMEL's application contexts (CAP phases 1 to 4): 0.4.0.0.1.0.50.0,
/// 0.4.0.0.1.0.50.1, 0.4.0.0.1.21.3.4, 0.4.0.0.1.23.3.4.
const CAMEL_CONTEXTS: [&[u8]; 4] = [
    &[0x04, 0x00, 0x00, 0x01, 0x00, 0x32, 0x00],
    &[0x04, 0x00, 0x00, 0x01, 0x00, 0x32, 0x01],
    &[0x04, 0x00, 0x00, 0x01, 0x15, 0x03, 0x04],
    &[0x04, 0x00, 0x00, 0x01, 0x17, 0x03, 0x04],
];

/// What a TCAP message (Begin, End, Continue) holds of interest here.
struct Tcap<'a> {
    /// The dialogue's application context name.
    context: Option<&'a [u8]>,
    components: Option<&'a [u8]>,
}

fn tcap(d: &[u8]) -> Option<Tcap<'_>> {
    // Its portions are read whole; the message's own length is not held to what
    // SCCP carried (senders get it wrong: `m3ua_synthetic.pcap`).
    let (tag, mut portions, _) = tlv_cut(d)?;
    if !matches!(tag, 0x62 | 0x64 | 0x65) {
        return None;
    }
    let (mut context, mut components) = (None, None);
    while let Some((tag, contents, rest)) = tlv(portions) {
        portions = rest;
        match tag {
            // The dialogue: EXTERNAL, its encoding, the AARQ or AARE, whose first
            // element is the application context name; found as the first object
            // identifier of ITU-T's mobile domain (0.4.0.0.1) in it.
            0x6b => {
                context = contents.windows(2).enumerate().find_map(|(i, w)| {
                    let oid = contents.get(i + 2..i + 2 + usize::from(w[1]))?;
                    (w[0] == 0x06 && oid.len() >= 4 && oid.starts_with(&[0x04, 0x00, 0x00, 0x01])).then_some(oid)
                })
            }
            0x6c => components = Some(contents),
            _ => {}
        }
    }
    Some(Tcap { context, components })
}

/// CAP operation names by local operation code (ETSI TS 101 046, 3GPP TS 29.078).
fn camel_operation(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "initialDP",
        1 => "assistRequestInstructions",
        2 => "establishTemporaryConnection",
        3 => "disconnectForwardConnection",
        4 | 33 => "connectToResource",
        5 | 17 => "connect",
        6 | 22 => "releaseCall",
        7 | 23 => "requestReportBCSMEvent",
        8 | 24 => "eventReportBCSM",
        9 => "requestNotificationChargingEvent",
        10 => "eventNotificationCharging",
        11 | 49 => "cancel",
        12 | 34 => "furnishChargingInformation",
        13 | 35 => "applyCharging",
        14 | 36 => "applyChargingReport",
        16 => "callGap",
        20 => "continue",
        21 => "initiateCallAttempt",
        31 => "resetTimer",
        32 => "sendChargingInformation",
        44 => "callInformationRequest",
        45 => "callInformationReport",
        46 => "playAnnouncement",
        47 => "promptAndCollectUserInformation",
        48 => "specializedResourceReport",
        56 => "activityTest",
        60 => "continueWithArgument",
        61 => "disconnectLeg",
        62 => "initiateSMS",
        63 => "releaseSMS",
        64 => "connectSMS",
        65 => "requestReportSMSEvent",
        66 => "eventReportSMS",
        67 => "continueSMS",
        70 => "initialDPSMS",
        71 => "furnishChargingInformationSMS",
        80 => "initialDPGPRS",
        81 => "requestReportGPRSEvent",
        82 => "eventReportGPRS",
        83 => "applyChargingGPRS",
        84 => "applyChargingReportGPRS",
        85 => "furnishChargingInformationGPRS",
        86 => "cancelGPRS",
        87 => "connectGPRS",
        88 => "continueGPRS",
        89 => "releaseGPRS",
        90 => "resetTimerGPRS",
        91 => "sendChargingInformationGPRS",
        93 => "activityTestGPRS",
        _ => return None,
    })
}

/// A small INTEGER's value (an operation code, at most two bytes as CAP's are).
fn small_integer(v: &[u8]) -> Option<i64> {
    (1..=2).contains(&v.len()).then(|| v.iter().fold(0i64, |n, b| (n << 8) | i64::from(*b)))
}

/// Digits of a telephony BCD string, the low half of each byte first, up to a filler
/// (0xF); `*` and `#` for 0xA and 0xB.
fn bcd_digits(bytes: &[u8]) -> String {
    let mut out = String::new();
    for nibble in bytes.iter().flat_map(|b| [b & 0x0f, b >> 4]) {
        match nibble {
            0..=9 => out.push(char::from(b'0' + nibble)),
            0x0a => out.push('*'),
            0x0b => out.push('#'),
            0x0f => break,
            _ => {}
        }
    }
    out
}

/// An ISUP-format party number (Q.763 3.9, 3.10): the odd/even indicator and nature
/// of address, the numbering plan, then the address signals; an even count's last
/// half-byte is filler.
fn isup_number(v: &[u8]) -> Option<String> {
    let digits = v.get(2..).filter(|d| !d.is_empty())?;
    let mut number = bcd_digits(digits);
    if v[0] & 0x80 != 0 && number.len() == 2 * digits.len() {
        number.pop();
    }
    (!number.is_empty()).then_some(number)
}

/// An InitialDP's (or InitialDPSMS's, InitialDPGPRS's) arguments: the called and
/// calling party numbers ([2], [3]) and the IMSI ([50]).
fn initial_dp(mut args: &[u8], rec: &mut SessionRecord) {
    while !args.is_empty() {
        // [50] takes the long tag form (0x9F 0x32), which the DER reader leaves out.
        let (tag, value, rest) = if args.starts_with(&[0x9f, 0x32]) {
            let Some((_, value, rest)) = tlv(&args[1..]) else { return };
            (0x9f32u16, value, rest)
        } else {
            let Some((tag, value, rest)) = tlv(args) else { return };
            (u16::from(tag), value, rest)
        };
        args = rest;
        match tag {
            0x82 => {
                if let Some(n) = isup_number(value) {
                    put_text(rec, text_field!("camel.called"), &n);
                }
            }
            0x83 => {
                if let Some(n) = isup_number(value) {
                    put_text(rec, text_field!("camel.calling"), &n);
                }
            }
            0x9f32 if (3..=8).contains(&value.len()) => {
                let imsi = bcd_digits(value);
                if !imsi.is_empty() {
                    put_text(rec, text_field!("camel.imsi"), &imsi);
                }
            }
            _ => {}
        }
    }
}

/// CAP components: an Invoke's operation code (after its invoke id and any linked
/// id) and a ReturnResultLast's (in its result); an InitialDP's arguments.
fn camel_components(mut components: &[u8], rec: &mut SessionRecord) {
    let mut found = false;
    while let Some((tag, contents, rest)) = tlv(components) {
        components = rest;
        let (code, argument) = match tag {
            0xa1 => {
                let mut fields = std::iter::from_fn({
                    let mut c = contents;
                    move || {
                        let (t, v, r) = tlv(c)?;
                        c = r;
                        Some((t, v))
                    }
                })
                .skip(1)
                .skip_while(|(t, _)| *t == 0x80);
                let Some((0x02, code)) = fields.next() else { continue };
                (small_integer(code), fields.next().filter(|(t, _)| *t == 0x30).map(|(_, v)| v))
            }
            0xa2 => {
                let result = tlv(contents).and_then(|(_, _, rest)| tlv(rest)).filter(|(t, _, _)| *t == 0x30);
                let code = result.and_then(|(_, r, _)| tlv(r)).filter(|(t, _, _)| *t == 0x02);
                (code.and_then(|(_, v, _)| small_integer(v)), None)
            }
            _ => continue,
        };
        let Some(code) = code else { continue };
        found = true;
        put_int(rec, int_field!("tcap.opcode"), code);
        if let Some(name) = camel_operation(code) {
            put_text(rec, text_field!("camel.op"), name);
        }
        if let (0 | 70 | 80, Some(args)) = (code, argument) {
            initial_dp(args, rec);
        }
    }
    if found {
        add_protocol(rec, &CAMEL);
    }
}

/// MTP3 user data by its service indicator.
fn mtp3_user(si: u8, data: &[u8], rec: &mut SessionRecord) {
    put_int(rec, int_field!("m3ua.si"), i64::from(si));
    match si {
        3 => {
            let Some(t) = sccp_unitdata(data, rec).filter(|t| t.len() >= 2) else { return };
            add_protocol(rec, &SCCP);
            if let Some(Tcap { context: Some(context), components: Some(components) }) = tcap(t) {
                if CAMEL_CONTEXTS.contains(&context) {
                    camel_components(components, rec);
                }
            }
        }
        4 => add_protocol(rec, &TUP),
        5 => add_protocol(rec, &ISUP),
        _ => {}
    }
}

/// User messages read per session: the transfers of a signalling link repeat.
const MAX_MESSAGES: u32 = 256;

#[derive(Default)]
pub struct Sigtran {
    messages: u32,
    fragments: [Fragments; 2],
}

/// One user message of the adaptation layers.
fn user_message(ppid: u32, m: &[u8], rec: &mut SessionRecord) {
    if !adaptation_message(m) {
        return;
    }
    let transfer = match ppid {
        PPID_M3UA => m3ua_transfer(m),
        PPID_M2UA => m2ua_data(m),
        _ => None,
    };
    if let Some((si, user)) = transfer {
        mtp3_user(si, user, rec);
    }
}

impl Dissector for Sigtran {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        for chunk in data_chunks(data) {
            if self.messages >= MAX_MESSAGES {
                return;
            }
            if let Some((ppid, m)) = self.fragments[side as usize].message(chunk) {
                self.messages += 1;
                user_message(ppid, &m, rec);
            }
        }
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::{ints, texts};

    /// A DATA chunk (B and E set) of payload protocol `ppid` around `m`, padded.
    fn chunk(ppid: u32, m: &[u8]) -> Vec<u8> {
        let mut c = vec![0, 0x03];
        c.extend(((16 + m.len()) as u16).to_be_bytes());
        c.extend([0, 0, 0, 1, 0, 0, 0, 0]);
        c.extend(ppid.to_be_bytes());
        c.extend(m);
        c.resize(c.len().next_multiple_of(4), 0);
        c
    }

    /// An adaptation message of `class` and `kind` with one parameter.
    fn message(class: u8, kind: u8, tag: u16, value: &[u8]) -> Vec<u8> {
        let mut p = tag.to_be_bytes().to_vec();
        p.extend(((4 + value.len()) as u16).to_be_bytes());
        p.extend(value);
        p.resize(p.len().next_multiple_of(4), 0);
        let mut m = vec![1, 0, class, kind];
        m.extend(((8 + p.len()) as u32).to_be_bytes());
        m.extend(p);
        m
    }

    /// SCCP unitdata from point code 20 to 100 carrying `data`.
    fn unitdata(data: &[u8]) -> Vec<u8> {
        let called = [0x43, 100, 0, 0x06];
        let calling = [0x43, 20, 0, 0x06];
        let mut u = vec![0x09, 0x80, 3, 3 + called.len() as u8, 3 + (called.len() + calling.len()) as u8];
        u.push(called.len() as u8);
        u.extend(called);
        u.push(calling.len() as u8);
        u.extend(calling);
        u.push(data.len() as u8);
        u.extend(data);
        u
    }

    /// A DER element.
    fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut e = vec![tag, contents.len() as u8];
        e.extend(contents);
        e
    }

    /// A TCAP Begin whose dialogue names CAP phase 2 and whose Invoke is an InitialDP
    /// calling from 674523010 (ISUP format, odd) to 1234 (even), IMSI 208101234567890.
    fn initial_dp_begin() -> Vec<u8> {
        let context = der(0x06, CAMEL_CONTEXTS[1]);
        let dialogue = der(0x6b, &der(0x28, &der(0xa0, &der(0x60, &der(0xa1, &context)))));
        let mut args = der(0x80, &[1]);
        args.extend(der(0x82, &[0x03, 0x10, 0x21, 0x43]));
        args.extend(der(0x83, &[0x91, 0x13, 0x76, 0x54, 0x32, 0x10, 0xf0]));
        args.extend([0x9f, 0x32, 8, 0x02, 0x18, 0x10, 0x32, 0x54, 0x76, 0x98, 0xf0]);
        let mut invoke = der(0x02, &[0]);
        invoke.extend(der(0x02, &[0]));
        invoke.extend(der(0x30, &args));
        let components = der(0x6c, &der(0xa1, &invoke));
        let mut begin = der(0x48, &[1, 2, 3, 4]);
        begin.extend(dialogue);
        begin.extend(components);
        der(0x62, &begin)
    }

    #[test]
    fn probes_the_first_user_message_of_its_payload_protocol() {
        let transfer = message(1, 1, 0x0210, &[0; 12]);
        assert_eq!(probe_m3ua(Side::Client, &chunk(3, &transfer)), Probe::Match);
        assert_eq!(probe_m2ua(Side::Client, &chunk(3, &transfer)), Probe::NoMatch);
        // ASP Up (management) is M3UA's too.
        assert_eq!(probe_m3ua(Side::Client, &chunk(3, &[1, 0, 3, 1, 0, 0, 0, 8])), Probe::Match);
        // An INIT chunk: no user message yet.
        assert_eq!(
            probe_m3ua(Side::Client, &[1, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Probe::NeedMore
        );
        let mut bad = transfer.clone();
        bad[7] += 4;
        assert_eq!(probe_m3ua(Side::Client, &chunk(3, &bad)), Probe::NoMatch);
        assert_eq!(probe_m3ua(Side::Client, &chunk(46, b"\x01\x00\x01\x01")), Probe::NoMatch);
    }

    #[test]
    fn m3ua_sccp_tcap_and_camel() {
        let mut rec = SessionRecord::default();
        let mut s = Sigtran::default();
        let mut protocol_data = vec![0, 0, 0, 20, 0, 0, 0, 100, 3, 2, 0, 1];
        protocol_data.extend(unitdata(&initial_dp_begin()));
        s.feed(Side::Client, &chunk(3, &message(1, 1, 0x0210, &protocol_data)), &mut rec);
        let mut isup = vec![0, 0, 0, 20, 0, 0, 0, 100, 5, 2, 0, 1];
        isup.extend([1, 2, 3]);
        s.feed(Side::Server, &chunk(3, &message(1, 1, 0x0210, &isup)), &mut rec);
        assert_eq!(rec.protocols, ["sccp", "camel", "isup"]);
        assert_eq!(ints(&rec, "m3ua.si"), [3, 5]);
        assert_eq!((ints(&rec, "sccp.src"), ints(&rec, "sccp.dst")), (vec![20], vec![100]));
        assert_eq!(ints(&rec, "tcap.opcode"), [0]);
        assert_eq!(texts(&rec, "camel.op"), ["initialDP"]);
        assert_eq!(texts(&rec, "camel.calling"), ["674523010"]);
        assert_eq!(texts(&rec, "camel.called"), ["1234"]);
        assert_eq!(texts(&rec, "camel.imsi"), ["208101234567890"]);
    }

    #[test]
    fn m2ua_carries_mtp3_with_its_routing_label() {
        let mut rec = SessionRecord::default();
        let mut s = Sigtran::default();
        // SIO (national, SCCP), then a four-byte routing label.
        let mut mtp3 = vec![0x83, 0x64, 0x00, 0x05, 0x00];
        mtp3.extend(unitdata(&initial_dp_begin()));
        s.feed(Side::Client, &chunk(2, &message(6, 1, 0x0300, &mtp3)), &mut rec);
        assert_eq!(ints(&rec, "m3ua.si"), [3]);
        assert_eq!(texts(&rec, "camel.op"), ["initialDP"]);
    }

    use crate::kit::sctp::{BEGINNING, ENDING};

    /// A DATA chunk with `flags` (B, E) around a fragment.
    fn fragment(flags: u8, ppid: u32, m: &[u8]) -> Vec<u8> {
        let mut c = chunk(ppid, m);
        c[1] = flags;
        c
    }

    #[test]
    fn fragments_drafts_parameter_and_protocol_data_2() {
        let mut rec = SessionRecord::default();
        let mut s = Sigtran::default();
        // A transfer in two fragments, the drafts' Protocol Data (an MTP3 message).
        let mut mtp3 = vec![0x83, 0x64, 0x00, 0x05, 0x00];
        mtp3.extend(unitdata(&initial_dp_begin()));
        let m = message(1, 1, 0x0002, &mtp3);
        s.feed(Side::Client, &fragment(BEGINNING, 3, &m[..40]), &mut rec);
        assert!(texts(&rec, "camel.op").is_empty());
        s.feed(Side::Client, &fragment(ENDING, 3, &m[40..]), &mut rec);
        assert_eq!(texts(&rec, "camel.op"), ["initialDP"]);
        // A last fragment without its first is nothing.
        s.feed(Side::Client, &fragment(ENDING, 3, &m[40..]), &mut rec);
        assert_eq!(ints(&rec, "m3ua.si"), [3]);
        // M2UA's Protocol Data 2: a length indicator, then the MTP3 message (ISUP).
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, &chunk(2, &message(6, 1, 0x0301, &[0x3f, 0x85, 1, 2, 3, 4, 9])), &mut rec);
        assert_eq!(ints(&rec, "m3ua.si"), [5]);
        assert_eq!(rec.protocols, ["isup"]);
    }

    #[test]
    fn cut_and_absurd_messages_give_what_they_hold() {
        let mut rec = SessionRecord::default();
        let mut s = Sigtran::default();
        let mut protocol_data = vec![0, 0, 0, 20, 0, 0, 0, 100, 3, 2, 0, 1];
        protocol_data.extend(unitdata(&initial_dp_begin()));
        let whole = chunk(3, &message(1, 1, 0x0210, &protocol_data));
        for cut in [3, 17, 30, 60, whole.len() - 9] {
            s.feed(Side::Client, &whole[..cut], &mut rec);
        }
        // A chunk claiming more than the packet holds, and one shorter than its header.
        s.feed(Side::Client, &[0, 3, 0xff, 0xff, 1, 2, 3], &mut rec);
        s.feed(Side::Client, &[0, 3, 0, 2], &mut rec);
        assert!(ints(&rec, "m3ua.si").is_empty());
        assert_eq!(isup_number(&[0x80, 0x10]), None);
        assert_eq!(bcd_digits(&[0x21, 0xba, 0xfc]), "12*#");
    }
}
