//! Xiaomi's push and account service (MiPush, TCP port 5222): messages open with
//! `C2 FE 00 05`, then a big-endian length of what follows the 12-byte header; the
//! first ones name the `xiaomi.com` domain. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "xiaomi",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const MAGIC: [u8; 4] = [0xc2, 0xfe, 0x00, 0x05];
const HEADER: usize = 12;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    match crate::kit::starts_with(d, &MAGIC) {
        Probe::Match => {}
        other => return other,
    }
    let Some(h) = d.get(..HEADER) else { return Probe::NeedMore };
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    if len > 1 << 20 {
        return Probe::NoMatch;
    }
    crate::kit::once_whole(d, HEADER + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn framed_message() {
        // `xiaomi.pcap`: the server's 66-byte answer.
        let answer = unhex(
            "c2fe000500000036000200160000001808001a0a7869616f6d692e636f6d2a04434f4e4e48000a0a3834393935383533313112\
             000000000000000000000000000000",
        );
        assert_eq!(answer.len(), 66);
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        assert_eq!(probe(Side::Server, &answer[..40]), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &unhex("c2fe0006")), Probe::NoMatch);
    }
}
