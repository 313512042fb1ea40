//! NFS (and its mount protocol) over ONC RPC, on UDP or TCP (where a record mark
//! comes first): a call with RPC version 2 to program 100003 (NFS), 100005 (mount)
//! or 100227 (NFS ACL), a known program version and credentials of a known flavour.
//! Only the protocol is recorded so far.

use crate::kit::{be32, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "nfs",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[2049],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// An RPC call to an NFS program: `None` when too short to tell.
fn call(b: &[u8]) -> Option<bool> {
    let (kind, rpc, program, version, flavour) = (be32(b, 4)?, be32(b, 8)?, be32(b, 12)?, be32(b, 16)?, be32(b, 24)?);
    let known = match program {
        100003 => (2..=4).contains(&version),
        100005 => (1..=3).contains(&version),
        100227 => (2..=3).contains(&version),
        _ => false,
    };
    // AUTH_NONE, AUTH_SYS, AUTH_SHORT, AUTH_DH, RPCSEC_GSS.
    Some(kind == 0 && rpc == 2 && known && matches!(flavour, 0..=3 | 6))
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    // Over TCP, a record mark: the last-fragment bit and the fragment's length.
    if let Some(mark) = be32(data, 0) {
        if mark & 0x8000_0000 != 0 && (28..=1 << 20).contains(&(mark & 0x7fff_ffff)) {
            return match call(&data[4..]) {
                Some(ok) => Probe::from(ok),
                None => Probe::NeedMore,
            };
        }
    }
    match call(data) {
        Some(ok) => Probe::from(ok),
        None if data.len() < 4 => Probe::NeedMore,
        None => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_over_udp_and_tcp() {
        let mut c = vec![0x12, 0x34, 0x56, 0x78];
        for v in [0u32, 2, 100003, 3, 1, 1, 20] {
            c.extend_from_slice(&v.to_be_bytes());
        }
        c.extend_from_slice(&[0; 20]);
        assert_eq!(probe(Side::Client, &c), Probe::Match);
        let mut tcp = (0x8000_0000u32 | c.len() as u32).to_be_bytes().to_vec();
        tcp.extend_from_slice(&c);
        assert_eq!(probe(Side::Client, &tcp), Probe::Match);
        assert_eq!(probe(Side::Client, &tcp[..12]), Probe::NeedMore);
        c[15] = 0x10;
        assert_eq!(probe(Side::Client, &c), Probe::NoMatch);
    }
}
