//! IEEE C37.118 synchrophasor frames (TCP and UDP, ports 4712/4713): a sync byte
//! 0xAA with the frame type and version, a frame size that counts the whole frame,
//! the PMU's id code, a time stamp, and a CRC-CCITT over everything before it. A
//! frame whose check value matches decides. Read as Arkime files it
//! (`synchrophasor.*`): every frame's type and id code, a command's code, and a
//! configuration's (CFG-1, CFG-2, CFG-3) PMU count, station names and data rate.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{be16, put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "c37118",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[4712, 4713],
    probe,
    new: || Box::<Synchrophasor>::default(),
    later: None,
};

const SYNC: u8 = 0xaa;
/// Sync, size, id code, SOC, FRACSEC, CRC.
const MIN_FRAME: usize = 16;

/// CRC-CCITT (polynomial 0x1021, initial 0xFFFF), as the standard specifies.
fn crc_ccitt(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(&sync) = d.first() else { return Probe::NeedMore };
    if sync != SYNC {
        return Probe::NoMatch;
    }
    let Some(h) = d.get(..4) else { return Probe::NeedMore };
    // Frame types 0 to 5, versions 1 to 3.
    let (kind, version) = ((h[1] >> 4) & 0x7, h[1] & 0x0f);
    let size = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if kind > 5 || !(1..=3).contains(&version) || size < MIN_FRAME {
        return Probe::NoMatch;
    }
    let Some(frame) = d.get(..size) else { return Probe::NeedMore };
    let (body, crc) = frame.split_at(size - 2);
    Probe::from(crc_ccitt(body) == u16::from_be_bytes([crc[0], crc[1]]))
}

/// Frames read per session: the configuration and commands come first, then data
/// frames that only repeat the id code.
const MAX_FRAMES: u32 = 64;
/// PMUs of one configuration read for their station names.
const MAX_PMUS: usize = 64;
/// Frame type names, as Arkime writes them.
const FRAME_TYPES: [&str; 6] = ["data", "header", "cfg1", "cfg2", "command", "cfg3"];

fn frame(d: &[u8]) -> Length {
    match d.get(..4) {
        None => Length::NeedMore,
        Some(h) if h[0] != SYNC => Length::Bad,
        Some(h) => match usize::from(u16::from_be_bytes([h[2], h[3]])) {
            n if n < MIN_FRAME => Length::Bad,
            n => Length::Is(n),
        },
    }
}

/// A station name as the frame holds it, padded with spaces or NULs.
fn put_station(rec: &mut SessionRecord, name: &[u8]) {
    let name = String::from_utf8_lossy(name);
    let name = name.trim_end_matches([' ', '\0']);
    if !name.is_empty() {
        put_text(rec, text_field!("synchrophasor.station"), name);
    }
}

/// A configuration's data rate, which stands just before the check value.
fn put_data_rate(f: &[u8], rec: &mut SessionRecord) -> Option<()> {
    let rate = f.get(f.len() - 4..f.len() - 2)?;
    put_int(rec, int_field!("synchrophasor.dataRate"), i64::from(i16::from_be_bytes([rate[0], rate[1]])));
    Some(())
}

/// A CFG-1 or CFG-2 frame's PMUs (station name, id code, format, channel counts,
/// their names and units, nominal frequency, change count) and its data rate.
fn configuration(f: &[u8], rec: &mut SessionRecord) -> Option<()> {
    let pmus = be16(f, 18)?;
    put_int(rec, int_field!("synchrophasor.numPMU"), i64::from(pmus));
    let mut at = 20;
    for _ in 0..usize::from(pmus).min(MAX_PMUS) {
        put_station(rec, f.get(at..at + 16)?);
        let (phasors, analogs, digitals) = (be16(f, at + 20)?, be16(f, at + 22)?, be16(f, at + 24)?);
        let (phasors, analogs, digitals) = (usize::from(phasors), usize::from(analogs), usize::from(digitals));
        // Names: 16 bytes a channel, 16 a digital status word's bits; units: 4 each.
        let names = 16 * (phasors + analogs + 16 * digitals);
        let units = 4 * (phasors + analogs + digitals);
        at += 26 + names + units + 4;
    }
    put_data_rate(f, rec)
}

/// A CFG-3 frame (C37.118.2-2011 6.4): after a continuation index and the time
/// base, its PMUs with names of their own length (station, then every channel's),
/// scales, position, service class and window, nominal frequency and change count;
/// the data rate before the check value.
fn configuration_3(f: &[u8], rec: &mut SessionRecord) -> Option<()> {
    let pmus = be16(f, 20)?;
    put_int(rec, int_field!("synchrophasor.numPMU"), i64::from(pmus));
    // A name: its length, then its bytes.
    let name_at = |at: usize| -> Option<(&[u8], usize)> {
        let n = usize::from(*f.get(at)?);
        Some((f.get(at + 1..at + 1 + n)?, at + 1 + n))
    };
    let mut at = 22;
    for _ in 0..usize::from(pmus).min(MAX_PMUS) {
        let (station, next) = name_at(at)?;
        put_station(rec, station);
        // Id code, global PMU id, format; then the channel counts.
        at = next + 2 + 16 + 2;
        let (phasors, analogs, digitals) = (be16(f, at)?, be16(f, at + 2)?, be16(f, at + 4)?);
        let (phasors, analogs, digitals) = (usize::from(phasors), usize::from(analogs), usize::from(digitals));
        at += 6;
        // Each name takes a byte at least: the frame's length bounds this walk.
        for _ in 0..phasors + analogs + 16 * digitals {
            at = name_at(at)?.1;
        }
        // Phasor scales (12 bytes), analog scales (8), digital masks (4); latitude,
        // longitude, elevation, service class, window, group delay, nominal frequency,
        // change count.
        at += 12 * phasors + 8 * analogs + 4 * digitals + 4 + 4 + 4 + 1 + 4 + 4 + 2 + 2;
    }
    put_data_rate(f, rec)
}

#[derive(Default)]
pub struct Synchrophasor {
    streams: Streams,
    frames: u32,
}

impl Dissector for Synchrophasor {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let frames = &mut self.frames;
        self.streams.push(side, data, usize::from(u16::MAX), frame, |f, cut| {
            if cut || *frames >= MAX_FRAMES || f.len() < MIN_FRAME {
                return;
            }
            *frames += 1;
            let kind = usize::from((f[1] >> 4) & 0x7);
            let Some(name) = FRAME_TYPES.get(kind) else { return };
            put_text(rec, text_field!("synchrophasor.frameType"), name);
            if let Some(id) = be16(f, 4) {
                put_int(rec, int_field!("synchrophasor.idcode"), i64::from(id));
            }
            match kind {
                4 => {
                    if let Some(cmd) = be16(f, 14) {
                        put_int(rec, int_field!("synchrophasor.cmd"), i64::from(cmd));
                    }
                }
                2 | 3 => {
                    let _ = configuration(f, rec);
                }
                5 => {
                    let _ = configuration_3(f, rec);
                }
                _ => {}
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
    use crate::kit::unhex;

    #[test]
    fn command_frames_with_their_check() {
        // `ieee_c37118.pcap`: a command to turn data on (TCP) and one over UDP.
        let on = unhex("aa41001200f100000000000000000005d7d0");
        assert_eq!(probe(Side::Client, &on), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("aa410012003c4899909a00342ed50001560b")), Probe::Match);
        assert_eq!(probe(Side::Client, &on[..10]), Probe::NeedMore);
        let mut corrupt = on.clone();
        corrupt[9] ^= 1;
        assert_eq!(probe(Side::Client, &corrupt), Probe::NoMatch);
    }

    /// Arkime's synthetic capture: a command (turn data on) to PMU 42, then PMU 43's
    /// CFG-2 (station `TESTPMU`, one phasor, 30 frames a second).
    #[test]
    fn commands_and_configurations() {
        use tyto_schema::Values;
        let mut rec = SessionRecord::default();
        let mut d = Synchrophasor::default();
        d.feed(Side::Client, &unhex("aa410012002a67940130000000000001ec72"), &mut rec);
        let cfg = unhex(
            "aa32004a002b6794013000000000000f4240000154455354504d55202020202020202020002b000f\
             000100000000564120202020202020202020202020200000000000000001001eb11c",
        );
        d.feed(Side::Server, &cfg, &mut rec);
        assert_eq!(rec.extra.texts("synchrophasor.frameType"), ["command", "cfg2"]);
        assert_eq!(rec.extra.get("synchrophasor.idcode"), Some(&Values::Int(vec![42, 43])));
        assert_eq!(rec.extra.get("synchrophasor.cmd"), Some(&Values::Int(vec![1])));
        assert_eq!(rec.extra.texts("synchrophasor.station"), ["TESTPMU"]);
        assert_eq!(rec.extra.get("synchrophasor.numPMU"), Some(&Values::Int(vec![1])));
        assert_eq!(rec.extra.get("synchrophasor.dataRate"), Some(&Values::Int(vec![30])));
        // A CFG-3 (Arkime's `synchrophasor_synthetic.pcap`): two PMUs, names of their
        // own length.
        let mut rec3 = SessionRecord::default();
        let cfg3 = unhex(
            "aa5200f400076553f100000000000000000f4240000209504d552d414c50484100010000000000000000000000000000\
             000000000001000100010350483003414e30034430300344303103443032034430330344303403443035034430360344\
             303703443038034430390344313003443131034431320344313303443134034431350000000000000000000000000000\
             000000000000000000000000000000000000000000004d00000000000000000000000109504d552d425241564f000100\
             00000000000000000000000000000000000000000000000000000000000000000000004d000000000000000000000001\
             001e0a0a",
        );
        Synchrophasor::default().feed(Side::Server, &cfg3, &mut rec3);
        assert_eq!(rec3.extra.texts("synchrophasor.frameType"), ["cfg3"]);
        assert_eq!(rec3.extra.texts("synchrophasor.station"), ["PMU-ALPHA", "PMU-BRAVO"]);
        assert_eq!(rec3.extra.get("synchrophasor.numPMU"), Some(&Values::Int(vec![2])));
        assert_eq!(rec3.extra.get("synchrophasor.dataRate"), Some(&Values::Int(vec![30])));
        // A configuration that claims more PMUs than it holds is read as far as it goes.
        let mut rec = SessionRecord::default();
        let mut short = cfg.clone();
        short[19] = 200;
        Synchrophasor::default().feed(Side::Server, &short, &mut rec);
        assert_eq!(rec.extra.get("synchrophasor.numPMU"), Some(&Values::Int(vec![200])));
    }
}
