//! Reading a request's parameters (Arkime's names) into a store query, with a 400
//! that names the parameter and says what was wrong.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, RawQuery};
use axum::http::request::Parts;
use tyto_query::{compile_in, nearest_name, parse_when_span_in, Context, NoShortcuts, Shortcuts, MAX_EXPRESSION_LEN};
use tyto_schema::time::now_ns;
use tyto_schema::{field, FieldDef};
use tyto_store::{ListQuery, SortKey};

use crate::shortcuts::ShortcutBook;
use crate::users::User;
use crate::ApiError;

/// Parameters a request may carry; more is refused (a query string is not a store).
const MAX_PARAMS: usize = 64;
/// Rows a page of `sessions` holds at most.
pub const MAX_PAGE: usize = 10_000;
/// Sessions skipped at most before a page.
const MAX_START: usize = 10_000_000;
const NS_PER_S: i64 = 1_000_000_000;

/// The query string, decoded. A repeated name keeps its last value.
pub struct Params {
    values: HashMap<String, String>,
    /// Where an expression's `$name` values are looked up (none: `$name` is an error).
    shortcuts: Option<Arc<ShortcutBook>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params
where
    Arc<ShortcutBook>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params, ApiError> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state).await.unwrap_or(RawQuery(None));
        Ok(Params::parse(raw.as_deref().unwrap_or(""))?.with_shortcuts(Arc::from_ref(state)))
    }
}

/// Session ids are ours (letters, digits, `-`, `_`, `@`, `.`, `:`); anything else is
/// refused before it reaches an expression or the store.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'@' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{id:?} is not a session id")))
    }
}

/// Tags as a request gives them: comma-separated, trimmed, empty ones dropped; at
/// most 16 of at most 100 characters, no control characters.
pub fn parse_tags(tags: Option<&str>) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.unwrap_or_default().split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if t.len() > 100 || t.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!("tag {t:?}: at most 100 characters, no control characters")));
        }
        if out.len() == 16 {
            return Err(ApiError::bad_request("at most 16 tags"));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// A field by name or alias, or a 400 that suggests the nearest name.
/// Internal columns (packet positions) are not fields a request may name.
pub fn field_named(param: &str, name: &str) -> Result<&'static FieldDef, ApiError> {
    let name = name.trim();
    field(name).filter(|f| f.in_dump).ok_or_else(|| {
        let hint = nearest_name(name).map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
        ApiError::bad_request(format!("{param}: no field named {name:?}{hint}; GET /api/fields lists them"))
    })
}

impl Params {
    pub fn parse(raw: &str) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("the query string cannot be decoded: {e}")))?;
        if pairs.len() > MAX_PARAMS {
            return Err(ApiError::bad_request(format!("too many parameters ({}; at most {MAX_PARAMS})", pairs.len())));
        }
        Ok(Params { values: pairs.into_iter().collect(), shortcuts: None })
    }

    /// These parameters with those of a form or JSON body added (a body's value wins),
    /// as Arkime's POST routes take them either way. A JSON body is an object of
    /// strings, numbers or booleans; a list of strings (`ids`, `tags`) is joined with
    /// commas.
    pub fn with_body(mut self, headers: &axum::http::HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(self);
        }
        let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let json = content_type.is_some_and(|t| t.trim_start().starts_with("application/json"));
        let pairs: Vec<(String, String)> = if json {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the JSON body is not an object: {e}")))?;
            let mut pairs = Vec::with_capacity(map.len());
            for (k, v) in map {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Null => continue,
                    serde_json::Value::Array(items) => {
                        let texts: Option<Vec<String>> =
                            items.into_iter().map(|i| i.as_str().map(String::from)).collect();
                        texts
                            .ok_or_else(|| ApiError::bad_request(format!("{k}: a list of strings, or a string")))?
                            .join(",")
                    }
                    serde_json::Value::Object(_) => {
                        return Err(ApiError::bad_request(format!("{k}: a string, a number or a list, not an object")))
                    }
                };
                pairs.push((k, text));
            }
            pairs
        } else {
            serde_urlencoded::from_bytes(body)
                .map_err(|e| ApiError::bad_request(format!("the form body cannot be decoded: {e}")))?
        };
        self.values.extend(pairs);
        if self.values.len() > MAX_PARAMS {
            return Err(ApiError::bad_request(format!(
                "too many parameters ({}; at most {MAX_PARAMS})",
                self.values.len()
            )));
        }
        Ok(self)
    }

    /// The sessions of these ids that this user may see, in the request's time range
    /// (the request's expression is not used).
    pub fn sessions_by_id(&self, user: &User, ids: &[String]) -> Result<ListQuery, ApiError> {
        for id in ids {
            check_id(id)?;
        }
        Ok(self.visible(user)?.with_ids(ids.to_vec()))
    }

    /// Parameters made here, not taken from a request (a periodic query's run).
    pub fn of(pairs: &[(&str, String)]) -> Params {
        Params { values: pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), shortcuts: None }
    }

    /// These parameters, with expressions' `$name` looked up in `book`.
    pub fn with_shortcuts(mut self, book: Arc<ShortcutBook>) -> Params {
        self.shortcuts = Some(book);
        self
    }

    /// These parameters with one of them set to another value.
    pub fn with(&self, name: &str, value: String) -> Params {
        let mut values = self.values.clone();
        values.insert(name.to_string(), value);
        Params { values, shortcuts: self.shortcuts.clone() }
    }

    /// These parameters without one of them.
    pub fn without(&self, name: &str) -> Params {
        let mut values = self.values.clone();
        values.remove(name);
        Params { values, shortcuts: self.shortcuts.clone() }
    }

    /// What this user may see in the request's time range, whatever the request's own
    /// expression: the forced expression and the time limit alone.
    pub fn visible(&self, user: &User) -> Result<ListQuery, ApiError> {
        self.without("expression").search(user)
    }

    /// One session by id, if this user may see it: the single place where a route that
    /// reads one session (its detail, its PCAP) applies the forced expression and the
    /// time limit, with the request's time range as a search has it.
    pub fn one_session(&self, user: &User, id: &str) -> Result<ListQuery, ApiError> {
        check_id(id)?;
        self.with("expression", format!("id == \"{id}\"")).search(user)
    }

    /// A parameter's value as given, even empty (a form's emptied field, which
    /// clears what it sets).
    pub fn given(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A parameter's value; an empty value counts as absent (as forms send them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A true/false parameter that may be absent; any other word is refused.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true" | "1" | "on" | "yes") => Ok(Some(true)),
            Some("false" | "0" | "off" | "no") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad_request(format!("{name}={v:?}: true or false"))),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "true" | "yes" | "on"))
    }

    /// A whole number within `0..=max`, or `default` when absent.
    pub fn number(&self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n <= max => Ok(n),
                Ok(_) => Err(ApiError::bad_request(format!("{name}={v}: at most {max}"))),
                Err(_) => Err(ApiError::bad_request(format!("{name}={v:?}: not a whole number"))),
            },
        }
    }

    pub fn field(&self, name: &str, default: Option<&str>) -> Result<&'static FieldDef, ApiError> {
        match self.get(name).or(default) {
            Some(v) => field_named(name, v),
            None => Err(ApiError::bad_request(format!("{name}: missing (a field name)"))),
        }
    }

    /// A time: epoch seconds (fractions allowed) or the forms expressions accept
    /// (`2024-05-01T13:00:00`, `-2h`).
    /// A time parameter: epoch seconds, a date and time (in the user's time zone
    /// unless it ends with `Z`), or relative (`-2h`).
    pub fn time(&self, name: &str, now: i64, zone: &dyn tyto_query::Zone) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let v = v.trim();
        if let Ok(s) = v.parse::<f64>() {
            if s.is_finite() && s.abs() < 1e11 {
                return Ok(Some((s * NS_PER_S as f64) as i64));
            }
        }
        parse_when_span_in(v, now, zone).map(|(ns, _)| Some(ns)).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name}={v:?}: not a time (epoch seconds, 2024-05-01T13:00:00 in your time zone, …Z in UTC, or -2h)"
            ))
        })
    }

    /// The time range, the expression (with the user's forced expression and time
    /// limit applied) of a search; no paging.
    /// The search of a view that counts values (SPI view, SPI graph, connections):
    /// over a large store its counts may be estimated from a sample, which the answer
    /// says (`samplePercent`), unless `exact=1` asks for every session to be counted.
    pub fn aggregate_search(&self, user: &User, sample_above: u64) -> Result<ListQuery, ApiError> {
        let mut q = self.search(user)?;
        if !self.flag("exact") {
            q.sample_above = Some(sample_above);
        }
        Ok(q)
    }

    pub fn search(&self, user: &User) -> Result<ListQuery, ApiError> {
        let now = now_ns();
        let zone = crate::zone::of(user);
        let mut start = self.time("startTime", now, zone.as_ref())?;
        let mut stop = self.time("stopTime", now, zone.as_ref())?;
        if let Some(d) = self.get("date") {
            let hours: f64 = d
                .trim()
                .parse()
                .ok()
                .filter(|h: &f64| h.is_finite() && (*h == -1.0 || (*h > 0.0 && *h < 1e6)))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("date={d:?}: hours back from now (a positive number), or -1 for all"))
                })?;
            if hours > 0.0 && start.is_none() && stop.is_none() {
                start = Some(now - (hours * 3600.0 * NS_PER_S as f64) as i64);
                stop = Some(now);
            }
        }
        if let (Some(a), Some(b)) = (start, stop) {
            if a > b {
                return Err(ApiError::bad_request("startTime is after stopTime"));
            }
        }
        if let Some(limit) = user.time_limit_hours {
            let limit_ns = i64::from(limit) * 3600 * NS_PER_S;
            match (start, stop) {
                (None, None) if self.get("date").is_none() => {
                    start = Some(now - limit_ns);
                    stop = Some(now);
                }
                // An open end is now: sessions dated in the future stay out of reach.
                (Some(a), b) if b.unwrap_or(now).saturating_sub(a) <= limit_ns => stop = Some(b.unwrap_or(now)),
                _ => {
                    return Err(ApiError::forbidden(format!(
                        "user {} may search at most {limit} hours at a time; give startTime and stopTime or date",
                        user.name
                    )))
                }
            }
        }
        let text = self.get("expression").map(str::trim).filter(|t| !t.is_empty());
        if text.is_some_and(|t| t.len() > MAX_EXPRESSION_LEN) {
            return Err(ApiError::bad_request(format!("expression: longer than {MAX_EXPRESSION_LEN} bytes")));
        }
        // Shortcuts are read only for an expression that may name one.
        let forced = user.expression.as_deref().map(str::trim).filter(|f| !f.is_empty());
        let loaded = match &self.shortcuts {
            Some(book) if text.is_some_and(|t| t.contains('$')) => Some(book.current()?),
            _ => None,
        };
        let usable = loaded.as_deref().map(|l| l.usable_by(user));
        let shortcuts: &dyn Shortcuts = match &usable {
            Some(u) => u,
            None => &NoShortcuts,
        };
        let context = Context { now_ns: now, shortcuts, zone: zone.as_ref() };
        // The user's own expression is checked alone first, so its error columns are
        // its own; then the forced expression is AND-ed in.
        let own = match text {
            Some(t) => Some(compile_in(t, &context).map_err(|e| ApiError {
                status: axum::http::StatusCode::BAD_REQUEST,
                message: format!("expression: column {}: {}", e.column, e.message),
                column: Some(e.column),
            })?),
            None => None,
        };
        let filter = match forced {
            None => own,
            Some(forced) => {
                // A forced expression names no shortcut (setting one that does is
                // refused): a list its user could change would let them widen it.
                let limit = compile_in(forced, &Context { shortcuts: &NoShortcuts, ..context }).map_err(|e| {
                    ApiError::internal(format!(
                        "user {}'s forced expression {forced:?} does not compile ({}); an admin must fix it",
                        user.name, e.message
                    ))
                })?;
                Some(match own {
                    Some(own) => tyto_query::Filter::And(vec![limit, own]),
                    None => limit,
                })
            }
        };
        Ok(ListQuery { start_ns: start, stop_ns: stop, filter, ..ListQuery::default() })
    }

    /// `order=field:asc,field2:desc` (Arkime's form; `firstPacket`-style names are
    /// aliases of ours).
    pub fn order(&self) -> Result<Vec<SortKey>, ApiError> {
        let Some(v) = self.get("order") else { return Ok(Vec::new()) };
        let mut keys = Vec::new();
        for part in v.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, dir) = part.split_once(':').unwrap_or((part, "asc"));
            let f = field_named("order", name)?;
            if f.multi {
                return Err(ApiError::bad_request(format!(
                    "order: {} holds a list of values; sort by a single-valued field",
                    f.name
                )));
            }
            let descending = match dir.trim() {
                "asc" => false,
                "desc" => true,
                other => return Err(ApiError::bad_request(format!("order: {other:?} after {name}: asc or desc"))),
            };
            keys.push(SortKey { field: f, descending });
            if keys.len() > 8 {
                return Err(ApiError::bad_request("order: at most 8 sort keys"));
            }
        }
        Ok(keys)
    }

    /// `fields=a,b,c`: which columns a listing returns (`id` always).
    pub fn fields(&self) -> Result<Option<Vec<&'static FieldDef>>, ApiError> {
        let Some(v) = self.get("fields") else { return Ok(None) };
        let mut out: Vec<&'static FieldDef> = vec![field("id").expect("the catalogue has id")];
        for name in v.split(',').filter(|p| !p.trim().is_empty()) {
            let f = field_named("fields", name)?;
            if !out.iter().any(|o| std::ptr::eq(*o, f)) {
                out.push(f);
            }
        }
        Ok(Some(out))
    }

    /// A whole search with paging, order and columns.
    pub fn page(&self, user: &User, max_length: usize) -> Result<ListQuery, ApiError> {
        let mut q = self.search(user)?;
        q.offset = self.number("start", 0, MAX_START)?;
        q.limit = self.number("length", 100, max_length)?.max(1);
        q.order = self.order()?;
        q.fields = self.fields()?;
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        crate::users::new_user("ann", false)
    }

    #[test]
    fn bad_parameters_say_which_and_why() {
        let err = |q: &str| Params::parse(q).and_then(|p| p.page(&user(), MAX_PAGE)).unwrap_err().message;
        assert!(err("length=abc").starts_with("length=\"abc\": not a whole number"));
        assert!(err("length=20000").contains("at most 10000"));
        assert!(err("date=yesterday").starts_with("date="));
        assert!(err("startTime=10&stopTime=5").contains("after"));
        assert!(err("order=ip.sr:desc").contains("did you mean ip.src"), "{}", err("order=ip.sr:desc"));
        assert!(err("order=ip.src:up").contains("asc or desc"));
        assert!(err("fields=bogus").contains("fields: no field named"));
        let e = Params::parse("expression=ip.src%20%3D%3D").and_then(|p| p.search(&user())).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.column.is_some() && e.message.starts_with("expression: column"), "{}", e.message);
        assert!(Params::parse("a=%ZZ&b").is_ok(), "lenient decoding like browsers");
        let many: String = (0..100).map(|i| format!("p{i}=1&")).collect();
        assert!(Params::parse(&many).is_err());
    }

    #[test]
    fn forced_expression_and_time_limit_apply() {
        let mut u = user();
        u.expression = Some("port.dst == 53".into());
        let q = Params::parse("expression=ip.src%20%3D%3D%2010.0.0.1").unwrap().search(&u).unwrap();
        let shown = format!("{:?}", q.filter.unwrap());
        assert!(shown.starts_with("And(") && shown.contains("values: [53]"), "{shown}");
        u.time_limit_hours = Some(2);
        let q = Params::parse("").unwrap().search(&u).unwrap();
        assert_eq!(q.stop_ns.unwrap() - q.start_ns.unwrap(), 2 * 3600 * NS_PER_S);
        let e = Params::parse("date=-1").unwrap().search(&u).unwrap_err();
        assert_eq!(e.status, 403);
        assert!(Params::parse("date=1").unwrap().search(&u).is_ok());
        u.expression = Some("ip.src ==".into());
        assert_eq!(Params::parse("").unwrap().search(&u).unwrap_err().status, 500);
    }
}
