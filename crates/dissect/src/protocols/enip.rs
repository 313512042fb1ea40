//! EtherNet/IP (ODVA, TCP and UDP port 44818): CIP carried in a 24-byte
//! encapsulation header — a little-endian command (List Services, List Identity,
//! Register Session, SendRRData, SendUnitData…), the length of the data that
//! follows, a session handle, a status, the sender's context and options (zero). The
//! probe wants a known command whose length frames the message exactly and zero
//! options. Only the protocol is recorded so far.

use crate::kit::{framed, le16, le32, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "enip",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[44818],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 24;
/// NOP, List Services, List Identity, List Interfaces, Register and Unregister
/// Session, SendRRData, SendUnitData, Indicate Status, Cancel.
const COMMANDS: [u16; 10] = [0x0000, 0x0004, 0x0063, 0x0064, 0x0065, 0x0066, 0x006f, 0x0070, 0x0072, 0x0073];

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(command) = le16(d, 0) else { return Probe::NeedMore };
    if !COMMANDS.contains(&command) {
        return Probe::NoMatch;
    }
    let (Some(len), Some(options)) = (le16(d, 2), le32(d, 20)) else { return Probe::NeedMore };
    if options != 0 || (command == 0 && len == 0) {
        return Probe::NoMatch;
    }
    // The next message must start right after this one.
    framed(d, HEADER + usize::from(len), |next| le16(next, 0).is_none_or(|c| COMMANDS.contains(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn send_rr_data() {
        // `ethernetIP.pcap`: SendRRData carrying a CIP request (82 bytes).
        let mut m = unhex("70003a0000010210000000001a392f000000000000000000000000000a000200a10004000913");
        assert_eq!(probe(Side::Client, &m), Probe::NeedMore);
        m.resize(82, 0);
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        let mut two = m.clone();
        two.extend_from_slice(&m[..10]);
        assert_eq!(probe(Side::Client, &two), Probe::Match);
        two[82] = 0x99;
        assert_eq!(probe(Side::Client, &two), Probe::NoMatch);
        let mut options = m.clone();
        options[20] = 1;
        assert_eq!(probe(Side::Client, &options), Probe::NoMatch);
    }
}
