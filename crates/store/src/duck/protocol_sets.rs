//! The list of protocols of each session, also as a number. `protocols == http` read
//! every session's list of names: at 100 M sessions that test alone took a second,
//! most of a three-term count. Sessions hold few distinct lists (a few hundred where
//! they hold a hundred million), so each list gets a small number, kept in
//! `sessions.protocol_set`, and `protocol_sets` holds each number's list once: a test
//! on the protocols reads that small table and one column of small integers (which
//! DuckDB packs into a few bits a row; a 64-bit hash of the list cost 4 bytes a row).
//!
//! Every row has its number: appends give it in their transaction, and opening a
//! store gives it to rows that lack it (a store from before, or rows an older Tyto
//! appended since). Numbers are given in the writing transaction, the next after the
//! largest; the table's key makes a second writer numbering another list the same
//! at the same moment fail, rather than mix them up.

use std::collections::HashMap;
use std::sync::Arc;

use duckdb::types::Value;
use duckdb::Connection;
use tyto_schema::SessionRecord;

use super::sql::string_literal;
use crate::StoreError;

pub(crate) const TABLE: &str = "protocol_sets";
pub(crate) const COLUMN: &str = "protocol_set";

pub(crate) fn create() -> String {
    format!("CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, names VARCHAR[])")
}

/// Each row's number, after numbering the lists the table does not hold yet (in
/// the append's transaction).
pub(crate) fn ids(tx: &Connection, rows: &[&SessionRecord]) -> Result<Vec<i64>, StoreError> {
    let numbers = number(tx, rows.iter().map(|r| r.protocols.as_slice()))?;
    // Rows come in runs of the same list (a scan's sessions, a resolver's): a run's
    // list is looked up once.
    let mut last: Option<(&[String], i64)> = None;
    Ok(rows
        .iter()
        .map(|r| {
            let list = r.protocols.as_slice();
            let n = match last {
                Some((l, n)) if l == list => n,
                _ => numbers[list],
            };
            last = Some((list, n));
            n
        })
        .collect())
}

type Numbers = HashMap<Vec<String>, i64, ahash::RandomState>;

/// The number of each of `lists`, numbering those the table does not hold yet. An
/// empty list, which the sessions table holds as NULL, has one too.
fn number<'a>(conn: &Connection, lists: impl Iterator<Item = &'a [String]>) -> Result<Numbers, StoreError> {
    let mut numbers: Numbers = stored(conn)?.into_iter().map(|(id, names)| (names, id)).collect();
    let mut next = numbers.values().max().map_or(1, |n| n + 1);
    let mut new: Vec<String> = Vec::new();
    let mut last: Option<&[String]> = None;
    for list in lists {
        if last == Some(list) || numbers.contains_key(list) {
            last = Some(list);
            continue;
        }
        last = Some(list);
        numbers.insert(list.to_vec(), next);
        let names = if list.is_empty() {
            "NULL".to_string()
        } else {
            format!("[{}]", list.iter().map(|n| string_literal(n)).collect::<Vec<_>>().join(", "))
        };
        new.push(format!("({next}, {names})"));
        next += 1;
    }
    if !new.is_empty() {
        conn.execute_batch(&format!("INSERT INTO {TABLE} VALUES {}", new.join(", ")))?;
    }
    Ok(numbers)
}

/// Every list the table holds, with its number.
fn stored(conn: &Connection) -> Result<Vec<(i64, Vec<String>)>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT id, names FROM {TABLE}"))?;
    let lists = stmt.query_map([], |r| Ok((r.get(0)?, names(r.get(1)?))))?.collect::<Result<_, _>>()?;
    Ok(lists)
}

/// A list of names as DuckDB gives it (NULL: none).
fn names(v: Value) -> Vec<String> {
    match v {
        Value::List(items) => items
            .into_iter()
            .filter_map(|i| match i {
                Value::Text(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Gives its number to every session that lacks one, in one transaction.
pub(crate) fn fill(conn: &Connection) -> Result<(), StoreError> {
    let missing = format!("FROM sessions WHERE {COLUMN} IS NULL");
    let tx = conn.unchecked_transaction()?;
    let mut stmt = tx.prepare(&format!("SELECT DISTINCT protocols {missing}"))?;
    let lists: Vec<Vec<String>> = stmt.query_map([], |r| Ok(names(r.get(0)?)))?.collect::<Result<_, _>>()?;
    drop(stmt);
    if lists.is_empty() {
        return Ok(());
    }
    number(&tx, lists.iter().map(Vec::as_slice))?;
    tx.execute_batch(&format!(
        "UPDATE sessions SET {COLUMN} = s.id FROM {TABLE} s \
         WHERE sessions.{COLUMN} IS NULL AND sessions.protocols IS NOT DISTINCT FROM s.names"
    ))?;
    tx.commit()?;
    Ok(())
}

/// The lists of protocols a reader knows: the largest number, and for each name the
/// numbers of the lists that hold it.
#[derive(Debug, Default)]
pub(crate) struct Known {
    largest: i64,
    holding: HashMap<String, Vec<i64>>,
}

/// What a read says when lists it did not know kept being stored while it ran
/// (rare: a list of protocols never seen before, each time).
pub(crate) const CHANGED: &str = "sessions with protocols never seen before kept being stored while the search ran";

impl Known {
    /// What `lists` (numbers and their names) say.
    fn from_lists(lists: impl IntoIterator<Item = (i64, Vec<String>)>) -> Known {
        let mut k = Known::default();
        for (id, names) in lists {
            k.largest = k.largest.max(id);
            for n in names {
                k.holding.entry(n).or_default().push(id);
            }
        }
        k
    }

    /// Lists given by hand (tests of the SQL written).
    #[cfg(test)]
    pub(crate) fn of(lists: &[(i64, &[&str])]) -> Known {
        Known::from_lists(lists.iter().map(|(id, names)| (*id, names.iter().map(|n| n.to_string()).collect())))
    }

    /// The lists the store holds now (or `known` again, when none was added since).
    pub(crate) fn read(conn: &Connection, known: &Arc<Known>) -> Result<Arc<Known>, StoreError> {
        let largest: Option<i64> = conn.query_row(&format!("SELECT max(id) FROM {TABLE}"), [], |r| r.get(0))?;
        if largest.unwrap_or(0) == known.largest {
            return Ok(known.clone());
        }
        Ok(Arc::new(Known::from_lists(stored(conn)?)))
    }

    /// The largest number this reader knows.
    pub(crate) fn largest(&self) -> i64 {
        self.largest
    }

    /// The condition that a session's protocols hold one of `names`: its number is
    /// one of those lists'. Literal numbers, not a subquery: DuckDB then filters
    /// while it scans (a subquery made it join every row: the newest page of such a
    /// search took 1.7 s at 100 M sessions against 7 ms). The number is never NULL
    /// (every row has one), and the test is a bare `IN`, which DuckDB filters in its
    /// scan: a guard per row against numbers newer than those read (a `CASE`) made
    /// a three-term count twice as slow. A list stored after the numbers were read is
    /// caught after the read instead ([`super::DuckStore::again_if_changed`]).
    pub(crate) fn holding(&self, names: &[String]) -> String {
        let mut ids: Vec<i64> = names.iter().filter_map(|n| self.holding.get(n)).flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return "false".to_string();
        }
        format!("({COLUMN} IN ({}))", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
    }
}
