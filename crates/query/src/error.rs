use crate::ast::Span;

/// What was wrong with an expression, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    /// 1-based, in characters.
    pub column: usize,
    /// Byte offset in the expression, for callers that underline.
    pub offset: usize,
    pub message: String,
}

impl QueryError {
    pub(crate) fn at(text: &str, offset: usize, message: impl Into<String>) -> QueryError {
        let offset = offset.min(text.len());
        let mut b = offset;
        while !text.is_char_boundary(b) {
            b -= 1;
        }
        QueryError { column: text[..b].chars().count() + 1, offset: b, message: message.into() }
    }

    pub(crate) fn span(text: &str, span: Span, message: impl Into<String>) -> QueryError {
        QueryError::at(text, span.start, message)
    }

    /// The expression with a caret under the column, for terminals.
    pub fn pointer(&self, text: &str) -> String {
        let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        format!("  {line}\n  {}^", " ".repeat(self.column - 1))
    }
}
