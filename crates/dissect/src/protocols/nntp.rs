//! NNTP, Usenet's protocol (RFC 3977, TCP port 119): the server greets with `200`
//! or `201` and a line; the client then sends commands of which many exist in no
//! other protocol (`MODE READER`, `GROUP`, `ARTICLE`, `XOVER`, `AUTHINFO`…). The
//! client's first line decides (a greeting's code alone is too common); the server
//! side decides from a greeting that names NNTP or a news server. Only the protocol
//! is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "nntp",
    transports: &[Transport::Tcp],
    ports: &[119, 433],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

/// Commands NNTP has and the other line protocols (FTP, SMTP, POP3, IMAP) do not.
const COMMANDS: &[&str] = &[
    "MODE READER",
    "MODE STREAM",
    "CAPABILITIES",
    "AUTHINFO USER ",
    "AUTHINFO PASS ",
    "AUTHINFO SASL ",
    "GROUP ",
    "LISTGROUP",
    "ARTICLE",
    "XOVER",
    "XHDR ",
    "XPAT ",
    "OVER",
    "NEWGROUPS ",
    "NEWNEWS ",
    "IHAVE ",
    "TAKETHIS ",
    "LIST ACTIVE",
    "LIST NEWSGROUPS",
    "LIST OVERVIEW.FMT",
];
/// Words news servers' greetings carry (INN: "InterNetNews server INN … ready").
const SERVER_WORDS: &[&str] = &["nntp", "news"];

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let Some(end) = data.iter().position(|b| *b == b'\n') else {
        return if data.len() < 512 && data.iter().all(|b| *b >= 0x20 || *b == b'\r') {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let Some(line) = data[..end].strip_suffix(b"\r") else { return Probe::NoMatch };
    let Ok(line) = std::str::from_utf8(line) else { return Probe::NoMatch };
    match side {
        Side::Client => {
            let upper = line.to_ascii_uppercase();
            Probe::from(COMMANDS.iter().any(|c| upper.starts_with(c) && (upper.len() > c.len() || !c.ends_with(' '))))
        }
        Side::Server => {
            let greeting = line.starts_with("200 ") || line.starts_with("201 ");
            let lower = line.to_ascii_lowercase();
            Probe::from(greeting && SERVER_WORDS.iter().any(|w| lower.contains(w)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_news_greetings() {
        // From the shared capture.
        assert_eq!(probe(Side::Server, b"200 Leafnode NNTP Daemon, version 1.11.7.rc1 running at x\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"MODE READER\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"group comp.lang.rust\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"XOVER 1-100\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"MODE REA"), Probe::NeedMore);
        // Other protocols' lines.
        assert_eq!(probe(Side::Server, b"200 news.example.com InterNetNews server INN 2.6.4 ready\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"200 OK\r\n"), Probe::NoMatch, "a bare 200 is anyone's");
        assert_eq!(probe(Side::Server, b"220 mail.example ESMTP\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"USER anonymous\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"LIST\r\n"), Probe::NoMatch, "FTP lists too");
        assert_eq!(probe(Side::Client, b"GROUP \r\n"), Probe::NoMatch, "a group is named");
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
