//! Siemens S7 communication over ISO-on-TCP (TPKT, RFC 1006, carrying COTP, ISO
//! 8073): S7comm (protocol id 0x32) and S7comm-plus (0x72, S7-1200/1500), each its
//! own protocol. The COTP connection request names S7's TSAPs (which tells it from
//! RDP, the other TPKT user); the first data TPDU says which of the two follows.
//! Per PDU: the ROSCTR (job, ack, ack-data, user data), PDU reference, error class
//! and code of acknowledgements, and function codes named as Wireshark and Arkime
//! name them; S7comm-plus opcodes. Field names as Arkime's.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{add_protocol, put_int, put_text};
use crate::protocols::rdp::tpkt;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "s7comm",
    transports: &[Transport::Tcp],
    ports: &[102],
    probe,
    new: || Box::<S7>::default(),
    later: None,
};

pub static PLUS: Protocol = Protocol {
    name: "s7comm-plus",
    transports: &[Transport::Tcp],
    ports: &[102],
    probe: probe_plus,
    new: || Box::<S7>::default(),
    later: None,
};

const S7COMM: u8 = 0x32;
const S7COMM_PLUS: u8 = 0x72;
/// COTP PDU types (high nibble): connection request, confirm, data.
const CR: u8 = 0xe;
const CC: u8 = 0xd;
const DT: u8 = 0xf;
/// A TPKT is at most 64 KiB; what is read of a PDU fits in its head.
const MAX_TPKT: usize = 4096;
const MAX_PDUS: u32 = 1024;
/// TPKTs a probe walks past (connection request and confirm) to the first data.
const PROBE_TPKTS: usize = 4;

/// The COTP PDU type and what follows the COTP header of one TPKT.
fn cotp(t: &[u8]) -> Option<(u8, &[u8])> {
    let len = usize::from(*t.get(4)?);
    let kind = *t.get(5)? >> 4;
    Some((kind, t.get(5 + len..)?))
}

/// A connection request or confirm whose parameters name TSAPs (0xc1, 0xc2): after
/// the type, references and class, a list of (code, length, value).
fn names_tsaps(t: &[u8]) -> bool {
    let end = (5 + usize::from(t[4])).min(t.len());
    let mut at = 11;
    while let Some(p) = t.get(at..end).filter(|p| p.len() >= 2) {
        if matches!(p[0], 0xc1 | 0xc2) {
            return true;
        }
        at += 2 + usize::from(p[1]);
    }
    false
}

/// Which S7 protocol the stream so far carries: `Some(id)` from the first data
/// TPDU, `None` when it is not S7 (or not yet known: `Err(())` when more is needed).
fn which(data: &[u8]) -> Result<Option<u8>, ()> {
    let mut at = 0;
    for _ in 0..PROBE_TPKTS {
        let rest = &data[at..];
        let n = match tpkt(rest) {
            Length::NeedMore => return Err(()),
            Length::Bad => return Ok(None),
            Length::Is(n) => n,
        };
        let Some(t) = rest.get(..n) else { return Err(()) };
        match cotp(t) {
            Some((CR | CC, _)) if names_tsaps(t) => {}
            Some((DT, s7)) => return Ok(s7.first().copied().filter(|id| matches!(*id, S7COMM | S7COMM_PLUS))),
            _ => return Ok(None),
        }
        at += n;
    }
    Ok(None)
}

fn probe_for(data: &[u8], id: u8) -> Probe {
    match which(data) {
        Err(()) => Probe::NeedMore,
        Ok(found) => Probe::from(found == Some(id)),
    }
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    probe_for(data, S7COMM)
}

pub fn probe_plus(_side: Side, data: &[u8]) -> Probe {
    probe_for(data, S7COMM_PLUS)
}

fn function_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x00 => "CPU services",
        0x04 => "Read Var",
        0x05 => "Write Var",
        0x1a => "Request download",
        0x1b => "Download block",
        0x1c => "Download ended",
        0x1d => "Start upload",
        0x1e => "Upload",
        0x1f => "End upload",
        0x28 => "PLC Control",
        0x29 => "PLC Stop",
        0xf0 => "Setup communication",
        _ => return None,
    })
}

/// User data (ROSCTR 7) names its function group in the low nibble of the
/// parameter's sixth byte.
fn group_name(group: u8) -> &'static str {
    match group {
        0x0 => "Mode transition",
        0x1 => "Programmer commands",
        0x2 => "Cyclic data",
        0x3 => "Block functions",
        0x4 => "CPU services",
        0x5 => "Security",
        0x6 => "PBC BSEND/BRECV",
        0x7 => "Time functions",
        0xf => "NC programming",
        _ => "Unknown group",
    }
}

/// One S7comm PDU: id, ROSCTR, redundancy id, PDU reference, parameter and data
/// lengths, error class and code for acknowledgements, then the parameters.
fn s7comm(p: &[u8], rec: &mut SessionRecord) {
    let Some(h) = p.get(..10) else { return };
    let rosctr = h[1];
    put_int(rec, int_field!("s7comm.rosctr"), i64::from(rosctr));
    put_int(rec, int_field!("s7comm.pduref"), i64::from(u16::from_be_bytes([h[4], h[5]])));
    let param_len = u16::from_be_bytes([h[6], h[7]]);
    let mut params = &p[10..];
    if matches!(rosctr, 2 | 3) {
        let Some(e) = p.get(10..12) else { return };
        for (field, v) in [(int_field!("s7comm.errorClass"), e[0]), (int_field!("s7comm.errorCode"), e[1])] {
            if v != 0 {
                put_int(rec, field, i64::from(v));
            }
        }
        params = &p[12..];
    }
    let Some(&code) = params.first().filter(|_| param_len > 0) else { return };
    // The first parameter byte: a job's function code; user data's parameter head.
    put_int(rec, int_field!("s7comm.func"), i64::from(code));
    let name = if rosctr == 7 { params.get(5).map(|g| group_name(g & 0x0f)) } else { function_name(code) };
    if let Some(name) = name {
        put_text(rec, text_field!("s7comm.funcName"), name);
    }
}

/// One S7comm-plus PDU: id, version, length, in version 3 an integrity digest (its
/// length first), then the opcode.
fn s7comm_plus(p: &[u8], rec: &mut SessionRecord) {
    let Some(&version) = p.get(1) else { return };
    let at = if version == 3 { p.get(4).map_or(p.len(), |d| 5 + usize::from(*d)) } else { 4 };
    if let Some(op) = p.get(at) {
        put_int(rec, int_field!("s7comm.opcode"), i64::from(*op));
    }
}

#[derive(Default)]
pub struct S7 {
    streams: Streams,
    pdus: u32,
}

impl Dissector for S7 {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let pdus = &mut self.pdus;
        self.streams.push(side, data, MAX_TPKT, tpkt, |t, _cut| {
            let Some((DT, pdu)) = cotp(t) else { return };
            if *pdus >= MAX_PDUS {
                return;
            }
            *pdus += 1;
            match pdu.first() {
                Some(&S7COMM) => {
                    add_protocol(rec, &PROTOCOL);
                    s7comm(pdu, rec);
                }
                Some(&S7COMM_PLUS) => {
                    add_protocol(rec, &PLUS);
                    s7comm_plus(pdu, rec);
                }
                _ => {}
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.pdus < MAX_PDUS && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn connection_then_jobs_and_user_data() {
        let cr = hex("0300001611e00000000400c0010ac1020100c2020102");
        let setup = hex("0300001902f08032010000000100080000f0000001000101e0");
        let mut stream = cr.clone();
        stream.extend_from_slice(&setup);
        assert_eq!(probe(Side::Client, &cr), Probe::NeedMore, "the data TPDU says which S7");
        assert_eq!(probe(Side::Client, &stream), Probe::Match);
        assert_eq!(probe_plus(Side::Client, &stream), Probe::NoMatch);
        // RDP's connection request names no TSAP.
        let rdp = hex("030000130ee000000000000100080003000000");
        assert_eq!(probe(Side::Client, &rdp), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut s = S7::default();
        s.feed(Side::Client, &stream, &mut rec);
        s.feed(Side::Server, &hex("0300001402f08032030000000300010000810428"), &mut rec);
        s.feed(Side::Client, &hex("0300001d02f0803207000000020008000400011204114401000a000000"), &mut rec);
        assert_eq!(rec.extra.get("s7comm.rosctr"), Some(&Values::Int(vec![1, 3, 7])));
        assert_eq!(rec.extra.get("s7comm.errorClass"), Some(&Values::Int(vec![0x81])));
        assert_eq!(rec.extra.get("s7comm.errorCode"), Some(&Values::Int(vec![4])));
        assert_eq!(rec.extra.get("s7comm.func"), Some(&Values::Int(vec![0xf0, 0x28, 0])));
        assert_eq!(
            rec.extra.get("s7comm.funcName"),
            Some(&Values::Text(vec!["Setup communication".into(), "PLC Control".into(), "CPU services".into()]))
        );
    }

    #[test]
    fn s7comm_plus_opcodes() {
        let mut stream = hex("0300001611e00000000300c0010ac1020100c2020100");
        stream.extend(hex("0300001502f0807203000a04aabbccdd3100000000"));
        assert_eq!(probe_plus(Side::Client, &stream), Probe::Match);
        assert_eq!(probe(Side::Client, &stream), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        S7::default().feed(Side::Client, &stream, &mut rec);
        assert_eq!(rec.extra.get("s7comm.opcode"), Some(&Values::Int(vec![0x31])));
        assert_eq!(rec.protocols, ["s7comm-plus"]);
    }
}
