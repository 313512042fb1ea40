//! Request/answer pairs inside a session: a DNS query and its response, an HTTP
//! request and its response, a database query and its result. The session keeps
//! their fields aggregated (`mysql.response-time` holds every query's); the stores
//! also keep each pair in a table of its own, and the log outputs write one document
//! per DNS or HTTP transaction, as Packetbeat does, so each lookup, request and
//! query can be looked at on its own.

use crate::{Extra, Values};

/// Transactions a row carries at most; past this they are counted, not kept.
pub const MAX_TRANSACTIONS: usize = 256;

/// One request and its answer (either may be missing: a query never answered, an
/// answer whose query came before the capture started).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transaction {
    /// The protocol that made it: one of [`KINDS`].
    pub protocol: &'static str,
    /// When the request and the answer were seen (nanoseconds since the epoch).
    pub request_ns: Option<i64>,
    pub response_ns: Option<i64>,
    /// Size of each message: a DNS message, an HTTP header block and body.
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// The response time in microseconds, measured as the protocol's
    /// `*.response-time` field measures it (for HTTP from the request's last byte to
    /// the answer's last byte, as Wireshark's `http.time`); `None` when unanswered.
    pub response_us: Option<i64>,
    /// The request's and answer's values by catalogue field name (`host.dns`,
    /// `http.method`…), so the log outputs map them as they map a session's.
    pub values: Extra,
}

impl Transaction {
    pub fn new(protocol: &'static str) -> Transaction {
        Transaction { protocol, ..Transaction::default() }
    }

    /// The time the transaction is filed under: the request's, else the answer's.
    pub fn time_ns(&self) -> Option<i64> {
        self.request_ns.or(self.response_ns)
    }

    /// Whether the answer says the request failed: `None` while unanswered.
    /// An error reply (a database error, a DNS rcode other than NOERROR, an HTTP
    /// status of 400 or more, a Memcache error) is a failure.
    pub fn failed(&self) -> Option<bool> {
        self.response_ns?;
        let text = |name: &str| match self.values.get(name) {
            Some(Values::Text(v)) => v.as_slice(),
            _ => &[],
        };
        Some(match self.protocol {
            "dns" => text("dns.status").iter().any(|s| s != "NOERROR"),
            "http" => matches!(self.values.get("http.statuscode"), Some(Values::Int(v)) if v.iter().any(|c| *c >= 400)),
            // Only error answers are recorded as a status; a binary "key not found"
            // (0x0001) is a miss, not a failure.
            "memcache" => text("memcache.status").iter().any(|s| s != "0x0001"),
            kind => self.values.get(&format!("{kind}.error")).is_some_and(|v| !v.is_empty()),
        })
    }
}

/// The protocols that make transactions, as named in [`Transaction::protocol`].
pub const KINDS: &[&str] = &["dns", "http", "mysql", "pgsql", "tds", "redis", "mongodb", "memcache"];

/// A kind's own `&'static str`, for text read back from disk.
pub fn kind(name: &str) -> Option<&'static str> {
    KINDS.iter().copied().find(|k| *k == name)
}

/// A row's transactions, kept only when something exports them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transactions {
    pub list: Vec<Transaction>,
    /// Transactions past [`MAX_TRANSACTIONS`], not kept.
    pub dropped: u32,
}

impl Transactions {
    pub fn push(&mut self, t: Transaction) -> Option<usize> {
        if self.list.len() >= MAX_TRANSACTIONS {
            self.dropped = self.dropped.saturating_add(1);
            return None;
        }
        self.list.push(t);
        Some(self.list.len() - 1)
    }
}
