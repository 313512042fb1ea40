//! Session rows as CSV (RFC 4180): one column per field, lists joined with `;`.

use serde_json::{Map, Value};
use tyto_schema::FieldDef;

/// A value as one CSV cell's text (before quoting).
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.iter().map(|x| cell(Some(x))).collect::<Vec<_>>().join(";"),
        Some(other) => other.to_string(),
    }
}

/// Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection
/// list). Quoting alone does not stop it: the quotes are CSV's, not the cell's.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn push_cell(out: &mut String, text: &str) {
    // A captured value that could start a formula is prefixed with `'`, which a
    // spreadsheet shows as text and never evaluates (OWASP's recommendation), and
    // quoted; other cells are quoted when CSV needs it.
    let formula = text.starts_with(FORMULA_START);
    if formula || text.contains([',', '"', '\n', '\r', ';']) {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// Appends a line of cells given as text.
pub fn push_line<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(out, c);
    }
    out.push_str("\r\n");
}

/// The header line.
pub fn header(fields: &[&FieldDef]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(&mut out, f.name);
    }
    out.push_str("\r\n");
    out
}

/// Appends one row's line.
pub fn push_row(out: &mut String, fields: &[&FieldDef], row: &Map<String, Value>) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(out, &cell(row.get(f.name)));
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_when_they_must_be() {
        let f: Vec<&FieldDef> =
            ["ip.src", "protocols", "http.uri"].iter().map(|n| tyto_schema::field(n).unwrap()).collect();
        let row =
            serde_json::json!({"ip.src": "10.0.0.1", "protocols": ["tcp", "http"], "http.uri": ["/a,\"b\"", "=cmd"]});
        let mut out = header(&f);
        push_row(&mut out, &f, row.as_object().unwrap());
        assert_eq!(out, "ip.src,protocols,http.uri\r\n10.0.0.1,\"tcp;http\",\"/a,\"\"b\"\";=cmd\"\r\n");
        for (value, cell) in [
            ("=1+1", "\"'=1+1\""),
            ("-2+3+cmd|' /C calc'!A0", "\"'-2+3+cmd|' /C calc'!A0\""),
            ("+1", "\"'+1\""),
            ("@SUM(1)", "\"'@SUM(1)\""),
            ("\t=1", "\"'\t=1\""),
            ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
            ("a-b", "a-b"),
        ] {
            let mut out = String::new();
            push_row(&mut out, &f[2..], serde_json::json!({ "http.uri": value }).as_object().unwrap());
            assert_eq!(out, format!("{cell}\r\n"), "{value}");
        }
    }
}
