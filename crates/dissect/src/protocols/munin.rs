//! Munin (TCP port 4949), the monitoring node's line protocol: the node greets with
//! `# munin node at <host>`, the master asks `cap`, `list`, `fetch`, `config`…
//! The greeting decides, as does a capability of Munin's own (`cap multigraph`,
//! either side: the node echoes those it has), or, later in a connection, a node's
//! answer in Munin's plugin vocabulary (`graph_title …`, `<field>.value <number>`).
//! Only the protocol is recorded so far.

use crate::kit::lines::{after_ci, first_line, trim};
use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "munin",
    transports: &[Transport::Tcp],
    ports: &[4949],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

/// Capabilities only Munin negotiates (munin-node's `cap` command).
const CAPABILITIES: [&[u8]; 3] = [b"multigraph", b"dirtyconfig", b"spoolfetch"];

/// A line longer than this is not a Munin command's.
const MAX_LINE: usize = 256;

pub fn probe(side: Side, d: &[u8]) -> Probe {
    match side {
        Side::Server if d.starts_with(b"#") || d.len() < 2 => crate::kit::starts_with(d, b"# munin node at "),
        // The master's other first words (`list`, `fetch x`) could be anyone's.
        _ => capabilities(d),
    }
}

/// `cap` naming one of Munin's own capabilities.
fn capabilities(d: &[u8]) -> Probe {
    match first_line(d, MAX_LINE) {
        Ok((line, _)) => Probe::from(names_own_capability(line)),
        Err(Probe::NeedMore) if !b"cap ".starts_with(&d[..d.len().min(4)]) => Probe::NoMatch,
        Err(undecided) => undecided,
    }
}

fn names_own_capability(line: &[u8]) -> bool {
    after_ci(line, b"cap ").is_some_and(|caps| caps.split(|b| *b == b' ').any(|c| CAPABILITIES.contains(&trim(c))))
}

/// A node's answer picked up part-way: a `config` answer's `graph_title`, or a
/// `fetch` answer's `<field>.value <number or U>`; the master's `cap` as at the start.
fn later(side: Side, d: &[u8]) -> Probe {
    if side == Side::Client {
        return capabilities(d);
    }
    let line = match first_line(d, MAX_LINE) {
        Ok((line, _)) => line,
        Err(undecided) => return undecided,
    };
    if line.starts_with(b"graph_title ") || names_own_capability(line) {
        return Probe::Match;
    }
    let Some(dot) = line.windows(7).position(|w| w == b".value ") else { return Probe::NoMatch };
    let (name, value) = (&line[..dot], trim(&line[dot + 7..]));
    let name_ok = !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let value_ok =
        value == b"U" || (!value.is_empty() && std::str::from_utf8(value).is_ok_and(|v| v.parse::<f64>().is_ok()));
    Probe::from(name_ok && value_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting() {
        assert_eq!(probe(Side::Server, b"# munin node at gw-ct\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"# munin"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"# mulled wine\n"), Probe::NoMatch);
    }

    #[test]
    fn capabilities_of_munins_own() {
        assert_eq!(probe(Side::Client, b"cap multigraph dirtyconfig\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"cap multigraph dirtyconfig\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"cap mult"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"ca"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"cap starttls\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"list gw-ct\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }

    #[test]
    fn answers_picked_up_part_way() {
        assert_eq!(later(Side::Server, b"graph_title Firewall Throughput\ngraph_args --base 1000\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"load.value 0.05\n.\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"if_eth0_rx.value U\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"load.value high\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"a b.value 1\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"HTTP/1.1 200 OK\r\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"graph_ti"), Probe::NeedMore);
        assert_eq!(later(Side::Client, b"cap multigraph\n"), Probe::Match);
    }
}
