//! IEEE C37.118 synchrophasor frames (TCP and UDP, ports 4712/4713): a sync byte
//! 0xAA with the frame type and version, a frame size that counts the whole frame,
//! the PMU's id code, a time stamp, and a CRC-CCITT over everything before it. A
//! frame whose check value matches decides. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "c37118",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[4712, 4713],
    probe,
    new: || Box::new(NameOnly),
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
}
