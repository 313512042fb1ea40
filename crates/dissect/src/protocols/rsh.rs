//! rsh, the BSD remote shell (TCP port 514): the client sends the port for standard
//! error in ASCII (empty for none), then the local user, the remote user and the
//! command, each ending with a NUL; the server answers with a zero byte. The remote
//! account is recorded in `user` (with the local one), the command is not (it may
//! hold secrets and belongs to the packets).

use tyto_schema::SessionRecord;

use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rsh",
    transports: &[Transport::Tcp],
    ports: &[514],
    probe,
    new: || Box::new(Rsh::default()),
    later: None,
};

/// Longest stderr port text (`65535`) and user name the probe accepts.
const PORT_DIGITS: usize = 5;
const MAX_NAME: usize = 64;
const MAX_COMMAND: usize = 2048;
/// The whole opening with its four NULs.
const MAX_OPENING: usize = PORT_DIGITS + 2 * MAX_NAME + MAX_COMMAND + 4;

/// The local and the remote user.
type Users<'a> = (&'a [u8], &'a [u8]);

/// The client's opening: its users, once it is all there.
fn opening(d: &[u8]) -> Result<Option<Users<'_>>, ()> {
    let mut fields = d.split(|&b| b == 0);
    let port = fields.next().unwrap_or_default();
    if port.len() > PORT_DIGITS || !port.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    let printable = |s: &[u8], max: usize| s.len() <= max && s.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    // Every field but the last is complete; the last one is cut short or empty.
    let mut complete: Vec<&[u8]> = fields.collect();
    let partial = complete.pop().unwrap_or_default();
    for (i, f) in complete.iter().enumerate() {
        let max = if i < 2 { MAX_NAME } else { MAX_COMMAND };
        if i > 2 || !printable(f, max) || (i < 2 && f.is_empty()) {
            return Err(());
        }
    }
    if !printable(partial, if complete.len() < 2 { MAX_NAME } else { MAX_COMMAND }) {
        return Err(());
    }
    Ok((complete.len() == 3).then(|| (complete[0], complete[1])))
}

pub fn probe(side: Side, d: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NoMatch;
    }
    match opening(d) {
        Err(()) => Probe::NoMatch,
        Ok(Some(_)) => Probe::Match,
        Ok(None) if d.len() < MAX_OPENING => Probe::NeedMore,
        Ok(None) => Probe::NoMatch,
    }
}

#[derive(Default)]
struct Rsh {
    opening: Vec<u8>,
    done: bool,
}

impl Dissector for Rsh {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if side != Side::Client || self.done {
            return;
        }
        let room = MAX_OPENING.saturating_sub(self.opening.len());
        self.opening.extend_from_slice(&data[..data.len().min(room)]);
        match opening(&self.opening) {
            Ok(Some((local, remote))) => {
                put_text(rec, text_field!("user"), &String::from_utf8_lossy(remote));
                put_text(rec, text_field!("user"), &String::from_utf8_lossy(local));
                // The account and the command, trusted on the client's word.
                crate::risk::add(rec, crate::risk::Risk::ClearTextCredentials);
                self.done = true;
            }
            Ok(None) if room > 0 => {}
            _ => self.done = true,
        }
        if self.done {
            self.opening = Vec::new();
        }
    }

    fn wants_more(&self) -> bool {
        !self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn opening_names_both_users() {
        // `rsh.pcap`: the stderr port, then the users and the command.
        assert_eq!(probe(Side::Client, b"1020\0"), Probe::NeedMore);
        let all = b"1020\0lns\0someuser\0some random command\0";
        assert_eq!(probe(Side::Client, all), Probe::Match);
        assert_eq!(probe(Side::Client, b"\0root\0root\0ls\0"), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"1020\0\0x\0ls\0"), Probe::NoMatch);
        let mut rsh = Rsh::default();
        let mut rec = SessionRecord::default();
        rsh.feed(Side::Client, b"1020\0lns\0some", &mut rec);
        rsh.feed(Side::Client, b"user\0some random command\0", &mut rec);
        assert!(!rsh.wants_more());
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["someuser".into(), "lns".into()])));
    }
}
