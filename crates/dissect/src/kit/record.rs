//! Writing what a dissector learns into the row: values by catalogue name, the
//! protocols a session carries, and request/answer pairs as transactions.

use tyto_schema::{DurationField, Extra, IntField, IpField, SessionRecord, TextField, TimeField};

use crate::{Dissector, Side};

/// Adds a value to a dissector field (its handle was checked against the catalogue
/// when the program was compiled; a value past the field's bounds is dropped).
pub(crate) fn put_text(rec: &mut SessionRecord, field: TextField, value: &str) {
    add_text(&mut rec.extra, field, value);
}

/// [`put_text`] into any values: a session's or a transaction's.
pub(crate) fn add_text(values: &mut Extra, TextField(field): TextField, value: &str) {
    let r = values.add_text(field, value);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

/// Several values of one field (a message's headers).
pub(crate) fn add_texts<S: AsRef<str>>(
    values: &mut Extra,
    TextField(field): TextField,
    all: impl IntoIterator<Item = S>,
) {
    let r = values.add_texts(field, all);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

/// A span of time in nanoseconds, into a duration field (in microseconds).
pub(crate) fn put_duration(rec: &mut SessionRecord, DurationField(field): DurationField, ns: i64) {
    let r = rec.extra.add_int(field, tyto_schema::time::span_micros(ns));
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

pub(crate) fn put_int(rec: &mut SessionRecord, IntField(field): IntField, value: i64) {
    let r = rec.extra.add_int(field, value);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

pub(crate) fn put_ip(rec: &mut SessionRecord, IpField(field): IpField, value: tyto_packet::Addr) {
    let r = rec.extra.add_ip(field, value);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

pub(crate) fn put_time(rec: &mut SessionRecord, TimeField(field): TimeField, ns: i64) {
    let r = rec.extra.add_time(field, ns);
    debug_assert!(r.is_ok(), "{field}: {r:?}");
}

/// The dissector of a protocol whose name is all that is recorded so far.
pub(crate) struct NameOnly;

impl Dissector for NameOnly {
    fn feed(&mut self, _side: Side, _data: &[u8], _rec: &mut SessionRecord) {}

    fn wants_more(&self) -> bool {
        false
    }
}

/// Files a finished transaction with the row; its index, while the row lasts.
pub(crate) fn file_transaction(rec: &mut SessionRecord, t: tyto_schema::Transaction) -> Option<usize> {
    rec.transactions.as_mut().and_then(|list| list.push(t))
}

/// A number for the transaction filed at `index` of the row (see [`Asked::answered`]).
pub(crate) fn add_int_to_transaction(rec: &mut SessionRecord, index: usize, IntField(field): IntField, value: i64) {
    if let Some(t) = rec.transactions.as_mut().and_then(|list| list.list.get_mut(index)) {
        let _ = t.values.add_int(field, value);
    }
}

/// A request waiting for its answer, as the request/answer protocols hold it: when
/// it was sent, and its transaction when the row keeps them. The answer then gives
/// the protocol's `*.response-time` and the transaction the same figure.
pub(crate) struct Asked {
    sent_ns: i64,
    txn: Option<tyto_schema::Transaction>,
}

impl Asked {
    /// A request of `kind` whose last byte came in the newest packet.
    pub(crate) fn new(rec: &SessionRecord, kind: &'static str, bytes: usize) -> Asked {
        let txn = rec.transactions.is_some().then(|| {
            let mut t = tyto_schema::Transaction::new(kind);
            t.request_ns = Some(rec.stop_ns);
            t.request_bytes = bytes as u64;
            t
        });
        Asked { sent_ns: rec.stop_ns, txn }
    }

    /// A value of the request or of its answer, for its transaction.
    pub(crate) fn note(&mut self, field: TextField, text: &str) {
        if let Some(t) = &mut self.txn {
            add_text(&mut t.values, field, text);
        }
    }

    /// A number of the request's answer, for its transaction.
    pub(crate) fn note_int(&mut self, IntField(field): IntField, value: i64) {
        if let Some(t) = &mut self.txn {
            let _ = t.values.add_int(field, value);
        }
    }

    /// Bytes of the answer read so far.
    pub(crate) fn answer_bytes(&mut self, n: usize) {
        if let Some(t) = &mut self.txn {
            t.response_bytes += n as u64;
        }
    }

    /// The answer came (in the newest packet): its time goes into `field` and the
    /// transaction is filed; its index in the row, while the row lasts (for what the
    /// rest of a long answer says: [`add_int_to_transaction`]).
    pub(crate) fn answered(self, rec: &mut SessionRecord, field: DurationField) -> Option<usize> {
        let now = rec.stop_ns;
        self.answered_at(rec, field, now)
    }

    /// The answer began at `at_ns` (and ends in the newest packet).
    pub(crate) fn answered_at(self, rec: &mut SessionRecord, field: DurationField, at_ns: i64) -> Option<usize> {
        let took = at_ns - self.sent_ns;
        put_duration(rec, field, took);
        let mut t = self.txn?;
        t.response_ns = Some(at_ns);
        t.response_us = Some(tyto_schema::time::span_micros(took));
        file_transaction(rec, t)
    }

    /// Never answered: filed as it is.
    pub(crate) fn unanswered(self, rec: &mut SessionRecord) {
        if let Some(t) = self.txn {
            file_transaction(rec, t);
        }
    }

    /// The row is being written with these requests still waiting: their
    /// transactions go with it, unanswered; their times stay, so an answer in the
    /// session's next row is still timed.
    pub(crate) fn file_waiting<'a>(waiting: impl IntoIterator<Item = &'a mut Asked>, rec: &mut SessionRecord) {
        for asked in waiting {
            if let Some(t) = asked.txn.take() {
                file_transaction(rec, t);
            }
        }
    }
}

pub(crate) fn add_protocol(rec: &mut SessionRecord, protocol: &dyn crate::Named) {
    let name = protocol.name();
    if !rec.protocols.iter().any(|p| p == name) {
        rec.protocols.push(name.to_string());
    }
}
