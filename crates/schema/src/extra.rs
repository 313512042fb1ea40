//! Values of the catalogue fields that dissectors and enrichment fill (HTTP hosts,
//! DNS names, certificates, countries…). The session record keeps them by field name
//! rather than as one struct member each, so a protocol adds fields to the catalogue
//! alone; the store, `dump` and the query compiler find them there.

use tyto_packet::Addr;

use crate::catalogue::{FieldValue, Source};
use crate::{field, FieldKind};

/// Values kept per field at most; a hostile session cannot grow a record without bound.
pub const MAX_VALUES_PER_FIELD: usize = 256;
/// Bytes kept of one text value at most (cut on a character boundary).
pub const MAX_TEXT_LEN: usize = 4096;

/// The values of one field, distinct, in the order first seen.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    Text(Vec<String>),
    /// Integers, and times in nanoseconds for date fields.
    Int(Vec<i64>),
    Ip(Vec<Addr>),
}

impl Values {
    pub fn is_empty(&self) -> bool {
        match self {
            Values::Text(v) => v.is_empty(),
            Values::Int(v) => v.is_empty(),
            Values::Ip(v) => v.is_empty(),
        }
    }
}

/// One value on its way into a list (texts take their own way: `add_texts`).
enum Value {
    Int(i64),
    Ip(Addr),
}

/// Why a value was not added: a programming error in the dissector that sent it,
/// reported rather than panicking in the capture path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtraError {
    #[error("no field {0} is filled by dissectors")]
    UnknownField(String),
    #[error("field {field} does not hold {wanted} values")]
    WrongKind { field: &'static str, wanted: &'static str },
}

/// The dissector-filled fields of one session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// Few fields per session: a vector searched in order beats a map here.
    entries: Vec<(&'static str, Values)>,
}

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Fields set, with their values.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Values)> {
        self.entries.iter().map(|(n, v)| (*n, v))
    }

    /// A text field's values; none when absent (or not a text field).
    pub fn texts(&self, name: &str) -> &[String] {
        match self.get(name) {
            Some(Values::Text(v)) => v,
            _ => &[],
        }
    }

    /// An integer field's values; none when absent (or not an integer field).
    pub fn ints(&self, name: &str) -> &[i64] {
        match self.get(name) {
            Some(Values::Int(v)) => v,
            _ => &[],
        }
    }

    /// Keeps only the fields `keep` says yes to (by name).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|(n, _)| keep(n));
    }

    /// An address field's values; none when absent (or not an address field).
    pub fn ips(&self, name: &str) -> &[Addr] {
        match self.get(name) {
            Some(Values::Ip(v)) => v,
            _ => &[],
        }
    }

    pub fn get(&self, name: &str) -> Option<&Values> {
        // Names are kept as the catalogue's own text: the same address is the same name.
        self.entries.iter().find(|(n, _)| std::ptr::eq(*n, name) || *n == name).map(|(_, v)| v)
    }

    /// The catalogue entry of a field dissectors fill.
    fn def(name: &str) -> Result<&'static crate::FieldDef, ExtraError> {
        field(name).ok_or_else(|| ExtraError::UnknownField(name.to_string()))
    }

    fn slot(&mut self, def: &'static crate::FieldDef, wanted: &'static str) -> Result<&mut Values, ExtraError> {
        let name = def.name;
        if !matches!(def.source, Source::Extra) {
            return Err(ExtraError::UnknownField(name.to_string()));
        }
        let fits = matches!(
            (def.kind, wanted),
            (FieldKind::Text | FieldKind::LowerText, "text")
                | (FieldKind::Integer | FieldKind::Duration, "integer")
                | (FieldKind::Date, "date")
                | (FieldKind::Ip, "ip")
        );
        if !fits {
            return Err(ExtraError::WrongKind { field: def.name, wanted });
        }
        let i = match self.entries.iter().position(|(n, _)| std::ptr::eq(*n, def.name)) {
            Some(i) => i,
            None => {
                // Room for one: most fields hold one value, and an empty vector's
                // first push takes room for four (a third of a row's memory was
                // spare room).
                let empty = match wanted {
                    "text" => Values::Text(Vec::with_capacity(1)),
                    "ip" => Values::Ip(Vec::with_capacity(1)),
                    _ => Values::Int(Vec::with_capacity(1)),
                };
                self.entries.push((def.name, empty));
                self.entries.len() - 1
            }
        };
        Ok(&mut self.entries[i].1)
    }

    /// Adds a text value, normalised as the field wants (lower-cased, upper-cased,
    /// cut to [`MAX_TEXT_LEN`]). Duplicates and values past the bound are dropped.
    pub fn add_text(&mut self, name: &str, value: &str) -> Result<(), ExtraError> {
        self.add_texts(name, [value])
    }

    /// Adds text values to one field, as [`Extra::add_text`] adds each (the field and
    /// its list are found once: a message's headers, say).
    pub fn add_texts<S: AsRef<str>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = S>,
    ) -> Result<(), ExtraError> {
        let def = Self::def(name)?;
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            return Ok(());
        }
        let Values::Text(list) = self.slot(def, "text")? else { return Ok(()) };
        for value in values {
            // A full list takes nothing more: nothing is copied for it.
            if list.len() >= bound(def.multi) {
                break;
            }
            let value = cut(value.as_ref(), MAX_TEXT_LEN);
            // A value already as the field keeps it is compared before it is copied:
            // most values a dissector files are repeats (the same host in every request).
            let kept_as_is = def.transform != crate::Transform::Upper
                && (def.kind != FieldKind::LowerText
                    || !value.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()));
            if kept_as_is {
                if !list.iter().any(|s| s == value) {
                    list.push(value.to_string());
                }
                continue;
            }
            let mut v = value.to_string();
            if def.kind == FieldKind::LowerText {
                v.make_ascii_lowercase();
                if !v.is_ascii() {
                    v = v.to_lowercase();
                }
            }
            if def.transform == crate::Transform::Upper {
                v = v.to_uppercase();
            }
            if !list.contains(&v) {
                list.push(v);
            }
        }
        Ok(())
    }

    pub fn add_int(&mut self, name: &str, value: i64) -> Result<(), ExtraError> {
        self.push(Self::def(name)?, "integer", Value::Int(value))
    }

    /// Adds a time (nanoseconds since the epoch) to a date field.
    pub fn add_time(&mut self, name: &str, ns: i64) -> Result<(), ExtraError> {
        self.push(Self::def(name)?, "date", Value::Int(ns))
    }

    pub fn add_ip(&mut self, name: &str, value: Addr) -> Result<(), ExtraError> {
        self.push(Self::def(name)?, "ip", Value::Ip(value))
    }

    fn push(&mut self, def: &'static crate::FieldDef, wanted: &'static str, v: Value) -> Result<(), ExtraError> {
        let multi = def.multi;
        match (self.slot(def, wanted)?, v) {
            (Values::Int(list), Value::Int(v)) => push_bounded(list, v, multi),
            (Values::Ip(list), Value::Ip(v)) => push_bounded(list, v, multi),
            // `slot` made the list for `wanted`, which matches the value's variant.
            _ => {}
        }
        Ok(())
    }

    /// A dissector field's value in these values (a session's or a transaction's);
    /// `f` is the catalogue's entry.
    pub fn field_value(&self, f: &crate::FieldDef) -> FieldValue<'_> {
        self.value(f)
    }

    /// The value of `def` (a catalogue entry) as the catalogue presents it. Found by
    /// the name's address alone: every entry is named by its catalogue entry's own
    /// text ([`Extra::slot`]), and a store's append asks this of every column for
    /// every row, mostly for fields a row does not hold, where comparing the texts
    /// too was the store thread's largest cost of its own (perf: 2.5% of an ingest).
    pub(crate) fn value(&self, def: &crate::FieldDef) -> FieldValue<'_> {
        let (kind, multi) = (def.kind, def.multi);
        let held = self.entries.iter().find(|(n, _)| std::ptr::eq(*n, def.name)).map(|(_, v)| v);
        match (held, multi) {
            (None, _) => FieldValue::Null,
            (Some(Values::Text(v)), true) => FieldValue::Strs(v),
            (Some(Values::Text(v)), false) => v.first().map_or(FieldValue::Null, |s| FieldValue::Str(s)),
            (Some(Values::Int(v)), true) if kind == FieldKind::Date => FieldValue::Times(v.clone()),
            (Some(Values::Int(v)), true) if kind == FieldKind::Duration => FieldValue::Durations(v.clone()),
            (Some(Values::Int(v)), true) => FieldValue::Ints(v.clone()),
            (Some(Values::Int(v)), false) if kind == FieldKind::Duration => {
                v.first().map_or(FieldValue::Null, |us| FieldValue::Duration(*us))
            }
            (Some(Values::Int(v)), false) if kind == FieldKind::Date => {
                v.first().map_or(FieldValue::Null, |t| FieldValue::Time(*t))
            }
            (Some(Values::Int(v)), false) => v.first().map_or(FieldValue::Null, |i| FieldValue::Int(*i)),
            (Some(Values::Ip(v)), true) => FieldValue::Ips(v),
            (Some(Values::Ip(v)), false) => v.first().map_or(FieldValue::Null, |a| FieldValue::Ip(*a)),
        }
    }
}

/// Values a field holds at most.
fn bound(multi: bool) -> usize {
    if multi {
        MAX_VALUES_PER_FIELD
    } else {
        1
    }
}

/// A single-valued field keeps its first value; a list keeps distinct values up to the bound.
fn push_bounded<T: PartialEq>(list: &mut Vec<T>, v: T, multi: bool) {
    if list.len() < bound(multi) && !list.contains(&v) {
        list.push(v);
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values are found by the catalogue entry's name address, whatever text the
    /// dissector named the field with.
    #[test]
    fn every_field_is_found_whatever_text_named_it() {
        for def in crate::FIELDS.iter().filter(|f| matches!(f.source, Source::Extra)) {
            let mut x = Extra::default();
            let name = def.name.to_string();
            let held = match def.kind {
                FieldKind::Text | FieldKind::LowerText => x.add_text(&name, "a"),
                FieldKind::Ip => x.add_ip(&name, Addr::from_v4([10, 0, 0, 1])),
                FieldKind::Date => x.add_time(&name, 1),
                _ => x.add_int(&name, 1),
            };
            held.unwrap();
            assert!(!matches!(x.field_value(def), FieldValue::Null), "{}", def.name);
        }
    }

    #[test]
    fn values_are_normalised_deduplicated_and_bounded() {
        let mut x = Extra::default();
        x.add_text("host.http", "WWW.Example.COM").unwrap();
        x.add_text("host.http", "www.example.com").unwrap();
        x.add_text("country.src", "us").unwrap();
        x.add_text("country.src", "FR").unwrap();
        assert_eq!(x.get("host.http"), Some(&Values::Text(vec!["www.example.com".into()])));
        assert_eq!(x.get("country.src"), Some(&Values::Text(vec!["US".into()])), "single-valued keeps the first");
        for i in 0..1000 {
            x.add_text("http.uri", &format!("/{i}")).unwrap();
        }
        assert!(matches!(x.get("http.uri"), Some(Values::Text(v)) if v.len() == MAX_VALUES_PER_FIELD));
        let long = "é".repeat(MAX_TEXT_LEN);
        x.add_text("http.user-agent", &long).unwrap();
        assert!(matches!(x.get("http.user-agent"), Some(Values::Text(v)) if v[0].len() <= MAX_TEXT_LEN));
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let mut x = Extra::default();
        assert_eq!(x.add_text("no.such.field", "x"), Err(ExtraError::UnknownField("no.such.field".into())));
        assert!(matches!(x.add_int("host.http", 1), Err(ExtraError::WrongKind { .. })));
        assert!(x.add_text("ip.src", "1.2.3.4").is_err(), "core fields are not filled through here");
        assert!(x.is_empty());
    }
}
