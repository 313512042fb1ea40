//! Tags an analyst puts on sessions and takes off them (Arkime's `addTags` and
//! `removeTags`): on the sessions of a list of ids, or on every session an expression
//! matches in a time range. Either way only sessions the user may see change: the
//! forced expression and the time limit apply as to any search.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde_json::{json, Value};
use tyto_store::TagChange;

use crate::auth::Authed;
use crate::history::Detail;
use crate::params::{parse_tags, Params, MAX_PAGE};
use crate::{ApiError, AppState};

/// `POST /api/sessions/addtags` (and Arkime's older `/addTags`): `tags` (comma-
/// separated) on the sessions of `ids` (comma-separated), or, without ids, on every
/// session `expression` matches in the time range (`date`, `startTime`/`stopTime`).
/// Parameters in the query string or a form or JSON body.
pub async fn add(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(Extension<Detail>, Json<Value>), ApiError> {
    change(state, authed, params, &headers, &body, true).await
}

/// `POST /api/sessions/removetags` (and `/removeTags`): as adding, for users who may
/// take tags off (admins, and users added with `--remove-tags`).
pub async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(Extension<Detail>, Json<Value>), ApiError> {
    change(state, authed, params, &headers, &body, false).await
}

async fn change(
    state: AppState,
    authed: Authed,
    params: Params,
    headers: &HeaderMap,
    body: &[u8],
    adding: bool,
) -> Result<(Extension<Detail>, Json<Value>), ApiError> {
    let user = &authed.user;
    if !adding && !user.may_remove_tags() {
        return Err(ApiError::forbidden(format!("user {} may not take tags off sessions", user.name)));
    }
    let params = params.with_body(headers, body)?;
    let tags = parse_tags(params.get("tags"))?;
    if tags.is_empty() {
        return Err(ApiError::bad_request("tags: missing (one or more, comma-separated)"));
    }
    let q = match params.get("ids") {
        Some(list) => {
            let ids: Vec<String> =
                list.split(',').map(str::trim).filter(|id| !id.is_empty()).map(String::from).collect();
            if ids.len() > MAX_PAGE {
                return Err(ApiError::bad_request(format!(
                    "ids: {} of them; at most {MAX_PAGE} (tag more with an expression)",
                    ids.len()
                )));
            }
            params.sessions_by_id(user, &ids)?
        }
        None => params.search(user)?,
    };
    let change = if adding {
        TagChange { add: tags.clone(), remove: Vec::new() }
    } else {
        TagChange { add: Vec::new(), remove: tags.clone() }
    };
    let ids = params.get("ids").map_or(0, |l| l.split(',').filter(|id| !id.trim().is_empty()).count());
    let sessions = state.stores.run(move |store| Ok(store.change_tags(&q, &change)?)).await?;
    let verb = if adding { "added to" } else { "removed from" };
    tracing::info!(user = %user.name, tags = ?tags, sessions, "tags {verb} sessions");
    // The history records what the body said: the query string may hold nothing.
    let detail = json!({
        "tags": tags,
        "ids": ids,
        "expression": if ids == 0 { params.get("expression") } else { None },
        "sessions": sessions,
    });
    Ok((
        Extension(Detail(detail)),
        Json(json!({
            "success": true,
            "text": format!("Tags {verb} {sessions} session{}", if sessions == 1 { "" } else { "s" }),
            "sessions": sessions,
        })),
    ))
}
