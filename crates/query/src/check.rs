//! The syntax tree checked against the field catalogue: every name resolved, every
//! value parsed into the field's type. What comes out can only be turned into SQL.

use tyto_schema::{lookup, time::parse_time, FieldDef, FieldKind, Named, Transform, IP_PORT_PAIRS};

use crate::ast::{CmpOp, Expr, Span, Term, Value};
use crate::ip::{parse_ip_value, IpValue};
use crate::shortcuts::Shortcuts;
use crate::suggest::nearest_name;
use crate::QueryError;

/// How text values are matched.
#[derive(Clone, Debug, PartialEq)]
pub enum TextMatch {
    Exact(String),
    AnyOf(Vec<String>),
    /// A whole-value pattern: `*` any run of characters, `?` one character.
    Wildcard(String),
    /// A whole-value regular expression (RE2 syntax).
    Regex {
        pattern: String,
        case_insensitive: bool,
    },
}

/// Range operators on ordered values (integers, times, addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A checked expression. On a multi-valued field a leaf is true when any value
/// satisfies it; `!=` is `Not` of `==`, so it holds when none does (and when the field
/// is empty), as Arkime's `must_not` does.
#[derive(Clone, Debug)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// The field has a value.
    Exists(&'static FieldDef),
    IntIn {
        field: &'static FieldDef,
        values: Vec<i64>,
    },
    IntRange {
        field: &'static FieldDef,
        lo: i64,
        hi: i64,
    },
    IntCmp {
        field: &'static FieldDef,
        order: Order,
        value: i64,
    },
    /// Address within `lo..=hi` (IPv4 held as IPv4-mapped IPv6).
    IpRange {
        field: &'static FieldDef,
        lo: u128,
        hi: u128,
    },
    IpCmp {
        field: &'static FieldDef,
        order: Order,
        value: u128,
    },
    /// The address is one of these (sorted, no repeats): a list of single addresses
    /// becomes one set test instead of one comparison per address.
    IpIn {
        field: &'static FieldDef,
        values: Vec<u128>,
    },
    Text {
        field: &'static FieldDef,
        m: TextMatch,
    },
    /// Times in nanoseconds, `lo..hi` (end excluded).
    TimeRange {
        field: &'static FieldDef,
        lo: i64,
        hi: i64,
    },
    TimeCmp {
        field: &'static FieldDef,
        order: Order,
        ns: i64,
    },
    /// The field holds `lo..=hi` values (Arkime's `http.uri.cnt`), with `lo` at least 1:
    /// a count that admits none is written as `Not` of the counts it excludes, so a
    /// session without the field — absent from a side table — needs no row to match.
    Count {
        field: &'static FieldDef,
        lo: i64,
        hi: i64,
    },
}

/// The field `name` counts the values of: `http.uri.cnt` counts `http.uri`'s (a
/// field that can hold many values, searchable, and not itself named `….cnt`).
/// `cert.cnt`, Arkime's count of certificates, counts their fingerprints.
pub(crate) fn counted_field(name: &str) -> Option<&'static FieldDef> {
    if lookup(name).is_some() {
        return None;
    }
    let base = name.strip_suffix(".cnt")?;
    let base = if base == "cert" { "cert.hash" } else { base };
    match lookup(base)? {
        Named::Field(f) if f.multi && f.in_dump => Some(f),
        _ => None,
    }
}

/// The text field `name` searches by words: `http.uri.tokens` searches `http.uri`'s
/// (Arkime's word-split twins of text fields).
pub(crate) fn tokenised_field(name: &str) -> Option<&'static FieldDef> {
    if lookup(name).is_some() {
        return None;
    }
    match lookup(name.strip_suffix(".tokens")?)? {
        Named::Field(f) if matches!(f.kind, FieldKind::Text | FieldKind::LowerText) && f.in_dump => Some(f),
        _ => None,
    }
}

/// `order value` as an inclusive range of integers.
pub(crate) fn int_range(order: Order, v: i64) -> (i64, i64) {
    match order {
        Order::Lt => (i64::MIN, v.saturating_sub(1)),
        Order::Le => (i64::MIN, v),
        Order::Gt => (v.saturating_add(1), i64::MAX),
        Order::Ge => (v, i64::MAX),
    }
}

/// An integer filter on a field's values, made the same test on how many values the
/// field holds.
fn counts(f: Filter) -> Filter {
    match f {
        Filter::And(v) => Filter::And(v.into_iter().map(counts).collect()),
        Filter::Or(v) => Filter::Or(v.into_iter().map(counts).collect()),
        Filter::Not(inner) => Filter::Not(Box::new(counts(*inner))),
        Filter::IntIn { field, values } => count_of(field, values.iter().map(|v| (*v, *v)).collect()),
        Filter::IntRange { field, lo, hi } => count_of(field, vec![(lo, hi)]),
        Filter::IntCmp { field, order, value } => count_of(field, vec![int_range(order, value)]),
        other => other,
    }
}

/// The count is in one of `ranges`: [`Filter::Count`] leaves, or — when none is a
/// count too (the ranges admit 0) — `Not` of the counts the ranges leave out.
fn count_of(field: &'static FieldDef, ranges: Vec<(i64, i64)>) -> Filter {
    let mut ranges: Vec<(i64, i64)> =
        ranges.into_iter().map(|(lo, hi)| (lo.max(0), hi)).filter(|(lo, hi)| lo <= hi).collect();
    ranges.sort_unstable();
    let leaves = |ranges: Vec<(i64, i64)>| {
        let mut v: Vec<Filter> = ranges.into_iter().map(|(lo, hi)| Filter::Count { field, lo, hi }).collect();
        if v.len() == 1 {
            v.remove(0)
        } else {
            Filter::Or(v)
        }
    };
    if ranges.first().is_none_or(|(lo, _)| *lo > 0) {
        return leaves(ranges);
    }
    // The counts left out, all at least 1 (0 is in the first range).
    let (mut gaps, mut next) = (Vec::new(), Some(0i64));
    for (lo, hi) in ranges {
        let Some(from) = next else { break };
        if lo > from {
            gaps.push((from, lo - 1));
        }
        next = hi.checked_add(1).map(|n| n.max(from));
    }
    if let Some(from) = next {
        gaps.push((from, i64::MAX));
    }
    Filter::Not(Box::new(leaves(gaps)))
}

struct Checker<'a> {
    text: &'a str,
    now_ns: i64,
    shortcuts: &'a dyn Shortcuts,
    zone: &'a dyn Zone,
}

fn order(op: CmpOp) -> Option<Order> {
    Some(match op {
        CmpOp::Lt => Order::Lt,
        CmpOp::Le => Order::Le,
        CmpOp::Gt => Order::Gt,
        CmpOp::Ge => Order::Ge,
        CmpOp::Eq | CmpOp::Ne => return None,
    })
}

/// A duration in microseconds and the span its last digit covers (both in
/// microseconds); `None` when it is not one or finer than a microsecond.
fn parse_duration(word: &str) -> Option<(i64, i64)> {
    let (number, digits) = if let Some(n) = word.strip_suffix("ms") {
        (n, 3)
    } else if let Some(n) = word.strip_suffix("us").or_else(|| word.strip_suffix("µs")) {
        (n, 0)
    } else if let Some(n) = word.strip_suffix('s') {
        (n, 6)
    } else {
        (word, 3)
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) || fraction.len() > digits {
        return None;
    }
    let width = 10i64.pow((digits - fraction.len()) as u32);
    let value = format!("{whole}{fraction}").parse::<i64>().ok()?.checked_mul(width)?;
    Some((value, width))
}

fn kind_name(k: FieldKind) -> &'static str {
    match k {
        FieldKind::Ip => "IP addresses",
        FieldKind::Integer => "integers",
        FieldKind::Date => "times",
        FieldKind::Duration => "durations",
        FieldKind::Text | FieldKind::LowerText => "text",
    }
}

/// Lists combine their items' filters: any (`[…]`) or all (`]…[`).
fn combine(all: bool, mut parts: Vec<Filter>) -> Filter {
    if parts.len() == 1 {
        return parts.pop().unwrap_or(Filter::Or(Vec::new()));
    }
    if all {
        Filter::And(parts)
    } else {
        Filter::Or(parts)
    }
}

impl Checker<'_> {
    fn err(&self, span: Span, msg: impl Into<String>) -> QueryError {
        QueryError::span(self.text, span, msg)
    }

    fn expr(&self, e: &Expr) -> Result<Filter, QueryError> {
        Ok(match e {
            Expr::And(v) => Filter::And(v.iter().map(|e| self.expr(e)).collect::<Result<_, _>>()?),
            Expr::Or(v) => Filter::Or(v.iter().map(|e| self.expr(e)).collect::<Result<_, _>>()?),
            Expr::Not(e) => Filter::Not(Box::new(self.expr(e)?)),
            Expr::Term(t) => self.term(t)?,
        })
    }

    fn term(&self, t: &Term) -> Result<Filter, QueryError> {
        if let Some(f) = counted_field(&t.field) {
            let positive = self.count_term(f, t)?;
            return Ok(if t.op == CmpOp::Ne { Filter::Not(Box::new(positive)) } else { positive });
        }
        if let Some(f) = tokenised_field(&t.field) {
            if order(t.op).is_some() {
                return Err(self.err(
                    t.op_span,
                    format!("'{}' does not apply to {} (words); use == or !=", t.op.as_str(), t.field),
                ));
            }
            let spread = self.spread_shortcuts(t, f.kind)?;
            let t = spread.as_ref().unwrap_or(t);
            let positive = self.tokens_value(f, &t.value, t.value_span)?;
            return Ok(if t.op == CmpOp::Ne { Filter::Not(Box::new(positive)) } else { positive });
        }
        let named = lookup(&t.field).ok_or_else(|| {
            let hint = nearest_name(&t.field).map(|n| format!(" (did you mean '{n}'?)")).unwrap_or_default();
            self.err(t.field_span, format!("unknown field '{}'{hint}", t.field))
        })?;
        if t.value == Value::Exists && order(t.op).is_some() {
            return Err(self.err(t.op_span, format!("EXISTS! takes == or !=, not '{}'", t.op.as_str())));
        }
        let kind = match named {
            Named::Field(f) => f.kind,
            Named::Set(set) => set.kind,
        };
        let spread = self.spread_shortcuts(t, kind)?;
        let t = spread.as_ref().unwrap_or(t);
        let positive = match named {
            Named::Field(f) if !f.in_dump => {
                return Err(
                    self.err(t.field_span, format!("'{}' is internal to the store and cannot be searched", f.name))
                )
            }
            Named::Field(f) if f.name.starts_with("tcpflags.") => {
                // Arkime writes TCP's flag counts on TCP sessions only: elsewhere they
                // hold no value (`tcpflags.syn == 0` is no UDP session; `!=`, every one).
                let tcp = tyto_schema::field("ip.protocol").map(|p| Filter::IntIn { field: p, values: vec![6] });
                Filter::And(tcp.into_iter().chain([self.field_term(f, t)?]).collect())
            }
            Named::Field(f) => self.field_term(f, t)?,
            Named::Set(set) => {
                let mut parts = Vec::new();
                if set.kind == FieldKind::Ip && t.value != Value::Exists {
                    // `ip == a:port` pairs each address field with its own port.
                    return self.ip_set_term(set.members, t);
                }
                for m in set.members {
                    let f = tyto_schema::field(m).ok_or_else(|| {
                        self.err(t.field_span, format!("catalogue: '{m}' of '{}' is missing", set.name))
                    })?;
                    parts.push(self.field_term(f, t)?);
                }
                Filter::Or(parts)
            }
        };
        Ok(if t.op == CmpOp::Ne { Filter::Not(Box::new(positive)) } else { positive })
    }

    /// The term with each `$name` of its value replaced by that shortcut's values (a
    /// list of any of them, beside the other values of a list); `None` when it names
    /// no shortcut. As in Arkime, only `==` and `!=` take shortcuts, not in an all-of
    /// list, and only on fields of the shortcut's kind.
    fn spread_shortcuts(&self, t: &Term, kind: FieldKind) -> Result<Option<Term>, QueryError> {
        let named = |v: &Value| matches!(v, Value::Word(w) if w.starts_with('$'));
        let items = match &t.value {
            v if named(v) => vec![(v.clone(), t.value_span)],
            Value::List { all, items } if items.iter().any(|(v, _)| named(v)) => {
                if *all {
                    return Err(self.err(t.value_span, "a shortcut cannot be in an all-of list (]…[)"));
                }
                items.clone()
            }
            _ => return Ok(None),
        };
        if order(t.op).is_some() {
            return Err(self.err(t.op_span, format!("a shortcut takes == or !=, not '{}'", t.op.as_str())));
        }
        let mut spread = Vec::new();
        for (v, span) in items {
            let Value::Word(w) = &v else {
                spread.push((v, span));
                continue;
            };
            let Some(name) = w.strip_prefix('$') else {
                spread.push((v, span));
                continue;
            };
            let s = self.shortcuts.shortcut(name).ok_or_else(|| self.err(span, format!("no shortcut named '{w}'")))?;
            if !s.kind.takes(kind) {
                return Err(self
                    .err(span, format!("'{w}' holds {} and {} holds {}", s.kind.plural(), t.field, kind_name(kind))));
            }
            if s.values.is_empty() {
                return Err(self.err(span, format!("'{w}' holds no values")));
            }
            spread.extend(s.values.iter().map(|x| (Value::Exact(x.clone()), span)));
        }
        Ok(Some(Term { value: Value::List { all: false, items: spread }, ..t.clone() }))
    }

    /// `field.cnt == n` (or an order, a range, a list): how many values the field
    /// holds, as Arkime counts them; the caller negates for `!=`.
    fn count_term(&self, f: &'static FieldDef, t: &Term) -> Result<Filter, QueryError> {
        let not_a_count = |v: &Value| matches!(v, Value::Exists | Value::Regex(_)) || *v == Value::Word("*".into());
        let items_not_counts = match &t.value {
            Value::List { items, .. } => items.iter().any(|(v, _)| not_a_count(v)),
            v => not_a_count(v),
        };
        if items_not_counts {
            return Err(self.err(t.value_span, format!("{} is a number of values: compare it with numbers", t.field)));
        }
        Ok(counts(self.int_value(f, &t.field, t, &t.value, t.value_span)?))
    }

    /// `field.tokens == words`: as Arkime's word-split fields (`http.uri.tokens`), the
    /// words of the value (split at every character other than a letter, digit or `_`,
    /// any case) appear in that order, next to each other, in one of the field's
    /// values: `http.uri.tokens == "admin login"` finds `/Admin/login.php`. A value
    /// with `*` or a regular expression applies to the whole value, as in Arkime.
    fn tokens_value(&self, f: &'static FieldDef, v: &Value, span: Span) -> Result<Filter, QueryError> {
        match v {
            Value::List { all, items } => {
                let parts = items.iter().map(|(v, s)| self.tokens_value(f, v, *s)).collect::<Result<Vec<_>, _>>()?;
                Ok(combine(*all, parts))
            }
            Value::Word(w) | Value::Quoted(w) | Value::Exact(w) if !w.contains('*') => {
                let words: Vec<&str> =
                    w.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
                if words.is_empty() {
                    return Err(self.err(span, format!("'{w}' holds no word ({} searches words)", f.name)));
                }
                // Whole-value match: the words, separated by non-word characters,
                // each bounded by the value's ends or a non-word character.
                let pattern = format!(r"(?:.*\W)?{}(?:\W.*)?", words.join(r"\W+"));
                Ok(Filter::Text { field: f, m: TextMatch::Regex { pattern, case_insensitive: true } })
            }
            v => self.text_value(f, v, span),
        }
    }

    /// The filter for `==` (or an order) on one field; the caller negates for `!=`.
    fn field_term(&self, f: &'static FieldDef, t: &Term) -> Result<Filter, QueryError> {
        if t.value == Value::Exists {
            return Ok(Filter::Exists(f));
        }
        // `field == *` means the field has a value (Arkime asks for EXISTS! instead;
        // the seeds' recipes write `*`).
        if t.value == Value::Word("*".into()) && order(t.op).is_none() {
            return Ok(Filter::Exists(f));
        }
        match f.kind {
            FieldKind::Integer => self.int_value(f, f.name, t, &t.value, t.value_span),
            FieldKind::Ip => self.ip_value(f, None, t, &t.value, t.value_span),
            FieldKind::Date => self.time_value(f, t, &t.value, t.value_span),
            FieldKind::Duration => self.duration_value(f, t, &t.value, t.value_span),
            FieldKind::Text | FieldKind::LowerText => {
                if order(t.op).is_some() {
                    return Err(self.err(
                        t.op_span,
                        format!("'{}' does not apply to {} (text); use == or !=", t.op.as_str(), f.name),
                    ));
                }
                self.text_value(f, &t.value, t.value_span)
            }
        }
    }

    fn no_regex_or_list_order(&self, f: &FieldDef, t: &Term, v: &Value, span: Span) -> Result<(), QueryError> {
        if let Value::Regex(_) = v {
            return Err(
                self.err(span, format!("{} holds {}: regular expressions apply to text", f.name, kind_name(f.kind)))
            );
        }
        if let (Value::List { .. }, Some(_)) = (v, order(t.op)) {
            return Err(self.err(span, format!("a list takes == or !=, not '{}'", t.op.as_str())));
        }
        Ok(())
    }

    /// `name` is the field as error messages call it (`http.uri.cnt` for a count).
    fn int_value(
        &self,
        f: &'static FieldDef,
        name: &str,
        t: &Term,
        v: &Value,
        span: Span,
    ) -> Result<Filter, QueryError> {
        self.no_regex_or_list_order(f, t, v, span)?;
        let word = match v {
            Value::List { all, items } => {
                let parts =
                    items.iter().map(|(v, s)| self.int_value(f, name, t, v, *s)).collect::<Result<Vec<_>, _>>()?;
                if !all && parts.iter().all(|p| matches!(p, Filter::IntIn { .. })) {
                    let values = parts
                        .into_iter()
                        .flat_map(|p| match p {
                            Filter::IntIn { values, .. } => values,
                            _ => Vec::new(),
                        })
                        .collect();
                    return Ok(Filter::IntIn { field: f, values });
                }
                return Ok(combine(*all, parts));
            }
            Value::Word(w) | Value::Quoted(w) | Value::Exact(w) => w.trim(),
            Value::Regex(_) | Value::Exists => return Err(self.err(span, "unexpected value")),
        };
        let bad = || self.err(span, format!("'{word}' is not a number ({name} holds integers)"));
        if f.transform == Transform::IpProtocol {
            if let Some(n) = ip_protocol_number(word) {
                return Ok(self.int_filter(f, t.op, n));
            }
        }
        if let Ok(n) = word.parse::<i64>() {
            return Ok(self.int_filter(f, t.op, n));
        }
        // `1024-65535`: a range, for == and != only.
        if let Some((a, b)) = word.get(1..).and_then(|w| w.split_once('-')).map(|(a, b)| (&word[..a.len() + 1], b)) {
            if let (Ok(lo), Ok(hi)) = (a.parse::<i64>(), b.parse::<i64>()) {
                if order(t.op).is_some() {
                    return Err(self.err(span, "a range takes == or !="));
                }
                if lo > hi {
                    return Err(self.err(span, format!("empty range {lo}-{hi}")));
                }
                return Ok(Filter::IntRange { field: f, lo, hi });
            }
        }
        Err(bad())
    }

    fn int_filter(&self, f: &'static FieldDef, op: CmpOp, n: i64) -> Filter {
        match order(op) {
            Some(order) => Filter::IntCmp { field: f, order, value: n },
            None => Filter::IntIn { field: f, values: vec![n] },
        }
    }

    fn ip_value(
        &self,
        f: &'static FieldDef,
        port_field: Option<&'static FieldDef>,
        t: &Term,
        v: &Value,
        span: Span,
    ) -> Result<Filter, QueryError> {
        self.no_regex_or_list_order(f, t, v, span)?;
        let word = match v {
            Value::List { all, items } => {
                let parts =
                    items.iter().map(|(v, s)| self.ip_value(f, port_field, t, v, *s)).collect::<Result<Vec<_>, _>>()?;
                return Ok(if *all { combine(true, parts) } else { any_address(f, parts) });
            }
            Value::Word(w) | Value::Quoted(w) | Value::Exact(w) => w.trim(),
            Value::Regex(_) | Value::Exists => return Err(self.err(span, "unexpected value")),
        };
        if word.contains(['*', '?']) {
            return Err(self.err(
                span,
                format!("wildcards do not apply to {} (an IP field); use a CIDR such as 10.0.0.0/8", f.name),
            ));
        }
        // Arkime's family keywords: IPv4 is the IPv4-mapped block, IPv6 everything else.
        if order(t.op).is_none() && (word.eq_ignore_ascii_case("ipv4") || word.eq_ignore_ascii_case("ipv6")) {
            const V4_LO: u128 = 0xffff_0000_0000;
            const V4_HI: u128 = 0xffff_ffff_ffff;
            return Ok(if word.eq_ignore_ascii_case("ipv4") {
                Filter::IpRange { field: f, lo: V4_LO, hi: V4_HI }
            } else {
                Filter::Or(vec![
                    Filter::IpRange { field: f, lo: 0, hi: V4_LO - 1 },
                    Filter::IpRange { field: f, lo: V4_HI + 1, hi: u128::MAX },
                ])
            });
        }
        let ip = parse_ip_value(word).map_err(|why| self.err(span, format!("'{word}' is not an IP value: {why}")))?;
        if let Some(order) = order(t.op) {
            return match ip {
                IpValue { range: Some((lo, hi)), port: None } if lo == hi => {
                    Ok(Filter::IpCmp { field: f, order, value: lo })
                }
                _ => Err(self.err(span, format!("'{}' takes a single address", t.op.as_str()))),
            };
        }
        let port_field = port_field.or_else(|| port_of(f));
        let mut parts = Vec::new();
        if let Some((lo, hi)) = ip.range {
            parts.push(Filter::IpRange { field: f, lo, hi });
        }
        if let Some(port) = ip.port {
            let pf = port_field.ok_or_else(|| self.err(span, format!("{} has no port to match", f.name)))?;
            parts.push(Filter::IntIn { field: pf, values: vec![i64::from(port)] });
        }
        Ok(combine(true, parts))
    }

    /// `ip == …`: any address field; with a port, only the fields that have one.
    fn ip_set_term(&self, members: &[&str], t: &Term) -> Result<Filter, QueryError> {
        if let Value::Regex(_) = t.value {
            return Err(self.err(t.value_span, "regular expressions do not apply to IP fields"));
        }
        let has_port = value_words(&t.value).iter().any(|w| parse_ip_value(w).is_ok_and(|ip| ip.port.is_some()));
        let mut parts = Vec::new();
        for m in members {
            let Some(f) = tyto_schema::field(m) else { continue };
            if has_port && port_of(f).is_none() {
                continue;
            }
            parts.push(self.ip_value(f, None, t, &t.value, t.value_span)?);
        }
        let positive = Filter::Or(parts);
        Ok(if t.op == CmpOp::Ne { Filter::Not(Box::new(positive)) } else { positive })
    }

    fn time_value(&self, f: &'static FieldDef, t: &Term, v: &Value, span: Span) -> Result<Filter, QueryError> {
        self.no_regex_or_list_order(f, t, v, span)?;
        let word = match v {
            Value::List { all, items } => {
                let parts = items.iter().map(|(v, s)| self.time_value(f, t, v, *s)).collect::<Result<Vec<_>, _>>()?;
                return Ok(combine(*all, parts));
            }
            Value::Word(w) | Value::Quoted(w) | Value::Exact(w) => w.trim(),
            Value::Regex(_) | Value::Exists => return Err(self.err(span, "unexpected value")),
        };
        let (ns, width) = parse_when_span_in(word, self.now_ns, self.zone).ok_or_else(|| {
            self.err(
                span,
                format!("'{word}' is not a time: use 2024-05-01T10:00:00Z, 2024/05/01 10:00:00, epoch seconds, or -1d, -2h, -30m"),
            )
        })?;
        // A time means the span its last digit covers (`==` a second is within that
        // second, as Arkime); `<=` and `>` take the whole span, so that `<`, `==` and
        // `>` split every moment between them.
        let end = ns.saturating_add(width);
        Ok(match order(t.op) {
            Some(order @ (Order::Lt | Order::Ge)) => Filter::TimeCmp { field: f, order, ns },
            Some(Order::Le) => Filter::TimeCmp { field: f, order: Order::Lt, ns: end },
            Some(Order::Gt) => Filter::TimeCmp { field: f, order: Order::Ge, ns: end },
            None => Filter::TimeRange { field: f, lo: ns, hi: end },
        })
    }

    /// A duration typed in milliseconds (`2.5`), or with a unit (`300us`, `2ms`,
    /// `1.5s`), held in microseconds. As a time `==` a second means within that
    /// second, a duration means the span its last digit covers: `== 2` is 2.000 to
    /// 2.999 ms, `<= 2` and `> 2` agree with it, `== 2.500` is exact.
    fn duration_value(&self, f: &'static FieldDef, t: &Term, v: &Value, span: Span) -> Result<Filter, QueryError> {
        self.no_regex_or_list_order(f, t, v, span)?;
        let word = match v {
            Value::List { all, items } => {
                let parts =
                    items.iter().map(|(v, s)| self.duration_value(f, t, v, *s)).collect::<Result<Vec<_>, _>>()?;
                return Ok(combine(*all, parts));
            }
            Value::Word(w) | Value::Quoted(w) | Value::Exact(w) => w.trim(),
            Value::Regex(_) | Value::Exists => return Err(self.err(span, "unexpected value")),
        };
        let bad = || {
            self.err(
                span,
                format!(
                    "'{word}' is not a duration ({} holds milliseconds: 2.5, or with a unit: 300us, 2ms, 1.5s; \
                     to the microsecond)",
                    f.name
                ),
            )
        };
        let (lo, hi) = match parse_duration(word) {
            Some((us, width)) => (us, us.saturating_add(width - 1)),
            None => {
                // `1-5`: a range, for == and != only.
                let (a, b) = word.split_once('-').ok_or_else(bad)?;
                let ((lo, _), (b, width)) = (parse_duration(a).ok_or_else(bad)?, parse_duration(b).ok_or_else(bad)?);
                if order(t.op).is_some() {
                    return Err(self.err(span, "a range takes == or !="));
                }
                let hi = b.saturating_add(width - 1);
                if lo > hi {
                    return Err(self.err(span, format!("empty range {word}")));
                }
                (lo, hi)
            }
        };
        Ok(match order(t.op) {
            Some(order @ (Order::Lt | Order::Ge)) => Filter::IntCmp { field: f, order, value: lo },
            Some(order) => Filter::IntCmp { field: f, order, value: hi },
            None => Filter::IntRange { field: f, lo, hi },
        })
    }

    fn text_value(&self, f: &'static FieldDef, v: &Value, span: Span) -> Result<Filter, QueryError> {
        let norm = |s: &str| normalise(f, s);
        let m = match v {
            Value::List { all, items } => {
                let parts = items.iter().map(|(v, s)| self.text_value(f, v, *s)).collect::<Result<Vec<_>, _>>()?;
                if !all && parts.iter().all(|p| matches!(p, Filter::Text { m: TextMatch::Exact(_), .. })) {
                    let values = parts
                        .into_iter()
                        .filter_map(|p| match p {
                            Filter::Text { m: TextMatch::Exact(s), .. } => Some(s),
                            _ => None,
                        })
                        .collect();
                    return Ok(Filter::Text { field: f, m: TextMatch::AnyOf(values) });
                }
                return Ok(combine(*all, parts));
            }
            // As in Arkime, a `*` makes a value a wildcard, quoted or not (quotes keep
            // spaces and commas); a `?` is one only beside a `*`, so a URL's query
            // (`/search?q=1`) is itself. `*` alone means the field has a value.
            Value::Word(w) | Value::Quoted(w) if w == "*" => return Ok(Filter::Exists(f)),
            Value::Word(w) | Value::Quoted(w) if w.contains('*') => TextMatch::Wildcard(norm(w)),
            Value::Word(w) | Value::Quoted(w) | Value::Exact(w) => TextMatch::Exact(norm(w)),
            Value::Regex(r) => {
                check_regex(r).map_err(|why| self.err(span, format!("bad regular expression: {why}")))?;
                let case_insensitive = f.kind == FieldKind::LowerText || f.transform == Transform::Upper;
                TextMatch::Regex { pattern: r.clone(), case_insensitive }
            }
            Value::Exists => return Ok(Filter::Exists(f)),
        };
        Ok(Filter::Text { field: f, m })
    }
}

/// `[a, b, …]` on an address field: the single addresses gathered into one set test,
/// the ranges (CIDRs, address:port pairs) kept beside it.
fn any_address(f: &'static FieldDef, parts: Vec<Filter>) -> Filter {
    let mut singles = Vec::new();
    let mut rest = Vec::new();
    for p in parts {
        match p {
            Filter::IpRange { lo, hi, .. } if lo == hi => singles.push(lo),
            Filter::IpIn { values, .. } => singles.extend(values),
            other => rest.push(other),
        }
    }
    singles.sort_unstable();
    singles.dedup();
    match singles.len() {
        0 => {}
        1 => rest.push(Filter::IpRange { field: f, lo: singles[0], hi: singles[0] }),
        _ => rest.push(Filter::IpIn { field: f, values: singles }),
    }
    combine(false, rest)
}

/// Comparisons an expression may expand to once field sets and lists are spread over
/// their fields (`ip == [CIDR, …]` is one per address field and range). Each is a
/// predicate the store evaluates on every row in range: past a few thousand, one
/// request can hold the store for minutes (Elasticsearch, under Arkime, stops at
/// 1,024 clauses by default).
pub const MAX_COMPARISONS: usize = 4_096;

impl Filter {
    /// Leaf comparisons in the filter (a set test counts once).
    pub fn comparisons(&self) -> usize {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().map(Filter::comparisons).sum(),
            Filter::Not(inner) => inner.comparisons(),
            _ => 1,
        }
    }
}

/// The words of a value (items of a list), for deciding how to expand `ip`.
fn value_words(v: &Value) -> Vec<&str> {
    match v {
        Value::Word(w) | Value::Quoted(w) | Value::Exact(w) => vec![w.as_str()],
        Value::List { items, .. } => items.iter().flat_map(|(v, _)| value_words(v)).collect(),
        _ => Vec::new(),
    }
}

fn port_of(f: &FieldDef) -> Option<&'static FieldDef> {
    IP_PORT_PAIRS.iter().find(|(ip, _)| *ip == f.name).and_then(|(_, port)| tyto_schema::field(port))
}

/// A text value as the field stores it: case folded, URL parts removed.
fn normalise(f: &FieldDef, s: &str) -> String {
    let mut s = s.to_string();
    if matches!(f.transform, Transform::Uri | Transform::Host) {
        if let Some(i) = s.find("://") {
            if i > 0 && s[..i].bytes().all(|b| b.is_ascii_alphabetic()) {
                s.drain(..i + 3);
            }
        }
        if f.transform == Transform::Host {
            if let Some(i) = s.find('/') {
                s.truncate(i);
            }
        }
    }
    if f.transform == Transform::Mac {
        s = s.replace('-', ":");
    }
    if f.kind == FieldKind::LowerText {
        s = s.to_lowercase();
    }
    if f.transform == Transform::Upper {
        s = s.to_uppercase();
    }
    s
}

/// RE2 (DuckDB's and ClickHouse's engine) refuses repetition counts above this.
const RE2_MAX_REPEAT: u32 = 1000;
/// Compiled size allowed: RE2 gives up past ~8 MiB of program by default; the regex
/// crate's measure of the same pattern stays well under this when RE2 accepts it.
const COMPILED_LIMIT: usize = 4 << 20;

/// Checks a pattern as the stores' engine (RE2) will: a pattern accepted here must
/// not fail there (which would be the store's error, not the user's).
fn check_regex(r: &str) -> Result<(), String> {
    if r.len() > 4096 {
        return Err("longer than 4096 bytes".into());
    }
    let last_line = |e: String| e.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid").trim().to_string();
    // The crate's message spans several lines with a drawing; the last line says why.
    let ast = regex_syntax::ast::parse::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(r)
        .map_err(|e| last_line(e.to_string()))?;
    if let Some(n) = largest_repeat(&ast).filter(|n| *n > RE2_MAX_REPEAT) {
        return Err(format!("a repetition count of {n} (at most {RE2_MAX_REPEAT})"));
    }
    regex_syntax::ParserBuilder::new().nest_limit(64).build().parse(r).map_err(|e| last_line(e.to_string()))?;
    regex::RegexBuilder::new(r).size_limit(COMPILED_LIMIT).build().map(|_| ()).map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => "the pattern is too large once compiled".to_string(),
        other => last_line(other.to_string()),
    })
}

/// The largest `{n}`, `{n,}` or `{n,m}` count in a pattern.
fn largest_repeat(ast: &regex_syntax::ast::Ast) -> Option<u32> {
    use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
    match ast {
        Ast::Repetition(rep) => {
            let own = match &rep.op.kind {
                RepetitionKind::Range(RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n)) => Some(*n),
                RepetitionKind::Range(RepetitionRange::Bounded(a, b)) => Some((*a).max(*b)),
                _ => None,
            };
            own.max(largest_repeat(&rep.ast))
        }
        Ast::Group(g) => largest_repeat(&g.ast),
        Ast::Alternation(a) => a.asts.iter().filter_map(largest_repeat).max(),
        Ast::Concat(c) => c.asts.iter().filter_map(largest_repeat).max(),
        _ => None,
    }
}

/// IP protocol names Arkime accepts for `ip.protocol`.
fn ip_protocol_number(word: &str) -> Option<i64> {
    tyto_packet::ipproto::number(&word.to_ascii_lowercase()).map(i64::from)
}

/// Absolute times, epoch seconds, and Arkime's relative forms: `-1d`, `+2h`, `-30m`,
/// `-1w`, with an optional snap to the start of a unit (`-1d@d`, `@h`).
pub fn parse_when(word: &str, now_ns: i64) -> Option<i64> {
    parse_when_span(word, now_ns).map(|(ns, _)| ns)
}

/// How a date and time written without `Z` is read: as a zone's wall clock (a
/// user's time zone; UTC by default).
pub trait Zone {
    /// The instant (ns since the epoch) at which this zone's clocks show `wall_ns`
    /// (a wall-clock time counted as if it were UTC); the earlier one when clocks
    /// show it twice, the moment after a gap for one they skip. `None` when out of
    /// range.
    fn instant(&self, wall_ns: i64) -> Option<i64>;
}

/// Wall clocks are UTC.
pub struct Utc;

impl Zone for Utc {
    fn instant(&self, wall_ns: i64) -> Option<i64> {
        Some(wall_ns)
    }
}

/// [`parse_when_span`], with dates and times written without `Z` read in `zone`
/// (epoch seconds and relative times are instants already). The span is the
/// zone's: a day that clocks leave an hour early is 23 hours long.
pub fn parse_when_span_in(word: &str, now_ns: i64, zone: &dyn Zone) -> Option<(i64, i64)> {
    let (ns, width) = parse_when_span(word, now_ns)?;
    let w = word.trim();
    let wall = parse_time(w).is_some() && !w.ends_with('Z') && w.parse::<i64>().is_err();
    if !wall {
        return Some((ns, width));
    }
    let start = zone.instant(ns)?;
    let end = zone.instant(ns.checked_add(width)?)?;
    Some((start, end.saturating_sub(start).max(FINEST_NS)))
}

/// Stores keep times to the microsecond: no span is finer.
const FINEST_NS: i64 = 1_000;

/// A time as [`parse_when`] reads it, and the span (ns) its last digit covers: a
/// date alone its day, `HH:MM` its minute, seconds their second, a fraction its
/// last digit (to the microsecond); epoch seconds a second (a fraction, its last
/// digit); a relative time the second it names.
pub fn parse_when_span(word: &str, now_ns: i64) -> Option<(i64, i64)> {
    const S: i64 = 1_000_000_000;
    let word = word.trim();
    if let Some((secs, frac)) = word.split_once('.').filter(|(a, b)| {
        !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && (1..=9).contains(&b.len())
            && b.bytes().all(|c| c.is_ascii_digit())
    }) {
        let whole = secs.parse::<i64>().ok()?.checked_mul(S)?;
        let width = 10i64.pow(9 - frac.len() as u32);
        let ns = whole.checked_add(frac.parse::<i64>().ok()? * width)?;
        return Some(finest(ns, width));
    }
    if let Some(ns) = parse_time(word) {
        let body = word.strip_suffix('Z').unwrap_or(word);
        let width = match body.split_once(['T', ' ']).map(|(_, t)| t) {
            None | Some("") if word.parse::<i64>().is_ok() => S,
            None | Some("") => 86_400 * S,
            Some(time) => match time.split_once('.') {
                Some((_, frac)) => 10i64.pow(9 - frac.len() as u32),
                None if time.matches(':').count() == 1 => 60 * S,
                None => S,
            },
        };
        return Some(finest(ns, width));
    }
    parse_relative(word, now_ns).map(|ns| (ns, S))
}

/// A time and its span at the stores' precision.
fn finest(ns: i64, width: i64) -> (i64, i64) {
    if width >= FINEST_NS {
        (ns, width)
    } else {
        (ns.div_euclid(FINEST_NS) * FINEST_NS, FINEST_NS)
    }
}

/// Arkime's relative forms.
fn parse_relative(word: &str, now_ns: i64) -> Option<i64> {
    let (sign, rest) = match word.as_bytes().first()? {
        b'-' => (-1i64, &word[1..]),
        b'+' => (1, &word[1..]),
        b'@' => (0, word),
        _ => return None,
    };
    let (amount, snap) = match rest.split_once('@') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let mut t = now_ns;
    if let Some(snap) = snap {
        let unit = unit_ns(snap)?;
        t = t.div_euclid(unit) * unit;
    }
    if sign != 0 {
        let digits = amount.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = if digits == 0 { 1 } else { amount[..digits].parse().ok()? };
        let unit = unit_ns(&amount[digits..])?;
        t = t.checked_add(sign.checked_mul(n)?.checked_mul(unit)?)?;
    }
    Some(t)
}

fn unit_ns(u: &str) -> Option<i64> {
    const S: i64 = 1_000_000_000;
    Some(match u {
        "s" | "sec" | "secs" | "second" | "seconds" => S,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * S,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600 * S,
        "d" | "day" | "days" => 86_400 * S,
        "w" | "week" | "weeks" => 7 * 86_400 * S,
        "M" | "mon" | "mons" | "month" | "months" => 30 * 86_400 * S,
        "y" | "yr" | "yrs" | "year" | "years" => 365 * 86_400 * S,
        _ => return None,
    })
}

/// Checks a syntax tree against the catalogue. `now_ns` anchors relative times.
pub fn check(text: &str, expr: &Expr, context: &crate::Context<'_>) -> Result<Filter, QueryError> {
    let filter =
        Checker { text, now_ns: context.now_ns, shortcuts: context.shortcuts, zone: context.zone }.expr(expr)?;
    let n = filter.comparisons();
    if n > MAX_COMPARISONS {
        return Err(QueryError::at(
            text,
            0,
            format!(
                "the expression expands to {n} comparisons (at most {MAX_COMPARISONS}): field sets such as `ip` \
                 and `host` test each of their fields; name one field, or use fewer ranges"
            ),
        ));
    }
    Ok(filter)
}
