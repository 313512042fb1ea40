//! `$name` in a value: a named list of values kept by the viewer (Arkime's
//! shortcuts), spread into the term as if the list had been typed, each value taken
//! exactly (never a wildcard). A shortcut holds addresses, numbers or text, and only
//! fields of that kind take it.

use std::collections::HashMap;

use tyto_schema::FieldKind;

/// What a shortcut's values are (Arkime's three types, by its names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShortcutKind {
    /// Addresses, CIDRs, `address:port`: for IP fields.
    Ip,
    /// Integers: for integer fields.
    Number,
    /// Text: for text fields.
    String,
}

impl ShortcutKind {
    pub fn parse(s: &str) -> Option<ShortcutKind> {
        match s.trim() {
            "ip" => Some(ShortcutKind::Ip),
            "number" => Some(ShortcutKind::Number),
            "string" => Some(ShortcutKind::String),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShortcutKind::Ip => "ip",
            ShortcutKind::Number => "number",
            ShortcutKind::String => "string",
        }
    }

    /// The fields of this kind take a shortcut of it.
    pub fn takes(self, field: FieldKind) -> bool {
        matches!(
            (self, field),
            (ShortcutKind::Ip, FieldKind::Ip)
                | (ShortcutKind::Number, FieldKind::Integer)
                | (ShortcutKind::String, FieldKind::Text | FieldKind::LowerText)
        )
    }

    pub(crate) fn plural(self) -> &'static str {
        match self {
            ShortcutKind::Ip => "IP addresses",
            ShortcutKind::Number => "numbers",
            ShortcutKind::String => "text",
        }
    }
}

/// A shortcut as an expression uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shortcut {
    pub kind: ShortcutKind,
    pub values: Vec<String>,
}

/// Where `$name` is looked up (the shortcuts a user may use).
pub trait Shortcuts {
    fn shortcut(&self, name: &str) -> Option<&Shortcut>;
}

impl Shortcuts for HashMap<String, Shortcut> {
    fn shortcut(&self, name: &str) -> Option<&Shortcut> {
        self.get(name)
    }
}

/// No shortcuts: `$name` is an error.
pub struct NoShortcuts;

impl Shortcuts for NoShortcuts {
    fn shortcut(&self, _: &str) -> Option<&Shortcut> {
        None
    }
}

/// A shortcut's name: letters, digits, `-` and `_` (Arkime's), at most 100.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 100 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
