//! The admin API's routes: the list of them, and a request's method and
//! path resolved to the route it asks for, with its ids checked and the
//! least role it needs.

use hyper::{Method, StatusCode};

use super::auth::Action;
use super::error::{ApiError, bad_id};
use crate::config::ConnectorId;

/// Every route: method and path pattern (`{id}`, `{name}` are segments).
/// The OpenAPI document lists exactly these (a test checks it).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/connectors"),
    ("POST", "/api/connectors"),
    ("GET", "/api/connectors/{id}"),
    ("PUT", "/api/connectors/{id}"),
    ("DELETE", "/api/connectors/{id}"),
    ("POST", "/api/connectors/{id}/start"),
    ("POST", "/api/connectors/{id}/stop"),
    ("GET", "/api/connectors/{id}/history"),
    ("GET", "/api/connectors/{id}/plugins"),
    ("POST", "/api/connectors/{id}/plugins/{name}/reset"),
    ("GET", "/api/reload"),
    ("POST", "/api/reload"),
    ("GET", "/api/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/"),
];

/// What a request asks for, once its path, its method and its ids are
/// known to be right.
pub(super) enum Route<'a> {
    Page,
    OpenApi,
    Metrics,
    List,
    Add,
    Show(ConnectorId),
    Edit(ConnectorId),
    Delete(ConnectorId),
    Start(ConnectorId),
    Stop(ConnectorId),
    History(ConnectorId),
    Plugins(ConnectorId),
    ResetPlugin(ConnectorId, &'a str),
    ReloadStatus,
    Reload,
}

impl<'a> Route<'a> {
    /// The route of `method` on `segments`. The connector id comes first:
    /// a path whose id breaks the rule answers 400 `bad_id` whatever else
    /// is wrong with the request; then an unknown path 404, an unknown
    /// method 405 with `Allow`.
    pub(super) fn resolve(method: &Method, segments: &[&'a str]) -> Result<Route<'a>, ApiError> {
        let Some(&(_, pattern)) = ROUTES.iter().find(|(_, p)| matches(p, segments)) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route; /api/openapi.json lists them",
            ));
        };
        let id = match pattern.contains("{id}") {
            true => Some(ConnectorId::parse(segments[2]).map_err(bad_id)?),
            false => None,
        };
        Ok(match (method.as_str(), pattern, id) {
            ("GET", "/", None) => Route::Page,
            ("GET", "/api/openapi.json", None) => Route::OpenApi,
            ("GET", "/metrics", None) => Route::Metrics,
            ("GET", "/api/connectors", None) => Route::List,
            ("POST", "/api/connectors", None) => Route::Add,
            ("GET", "/api/connectors/{id}", Some(id)) => Route::Show(id),
            ("PUT", "/api/connectors/{id}", Some(id)) => Route::Edit(id),
            ("DELETE", "/api/connectors/{id}", Some(id)) => Route::Delete(id),
            ("POST", "/api/connectors/{id}/start", Some(id)) => Route::Start(id),
            ("POST", "/api/connectors/{id}/stop", Some(id)) => Route::Stop(id),
            ("GET", "/api/connectors/{id}/history", Some(id)) => Route::History(id),
            ("GET", "/api/connectors/{id}/plugins", Some(id)) => Route::Plugins(id),
            ("POST", "/api/connectors/{id}/plugins/{name}/reset", Some(id)) => {
                Route::ResetPlugin(id, segments[4])
            }
            ("GET", "/api/reload", None) => Route::ReloadStatus,
            ("POST", "/api/reload", None) => Route::Reload,
            _ => {
                let allowed: Vec<&str> = ROUTES
                    .iter()
                    .filter(|(_, p)| *p == pattern)
                    .map(|(m, _)| *m)
                    .collect();
                let mut error = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("{method} is not allowed here; {} is", allowed.join(", ")),
                );
                error.allow = Some(allowed.join(", "));
                return Err(error);
            }
        })
    }

    /// The least a caller must be allowed to do for this route: checked
    /// before anything is looked up or any body read. Changes to
    /// production connectors need more, checked once that is known.
    pub(super) fn least(&self) -> Action {
        match self {
            Route::Page
            | Route::OpenApi
            | Route::Metrics
            | Route::List
            | Route::Show(_)
            | Route::History(_)
            | Route::Plugins(_)
            | Route::ReloadStatus => Action::Read,
            Route::Add | Route::Edit(_) | Route::Delete(_) | Route::Start(_) | Route::Stop(_) => {
                Action::Change
            }
            Route::ResetPlugin(..) => Action::Operate,
            Route::Reload => Action::Reload,
        }
    }
}

fn matches(pattern: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(p, s)| p.starts_with('{') || p == s)
}
