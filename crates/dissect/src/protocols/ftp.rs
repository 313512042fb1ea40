//! FTP control connections (RFC 959): the commands used and the files named, and
//! AUTH TLS (RFC 4217), after which the connection is classified afresh. The data
//! connections it announces (PASV and EPSV answers, PORT and EPRT commands, RFC 2428)
//! are expected (see [`crate::kit::expect`]): each is named `ftp-data` and linked to this
//! session, with the command and file it carried.

use std::sync::{Arc, Mutex};

use tyto_packet::Addr;
use tyto_schema::SessionRecord;

use crate::kit::expect::{self, Announcement, Link, SharedLink};
use crate::kit::lines::{starts_with_ci, trim, LineReader};
use crate::kit::put_text;
use crate::kit::upgrade::Upgrade;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ftp",
    transports: &[Transport::Tcp],
    ports: &[21],
    probe,
    new: || Box::new(Ftp::default()),
    later: None,
};

/// Data connections: decided by their control connection, never by a probe; port 20
/// (active mode's source) is only a labelled guess.
pub static DATA: Protocol = Protocol {
    name: "ftp-data",
    transports: &[Transport::Tcp],
    ports: &[20],
    probe: |_, _| Probe::NoMatch,
    new: || Box::new(FtpData::default()),
    later: None,
};

/// Commands that use the announced data connection.
const TRANSFER_COMMANDS: &[&str] = &["RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"];

/// `h1,h2,h3,h4,p1,p2` anywhere in a PASV answer or PORT argument: an IPv4 address
/// and a port.
fn six_numbers(text: &str) -> Option<(Addr, u16)> {
    let run = text.split(|c: char| !(c.is_ascii_digit() || c == ',')).find(|r| r.matches(',').count() == 5)?;
    let mut n = [0u8; 6];
    for (slot, part) in n.iter_mut().zip(run.split(',')) {
        *slot = part.parse().ok()?;
    }
    Some((Addr::from_v4([n[0], n[1], n[2], n[3]]), u16::from_be_bytes([n[4], n[5]])))
}

/// EPSV's answer `(|||port|)`: the port on the control connection's server.
fn epsv_port(text: &str) -> Option<u16> {
    let inner = &text[text.find('(')? + 1..];
    let d = inner.chars().next()?;
    inner.split(d).nth(3)?.parse().ok()
}

/// EPRT's argument `|1|a.b.c.d|port|` or `|2|v6 address|port|`.
fn eprt(arg: &str) -> Option<(Addr, u16)> {
    let d = arg.chars().next()?;
    let mut parts = arg.split(d).skip(1);
    let (_family, ip, port) = (parts.next()?, parts.next()?, parts.next()?);
    Some((Addr::from(ip.parse::<std::net::IpAddr>().ok()?), port.parse().ok()?))
}

/// Commands whose argument is a path.
const FILE_COMMANDS: &[&str] = &["RETR", "STOR", "STOU", "APPE", "DELE", "RNFR", "RNTO", "SIZE", "MDTM"];
/// Every command of RFC 959 and its extensions worth recording; others are not kept,
/// so that a binary stream cannot fill the field with junk.
const COMMANDS: &[&str] = &[
    "USER", "PASS", "ACCT", "CWD", "CDUP", "SMNT", "QUIT", "REIN", "PORT", "PASV", "TYPE", "STRU", "MODE", "RETR",
    "STOR", "STOU", "APPE", "ALLO", "REST", "RNFR", "RNTO", "ABOR", "DELE", "RMD", "MKD", "PWD", "LIST", "NLST",
    "SITE", "SYST", "STAT", "HELP", "NOOP", "FEAT", "OPTS", "AUTH", "PBSZ", "PROT", "EPRT", "EPSV", "SIZE", "MDTM",
    "MLSD", "MLST", "XPWD", "XCWD", "XMKD", "XRMD", "CLNT",
];

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return if data.len() < 128 { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = trim(&data[..nl]);
    match side {
        Side::Server if line.starts_with(b"220") && line.to_ascii_uppercase().windows(3).any(|w| w == b"FTP") => {
            Probe::Match
        }
        Side::Server => match reply_code(line) {
            // Replies only FTP gives (SMTP's and NNTP's codes are others; NNTP's 200,
            // 215 and 230 are not here): the answer to USER, to PASV/EPSV, to PWD, a
            // transfer's start and end… A capture that missed the greeting still
            // names FTP from a later answer.
            Some(150 | 213 | 226 | 227 | 229 | 257 | 331 | 350) => Probe::Match,
            // SMTP greets with 220 too, and shares error codes.
            Some(_) => Probe::NeedMore,
            None => Probe::NoMatch,
        },
        Side::Client if starts_with_ci(line, b"USER ") => Probe::NeedMore,
        Side::Client => {
            // `USER` alone is POP3's too: the server's answer decides (`331` or `+OK`).
            let first = [&b"AUTH TLS"[..], b"AUTH SSL", b"FEAT", b"SYST", b"OPTS ", b"PASV", b"EPSV"];
            Probe::from(first.iter().any(|c| starts_with_ci(line, c)))
        }
    }
}

/// A reply line's code: three digits and a space, a `-` or the line's end.
fn reply_code(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(line.get(3), None | Some(b' ' | b'-')) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[derive(Default)]
pub struct Ftp {
    lines: [LineReader; 2],
    /// `AUTH TLS`.
    upgrade: Upgrade,
    done: bool,
    /// The data connection announced last, which the next transfer command uses.
    link: Option<SharedLink>,
    /// Announcements not yet handed to the classifier.
    announced: Vec<Announcement>,
    /// The greeting's text was filed (`ftp.banner`).
    greeted: bool,
}

/// Announces a data endpoint; the control connection's server stands in for a PASV
/// address that differs from it (a server behind NAT announcing its private
/// address).
fn announce(rec: &SessionRecord, endpoints: &[(Addr, u16)], out: &mut Vec<Announcement>) -> SharedLink {
    let link = Arc::new(Mutex::new(Link { control: rec.id.clone(), ..Link::default() }));
    for &(addr, port) in endpoints {
        out.push((addr, port, Arc::clone(&link)));
    }
    link
}

impl Dissector for Ftp {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        let upgrade = &mut self.upgrade;
        let link = &mut self.link;
        let announced = &mut self.announced;
        match side {
            Side::Client => {
                self.lines[0].feed(data, |l| {
                    let l = String::from_utf8_lossy(trim(l));
                    let (cmd, arg) = l.split_once(' ').unwrap_or((&l, ""));
                    let cmd = cmd.to_ascii_uppercase();
                    if !COMMANDS.contains(&cmd.as_str()) {
                        return true;
                    }
                    put_text(rec, text_field!("ftp.command"), &cmd);
                    // A login before any AUTH TLS travels in clear.
                    if matches!(cmd.as_str(), "USER" | "PASS") && !upgrade.asked() {
                        crate::risk::add(rec, crate::risk::Risk::ClearTextCredentials);
                    }
                    if cmd == "USER" && !arg.trim().is_empty() {
                        put_text(rec, text_field!("user"), arg.trim());
                    }
                    if FILE_COMMANDS.contains(&cmd.as_str()) && !arg.is_empty() {
                        put_text(rec, text_field!("ftp.filename"), arg.trim());
                    }
                    if cmd == "AUTH" && matches!(arg.trim().to_ascii_uppercase().as_str(), "TLS" | "SSL" | "TLS-C") {
                        upgrade.ask();
                    }
                    // Active mode: the client listens, the server connects.
                    let active = match cmd.as_str() {
                        "PORT" => six_numbers(arg),
                        "EPRT" => eprt(arg.trim()),
                        _ => None,
                    };
                    if let Some(endpoint) = active {
                        *link = Some(announce(rec, &[endpoint], announced));
                    }
                    if TRANSFER_COMMANDS.contains(&cmd.as_str()) {
                        if let Some(l) = link.as_ref() {
                            let mut l = expect::lock(l);
                            l.command = Some(cmd.clone());
                            l.file = Some(arg.trim().to_string()).filter(|f| !f.is_empty());
                        }
                    }
                    true
                });
            }
            Side::Server => {
                let server = rec.dst_ip;
                let greeted = &mut self.greeted;
                let used = self.lines[1].feed(data, |l| {
                    // Passive mode: the server listens where it says.
                    let text = String::from_utf8_lossy(l);
                    if let Some(code) = reply_code(l) {
                        crate::kit::put_int(rec, int_field!("ftp.responseCode"), i64::from(code));
                        // The greeting's first line, its text after the code.
                        if code == 220 && !*greeted {
                            *greeted = true;
                            put_text(rec, text_field!("ftp.banner"), text[3..].trim_start_matches('-').trim());
                        }
                    }
                    let passive = if l.starts_with(b"227") {
                        six_numbers(&text[3..]).map(|(addr, port)| {
                            let mut at = vec![(addr, port)];
                            at.extend(server.filter(|s| *s != addr).map(|s| (s, port)));
                            at
                        })
                    } else if l.starts_with(b"229") {
                        epsv_port(&text).zip(server).map(|(port, s)| vec![(s, port)])
                    } else {
                        None
                    };
                    if let Some(endpoints) = passive {
                        *link = Some(announce(rec, &endpoints, announced));
                    }
                    upgrade.answer(l.starts_with(b"234"), l.starts_with(b"4") || l.starts_with(b"5"))
                });
                if let Some(used) = used {
                    self.upgrade.switch_at(used);
                    self.done = true;
                }
            }
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.lines[side as usize].reset();
    }

    fn wants_more(&self) -> bool {
        !self.done
    }

    fn handoff(&mut self) -> Option<usize> {
        self.upgrade.take()
    }

    fn announced(&mut self) -> Vec<Announcement> {
        std::mem::take(&mut self.announced)
    }
}

/// A data connection: what its control connection said it carries.
#[derive(Default)]
pub struct FtpData {
    link: Option<SharedLink>,
}

impl FtpData {
    pub fn linked(link: SharedLink) -> FtpData {
        FtpData { link: Some(link) }
    }
}

impl Dissector for FtpData {
    fn feed(&mut self, _side: Side, _data: &[u8], _rec: &mut SessionRecord) {}

    /// Written with the row: the transfer command may follow the connection.
    fn end(&mut self, rec: &mut SessionRecord) {
        let Some(link) = self.link.as_ref() else { return };
        let l = expect::lock(link);
        put_text(rec, text_field!("ftp.control"), &l.control);
        if let Some(c) = &l.command {
            put_text(rec, text_field!("ftp.command"), c);
        }
        if let Some(f) = &l.file {
            put_text(rec, text_field!("ftp.filename"), f);
        }
    }

    fn wants_more(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn data_connections_announced_both_ways() {
        assert_eq!(
            six_numbers(" Entering Passive Mode (90,130,70,73,100,85)."),
            Some((Addr::from_v4([90, 130, 70, 73]), 25685))
        );
        assert_eq!(six_numbers(" =1,2,3,4,300,1"), None, "not bytes");
        assert_eq!(epsv_port("229 Entering Extended Passive Mode (|||6446|)"), Some(6446));
        assert_eq!(eprt("|1|132.235.1.2|6275|"), Some((Addr::from_v4([132, 235, 1, 2]), 6275)));
        assert!(eprt("|2|1080::8:800:200C:417A|5282|").is_some());
        let server = Addr::from_v4([203, 0, 113, 21]);
        let client = Addr::from_v4([203, 0, 113, 99]);
        let mut rec =
            SessionRecord { id: "control-1".into(), src_ip: Some(client), dst_ip: Some(server), ..Default::default() };
        let mut f = Ftp::default();
        f.feed(Side::Client, b"PASV\r\n", &mut rec);
        // A server behind NAT announces its private address.
        f.feed(Side::Server, b"227 Entering Passive Mode (10,0,0,5,195,80).\r\n", &mut rec);
        f.feed(Side::Client, b"RETR report.pdf\r\n", &mut rec);
        let table = expect::Expectations::default();
        f.announced().into_iter().for_each(|a| table.expect(a));
        let link = table.take((client, 50_000), (server, 50_000)).expect("the control server's address stands in");
        let mut data = SessionRecord::default();
        FtpData::linked(link).end(&mut data);
        assert_eq!(data.extra.get("ftp.control"), Some(&Values::Text(vec!["control-1".into()])));
        assert_eq!(data.extra.get("ftp.command"), Some(&Values::Text(vec!["RETR".into()])));
        assert_eq!(data.extra.get("ftp.filename"), Some(&Values::Text(vec!["report.pdf".into()])));
        assert!(
            table.take((client, 50_000), (Addr::from_v4([10, 0, 0, 5]), 50_000)).is_some(),
            "and the announced one"
        );
    }

    #[test]
    fn commands_files_and_auth_tls() {
        assert_eq!(probe(Side::Server, b"220 ProFTPD Server ready\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"220 ready\r\n"), Probe::NeedMore);
        // POP3 sends USER too: the answer decides.
        assert_eq!(probe(Side::Client, b"USER anonymous\r\n"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"331 Password required for anonymous\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"+OK password required\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, b"250 OK\r\n"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"227 Entering Passive Mode (10,0,0,1,4,1)\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"FEAT\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"EHLO x\r\n"), Probe::NoMatch);
        let mut s = Ftp::default();
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, b"USER bob\r\nPASS x\r\nRETR /pub/a file.txt\r\n\x00\x01junk\r\nAUTH TLS\r\n", &mut rec);
        s.feed(
            Side::Server,
            b"220-Welcome to FTP\r\n220 second line\r\n331 ok\r\n234 AUTH TLS ok\r\n\x16\x03",
            &mut rec,
        );
        assert_eq!(s.handoff(), Some(62));
        assert_eq!(rec.extra.texts("ftp.banner"), ["Welcome to FTP"]);
        assert_eq!(rec.extra.ints("ftp.responseCode"), [220, 331, 234]);
        assert_eq!(rec.extra.texts("user"), ["bob"]);
        assert_eq!(
            rec.extra.get("ftp.command"),
            Some(&Values::Text(vec!["USER".into(), "PASS".into(), "RETR".into(), "AUTH".into()]))
        );
        assert_eq!(rec.extra.get("ftp.filename"), Some(&Values::Text(vec!["/pub/a file.txt".into()])));
        assert_eq!(rec.extra.get("risk"), Some(&Values::Text(vec!["clear-text-credentials".into()])));
        // A login after AUTH TLS is not in clear.
        let mut s = Ftp::default();
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, b"AUTH TLS\r\nUSER bob\r\n", &mut rec);
        assert!(rec.extra.get("risk").is_none());
    }
}
