//! SSH: the version banners both sides send before anything is encrypted.

use tyto_schema::SessionRecord;

use crate::{put_text, Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ssh",
    transports: &[Transport::Tcp],
    ports: &[22, 2222],
    probe,
    new: || Box::new(Ssh::default()),
};

/// RFC 4253: the banner line is at most 255 bytes with its CR LF.
const MAX_BANNER: usize = 255;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let n = data.len().min(4);
    if data[..n] != b"SSH-"[..n] {
        Probe::NoMatch
    } else if n < 4 {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

#[derive(Default)]
pub struct Ssh {
    line: [Vec<u8>; 2],
    done: [bool; 2],
}

impl Dissector for Ssh {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let i = side as usize;
        if self.done[i] {
            return;
        }
        let end = data.iter().position(|b| *b == b'\n');
        let part = &data[..end.unwrap_or(data.len())];
        let room = MAX_BANNER - self.line[i].len().min(MAX_BANNER);
        self.line[i].extend_from_slice(&part[..part.len().min(room)]);
        if end.is_some() || self.line[i].len() >= MAX_BANNER {
            self.done[i] = true;
            let banner = String::from_utf8_lossy(&self.line[i]).trim_end().to_string();
            // Only the version line: a server may send other lines before it.
            if banner.starts_with("SSH-") {
                put_text(rec, "ssh.ver", &banner);
            }
            self.line[i] = Vec::new();
        }
    }

    fn wants_more(&self) -> bool {
        !(self.done[0] && self.done[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn both_banners_in_pieces() {
        let mut s = Ssh::default();
        let mut rec = SessionRecord::default();
        for b in b"SSH-2.0-OpenSSH_9.6\r\n\0\0\0" {
            s.feed(Side::Client, &[*b], &mut rec);
        }
        s.feed(Side::Server, b"SSH-2.0-dropbear_2022.83\r\n...", &mut rec);
        assert_eq!(
            rec.extra.get("ssh.ver"),
            Some(&Values::Text(vec!["ssh-2.0-openssh_9.6".into(), "ssh-2.0-dropbear_2022.83".into()]))
        );
        assert!(!s.wants_more());
        assert_eq!(probe(Side::Server, b"SS"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"GET /"), Probe::NoMatch);
    }
}
