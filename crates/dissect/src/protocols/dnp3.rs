//! DNP3 (IEEE 1815) over TCP and UDP: link-layer source and destination addresses
//! and the application function code of each first fragment, by number and name.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "dnp3",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[20000],
    probe,
    new: || Box::<Dnp3>::default(),
    later: None,
};

const MAX_FRAMES: u32 = 1024;
/// A link frame: 10 header bytes (CRC included), then up to 250 data bytes in
/// blocks of 16, each with its own CRC.
const MAX_FRAME: usize = 10 + 250 + 2 * 16;

const FUNCTIONS: [&str; 34] = [
    "Confirm",
    "Read",
    "Write",
    "Select",
    "Operate",
    "DirectOperate",
    "DirectOperateNoAck",
    "ImmediateFreeze",
    "ImmediateFreezeNoAck",
    "FreezeClear",
    "FreezeClearNoAck",
    "FreezeAtTime",
    "FreezeAtTimeNoAck",
    "ColdRestart",
    "WarmRestart",
    "InitializeData",
    "InitializeApplication",
    "StartApplication",
    "StopApplication",
    "SaveConfiguration",
    "EnableUnsolicited",
    "DisableUnsolicited",
    "AssignClass",
    "DelayMeasure",
    "RecordCurrentTime",
    "OpenFile",
    "CloseFile",
    "DeleteFile",
    "GetFileInfo",
    "AuthenticateFile",
    "AbortFile",
    "ActivateConfig",
    "AuthenticateReq",
    "AuthErr",
];

fn function_name(code: u8) -> Option<&'static str> {
    match code {
        129 => Some("Response"),
        130 => Some("UnsolicitedResponse"),
        131 => Some("AuthenticateResp"),
        c => FUNCTIONS.get(usize::from(c)).copied(),
    }
}

/// Start bytes 0x05 0x64, then a length counting control, addresses and data.
fn frame(b: &[u8]) -> Length {
    match b.get(..3) {
        None if b.first().is_none_or(|v| *v == 0x05) && b.get(1).is_none_or(|v| *v == 0x64) => Length::NeedMore,
        Some([0x05, 0x64, len]) if *len >= 5 => {
            let data = usize::from(*len) - 5;
            Length::Is(10 + data + 2 * data.div_ceil(16))
        }
        _ => Length::Bad,
    }
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match frame(data) {
        Length::NeedMore => Probe::NeedMore,
        Length::Bad => Probe::NoMatch,
        // The header's CRC is not checked; the frame must end where a segment or
        // datagram does, which a stray 0x05 0x64 seldom does.
        Length::Is(n) if data.len() < n => Probe::NeedMore,
        Length::Is(n) => Probe::from(data.len() == n || !matches!(frame(&data[n..]), Length::Bad)),
    }
}

#[derive(Default)]
pub struct Dnp3 {
    streams: Streams,
    frames: u32,
}

impl Dissector for Dnp3 {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let frames = &mut self.frames;
        self.streams.push(side, data, MAX_FRAME, frame, |f, _| {
            if *frames >= MAX_FRAMES || f.len() < 10 {
                return;
            }
            *frames += 1;
            put_int(rec, int_field!("dnp3.dst"), i64::from(u16::from_le_bytes([f[4], f[5]])));
            put_int(rec, int_field!("dnp3.src"), i64::from(u16::from_le_bytes([f[6], f[7]])));
            // First fragment (transport FIR bit): application control, then the function.
            if let (Some(transport), Some(&code)) = (f.get(10), f.get(12)) {
                if transport & 0x40 != 0 {
                    put_int(rec, int_field!("dnp3.func"), i64::from(code));
                    if let Some(name) = function_name(code) {
                        put_text(rec, text_field!("dnp3.funcName"), name);
                    }
                }
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.frames < MAX_FRAMES && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn frame_of(dst: u16, src: u16, user: &[u8]) -> Vec<u8> {
        let mut f = vec![0x05, 0x64, (5 + user.len()) as u8, 0xc4];
        f.extend_from_slice(&dst.to_le_bytes());
        f.extend_from_slice(&src.to_le_bytes());
        f.extend_from_slice(&[0, 0]);
        for block in user.chunks(16) {
            f.extend_from_slice(block);
            f.extend_from_slice(&[0, 0]);
        }
        f
    }

    #[test]
    fn addresses_and_functions() {
        let read = frame_of(10, 1, &[0xc0, 0xc1, 1, 60, 2, 6, 60, 3, 6, 60, 4, 6, 60, 1, 6, 0, 0, 0]);
        let answer = frame_of(1, 10, &[0xc0, 0xc1, 129, 0, 0]);
        assert_eq!(probe(Side::Client, &read), Probe::Match);
        assert_eq!(probe(Side::Client, &read[..2]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x05\x64\x20\x00GET /"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut d = Dnp3::default();
        for c in read.chunks(7) {
            d.feed(Side::Client, c, &mut rec);
        }
        d.feed(Side::Server, &answer, &mut rec);
        assert_eq!(rec.extra.get("dnp3.func"), Some(&Values::Int(vec![1, 129])));
        assert_eq!(rec.extra.get("dnp3.funcName"), Some(&Values::Text(vec!["Read".into(), "Response".into()])));
        assert_eq!(rec.extra.get("dnp3.src"), Some(&Values::Int(vec![1, 10])));
    }
}
