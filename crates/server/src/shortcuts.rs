//! Shortcuts (Arkime's): named lists of addresses, numbers or text that an
//! expression names as `$name` (`ip.dst == $servers`), kept in `shortcuts.json` in
//! the data directory. A shortcut belongs to the user who made it, who may share it
//! with named users or with everyone; admins see and change every one. Names are
//! unique in the viewer, since an expression names a shortcut without its owner.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tyto_query::{parse_ip_value, valid_shortcut_name, Shortcut, ShortcutKind, Shortcuts, MAX_LIST_ITEMS};

use crate::auth::Authed;
use crate::json_file::JsonFile;
use crate::params::Params;
use crate::users::User;
use crate::{blocking, ApiError, AppState};

/// Shortcuts the file holds at most, and the most one user may make.
const MAX_SHORTCUTS: usize = 10_000;
const MAX_PER_USER: usize = 500;
/// Values one shortcut holds at most: as many as a list typed in an expression.
const MAX_VALUES: usize = MAX_LIST_ITEMS;
const MAX_VALUE_LEN: usize = 1024;
const MAX_DESCRIPTION: usize = 1000;
const MAX_SHARED_WITH: usize = 1000;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredShortcut {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `ip`, `number` or `string`.
    #[serde(rename = "type")]
    pub kind: String,
    pub values: Vec<String>,
    /// Who made it.
    pub user: String,
    /// Users it is shared with, besides its maker.
    #[serde(default)]
    pub users: Vec<String>,
    /// Shared with every user.
    #[serde(default)]
    pub shared: bool,
    pub created_ms: i64,
}

impl StoredShortcut {
    fn usable_by(&self, user: &User) -> bool {
        user.admin || self.shared || self.user == user.name || self.users.contains(&user.name)
    }

    fn changeable_by(&self, user: &User) -> bool {
        user.admin || self.user == user.name
    }

    /// As the API shows it (Arkime's shape: `type`, `value` one per line); who it is
    /// shared with only to those who may change it.
    fn shown(&self, to: &User) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": self.kind,
            "value": self.values.join("\n"),
            "count": self.values.len(),
            "userId": self.user,
            "shared": self.shared,
            "created_ms": self.created_ms,
            "canEdit": self.changeable_by(to),
        });
        if self.changeable_by(to) {
            v["users"] = json!(self.users.join(","));
        }
        v
    }
}

#[derive(Default, Serialize, Deserialize)]
struct ShortcutsFile {
    next_id: u64,
    shortcuts: Vec<StoredShortcut>,
}

impl ShortcutsFile {
    /// Where shortcut `id` is, if `user` may change it: one they cannot see is not
    /// found, one they see but did not make is refused.
    fn changeable(&self, id: u64, user: &User) -> Result<usize, ApiError> {
        let i = self
            .shortcuts
            .iter()
            .position(|s| s.id == id && s.usable_by(user))
            .ok_or_else(|| ApiError::not_found(format!("no shortcut {id}")))?;
        if !self.shortcuts[i].changeable_by(user) {
            return Err(ApiError::forbidden(format!("shortcut {id} is {}'s", self.shortcuts[i].user)));
        }
        Ok(i)
    }
}

/// The file as read, with each shortcut as expressions use it (same order).
pub struct Loaded {
    file: ShortcutsFile,
    usable: Vec<Shortcut>,
}

impl Loaded {
    fn new(file: ShortcutsFile) -> Loaded {
        let usable = file
            .shortcuts
            .iter()
            .map(|s| Shortcut {
                kind: ShortcutKind::parse(&s.kind).unwrap_or(ShortcutKind::String),
                values: s.values.clone(),
            })
            .collect();
        Loaded { file, usable }
    }

    /// The shortcuts `user`'s expressions may name.
    pub fn usable_by<'a>(&'a self, user: &'a User) -> UsableBy<'a> {
        UsableBy { loaded: self, user }
    }
}

/// The shortcuts one user may name, as the expression compiler looks them up.
pub struct UsableBy<'a> {
    loaded: &'a Loaded,
    user: &'a User,
}

impl Shortcuts for UsableBy<'_> {
    fn shortcut(&self, name: &str) -> Option<&Shortcut> {
        let i = self.loaded.file.shortcuts.iter().position(|s| s.name == name && s.usable_by(self.user))?;
        self.loaded.usable.get(i)
    }
}

/// A file's time and size when read (none: it was not there).
type FileStamp = Option<(SystemTime, u64)>;

/// The shortcuts file of a data directory. Searches read it as last loaded, again
/// when its size or time changed (another viewer on the same directory); every
/// change rewrites it whole.
pub struct ShortcutBook {
    file: JsonFile,
    lock: Mutex<()>,
    loaded: Mutex<Option<(FileStamp, Arc<Loaded>)>>,
}

impl ShortcutBook {
    pub fn new(path: PathBuf) -> ShortcutBook {
        ShortcutBook { file: JsonFile::new(path), lock: Mutex::new(()), loaded: Mutex::new(None) }
    }

    /// The shortcuts as the file holds them now.
    pub fn current(&self) -> Result<Arc<Loaded>, ApiError> {
        let stamp = self.file.stamp();
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, l)) = loaded.as_ref() {
            if *at == stamp && stamp.is_some() {
                return Ok(l.clone());
            }
        }
        let l = Arc::new(Loaded::new(self.file.read()?));
        *loaded = Some((stamp, l.clone()));
        Ok(l)
    }

    /// Runs `change` on the file and writes it back (one change at a time).
    fn change<T>(&self, change: impl FnOnce(&mut ShortcutsFile) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file: ShortcutsFile = self.file.read()?;
        let out = change(&mut file)?;
        self.file.write(&file)?;
        *self.loaded.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(out)
    }
}

/// A shortcut's values from a request: one per line or comma-separated (as Arkime
/// takes them), trimmed, each once, each checked against the kind.
fn parse_values(kind: ShortcutKind, text: &str) -> Result<Vec<String>, ApiError> {
    let mut seen = HashSet::new();
    let mut values = Vec::new();
    for v in text.split([',', '\n']).map(str::trim).filter(|v| !v.is_empty()) {
        if v.len() > MAX_VALUE_LEN || v.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!(
                "value: {v:.40?}…: at most {MAX_VALUE_LEN} bytes a value, no control characters"
            )));
        }
        let wrong = match kind {
            ShortcutKind::Ip => match parse_ip_value(v) {
                Ok(_) if v.contains(['*', '?']) => Some("wildcards do not apply to addresses".to_string()),
                Ok(_) => None,
                Err(why) => Some(why.to_string()),
            },
            ShortcutKind::Number => v.parse::<i64>().err().map(|_| "not an integer".to_string()),
            ShortcutKind::String => None,
        };
        if let Some(why) = wrong {
            return Err(ApiError::bad_request(format!("value: {v:?} is not a {} value: {why}", kind.as_str())));
        }
        if seen.insert(v) {
            values.push(v.to_string());
        }
        if values.len() > MAX_VALUES {
            return Err(ApiError::bad_request(format!("value: at most {MAX_VALUES} values")));
        }
    }
    if values.is_empty() {
        return Err(ApiError::bad_request("value: no values (one per line, or comma-separated)"));
    }
    Ok(values)
}

/// The settable parts of a shortcut from request parameters, each checked.
fn apply(params: &Params, s: &mut StoredShortcut, state: &AppState) -> Result<(), ApiError> {
    if let Some(name) = params.get("name") {
        let name = name.trim().trim_start_matches('$');
        if !valid_shortcut_name(name) {
            return Err(ApiError::bad_request(format!(
                "name: {name:?}: 1 to 100 letters, digits, '-' or '_' (an expression names it as $name)"
            )));
        }
        s.name = name.to_string();
    }
    if let Some(kind) = params.get("type") {
        ShortcutKind::parse(kind)
            .ok_or_else(|| ApiError::bad_request(format!("type: {kind:?}: ip, number or string")))?;
        s.kind = kind.trim().to_string();
    }
    let kind =
        ShortcutKind::parse(&s.kind).ok_or_else(|| ApiError::bad_request("type: missing (ip, number or string)"))?;
    match params.get("value") {
        Some(v) => s.values = parse_values(kind, v)?,
        // A changed type must still fit the values kept.
        None => s.values = parse_values(kind, &s.values.join("\n"))?,
    }
    if let Some(d) = params.given("description") {
        if d.len() > MAX_DESCRIPTION || d.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ApiError::bad_request(format!("description: at most {MAX_DESCRIPTION} bytes")));
        }
        s.description = d.trim().to_string();
    }
    if let Some(list) = params.given("users") {
        let mut users = Vec::new();
        let mut unknown = Vec::new();
        for u in list.split([',', '\n']).map(str::trim).filter(|u| !u.is_empty()) {
            match state.users.get(u) {
                Ok(Some(_)) if !users.iter().any(|x| x == u) => users.push(u.to_string()),
                Ok(Some(_)) => {}
                Ok(None) => unknown.push(u.to_string()),
                Err(e) => return Err(ApiError::internal(e.to_string())),
            }
        }
        if !unknown.is_empty() {
            return Err(ApiError::bad_request(format!("users: no such user: {}", unknown.join(", "))));
        }
        if users.len() > MAX_SHARED_WITH {
            return Err(ApiError::bad_request(format!("users: at most {MAX_SHARED_WITH}")));
        }
        s.users = users;
    }
    if let Some(shared) = params.bool("shared")? {
        s.shared = shared;
    }
    Ok(())
}

/// `GET /api/shortcuts`: the shortcuts the user may use (an admin: every one), by
/// name; `fieldType` (ip, number, string) and `searchTerm` (in the name or
/// description) narrow it, `start` and `length` page it. Arkime's answer:
/// `data`, `recordsTotal`, `recordsFiltered`.
pub async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let kind = match params.get("fieldType") {
        Some(k) => Some(
            ShortcutKind::parse(k)
                .ok_or_else(|| ApiError::bad_request(format!("fieldType: {k:?}: ip, number or string")))?,
        ),
        None => None,
    };
    let term = params.get("searchTerm").map(str::to_lowercase);
    let start = params.number("start", 0, MAX_SHORTCUTS)?;
    let length = params.number("length", 50, MAX_SHORTCUTS)?;
    let book = state.shortcuts.clone();
    let loaded = blocking(move || book.current()).await?;
    let user = &authed.user;
    let mut usable: Vec<&StoredShortcut> = loaded.file.shortcuts.iter().filter(|s| s.usable_by(user)).collect();
    usable.sort_by(|a, b| a.name.cmp(&b.name));
    let total = usable.len();
    let matching: Vec<&StoredShortcut> = usable
        .into_iter()
        .filter(|s| kind.is_none_or(|k| k.as_str() == s.kind))
        .filter(|s| {
            term.as_deref()
                .is_none_or(|t| s.name.to_lowercase().contains(t) || s.description.to_lowercase().contains(t))
        })
        .collect();
    let data: Vec<Value> = matching.iter().skip(start).take(length).map(|s| s.shown(user)).collect();
    Ok(Json(json!({ "data": data, "recordsTotal": total, "recordsFiltered": matching.len() })))
}

/// `POST /api/shortcut`: `name`, `type` (ip, number, string), `value` (one per
/// line, or comma-separated), `description`, `users` (comma-separated user names it
/// is shared with), `shared` (with everyone). In the query string, a form or a JSON
/// body.
pub async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = params.with_body(&headers, &body)?;
    let mut s = StoredShortcut {
        id: 0,
        name: String::new(),
        description: String::new(),
        kind: String::new(),
        values: Vec::new(),
        user: authed.user.name.clone(),
        users: Vec::new(),
        shared: false,
        created_ms: tyto_schema::time::now_ns() / 1_000_000,
    };
    if params.get("name").is_none() {
        return Err(ApiError::bad_request("name: missing"));
    }
    if params.get("value").is_none() {
        return Err(ApiError::bad_request("value: missing"));
    }
    let check_state = state.clone();
    let book = state.shortcuts.clone();
    let saved = blocking(move || {
        apply(&params, &mut s, &check_state)?;
        book.change(|file| {
            if file.shortcuts.iter().any(|o| o.name == s.name) {
                return Err(ApiError::bad_request(format!("a shortcut named {} exists already", s.name)));
            }
            if file.shortcuts.len() >= MAX_SHORTCUTS {
                return Err(ApiError::bad_request(format!("the viewer holds {MAX_SHORTCUTS} shortcuts already")));
            }
            if file.shortcuts.iter().filter(|o| o.user == s.user).count() >= MAX_PER_USER {
                return Err(ApiError::bad_request(format!("a user may make {MAX_PER_USER} shortcuts")));
            }
            file.next_id += 1;
            s.id = file.next_id;
            file.shortcuts.push(s.clone());
            Ok(s)
        })
    })
    .await?;
    Ok(Json(json!({ "success": true, "text": "Created shortcut", "shortcut": saved.shown(&authed.user) })))
}

/// `PUT /api/shortcut/ID` (or POST): changes what is given of a shortcut, as
/// `create` takes it; its maker's or an admin's.
pub async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = params.with_body(&headers, &body)?;
    let user = authed.user.clone();
    let check_state = state.clone();
    let book = state.shortcuts.clone();
    let saved = blocking(move || {
        book.change(|file| {
            let i = file.changeable(id, &user)?;
            let mut s = file.shortcuts[i].clone();
            apply(&params, &mut s, &check_state)?;
            if file.shortcuts.iter().any(|o| o.name == s.name && o.id != id) {
                return Err(ApiError::bad_request(format!("a shortcut named {} exists already", s.name)));
            }
            file.shortcuts[i] = s.clone();
            Ok(s)
        })
    })
    .await?;
    Ok(Json(json!({ "success": true, "text": "Updated shortcut", "shortcut": saved.shown(&authed.user) })))
}

/// `DELETE /api/shortcut/ID`: its maker's or an admin's.
pub async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let user = authed.user.clone();
    let book = state.shortcuts.clone();
    blocking(move || {
        book.change(|file| {
            let i = file.changeable(id, &user)?;
            file.shortcuts.remove(i);
            Ok(())
        })
    })
    .await?;
    Ok(Json(json!({ "success": true, "text": "Deleted shortcut" })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_split_checked_against_their_kind_and_kept_once() {
        let ok = |k, t: &str| parse_values(k, t).unwrap();
        assert_eq!(
            ok(ShortcutKind::Ip, "10.0.0.1, 10.0.0.0/8\n::1\n10.0.0.1\n1.2.3.4:80"),
            ["10.0.0.1", "10.0.0.0/8", "::1", "1.2.3.4:80"]
        );
        assert_eq!(ok(ShortcutKind::Number, "80\n443,80"), ["80", "443"]);
        assert_eq!(ok(ShortcutKind::String, " Evil.example \n*.x"), ["Evil.example", "*.x"]);
        let bad = |k, t: &str, says: &str| {
            let e = parse_values(k, t).unwrap_err();
            assert!(e.message.contains(says), "{t}: {}", e.message);
        };
        bad(ShortcutKind::Ip, "10.0.0.1\nexample.com", "\"example.com\" is not a ip value");
        bad(ShortcutKind::Ip, "10.0.*", "not a ip value");
        bad(ShortcutKind::Number, "80\nhttp", "\"http\" is not a number value");
        bad(ShortcutKind::String, " , \n", "no values");
        bad(ShortcutKind::String, "a\u{7}b", "no control characters");
        let many: Vec<String> = (0..=MAX_VALUES).map(|i| i.to_string()).collect();
        bad(ShortcutKind::Number, &many.join("\n"), "at most");
    }

    fn user(name: &str, admin: bool) -> User {
        crate::users::new_user(name, admin)
    }

    #[test]
    fn a_shortcut_is_named_by_its_maker_those_it_is_shared_with_and_admins() {
        let s = |name: &str, maker: &str, users: &[&str], shared: bool| StoredShortcut {
            id: 0,
            name: name.into(),
            description: String::new(),
            kind: "number".into(),
            values: vec!["1".into()],
            user: maker.into(),
            users: users.iter().map(|u| u.to_string()).collect(),
            shared,
            created_ms: 0,
        };
        let loaded = Loaded::new(ShortcutsFile {
            next_id: 3,
            shortcuts: vec![
                s("mine", "ann", &[], false),
                s("told", "ann", &["bob"], false),
                s("all", "ann", &[], true),
            ],
        });
        let names = |u: &User| -> Vec<&str> {
            ["mine", "told", "all"].into_iter().filter(|n| loaded.usable_by(u).shortcut(n).is_some()).collect()
        };
        assert_eq!(names(&user("ann", false)), ["mine", "told", "all"]);
        assert_eq!(names(&user("bob", false)), ["told", "all"]);
        assert_eq!(names(&user("cat", false)), ["all"]);
        assert_eq!(names(&user("root", true)), ["mine", "told", "all"]);
        assert!(!loaded.file.shortcuts[2].changeable_by(&user("bob", false)));
        assert!(loaded.file.shortcuts[2].changeable_by(&user("root", true)));
    }
}
