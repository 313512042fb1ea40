//! Connections one session announces for another: FTP's control connection names
//! the address and port its next data connection goes to (PASV, EPSV, PORT, EPRT).
//! The control session files the listening endpoint here; the TCP session that
//! opens to it is then decided from that, without probing (`protocols.how` says
//! `ftp-data:ftp`), and both share a [`Link`] through which the data session learns
//! its control session and the command and file it carries.
//!
//! One table for the process, so that the workers, which each hold a share of the
//! sessions, see each other's announcements; it is small and bounded (the oldest
//! announcement makes room), and a lookup when nothing is announced costs an atomic
//! load.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tyto_packet::Addr;

/// What a data connection learns from its control session.
#[derive(Debug, Default)]
pub struct Link {
    /// The control session's id.
    pub control: String,
    /// The transfer command sent after the announcement (`RETR`, `STOR`, `LIST`…)
    /// and its argument.
    pub command: Option<String>,
    pub file: Option<String>,
}

pub type SharedLink = Arc<Mutex<Link>>;

/// Announcements waiting for their connection.
const MAX_EXPECTED: usize = 1024;

static EXPECTED: Mutex<VecDeque<(Addr, u16, SharedLink)>> = Mutex::new(VecDeque::new());
static WAITING: AtomicUsize = AtomicUsize::new(0);

fn table() -> MutexGuard<'static, VecDeque<(Addr, u16, SharedLink)>> {
    // A worker that panicked while holding it left a table that is still whole.
    EXPECTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection to `addr:port` is expected, to be joined to `link`.
pub fn expect(addr: Addr, port: u16, link: &SharedLink) {
    let mut t = table();
    t.retain(|(a, p, _)| (*a, *p) != (addr, port));
    if t.len() >= MAX_EXPECTED {
        t.pop_front();
    }
    t.push_back((addr, port, Arc::clone(link)));
    WAITING.store(t.len(), Ordering::Relaxed);
}

/// The link of a connection between these endpoints, if one of them was announced:
/// taken, since an announcement serves one connection.
pub fn take(a: (Addr, u16), b: (Addr, u16)) -> Option<SharedLink> {
    if WAITING.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut t = table();
    let at = t.iter().position(|(addr, port, _)| (*addr, *port) == a || (*addr, *port) == b)?;
    let link = t.remove(at).map(|(_, _, l)| l);
    WAITING.store(t.len(), Ordering::Relaxed);
    link
}

pub fn lock(link: &SharedLink) -> MutexGuard<'_, Link> {
    link.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_serves_one_connection() {
        let server = Addr::from_v4([192, 0, 2, 77]);
        let client = Addr::from_v4([198, 51, 100, 7]);
        let link: SharedLink = Arc::new(Mutex::new(Link { control: "c1".into(), ..Link::default() }));
        expect(server, 50_001, &link);
        assert!(take((client, 40_000), (server, 50_002)).is_none());
        let got = take((client, 40_000), (server, 50_001)).expect("announced");
        assert_eq!(lock(&got).control, "c1");
        assert!(take((client, 40_001), (server, 50_001)).is_none(), "taken");
    }
}
