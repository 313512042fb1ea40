//! Users managed from the viewer by admins — everything `tyto user` does: add a
//! user with their rights, change the rights, set a password, remove a user. The
//! same `users.json` as the command line; passwords come in the body, never the
//! query string (the history records query strings).

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::auth::Authed;
use crate::params::Params;
use crate::users::{new_user, User, UserError};
use crate::{blocking, ApiError, AppState};

fn admin_only(authed: &Authed) -> Result<(), ApiError> {
    if authed.user.admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage users"))
    }
}

fn refused(e: UserError) -> ApiError {
    match e {
        UserError::Io { .. } | UserError::Format { .. } | UserError::Hash(_) => ApiError::internal(e.to_string()),
        UserError::Missing(_) => ApiError::not_found(e.to_string()),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// The request's parameters with its body's; a password in the query string is
/// refused (it would be logged).
fn body_params(params: Params, headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
    if params.get("password").is_some() {
        return Err(ApiError::bad_request("password: send it in the body, not the address"));
    }
    params.with_body(headers, body)
}

/// `true`/`false` parameters that set a right, and the time limit and expression.
fn apply_rights(params: &Params, u: &mut User) -> Result<(), ApiError> {
    let rights: [(&str, &mut bool); 5] = [
        ("admin", &mut u.admin),
        ("export_pcap", &mut u.export_pcap),
        ("see_packets", &mut u.see_packets),
        ("upload", &mut u.upload),
        ("remove_tags", &mut u.remove_tags),
    ];
    for (name, right) in rights {
        if let Some(v) = params.bool(name)? {
            *right = v;
        }
    }
    if let Some(e) = params.get("expression") {
        u.expression = Some(e.trim().to_string()).filter(|e| !e.is_empty());
    } else if params.flag("no_expression") {
        u.expression = None;
    }
    if let Some(h) = params.get("time_limit_hours") {
        u.time_limit_hours = match h.trim() {
            "" | "none" => None,
            n => Some(n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::bad_request(format!("time_limit_hours={h:?}: a whole number of hours, or none"))
            })?),
        };
    }
    Ok(())
}

/// `POST /api/user` (admins) with `name`, `password` (in the body), `digest` (also
/// allow HTTP Digest) and the rights (`admin`, `export_pcap`, `see_packets`, `upload`,
/// `remove_tags`: true or false; `expression`; `time_limit_hours`): adds a user.
pub async fn add(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin_only(&authed)?;
    let params = body_params(params, &headers, &body)?;
    let name = params.get("name").unwrap_or_default().to_string();
    let password = params.get("password").unwrap_or_default().to_string();
    let mut user = new_user(&name, false);
    apply_rights(&params, &mut user)?;
    let digest = params.flag("digest");
    let users = state.users.clone();
    let info = blocking(move || {
        users.add(user, &password, digest).map_err(refused)?;
        Ok(users.get(&name).map_err(refused)?.map(|u| u.info()))
    })
    .await?;
    tracing::info!(admin = %authed.user.name, "user {:?} added from the viewer", info.as_ref().map(|i| &i.name));
    Ok((StatusCode::CREATED, Json(json!(info))))
}

/// `POST /api/user/NAME` (admins): changes the rights given (as for adding); an admin
/// keeps their own admin right.
pub async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(name): UrlPath<String>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    admin_only(&authed)?;
    let params = body_params(params, &headers, &body)?;
    if name == authed.user.name && params.bool("admin")? == Some(false) {
        return Err(ApiError::bad_request("an admin cannot take their own admin right (another admin can)"));
    }
    // The parameters are checked before the file is touched: a bad one changes nothing.
    apply_rights(&params, &mut new_user("checked", false))?;
    let users = state.users.clone();
    let changed = blocking(move || {
        users
            .update(&name, |u| {
                let _checked_above = apply_rights(&params, u);
            })
            .map_err(refused)
    })
    .await?;
    Ok(Json(json!(changed.info())))
}

/// `POST /api/user/NAME/password` (admins) with `password` in the body, and `digest`
/// (true or false) to allow HTTP Digest or not from now on: the user's open viewer
/// sessions end.
pub async fn password(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(name): UrlPath<String>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    admin_only(&authed)?;
    let params = body_params(params, &headers, &body)?;
    let password = params.get("password").unwrap_or_default().to_string();
    let digest = params.bool("digest")?;
    let users = state.users.clone();
    blocking(move || users.set_password(&name, &password, digest).map_err(refused)).await?;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /api/user/NAME` (admins; not oneself).
pub async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    admin_only(&authed)?;
    if name == authed.user.name {
        return Err(ApiError::bad_request("an admin cannot remove themselves (another admin can)"));
    }
    let users = state.users.clone();
    blocking(move || users.remove(&name).map_err(refused)).await?;
    Ok(Json(json!({ "success": true })))
}

/// `POST /api/user/settings` (Arkime's route; any user, for themselves) with
/// `timezone` (or `time_zone`): the IANA name of the zone they type times in and see
/// them in (`Europe/Paris`); `UTC` or empty for UTC.
pub async fn settings(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = body_params(params, &headers, &body)?;
    let Some(zone) = params.given("timezone").or(params.given("time_zone")) else {
        return Err(ApiError::bad_request("timezone: missing (an IANA name such as Europe/Paris, or UTC)"));
    };
    let zone = zone.trim();
    let zone = if zone.is_empty() || zone.eq_ignore_ascii_case("utc") || zone.eq_ignore_ascii_case("gmt") {
        None
    } else {
        crate::zone::check(zone).map_err(|why| ApiError::bad_request(format!("timezone: {why}")))?;
        Some(zone.to_string())
    };
    let users = state.users.clone();
    let name = authed.user.name.clone();
    let changed = blocking(move || users.update(&name, |u| u.time_zone = zone).map_err(refused)).await?;
    Ok(Json(json!(changed.info())))
}
