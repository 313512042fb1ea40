//! RTSP (RFC 2326, 7826): requests whose first line ends in `RTSP/1.0` or `RTSP/2.0`,
//! and answers that begin with the version. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rtsp",
    transports: &[Transport::Tcp],
    ports: &[554, 8554],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return if data.len() < 256 && !data.is_empty() && data.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let line = data[..nl].strip_suffix(b"\r").unwrap_or(&data[..nl]);
    let version = |v: &[u8]| v == b"RTSP/1.0" || v == b"RTSP/2.0";
    let ok = match side {
        Side::Client => line.rsplit(|b| *b == b' ').next().is_some_and(version) && line.contains(&b' '),
        Side::Server => line.split(|b| *b == b' ').next().is_some_and(version),
    };
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers() {
        assert_eq!(probe(Side::Client, b"OPTIONS rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 1\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"DESCRIBE rtsp://x"), Probe::NeedMore);
    }
}
