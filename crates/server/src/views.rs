//! Saved views (Arkime's views): a name for an expression and, if wanted, the
//! Sessions table's columns, kept per user in `views.json` in the data directory; a
//! view may be shared with every user. Applying a view runs its expression as the
//! user's own: a forced expression still applies.

use std::path::PathBuf;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Authed;
use crate::json_file::JsonFile;
use crate::params::{field_named, Params};
use crate::{blocking, ApiError, AppState};

/// Views the file holds at most, and the most one user may have.
const MAX_VIEWS: usize = 10_000;
const MAX_VIEWS_PER_USER: usize = 500;
const MAX_NAME: usize = 100;
const MAX_COLUMNS: usize = 100;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct View {
    pub id: u64,
    pub name: String,
    pub user: String,
    #[serde(default)]
    pub shared: bool,
    pub expression: String,
    /// The Sessions table's columns (field names, and `info`), if the view sets them.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    pub created_ms: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct ViewsFile {
    next_id: u64,
    views: Vec<View>,
}

/// The views file of a data directory; every change rewrites it whole (renamed into
/// place, so a reader never sees half a file).
pub struct Views {
    file: JsonFile,
    lock: Mutex<()>,
}

impl Views {
    pub fn new(path: PathBuf) -> Views {
        Views { file: JsonFile::new(path), lock: Mutex::new(()) }
    }

    fn read(&self) -> Result<ViewsFile, ApiError> {
        self.file.read()
    }

    fn write(&self, file: &ViewsFile) -> Result<(), ApiError> {
        self.file.write(file)
    }

    /// The views `user` may apply: their own and the shared ones, by name.
    pub fn visible(&self, user: &str) -> Result<Vec<View>, ApiError> {
        let mut views: Vec<View> = self.read()?.views.into_iter().filter(|v| v.user == user || v.shared).collect();
        views.sort_by(|a, b| a.name.cmp(&b.name).then(a.user.cmp(&b.user)));
        Ok(views)
    }

    /// Saves `view` as its user's view of that name (a view of the same name and user
    /// is replaced, keeping its id).
    pub fn save(&self, mut view: View) -> Result<View, ApiError> {
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        match file.views.iter_mut().find(|v| v.user == view.user && v.name == view.name) {
            Some(old) => {
                view.id = old.id;
                *old = view.clone();
            }
            None => {
                if file.views.len() >= MAX_VIEWS {
                    return Err(ApiError::bad_request(format!("the viewer holds {MAX_VIEWS} views already")));
                }
                if file.views.iter().filter(|v| v.user == view.user).count() >= MAX_VIEWS_PER_USER {
                    return Err(ApiError::bad_request(format!("a user may keep {MAX_VIEWS_PER_USER} views")));
                }
                file.next_id += 1;
                view.id = file.next_id;
                file.views.push(view.clone());
            }
        }
        self.write(&file)?;
        Ok(view)
    }

    /// Deletes a view of `user`'s (any view, for an admin).
    pub fn delete(&self, id: u64, user: &str, admin: bool) -> Result<(), ApiError> {
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        let before = file.views.len();
        file.views.retain(|v| !(v.id == id && (admin || v.user == user)));
        if file.views.len() == before {
            return Err(ApiError::not_found(format!("no view {id} of yours")));
        }
        self.write(&file)
    }
}

/// `GET /api/views`: the user's views and the shared ones.
pub async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Json<Value>, ApiError> {
    let views = state.views.clone();
    let name = authed.user.name.clone();
    let list = blocking(move || views.visible(&name)).await?;
    Ok(Json(json!({ "data": list })))
}

/// `POST /api/view` with `name`, `expression`, `columns` (comma-separated, optional)
/// and `shared` (true or false): saves the view (replacing the user's view of that
/// name). Parameters in the query string or a form or JSON body.
pub async fn save(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = params.with_body(&headers, body.as_ref())?;
    let name = params.get("name").map(str::trim).unwrap_or_default().to_string();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("name: 1 to {MAX_NAME} characters, no control characters")));
    }
    let expression = params.get("expression").map(str::trim).unwrap_or_default().to_string();
    if !expression.is_empty() {
        // Checked as a search checks it, so a saved view always runs.
        params.with("expression", expression.clone()).without("date").search(&authed.user)?;
    }
    let columns = match params.get("columns") {
        None => None,
        Some(list) => {
            let names: Vec<String> =
                list.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect();
            if names.len() > MAX_COLUMNS {
                return Err(ApiError::bad_request(format!("columns: at most {MAX_COLUMNS}")));
            }
            for c in names.iter().filter(|c| *c != "info") {
                field_named("columns", c)?;
            }
            Some(names)
        }
    };
    let shared = params.flag("shared");
    let view = View {
        id: 0,
        name,
        user: authed.user.name.clone(),
        shared,
        expression,
        columns,
        created_ms: tyto_schema::time::now_ns() / 1_000_000,
    };
    let views = state.views.clone();
    let saved = blocking(move || views.save(view)).await?;
    Ok(Json(json!(saved)))
}

/// `DELETE /api/view/ID`: deletes one of the user's views (an admin: anyone's).
pub async fn delete(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let views = state.views.clone();
    let (name, admin) = (authed.user.name.clone(), authed.user.admin);
    blocking(move || views.delete(id, &name, admin)).await?;
    Ok(Json(json!({ "success": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(user: &str, name: &str, shared: bool) -> View {
        View {
            id: 0,
            name: name.into(),
            user: user.into(),
            shared,
            expression: format!("tags == {name}"),
            columns: None,
            created_ms: 0,
        }
    }

    #[test]
    fn views_are_kept_per_user_shared_replaced_by_name_and_deleted_by_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let v = Views::new(dir.path().join("views.json"));
        let a = v.save(view("ann", "web", true)).unwrap();
        let b = v.save(view("ann", "mine", false)).unwrap();
        v.save(view("bob", "bobs", false)).unwrap();
        let names = |user: &str| v.visible(user).unwrap().into_iter().map(|v| v.name).collect::<Vec<_>>();
        assert_eq!(names("ann"), ["mine", "web"]);
        assert_eq!(names("bob"), ["bobs", "web"]);
        let again = v.save(View { expression: "port.dst == 443".into(), ..view("ann", "web", true) }).unwrap();
        assert_eq!(again.id, a.id, "same name, same view");
        assert_eq!(v.visible("bob").unwrap().iter().find(|x| x.name == "web").unwrap().expression, "port.dst == 443");
        assert!(v.delete(b.id, "bob", false).is_err(), "not bob's");
        v.delete(b.id, "ann", false).unwrap();
        v.delete(a.id, "bob", true).unwrap();
        assert_eq!(names("ann"), Vec::<String>::new());
        std::fs::write(dir.path().join("views.json"), "{").unwrap();
        assert!(v.visible("ann").unwrap_err().message.contains("not what Tyto wrote there"));
    }
}
