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

fn push_cell(out: &mut String, text: &str) {
    // Quoted when it must be; a leading = + - @ is quoted too, so spreadsheets do not
    // take a captured value for a formula.
    if text.contains([',', '"', '\n', '\r']) || text.starts_with(['=', '+', '@']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
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
        assert_eq!(out, "ip.src,protocols,http.uri\r\n10.0.0.1,tcp;http,\"/a,\"\"b\"\";=cmd\"\r\n");
        let mut out = String::new();
        push_row(&mut out, &f[2..], serde_json::json!({"http.uri": "=1+1"}).as_object().unwrap());
        assert_eq!(out, "\"=1+1\"\r\n");
    }
}
