//! Reading indicator sources: plain lists, CSV, MISP JSON exports and STIX 2.1
//! bundles. A source with one bad entry is refused whole, with the line of that
//! entry: half a feed loaded silently is worse than a feed refused loudly.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::indicator::{classify, shorten, Expect, Indicator};

/// How a source file is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One indicator a line; `#` starts a comment.
    #[default]
    List,
    /// Comma-separated values, the indicators in one column.
    Csv,
    /// A MISP event, a list of events, or a `restSearch` answer (JSON).
    Misp,
    /// A STIX 2.1 bundle of indicators (JSON).
    Stix,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::List => "list",
            Format::Csv => "csv",
            Format::Misp => "misp",
            Format::Stix => "stix",
        })
    }
}

/// Why a source was refused, with the line at fault where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "line {n}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn at(line: usize, message: impl Into<String>) -> SourceError {
    SourceError { line: Some(line), message: message.into() }
}

/// What a source holds.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub indicators: Vec<Indicator>,
    /// Entries of kinds Tyto does not match (a MISP `regkey`, a STIX `process`
    /// pattern, a retired indicator): counted, not refused.
    pub skipped: u64,
}

/// Indicators one source may hold: past this it is refused, not cut.
pub const MAX_INDICATORS: usize = 20_000_000;

/// Reads a source's text in its format; `column` is the CSV column (a header
/// name, or a number from 1; empty: the first).
pub fn parse(text: &str, format: Format, column: &str) -> Result<Parsed, SourceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::List => list(text),
        Format::Csv => csv(text, column),
        Format::Misp => misp(text),
        Format::Stix => stix(text),
    }
}

fn push(out: &mut Parsed, i: Indicator, line: usize) -> Result<(), SourceError> {
    if out.indicators.len() >= MAX_INDICATORS {
        return Err(at(line, format!("more than {MAX_INDICATORS} indicators in one source")));
    }
    out.indicators.push(i);
    Ok(())
}

fn list(text: &str) -> Result<Parsed, SourceError> {
    let mut out = Parsed::default();
    for (n, line) in text.lines().enumerate() {
        // A comment is a line beginning with `#`, or `#` after blank space.
        let line = match line.find('#') {
            Some(0) => "",
            Some(i) if line[..i].ends_with([' ', '\t']) => &line[..i],
            _ => line,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.split_whitespace().nth(1).is_some() {
            return Err(at(n + 1, format!("one indicator a line was expected, not `{}`", shorten(line))));
        }
        let i = classify(line, Expect::Any).map_err(|e| at(n + 1, e))?;
        push(&mut out, i, n + 1)?;
    }
    Ok(out)
}

fn csv(text: &str, column: &str) -> Result<Parsed, SourceError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let column = column.trim();
    let by_number = if column.is_empty() {
        Some(0)
    } else if let Ok(k) = column.parse::<usize>() {
        if k == 0 {
            return Err(SourceError { line: None, message: "CSV columns are numbered from 1".into() });
        }
        Some(k - 1)
    } else {
        None
    };
    let mut out = Parsed::default();
    let mut index = by_number;
    let mut first = true;
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            at(line, format!("not CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let was_first = std::mem::replace(&mut first, false);
        let k = match index {
            Some(k) => k,
            None => {
                // The first record names the columns.
                let found = record.iter().position(|h| h.eq_ignore_ascii_case(column));
                let names: Vec<&str> = record.iter().collect();
                index = Some(found.ok_or_else(|| {
                    at(
                        line,
                        format!("no column named `{}` in the header ({})", shorten(column), shorten(&names.join(", "))),
                    )
                })?);
                continue;
            }
        };
        let Some(value) = record.get(k) else {
            return Err(at(line, format!("no column {} (the line has {})", k + 1, record.len())));
        };
        if value.is_empty() {
            continue;
        }
        match classify(value, Expect::Any) {
            Ok(i) => push(&mut out, i, line)?,
            // A first line that is no indicator is the header of a file whose column was given by number.
            Err(_) if was_first => {}
            Err(e) => return Err(at(line, e)),
        }
    }
    Ok(out)
}

/// The line of the first place `needle` appears in `text` (1 when absent: JSON
/// values have no lines of their own once parsed).
fn line_of(text: &str, needle: &str) -> usize {
    let quoted = serde_json::to_string(needle).unwrap_or_default();
    text.find(&quoted).or_else(|| text.find(needle)).map_or(1, |i| text[..i].matches('\n').count() + 1)
}

fn json(text: &str) -> Result<Value, SourceError> {
    serde_json::from_str(text).map_err(|e| at(e.line(), format!("not JSON: {e}")))
}

/// What a MISP attribute type holds; composite types (`domain|ip`) say it per part.
fn misp_type(t: &str) -> Option<Expect> {
    Some(match t {
        "ip-src" | "ip-dst" | "ip" => Expect::Ip,
        "domain" | "hostname" => Expect::Domain,
        "url" | "uri" | "link" => Expect::Url,
        "email" | "email-src" | "email-dst" | "email-reply-to" => Expect::Email,
        "md5"
        | "sha1"
        | "sha256"
        | "ja3-fingerprint-md5"
        | "jarm-fingerprint"
        | "hassh-md5"
        | "hasshserver-md5"
        | "x509-fingerprint-md5"
        | "x509-fingerprint-sha1"
        | "x509-fingerprint-sha256"
        | "ja4-fingerprint" => Expect::Fingerprint,
        _ => return None,
    })
}

fn misp(text: &str) -> Result<Parsed, SourceError> {
    let root = json(text)?;
    let mut attributes: Vec<&Value> = Vec::new();
    fn event_attributes<'a>(event: &'a Value, into: &mut Vec<&'a Value>) {
        let event = event.get("Event").unwrap_or(event);
        into.extend(event.get("Attribute").and_then(Value::as_array).into_iter().flatten());
        for object in event.get("Object").and_then(Value::as_array).into_iter().flatten() {
            into.extend(object.get("Attribute").and_then(Value::as_array).into_iter().flatten());
        }
    }
    let events: Vec<&Value> = match (&root, root.get("response")) {
        (_, Some(Value::Array(list))) => list.iter().collect(),
        (_, Some(r @ Value::Object(_))) => vec![r],
        (Value::Array(list), None) => list.iter().collect(),
        (Value::Object(_), None) => vec![&root],
        _ => return Err(at(1, "a MISP export is a JSON object or a list of events")),
    };
    for e in &events {
        event_attributes(e, &mut attributes);
    }
    if attributes.is_empty() && !events.iter().any(|e| e.get("Event").or(e.get("Attribute")).is_some()) {
        return Err(at(1, "no MISP event or attribute list found (`Event`, `Attribute`, `response`)"));
    }
    let mut out = Parsed::default();
    for a in attributes {
        let (Some(kind), Some(value)) = (a.get("type").and_then(Value::as_str), a.get("value").and_then(Value::as_str))
        else {
            let line = a.get("uuid").and_then(Value::as_str).map_or(1, |u| line_of(text, u));
            return Err(at(line, "a MISP attribute without a text `type` and `value`"));
        };
        // Attributes marked not for detection are context (a benign domain named in the event).
        if a.get("to_ids").is_some_and(|v| v == false || v == "0") {
            out.skipped += 1;
            continue;
        }
        let kinds: Vec<&str> = kind.split('|').collect();
        let values: Vec<&str> = value.split('|').collect();
        if kinds.len() != values.len() {
            return Err(at(line_of(text, value), format!("MISP attribute `{kind}` with value `{}`", shorten(value))));
        }
        let mut used = false;
        for (k, v) in kinds.iter().zip(&values) {
            let Some(expect) = misp_type(k) else { continue };
            // Lines are looked for only on error: a search per attribute would be quadratic.
            let i = classify(v, expect).map_err(|e| at(line_of(text, value), format!("MISP `{kind}`: {e}")))?;
            push(&mut out, i, 0).map_err(|e| at(line_of(text, value), e.message))?;
            used = true;
        }
        out.skipped += u64::from(!used);
    }
    Ok(out)
}

/// What a STIX object path holds, for the paths Tyto can match.
fn stix_path(path: &str) -> Option<Expect> {
    let (object, property) = path.split_once(':')?;
    Some(match (object, property) {
        ("ipv4-addr" | "ipv6-addr", "value") => Expect::Ip,
        ("network-traffic", "src_ref.value" | "dst_ref.value") => Expect::Ip,
        ("domain-name", "value") => Expect::Domain,
        ("url", "value") => Expect::Url,
        ("email-addr", "value") => Expect::Email,
        ("email-message", "from_ref.value" | "sender_ref.value" | "to_refs[*].value") => Expect::Email,
        ("file" | "artifact" | "x509-certificate", p) if p.starts_with("hashes.") => Expect::Fingerprint,
        _ => return None,
    })
}

/// The `path = 'value'` comparisons of a STIX pattern, in order. Comparisons with
/// other operators and the pattern's structure (AND, OR, qualifiers) are not
/// kept: each value compared for equality is an indicator of its own.
fn stix_comparisons(pattern: &str) -> Result<Vec<(String, String)>, String> {
    #[derive(Debug)]
    enum Token {
        Word(String),
        Text(String),
        Other(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => s.extend(chars.next()),
                        Some('\'') => break,
                        Some(c) => s.push(c),
                        None => return Err("a quoted value is not closed".into()),
                    }
                }
                // A quoted key inside an object path (`hashes.'SHA-256'`) belongs to it.
                match tokens.last_mut() {
                    Some(Token::Word(w)) if w.ends_with('.') => w.push_str(&s),
                    _ => tokens.push(Token::Text(s)),
                }
            }
            c if c.is_alphanumeric() || "-_:.[]*".contains(c) => {
                let mut w = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || "-_:.[]*".contains(n) {
                        w.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(w));
            }
            c if c.is_whitespace() => {}
            c => tokens.push(Token::Other(c)),
        }
    }
    let mut out = Vec::new();
    for w in tokens.windows(3) {
        if let [Token::Word(path), Token::Other('='), Token::Text(v)] = w {
            out.push((path.trim_start_matches('[').to_string(), v.clone()));
        }
    }
    Ok(out)
}

fn stix(text: &str) -> Result<Parsed, SourceError> {
    let root = json(text)?;
    let objects: Vec<&Value> = match &root {
        Value::Array(list) => list.iter().collect(),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("bundle") => {
            o.get("objects").and_then(Value::as_array).map(|l| l.iter().collect()).unwrap_or_default()
        }
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("indicator") => vec![&root],
        _ => {
            return Err(at(1, "a STIX 2.1 source is a bundle (`\"type\": \"bundle\"`), an indicator or a list of them"))
        }
    };
    let mut out = Parsed::default();
    let now = tyto_schema::time::now_ns();
    for o in objects {
        if o.get("type").and_then(Value::as_str) != Some("indicator") {
            continue;
        }
        let retired = o.get("revoked").is_some_and(|v| v == true)
            || o.get("valid_until")
                .and_then(Value::as_str)
                .and_then(tyto_schema::time::parse_time)
                .is_some_and(|t| t < now);
        let other_language = o.get("pattern_type").and_then(Value::as_str).is_some_and(|t| t != "stix");
        if retired || other_language {
            out.skipped += 1;
            continue;
        }
        let Some(pattern) = o.get("pattern").and_then(Value::as_str) else {
            let line = o.get("id").and_then(Value::as_str).map_or(1, |id| line_of(text, id));
            return Err(at(line, "a STIX indicator without a `pattern`"));
        };
        let line = || line_of(text, pattern);
        let comparisons = stix_comparisons(pattern).map_err(|e| at(line(), format!("STIX pattern: {e}")))?;
        let mut used = false;
        for (path, value) in comparisons {
            let Some(expect) = stix_path(&path) else { continue };
            let i = classify(&value, expect).map_err(|e| at(line(), format!("STIX `{path}`: {e}")))?;
            push(&mut out, i, 0).map_err(|e| at(line(), e.message))?;
            used = true;
        }
        out.skipped += u64::from(!used);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(p: &Parsed) -> Vec<String> {
        let mut v: Vec<String> = p.indicators.iter().map(|i| i.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_list_has_one_indicator_a_line_and_comments() {
        let p = parse("# feed\n\n192.0.2.1\nbad.example  # c2\r\n198.51.100.0/24\n", Format::List, "").unwrap();
        assert_eq!(texts(&p), ["192.0.2.1", "198.51.100.0/24", "bad.example"]);
        let e = parse("192.0.2.1\n\nbad.example\nnot-an-indicator\n", Format::List, "").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().starts_with("line 4: `not-an-indicator` is not"), "{e}");
        let e = parse("0.0.0.0 bad.example\n", Format::List, "").unwrap_err();
        assert!(e.to_string().contains("line 1: one indicator a line"), "{e}");
    }

    #[test]
    fn csv_takes_a_column_by_number_or_by_name() {
        let feed = "# first_seen,dst_ip,port\n\"2026-01-01 00:00:00\",192.0.2.9,443\n2026-01-02,198.51.100.3,8080\n";
        assert_eq!(texts(&parse(feed, Format::Csv, "2").unwrap()), ["192.0.2.9", "198.51.100.3"]);
        let with_header = "date,url,threat\n2026-01-01,http://bad.example/x.exe,malware\n";
        assert_eq!(texts(&parse(with_header, Format::Csv, "url").unwrap()), ["bad.example/x.exe"]);
        assert_eq!(texts(&parse(with_header, Format::Csv, "2").unwrap()), ["bad.example/x.exe"]);
        let e = parse(with_header, Format::Csv, "ioc").unwrap_err();
        assert!(e.to_string().contains("line 1: no column named `ioc`"), "{e}");
        let e = parse("ip\n192.0.2.1\nnope\n", Format::Csv, "1").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("a,b\nc\n", Format::Csv, "2").unwrap_err();
        assert!(e.to_string().contains("line 2: no column 2"), "{e}");
    }

    #[test]
    fn misp_events_give_their_attributes_for_detection() {
        let event = r#"{"Event": {"info": "x", "Attribute": [
            {"type": "ip-dst", "value": "192.0.2.50", "to_ids": true},
            {"type": "domain|ip", "value": "c2.example|198.51.100.7", "to_ids": true},
            {"type": "domain", "value": "microsoft.com", "to_ids": false},
            {"type": "regkey", "value": "HKLM\\x", "to_ids": true},
            {"type": "ja3-fingerprint-md5", "value": "E7D705A3286E19EA42F587B344EE6865"}],
          "Object": [{"Attribute": [{"type": "url", "value": "https://c2.example/gate.php"}]}]}}"#;
        let p = parse(event, Format::Misp, "").unwrap();
        assert_eq!(
            texts(&p),
            ["192.0.2.50", "198.51.100.7", "c2.example", "c2.example/gate.php", "e7d705a3286e19ea42f587b344ee6865"]
        );
        assert_eq!(p.skipped, 2);
        let search = r#"{"response": {"Attribute": [{"type": "email-src", "value": "a@bad.example"}]}}"#;
        assert_eq!(texts(&parse(search, Format::Misp, "").unwrap()), ["a@bad.example"]);
        let bad = "{\"Event\": {\"Attribute\": [\n{\"type\": \"ip-dst\", \"value\": \"192.0.2.1\"},\n{\"type\": \"ip-dst\", \"value\": \"c2.example\"}]}}";
        let e = parse(bad, Format::Misp, "").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("not an IP address"), "{e}");
        let e = parse("{\"Event\": [1,\n", Format::Misp, "").unwrap_err();
        assert!(e.to_string().starts_with("line 2: not JSON"), "{e}");
    }

    #[test]
    fn stix_bundles_give_the_values_their_patterns_compare() {
        let bundle = r#"{"type": "bundle", "id": "bundle--1", "objects": [
          {"type": "indicator", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '203.0.113.0/24'] OR [domain-name:value = 'evil.example']"},
          {"type": "indicator", "pattern": "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"},
          {"type": "indicator", "pattern": "[url:value = 'http://evil.example/it\\'s']"},
          {"type": "indicator", "pattern": "[process:name = 'x.exe']"},
          {"type": "indicator", "pattern_type": "yara", "pattern": "rule x {}"},
          {"type": "indicator", "revoked": true, "pattern": "[ipv4-addr:value = '192.0.2.1']"},
          {"type": "malware", "name": "x"}]}"#;
        let p = parse(bundle, Format::Stix, "").unwrap();
        assert_eq!(
            texts(&p),
            [
                "203.0.113.0/24",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "evil.example",
                "evil.example/it's"
            ]
        );
        assert_eq!(p.skipped, 3);
        let bad = "{\"type\": \"bundle\", \"objects\": [\n{\"type\": \"indicator\", \"pattern\": \"[ipv4-addr:value = 'evil.example']\"}]}";
        let e = parse(bad, Format::Stix, "").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse("{\"type\": \"indicator\", \"pattern\": \"[url:value = 'x\"}", Format::Stix, "").unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        assert!(parse("[1, 2]", Format::Misp, "").is_err());
    }
}
