//! Checked filters evaluated on one [`SessionRecord`] in memory, with the meaning the
//! SQL of [`crate::sql`] gives them in the stores (a test holds the two equal on real
//! captures). Detectors use it to run rules on each session as it is written, without
//! a round trip through a store.

use regex::{Regex, RegexBuilder};
use tyto_schema::{FieldDef, FieldKind, FieldValue, SessionRecord, Transform};

use crate::check::{int_range, Filter, Order, TextMatch};

/// Compiled regular expressions are bounded (the expression's own length is already
/// bounded by the checker; this bounds the automaton built from it).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A [`Filter`] ready to test records: patterns compiled once.
#[derive(Debug)]
pub struct Matcher {
    node: Node,
}

#[derive(Debug)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Exists(&'static FieldDef),
    Ints {
        field: &'static FieldDef,
        test: IntTest,
    },
    Ips {
        field: &'static FieldDef,
        lo: u128,
        hi: u128,
    },
    /// Sorted addresses.
    IpSet {
        field: &'static FieldDef,
        values: Vec<u128>,
    },
    Times {
        field: &'static FieldDef,
        lo_us: i64,
        hi_us: i64,
    },
    Text {
        field: &'static FieldDef,
        test: TextTest,
    },
    /// The field holds `lo..=hi` values.
    Count {
        field: &'static FieldDef,
        lo: i64,
        hi: i64,
    },
}

#[derive(Debug)]
enum IntTest {
    In(Vec<i64>),
    Range(i64, i64),
}

#[derive(Debug)]
enum TextTest {
    AnyOf(Vec<String>),
    Pattern(Regex),
}

fn ip_range(order: Order, v: u128) -> (u128, u128) {
    match order {
        Order::Lt => (0, v.saturating_sub(1)),
        Order::Le => (0, v),
        Order::Gt => (v.saturating_add(1), u128::MAX),
        Order::Ge => (v, u128::MAX),
    }
}

/// Whole-value regular expression; `*`/`?` patterns become one too (linear time,
/// whatever the pattern: no backtracking over `*`).
fn whole(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .case_insensitive(case_insensitive)
        .dot_matches_new_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

fn wildcard(p: &str) -> String {
    let mut out = String::with_capacity(p.len() * 2);
    for c in p.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

fn compile(f: &Filter) -> Result<Node, String> {
    Ok(match f {
        Filter::And(v) => Node::And(v.iter().map(compile).collect::<Result<_, _>>()?),
        Filter::Or(v) => Node::Or(v.iter().map(compile).collect::<Result<_, _>>()?),
        Filter::Not(inner) => Node::Not(Box::new(compile(inner)?)),
        Filter::Exists(field) => Node::Exists(field),
        Filter::IntIn { field, values } => Node::Ints { field, test: IntTest::In(values.clone()) },
        Filter::IntRange { field, lo, hi } => Node::Ints { field, test: IntTest::Range(*lo, *hi) },
        Filter::IntCmp { field, order, value } => {
            let (lo, hi) = int_range(*order, *value);
            Node::Ints { field, test: IntTest::Range(lo, hi) }
        }
        Filter::IpRange { field, lo, hi } => Node::Ips { field, lo: *lo, hi: *hi },
        Filter::IpIn { field, values } => Node::IpSet { field, values: values.clone() },
        Filter::IpCmp { field, order, value } => {
            let (lo, hi) = ip_range(*order, *value);
            Node::Ips { field, lo, hi }
        }
        // Stores keep times to the microsecond; compare there too.
        Filter::TimeRange { field, lo, hi } => {
            Node::Times { field, lo_us: lo.div_euclid(1000), hi_us: hi.div_euclid(1000).saturating_sub(1) }
        }
        Filter::TimeCmp { field, order, ns } => {
            let (lo_us, hi_us) = int_range(*order, ns.div_euclid(1000));
            Node::Times { field, lo_us, hi_us }
        }
        Filter::Text { field, m } => {
            let test = match m {
                TextMatch::Exact(s) => TextTest::AnyOf(vec![s.clone()]),
                TextMatch::AnyOf(v) => TextTest::AnyOf(v.clone()),
                TextMatch::Wildcard(p) => TextTest::Pattern(whole(&wildcard(p), false)?),
                TextMatch::Regex { pattern, case_insensitive } => TextTest::Pattern(whole(pattern, *case_insensitive)?),
            };
            Node::Text { field, test }
        }
        Filter::Count { field, lo, hi } => Node::Count { field, lo: *lo, hi: *hi },
    })
}

/// A text value as the stores hold it (case folded per the catalogue).
fn stored(f: &FieldDef, s: &str) -> String {
    if f.kind == FieldKind::LowerText {
        s.to_lowercase()
    } else if f.transform == Transform::Upper {
        s.to_uppercase()
    } else {
        s.to_string()
    }
}

fn texts(f: &FieldDef, v: &FieldValue) -> Vec<String> {
    match v {
        FieldValue::Str(s) if !s.is_empty() => vec![stored(f, s)],
        FieldValue::Strs(list) => list.iter().map(|s| stored(f, s)).collect(),
        FieldValue::Macs(list) => list.iter().map(|m| m.to_string()).collect(),
        FieldValue::Int(i) => vec![i.to_string()],
        FieldValue::Ints(list) => list.iter().map(i64::to_string).collect(),
        _ => Vec::new(),
    }
}

fn ints(v: &FieldValue) -> Vec<i64> {
    match v {
        FieldValue::Int(i) | FieldValue::Time(i) | FieldValue::Duration(i) => vec![*i],
        FieldValue::Ints(list) | FieldValue::Times(list) | FieldValue::Durations(list) => list.clone(),
        _ => Vec::new(),
    }
}

fn ips(v: &FieldValue) -> Vec<u128> {
    match v {
        FieldValue::Ip(a) => vec![a.as_u128()],
        FieldValue::Ips(list) => list.iter().map(|a| a.as_u128()).collect(),
        _ => Vec::new(),
    }
}

/// How many values a field holds (`http.uri.cnt`).
fn value_count(v: &FieldValue) -> i64 {
    let n = match v {
        FieldValue::Strs(l) => l.len(),
        FieldValue::Ips(l) => l.len(),
        FieldValue::Macs(l) => l.len(),
        FieldValue::Ints(l) | FieldValue::Times(l) | FieldValue::Durations(l) => l.len(),
        v => usize::from(has_value(v)),
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn has_value(v: &FieldValue) -> bool {
    match v {
        FieldValue::Null | FieldValue::Str("") => false,
        FieldValue::Strs(l) => !l.is_empty(),
        FieldValue::Ips(l) => !l.is_empty(),
        FieldValue::Macs(l) => !l.is_empty(),
        FieldValue::Ints(l) | FieldValue::Times(l) => !l.is_empty(),
        _ => true,
    }
}

impl Node {
    fn matches(&self, rec: &SessionRecord) -> bool {
        match self {
            Node::And(v) => v.iter().all(|n| n.matches(rec)),
            Node::Or(v) => v.iter().any(|n| n.matches(rec)),
            Node::Not(n) => !n.matches(rec),
            Node::Exists(f) => has_value(&f.value(rec)),
            Node::Ints { field, test } => ints(&field.value(rec)).into_iter().any(|x| match test {
                IntTest::In(values) => values.contains(&x),
                IntTest::Range(lo, hi) => (*lo..=*hi).contains(&x),
            }),
            Node::Ips { field, lo, hi } => ips(&field.value(rec)).into_iter().any(|x| (*lo..=*hi).contains(&x)),
            Node::IpSet { field, values } => {
                ips(&field.value(rec)).into_iter().any(|x| values.binary_search(&x).is_ok())
            }
            Node::Times { field, lo_us, hi_us } => {
                ints(&field.value(rec)).into_iter().any(|ns| (*lo_us..=*hi_us).contains(&ns.div_euclid(1000)))
            }
            Node::Text { field, test } => texts(field, &field.value(rec)).iter().any(|s| match test {
                TextTest::AnyOf(values) => values.iter().any(|v| v == s),
                TextTest::Pattern(re) => re.is_match(s),
            }),
            Node::Count { field, lo, hi } => (*lo..=*hi).contains(&value_count(&field.value(rec))),
        }
    }
}

impl Matcher {
    /// Compiles the filter's patterns; fails only on a pattern too large to compile.
    pub fn new(filter: &Filter) -> Result<Matcher, String> {
        Ok(Matcher { node: compile(filter)? })
    }

    /// Whether the record is one the filter selects.
    pub fn matches(&self, rec: &SessionRecord) -> bool {
        self.node.matches(rec)
    }
}
