//! Text to syntax tree. Hand-written: the grammar is small, and errors must name the
//! column and what was expected there, which a generated parser makes hard.
//!
//! ```text
//! expr    := and ('||' and)*
//! and     := unary ('&&' unary)*
//! unary   := '!' unary | '(' expr ')' | term
//! term    := FIELD op value
//! op      := '==' | '=' | '!=' | '<' | '<=' | '>' | '>='
//! value   := WORD | "quoted" | /regex/ | [a,b] | ]a,b[ | EXISTS!
//! ```
//! `&` and `|` are read as `&&` and `||`, as Arkime does.

use crate::ast::{CmpOp, Expr, Span, Term, Value};
use crate::QueryError;

/// Longest expression accepted (bytes).
pub const MAX_EXPRESSION_LEN: usize = 64 * 1024;
/// Deepest nesting of parentheses and negations.
pub const MAX_DEPTH: usize = 64;
/// Most items in one `[…]` list.
pub const MAX_LIST_ITEMS: usize = 10_000;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Regex(String),
    List { all: bool, items: Vec<(Value, Span)> },
    Exists,
    Op(CmpOp),
    And,
    Or,
    Not,
    LParen,
    RParen,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Quoted(_) => "a quoted string".into(),
        Tok::Regex(_) => "a regular expression".into(),
        Tok::List { .. } => "a list".into(),
        Tok::Exists => "EXISTS!".into(),
        Tok::Op(op) => format!("'{}'", op.as_str()),
        Tok::And => "'&&'".into(),
        Tok::Or => "'||'".into(),
        Tok::Not => "'!'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::End => "the end".into(),
    }
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '(' | ')' | '&' | '|' | '!' | '=' | '<' | '>' | '[' | ']')
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn err(&self, at: usize, msg: impl Into<String>) -> QueryError {
        QueryError::at(self.text, at, msg)
    }

    /// Reads up to an unescaped `close`, removing backslashes before any character
    /// (`keep_escapes` keeps them, except before `close`: regular expressions need theirs).
    fn delimited(&mut self, close: char, keep_escapes: bool, what: &str) -> Result<String, QueryError> {
        let open_at = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some((_, e)) => {
                        if keep_escapes && e != close {
                            out.push('\\');
                        }
                        out.push(e);
                    }
                    None => break,
                }
            } else if c == close {
                self.pos += i + c.len_utf8();
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(self.err(open_at, format!("{what} starting here is not closed with {close}")))
    }

    /// `/…/` is a regular expression when the closing slash ends the value, as in
    /// Arkime's grammar; otherwise (`/js/app.js`, a path, an unclosed `/x`) the value
    /// is a word beginning with a slash, and `None` leaves the position at `start`.
    fn regex_or_word(&mut self, start: usize) -> Option<String> {
        match self.delimited('/', true, "regular expression") {
            Ok(re) if self.rest().chars().next().is_none_or(|c| ends_word(c) || c == ',') => Some(re),
            _ => {
                self.pos = start;
                None
            }
        }
    }

    /// A `[…]` or `]…[` list: items split on commas outside quotes and slashes.
    fn list(&mut self, all: bool) -> Result<Tok, QueryError> {
        let open_at = self.pos;
        let close = if all { '[' } else { ']' };
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            while self.rest().starts_with(char::is_whitespace) {
                self.pos += self.rest().chars().next().map_or(1, char::len_utf8);
            }
            let item_at = self.pos;
            let c = match self.rest().chars().next() {
                None => return Err(self.err(open_at, format!("list starting here is not closed with {close}"))),
                Some(c) => c,
            };
            if c == close && items.is_empty() {
                return Err(self.err(open_at, "empty list"));
            }
            let regex = if c == '/' { self.regex_or_word(item_at) } else { None };
            let item = match (c, regex) {
                (_, Some(re)) => Value::Regex(re),
                ('"', None) => Value::Quoted(self.delimited('"', false, "string")?),
                _ => {
                    let mut word = String::new();
                    let mut chars = self.rest().char_indices();
                    let mut end = self.rest().len();
                    while let Some((i, ch)) = chars.next() {
                        if ch == '\\' {
                            if let Some((_, e)) = chars.next() {
                                word.push(e);
                                continue;
                            }
                        }
                        if ch == ',' || ch == close {
                            end = i;
                            break;
                        }
                        word.push(ch);
                    }
                    self.pos += end;
                    let word = word.trim_end().to_string();
                    if word.is_empty() {
                        return Err(self.err(item_at, "empty item in list"));
                    }
                    Value::Word(word)
                }
            };
            items.push((item, Span { start: item_at, end: self.pos }));
            if items.len() > MAX_LIST_ITEMS {
                return Err(self.err(item_at, format!("more than {MAX_LIST_ITEMS} items in a list")));
            }
            while self.rest().starts_with(char::is_whitespace) {
                self.pos += self.rest().chars().next().map_or(1, char::len_utf8);
            }
            match self.rest().chars().next() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(Tok::List { all, items });
                }
                Some(_) => return Err(self.err(self.pos, format!("expected ',' or '{close}' in the list"))),
                None => return Err(self.err(open_at, format!("list starting here is not closed with {close}"))),
            }
        }
    }

    fn next(&mut self) -> Result<(Tok, Span), QueryError> {
        while let Some(c) = self.rest().chars().next().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
        let start = self.pos;
        let rest = self.rest();
        let fixed: Option<(Tok, usize)> = if rest.is_empty() {
            Some((Tok::End, 0))
        } else if rest.starts_with("EXISTS!") {
            Some((Tok::Exists, 7))
        } else if rest.starts_with("==") {
            Some((Tok::Op(CmpOp::Eq), 2))
        } else if rest.starts_with("!=") {
            Some((Tok::Op(CmpOp::Ne), 2))
        } else if rest.starts_with("<=") {
            Some((Tok::Op(CmpOp::Le), 2))
        } else if rest.starts_with(">=") {
            Some((Tok::Op(CmpOp::Ge), 2))
        } else if rest.starts_with("&&") {
            Some((Tok::And, 2))
        } else if rest.starts_with("||") {
            Some((Tok::Or, 2))
        } else {
            match rest.as_bytes()[0] {
                b'=' => Some((Tok::Op(CmpOp::Eq), 1)),
                b'<' => Some((Tok::Op(CmpOp::Lt), 1)),
                b'>' => Some((Tok::Op(CmpOp::Gt), 1)),
                b'&' => Some((Tok::And, 1)),
                b'|' => Some((Tok::Or, 1)),
                b'!' => Some((Tok::Not, 1)),
                b'(' => Some((Tok::LParen, 1)),
                b')' => Some((Tok::RParen, 1)),
                _ => None,
            }
        };
        let tok = match fixed {
            Some((t, len)) => {
                self.pos += len;
                t
            }
            None => match rest.chars().next() {
                Some('"') => Tok::Quoted(self.delimited('"', false, "string")?),
                Some('/') => match self.regex_or_word(start) {
                    Some(re) => Tok::Regex(re),
                    None => {
                        let len = rest.find(ends_word).unwrap_or(rest.len());
                        self.pos = start + len;
                        Tok::Word(rest[..len].to_string())
                    }
                },
                Some('[') => self.list(false)?,
                Some(']') => self.list(true)?,
                _ => {
                    let len = rest.find(ends_word).unwrap_or(rest.len());
                    self.pos += len;
                    Tok::Word(rest[..len].to_string())
                }
            },
        };
        Ok((tok, Span { start, end: self.pos }))
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    span: Span,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> Result<(Tok, Span), QueryError> {
        let (next, span) = self.lexer.next()?;
        let prev = std::mem::replace(&mut self.tok, next);
        let prev_span = std::mem::replace(&mut self.span, span);
        Ok((prev, prev_span))
    }

    fn err(&self, span: Span, msg: impl Into<String>) -> QueryError {
        QueryError::span(self.lexer.text, span, msg)
    }

    fn expr(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and()?];
        while self.tok == Tok::Or {
            let (_, op) = self.advance()?;
            self.operand_follows(op, "||")?;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::Or(Vec::new())) } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.unary()?];
        while self.tok == Tok::And {
            let (_, op) = self.advance()?;
            self.operand_follows(op, "&&")?;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::And(Vec::new())) } else { Expr::And(parts) })
    }

    /// After `&&`/`||`/`!`, something must follow.
    fn operand_follows(&self, op: Span, name: &str) -> Result<(), QueryError> {
        if matches!(self.tok, Tok::End | Tok::RParen | Tok::And | Tok::Or) {
            return Err(self.err(op, format!("'{name}' has nothing after it")));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(self.span, format!("nested more than {MAX_DEPTH} deep")));
        }
        let out = match self.tok {
            Tok::Not => {
                let (_, op) = self.advance()?;
                self.operand_follows(op, "!")?;
                Expr::Not(Box::new(self.unary()?))
            }
            Tok::LParen => {
                let (_, open) = self.advance()?;
                if self.tok == Tok::RParen {
                    return Err(self.err(open, "empty parentheses"));
                }
                let inner = self.expr()?;
                if self.tok != Tok::RParen {
                    return Err(if self.tok == Tok::End {
                        self.err(open, "'(' is never closed")
                    } else {
                        self.err(self.span, format!("expected '&&', '||' or ')', found {}", describe(&self.tok)))
                    });
                }
                self.advance()?;
                inner
            }
            _ => self.term()?,
        };
        self.depth -= 1;
        Ok(out)
    }

    fn term(&mut self) -> Result<Expr, QueryError> {
        let (tok, field_span) = self.advance()?;
        let field = match tok {
            Tok::Word(w) => w,
            Tok::End => return Err(self.err(field_span, "expected a field name, found the end")),
            Tok::RParen => return Err(self.err(field_span, "')' has no '(' before it")),
            other => return Err(self.err(field_span, format!("expected a field name, found {}", describe(&other)))),
        };
        let (tok, op_span) = self.advance()?;
        let op = match tok {
            Tok::Op(op) => op,
            other => {
                return Err(self.err(
                    op_span,
                    format!("expected ==, !=, <, <=, > or >= after '{field}', found {}", describe(&other)),
                ))
            }
        };
        let (tok, value_span) = self.advance()?;
        let value = match tok {
            Tok::Word(w) => Value::Word(w),
            Tok::Quoted(s) => Value::Quoted(s),
            Tok::Regex(r) => Value::Regex(r),
            Tok::List { all, items } => Value::List { all, items },
            Tok::Exists => Value::Exists,
            other => {
                return Err(self
                    .err(value_span, format!("expected a value after '{}', found {}", op.as_str(), describe(&other))))
            }
        };
        Ok(Expr::Term(Term { field, field_span, op, op_span, value, value_span }))
    }
}

/// Parses an expression into its syntax tree.
pub fn parse(text: &str) -> Result<Expr, QueryError> {
    if text.len() > MAX_EXPRESSION_LEN {
        return Err(QueryError::at(
            text,
            MAX_EXPRESSION_LEN,
            format!("expression longer than {MAX_EXPRESSION_LEN} bytes"),
        ));
    }
    let mut lexer = Lexer { text, pos: 0 };
    let (tok, span) = lexer.next()?;
    if tok == Tok::End {
        return Err(QueryError::at(text, 0, "empty expression"));
    }
    let mut p = Parser { lexer, tok, span, depth: 0 };
    let expr = p.expr()?;
    match p.tok {
        Tok::End => Ok(expr),
        Tok::RParen => Err(p.err(p.span, "')' has no '(' before it")),
        ref other => Err(p.err(p.span, format!("expected '&&' or '||', found {}", describe(other)))),
    }
}
