//! SSDP (UPnP discovery) over UDP: HTTP-formatted `M-SEARCH` and `NOTIFY` requests to
//! `*` and their answers. Only the protocol is recorded so far.

use crate::kit::lines::starts_with_ci;
use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ssdp",
    transports: &[Transport::Udp],
    ports: &[1900],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let request = starts_with_ci(data, b"M-SEARCH * HTTP/1.1") || starts_with_ci(data, b"NOTIFY * HTTP/1.1");
    // Answers to an M-SEARCH are plain HTTP responses over UDP.
    let answer = side == Side::Server && starts_with_ci(data, b"HTTP/1.1 200 OK") && {
        let head = String::from_utf8_lossy(&data[..data.len().min(1024)]).to_ascii_lowercase();
        head.contains("\nst:") || head.contains("\nusn:")
    };
    Probe::from(request || answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_notify_answer() {
        assert_eq!(probe(Side::Client, b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"NOTIFY * HTTP/1.1\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), Probe::NoMatch);
    }
}
