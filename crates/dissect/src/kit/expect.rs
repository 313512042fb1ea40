//! Connections one session announces for another: FTP's control connection names
//! the address and port its next data connection goes to (PASV, EPSV, PORT, EPRT).
//! The control session files the listening endpoint here; the TCP session that
//! opens to it is then decided from that, without probing (`protocols.how` says
//! `ftp-data:ftp`), and both share a [`Link`] through which the data session learns
//! its control session and the command and file it carries.
//!
//! One table a pipeline ([`crate::Dissectors`] holds it), so that its workers, which
//! each hold a share of the sessions, see each other's announcements, and two
//! pipelines in one process (a capture and an upload) never see each other's. A
//! dissector does not reach the table itself: it hands what it announced to its
//! classifier ([`crate::Dissector::announced`]). The table is small and bounded (the
//! oldest announcement makes room), and a lookup when nothing is announced costs an
//! atomic load.

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

/// A connection a session announced: to `addr:port`, to be joined to the link.
pub type Announcement = (Addr, u16, SharedLink);

/// The announcements of one pipeline, waiting for their connections.
#[derive(Debug, Default)]
pub struct Expectations {
    table: Mutex<VecDeque<Announcement>>,
    /// The table's length, read without the lock.
    waiting: AtomicUsize,
}

impl Expectations {
    fn table(&self) -> MutexGuard<'_, VecDeque<Announcement>> {
        // A worker that panicked while holding it left a table that is still whole.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection to `addr:port` is expected, to be joined to `link`.
    pub fn expect(&self, (addr, port, link): Announcement) {
        let mut t = self.table();
        t.retain(|(a, p, _)| (*a, *p) != (addr, port));
        if t.len() >= MAX_EXPECTED {
            t.pop_front();
        }
        t.push_back((addr, port, link));
        self.waiting.store(t.len(), Ordering::Relaxed);
    }

    /// The link of a connection between these endpoints, if one of them was
    /// announced: taken, since an announcement serves one connection.
    pub fn take(&self, a: (Addr, u16), b: (Addr, u16)) -> Option<SharedLink> {
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut t = self.table();
        let at = t.iter().position(|(addr, port, _)| (*addr, *port) == a || (*addr, *port) == b)?;
        let link = t.remove(at).map(|(_, _, l)| l);
        self.waiting.store(t.len(), Ordering::Relaxed);
        link
    }
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
        let table = Expectations::default();
        table.expect((server, 50_001, link));
        assert!(table.take((client, 40_000), (server, 50_002)).is_none());
        let got = table.take((client, 40_000), (server, 50_001)).expect("announced");
        assert_eq!(lock(&got).control, "c1");
        assert!(table.take((client, 40_001), (server, 50_001)).is_none(), "taken");
        assert!(Expectations::default().take((client, 1), (server, 50_001)).is_none(), "another pipeline's table");
    }
}
