//! H.323 call signalling: H.225.0 call setup (Q.931 messages in TPKT over TCP,
//! port 1720) and RAS (registration, admission and status over UDP, port 1719).
//! Both carry H.225.0's protocol identifier, the object identifier
//! 0.0.8.2250.0.<version>, whose BER/PER contents bytes `00 08 91 4A 00` are the
//! probe's proof: in the user-user element of a Q.931 message, or near the start of
//! a RAS message. Only the protocol is recorded so far.

use crate::kit::messages::Length;
use crate::kit::NameOnly;
use crate::protocols::rdp::tpkt;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "h323",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[1720, 1719],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// The H.225.0 object identifier's first bytes, after its length (6).
const H225_OID: [u8; 6] = [0x06, 0x00, 0x08, 0x91, 0x4a, 0x00];
/// Q.931's protocol discriminator.
const Q931: u8 = 0x08;
/// RAS messages name the identifier within their first bytes.
const RAS_OID_WITHIN: usize = 8;

fn has_oid(b: &[u8]) -> bool {
    b.windows(H225_OID.len()).any(|w| w == H225_OID)
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    match tpkt(d) {
        Length::Is(len) => {
            if d.len() < 5 {
                return Probe::NeedMore;
            }
            if d[4] != Q931 {
                return Probe::NoMatch;
            }
            let Some(message) = d.get(4..len) else { return Probe::NeedMore };
            // A call proceeding or connect may lack the user-user element.
            Probe::from(has_oid(message))
        }
        Length::NeedMore => Probe::NeedMore,
        // A RAS datagram.
        Length::Bad => Probe::from(d.len() >= 16 && has_oid(&d[..RAS_OID_WITHIN + H225_OID.len()])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn call_setup_and_ras() {
        // `h323.pcap`: a Setup in TPKT, a gatekeeper request and its confirm.
        let mut setup = unhex("030000a0080277f40504038090a528086d2e6a656d6563007e00850520a8060008914a0004014006");
        assert_eq!(probe(Side::Client, &setup), Probe::NeedMore);
        setup.resize(0xa0, 0);
        assert_eq!(probe(Side::Client, &setup), Probe::Match);
        let grq = unhex("02200000060008914a0004001102007c07f22200ae01003d0001030085c89a51208003014000");
        assert_eq!(probe(Side::Client, &grq), Probe::Match);
        let gcf = unhex("04800000060008914a00043e004f00700065006e0048003300320033");
        assert_eq!(probe(Side::Server, &gcf), Probe::Match);
        // An RDP connection request is TPKT too.
        let mut rdp = unhex("0300002a25e00000000000436f6f6b69653a206d737473686173683d");
        rdp.resize(0x2a, 0x41);
        assert_eq!(probe(Side::Client, &rdp), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &grq[6..]), Probe::NoMatch);
    }
}
