//! FTP control connections (RFC 959): the commands used and the files named, and
//! AUTH TLS (RFC 4217), after which the connection is classified afresh.

use tyto_schema::SessionRecord;

use crate::lines::{starts_with_ci, trim, LineReader};
use crate::{put_text, Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol =
    Protocol { name: "ftp", transports: &[Transport::Tcp], ports: &[21], probe, new: || Box::new(Ftp::default()) };

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
        Side::Server if !line.starts_with(b"220") => Probe::NoMatch,
        Side::Server if line.to_ascii_uppercase().windows(3).any(|w| w == b"FTP") => Probe::Match,
        // SMTP greets with 220 too: the client's first command decides.
        Side::Server => Probe::NeedMore,
        Side::Client => {
            let first = [&b"USER "[..], b"AUTH TLS", b"AUTH SSL", b"FEAT", b"SYST", b"OPTS "];
            Probe::from(first.iter().any(|c| starts_with_ci(line, c)))
        }
    }
}

#[derive(Default)]
pub struct Ftp {
    lines: [LineReader; 2],
    auth_tls: bool,
    handoff: Option<usize>,
    done: bool,
}

impl Dissector for Ftp {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        let auth_tls = &mut self.auth_tls;
        match side {
            Side::Client => {
                self.lines[0].feed(data, |l| {
                    let l = String::from_utf8_lossy(trim(l));
                    let (cmd, arg) = l.split_once(' ').unwrap_or((&l, ""));
                    let cmd = cmd.to_ascii_uppercase();
                    if !COMMANDS.contains(&cmd.as_str()) {
                        return true;
                    }
                    put_text(rec, "ftp.command", &cmd);
                    if FILE_COMMANDS.contains(&cmd.as_str()) && !arg.is_empty() {
                        put_text(rec, "ftp.filename", arg.trim());
                    }
                    if cmd == "AUTH" && matches!(arg.trim().to_ascii_uppercase().as_str(), "TLS" | "SSL" | "TLS-C") {
                        *auth_tls = true;
                    }
                    true
                });
            }
            Side::Server => {
                let used = self.lines[1].feed(data, |l| {
                    if *auth_tls && (l.starts_with(b"4") || l.starts_with(b"5")) {
                        *auth_tls = false;
                    }
                    !(*auth_tls && l.starts_with(b"234"))
                });
                if let Some(used) = used {
                    self.handoff = Some(used);
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
        self.handoff.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn commands_files_and_auth_tls() {
        assert_eq!(probe(Side::Server, b"220 ProFTPD Server ready\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"220 ready\r\n"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"USER anonymous\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"EHLO x\r\n"), Probe::NoMatch);
        let mut s = Ftp::default();
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, b"USER bob\r\nPASS x\r\nRETR /pub/a file.txt\r\n\x00\x01junk\r\nAUTH TLS\r\n", &mut rec);
        s.feed(Side::Server, b"234 AUTH TLS ok\r\n\x16\x03", &mut rec);
        assert_eq!(s.handoff(), Some(17));
        assert_eq!(
            rec.extra.get("ftp.command"),
            Some(&Values::Text(vec!["USER".into(), "PASS".into(), "RETR".into(), "AUTH".into()]))
        );
        assert_eq!(rec.extra.get("ftp.filename"), Some(&Values::Text(vec!["/pub/a file.txt".into()])));
    }
}
