//! IEC 60870-5-104 (telecontrol over TCP 2404): every APDU starts with 0x68 and a
//! length, then four control bytes that make it an I-frame (numbered, carrying an
//! ASDU), an S-frame (acknowledgement) or a U-frame (STARTDT, STOPDT, TESTFR). Per
//! ASDU: the type identification (by number and IEC name), the cause of
//! transmission and the common address of the station. Arkime has no such fields:
//! the names are ours, in Arkime's style.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "iec104",
    transports: &[Transport::Tcp],
    ports: &[2404],
    probe,
    new: || Box::<Iec104>::default(),
    later: None,
};

const START: u8 = 0x68;
/// The length byte counts the control field and the ASDU: at most 253.
const MAX_APDU: usize = 2 + 253;
const MAX_APDUS: u32 = 4096;
/// APDUs a probe checks in a row (a segment often holds several).
const PROBE_APDUS: usize = 4;

fn apdu(b: &[u8]) -> Length {
    match b.get(..2) {
        None if b.first().is_none_or(|s| *s == START) => Length::NeedMore,
        Some(&[START, len]) if (4..=253).contains(&len) => Length::Is(2 + usize::from(len)),
        _ => Length::Bad,
    }
}

/// U-frame functions: one bit of the first control byte each.
fn u_function(c: u8) -> Option<&'static str> {
    Some(match c {
        0x07 => "STARTDT act",
        0x0b => "STARTDT con",
        0x13 => "STOPDT act",
        0x23 => "STOPDT con",
        0x43 => "TESTFR act",
        0x83 => "TESTFR con",
        _ => return None,
    })
}

/// Type identifications of IEC 60870-5-101/104 (companion standard names).
fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "M_SP_NA_1",
        2 => "M_SP_TA_1",
        3 => "M_DP_NA_1",
        4 => "M_DP_TA_1",
        5 => "M_ST_NA_1",
        6 => "M_ST_TA_1",
        7 => "M_BO_NA_1",
        8 => "M_BO_TA_1",
        9 => "M_ME_NA_1",
        10 => "M_ME_TA_1",
        11 => "M_ME_NB_1",
        12 => "M_ME_TB_1",
        13 => "M_ME_NC_1",
        14 => "M_ME_TC_1",
        15 => "M_IT_NA_1",
        16 => "M_IT_TA_1",
        17 => "M_EP_TA_1",
        18 => "M_EP_TB_1",
        19 => "M_EP_TC_1",
        20 => "M_PS_NA_1",
        21 => "M_ME_ND_1",
        30 => "M_SP_TB_1",
        31 => "M_DP_TB_1",
        32 => "M_ST_TB_1",
        33 => "M_BO_TB_1",
        34 => "M_ME_TD_1",
        35 => "M_ME_TE_1",
        36 => "M_ME_TF_1",
        37 => "M_IT_TB_1",
        38 => "M_EP_TD_1",
        39 => "M_EP_TE_1",
        40 => "M_EP_TF_1",
        45 => "C_SC_NA_1",
        46 => "C_DC_NA_1",
        47 => "C_RC_NA_1",
        48 => "C_SE_NA_1",
        49 => "C_SE_NB_1",
        50 => "C_SE_NC_1",
        51 => "C_BO_NA_1",
        58 => "C_SC_TA_1",
        59 => "C_DC_TA_1",
        60 => "C_RC_TA_1",
        61 => "C_SE_TA_1",
        62 => "C_SE_TB_1",
        63 => "C_SE_TC_1",
        64 => "C_BO_TA_1",
        70 => "M_EI_NA_1",
        100 => "C_IC_NA_1",
        101 => "C_CI_NA_1",
        102 => "C_RD_NA_1",
        103 => "C_CS_NA_1",
        104 => "C_TS_NA_1",
        105 => "C_RP_NA_1",
        106 => "C_CD_NA_1",
        107 => "C_TS_TA_1",
        110 => "P_ME_NA_1",
        111 => "P_ME_NB_1",
        112 => "P_ME_NC_1",
        113 => "P_AC_NA_1",
        120 => "F_FR_NA_1",
        121 => "F_SR_NA_1",
        122 => "F_SC_NA_1",
        123 => "F_LS_NA_1",
        124 => "F_AF_NA_1",
        125 => "F_SG_NA_1",
        126 => "F_DR_TA_1",
        127 => "F_SC_NB_1",
        _ => return None,
    })
}

/// Whether one whole APDU is well formed: a known U function alone, an S-frame
/// alone, or an I-frame with an ASDU of a known type.
fn valid(a: &[u8]) -> bool {
    let c = &a[2..6];
    match c[0] & 0x03 {
        0x03 => a.len() == 6 && u_function(c[0]).is_some() && c[1..] == [0, 0, 0],
        0x01 => a.len() == 6 && c[0] == 0x01 && c[1] == 0 && c[2] & 1 == 0,
        _ => c[2] & 1 == 0 && a.len() >= 6 + 6 && type_name(a[6]).is_some(),
    }
}

/// Either side, from the start of a connection or mid-way: the first APDUs in a row
/// must be well formed.
pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let mut at = 0;
    for _ in 0..PROBE_APDUS {
        let rest = &data[at..];
        if rest.is_empty() && at > 0 {
            return Probe::Match;
        }
        let n = match apdu(rest) {
            Length::NeedMore => return Probe::NeedMore,
            Length::Bad => return Probe::NoMatch,
            Length::Is(n) => n,
        };
        let Some(a) = rest.get(..n) else { return if at > 0 { Probe::Match } else { Probe::NeedMore } };
        if !valid(a) {
            return Probe::NoMatch;
        }
        at += n;
    }
    Probe::Match
}

fn read(a: &[u8], rec: &mut SessionRecord) {
    let c = a[2];
    if c & 0x03 == 0x03 {
        if let Some(f) = u_function(c) {
            put_text(rec, text_field!("iec104.apciType"), "U");
            put_text(rec, text_field!("iec104.uFunction"), f);
        }
        return;
    }
    if c & 0x03 == 0x01 {
        put_text(rec, text_field!("iec104.apciType"), "S");
        return;
    }
    put_text(rec, text_field!("iec104.apciType"), "I");
    // Type, variable structure qualifier, cause (6 bits, then test and negative
    // bits) and originator, common address (little-endian).
    let Some(asdu) = a.get(6..12) else { return };
    put_int(rec, int_field!("iec104.typeId"), i64::from(asdu[0]));
    if let Some(name) = type_name(asdu[0]) {
        put_text(rec, text_field!("iec104.typeName"), name);
    }
    put_int(rec, int_field!("iec104.cot"), i64::from(asdu[2] & 0x3f));
    put_int(rec, int_field!("iec104.commonAddress"), i64::from(u16::from_le_bytes([asdu[4], asdu[5]])));
}

#[derive(Default)]
pub struct Iec104 {
    streams: Streams,
    apdus: u32,
}

impl Dissector for Iec104 {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let apdus = &mut self.apdus;
        self.streams.push(side, data, MAX_APDU, apdu, |a, _| {
            if *apdus < MAX_APDUS && a.len() >= 6 {
                *apdus += 1;
                read(a, rec);
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.apdus < MAX_APDUS && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn u_s_and_i_frames() {
        let startdt = [0x68, 4, 0x07, 0, 0, 0];
        let s = [0x68, 4, 0x01, 0, 0x42, 0xb9];
        // Interrogation command (C_IC_NA_1), activation, common address 0x2914.
        let i = [0x68, 0x0e, 0, 0, 0, 0, 100, 1, 6, 0, 0x14, 0x29, 0, 0, 0, 0x14];
        assert_eq!(probe(Side::Client, &startdt), Probe::Match);
        assert_eq!(probe(Side::Server, &s), Probe::Match);
        assert_eq!(probe(Side::Client, &i), Probe::Match);
        assert_eq!(probe(Side::Client, &[0x68]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, &[0x68, 4, 0x05, 0, 0, 0]), Probe::NoMatch, "no such U function");
        assert_eq!(probe(Side::Client, &[0x68, 0x0e, 0, 0, 0, 0, 99, 1, 6, 0, 0, 0, 0, 0, 0, 0]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut d = Iec104::default();
        d.feed(Side::Client, &startdt, &mut rec);
        let mut both = i.to_vec();
        both.extend_from_slice(&s);
        for b in &both {
            d.feed(Side::Client, std::slice::from_ref(b), &mut rec);
        }
        assert_eq!(rec.extra.get("iec104.apciType"), Some(&Values::Text(vec!["U".into(), "I".into(), "S".into()])));
        assert_eq!(rec.extra.get("iec104.uFunction"), Some(&Values::Text(vec!["STARTDT act".into()])));
        assert_eq!(rec.extra.get("iec104.typeName"), Some(&Values::Text(vec!["C_IC_NA_1".into()])));
        assert_eq!(rec.extra.get("iec104.cot"), Some(&Values::Int(vec![6])));
        assert_eq!(rec.extra.get("iec104.commonAddress"), Some(&Values::Int(vec![0x2914])));
    }
}
