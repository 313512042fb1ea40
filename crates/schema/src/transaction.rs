//! Request/answer pairs inside a session: a DNS query and its response, an HTTP
//! request and its response. The store keeps a session's fields aggregated; the
//! exporters write one document per transaction, as Packetbeat does, so a log
//! pipeline sees each lookup and each request on its own.

use crate::Extra;

/// Transactions a row carries at most; past this they are counted, not kept.
pub const MAX_TRANSACTIONS: usize = 256;

/// One request and its answer (either may be missing: a query never answered, an
/// answer whose query came before the capture started).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transaction {
    /// `dns` or `http`: the protocol that made it.
    pub protocol: &'static str,
    /// When the request and the answer were seen (nanoseconds since the epoch).
    pub request_ns: Option<i64>,
    pub response_ns: Option<i64>,
    /// Size of each message: a DNS message, an HTTP header block and body.
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// The request's and answer's values by catalogue field name (`host.dns`,
    /// `http.method`…), so the exporters map them as they map a session's.
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
