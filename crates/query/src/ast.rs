//! The syntax tree, as written, with where each part came from.

/// Byte offsets of a part of the expression text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value as typed, before the catalogue says what it means.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A bare word: `10.0.0.1`, `80`, `*.example.com`, `-1d`.
    Word(String),
    /// A double-quoted string, escapes removed.
    Quoted(String),
    /// `/…/`, the pattern between the slashes.
    Regex(String),
    /// `[a,b]` (any of) or `]a,b[` (all of).
    List { all: bool, items: Vec<(Value, Span)> },
    /// `EXISTS!`.
    Exists,
    /// A value taken as it is, never a pattern: one of a shortcut's, put in place of
    /// its `$name` by the checker.
    Exact(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub field: String,
    pub field_span: Span,
    pub op: CmpOp,
    pub op_span: Span,
    pub value: Value,
    pub value_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}
