//! Git's own protocol (`git://`, TCP port 9418, the smart transfer protocol in the
//! clear): the client asks for a service in one pkt-line — four hex digits of
//! length, then `git-upload-pack /path\0host=name\0` (or `git-receive-pack`,
//! `git-upload-archive`) — and the server answers with its references, one pkt-line
//! each: a 40-digit object id, a space, a name. The probe reads either side from
//! any pkt-line start: the client's request, a server's reference line or `ERR`
//! line, or the client's `want`/`have` lines of a fetch. Only the protocol is
//! recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "git",
    transports: &[Transport::Tcp],
    ports: &[9418],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// The services a client asks for.
const SERVICES: [&[u8]; 3] = [b"git-upload-pack ", b"git-receive-pack ", b"git-upload-archive "];
/// A pkt-line is at most this long (its four digits included).
const MAX_PKT_LINE: usize = 65520;

/// The length a pkt-line's four hex digits announce (lower case, as Git writes).
fn pkt_len(data: &[u8]) -> Option<usize> {
    let digits = data.get(..4)?;
    if !digits.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
        return None;
    }
    usize::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// An object id in hex (SHA-1's 40 digits, or SHA-256's 64), then a space (a name,
/// capabilities follow) or the line's end.
fn object_id_first(body: &[u8]) -> bool {
    [40, 64].iter().any(|&n| {
        body.len() > n
            && body[..n].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && matches!(body[n], b' ' | b'\n')
    })
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if data.len() < 4 {
        return Probe::NeedMore;
    }
    let Some(len) = pkt_len(data) else { return Probe::NoMatch };
    // Lengths 1 to 3 are not sent; 0 (flush) alone says nothing.
    if !(4..=MAX_PKT_LINE).contains(&len) {
        return Probe::NoMatch;
    }
    let body = &data[4..];
    // Enough of the line to read what it says (a request's service name, an id),
    // unless its first bytes already say it is none of them.
    let wanted = (len - 4).min(70);
    if body.len() < wanted {
        let begins = |word: &[u8]| word.starts_with(body) || body.starts_with(word);
        let hex = body.iter().take(40).all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        let words = [b"want ".as_slice(), b"have ", b"ERR "];
        return if hex || SERVICES.iter().chain(&words).any(|w| begins(w)) { Probe::NeedMore } else { Probe::NoMatch };
    }
    let line = &body[..wanted];
    let request = SERVICES.iter().any(|s| line.starts_with(s)) && line.contains(&b'/');
    let reference = object_id_first(line);
    let fetch = (line.starts_with(b"want ") || line.starts_with(b"have ")) && object_id_first(&line[5..]);
    Probe::from(request || reference || fetch || line.starts_with(b"ERR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `git.pcap`: a clone of `git://anonscm.debian.org/collab-maint/wotsap.git`.
    #[test]
    fn requests_references_and_wants() {
        let request = b"0045git-upload-pack /collab-maint/wotsap.git\0host=anonscm.debian.org\0";
        assert_eq!(request.len(), 0x45);
        assert_eq!(probe(Side::Client, request), Probe::Match);
        assert_eq!(probe(Side::Client, &request[..10]), Probe::NeedMore);
        let reference =
            b"003f348534c760d2f56ecf93f8d67b84c5f0aba077c1 refs/heads/master\n0045c19abf065b38d75942dae35d9ae3621b68272a85";
        assert_eq!(probe(Side::Server, reference), Probe::Match, "a reference line, from the middle too");
        let want = b"0032want 348534c760d2f56ecf93f8d67b84c5f0aba077c1\n";
        assert_eq!(probe(Side::Client, want), Probe::Match);
        assert_eq!(probe(Side::Server, b"0016ERR access denied\n"), Probe::Match);
        // Hex-looking starts that are not Git.
        for other in [
            &b"0045GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"00000000000000000000000000000000000000000000000000000000000000000000000000",
            b"ffffgit-upload-pack /x",
            b"0003abc",
            b"SSH-2.0-OpenSSH_9.6\r\n",
        ] {
            assert_eq!(probe(Side::Client, other), Probe::NoMatch, "{:?}", String::from_utf8_lossy(other));
        }
        // A service asked for without a path.
        let body = b"git-upload-pack no-path-here\0host=x\0";
        let line = [format!("{:04x}", body.len() + 4).into_bytes(), body.to_vec()].concat();
        assert_eq!(probe(Side::Client, &line), Probe::NoMatch);
    }
}
