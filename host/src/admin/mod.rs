//! The admin API (REST under `/api`), `/metrics` in Prometheus text format
//! and the "Agent Connectors" page at `/`, on one hyper listener.
//!
//! Owns: routing, bearer-token authentication and roles ([`auth`]), the
//! JSON shapes of the API, Prometheus rendering ([`metrics`]). Every change
//! goes through [`Gateway`]'s lifecycle methods, and connector edits through
//! its one write-the-file-then-reload path.
//!
//! Errors have one stable shape:
//! `{"error": {"status": 404, "code": "unknown_connector", "message": "...", "details": [...]}}`.

pub mod auth;
pub mod client;
mod metrics;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::app::{Gateway, LifecycleError};
use crate::config::{AdminConfig, AdminRole, ConnectorId, DeployTo};
use crate::http::{self, Body};
use auth::{Action, Caller, Tokens};

/// The page at `/`.
const PAGE: &str = include_str!("page.html");
/// The API's OpenAPI document, served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

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

/// The largest request body the API reads.
const MAX_BODY: usize = 256 << 10;

/// The admin server's shared state.
struct Admin {
    gateway: Arc<Mutex<Gateway>>,
    tokens: Tokens,
}

/// Serves the admin API on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, gateway: Arc<Mutex<Gateway>>, config: AdminConfig) {
    let admin = Arc::new(Admin {
        gateway,
        tokens: Tokens::new(&config.tokens),
    });
    http::serve(listener, move |request, peer| {
        let admin = admin.clone();
        async move { admin.handle(request, peer).await }
    })
    .await;
}

/// An API error in the stable shape.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<String>,
    /// The methods a 405's path takes, for its `Allow` header.
    allow: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            allow: None,
        }
    }

    fn response(self) -> Response<Body> {
        let mut error = json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
        });
        if !self.details.is_empty() {
            error["details"] = json!(self.details);
        }
        let mut response = http::json(self.status, &json!({ "error": error }));
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            response.headers_mut().insert(hyper::header::ALLOW, allow);
        }
        response
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        let message = error.to_string();
        let (status, code) = match &error {
            LifecycleError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown_connector"),
            LifecycleError::UnknownPlugin { .. } => (StatusCode::NOT_FOUND, "unknown_plugin"),
            LifecycleError::Exists(_) => (StatusCode::CONFLICT, "connector_exists"),
            LifecycleError::Running { .. } => (StatusCode::CONFLICT, "connector_running"),
            LifecycleError::UserTaken { .. } => (StatusCode::CONFLICT, "agent_user_taken"),
            LifecycleError::NoBot { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_bot"),
            LifecycleError::Platform { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "platform_refused")
            }
            LifecycleError::BadId(_) => (StatusCode::BAD_REQUEST, "bad_id"),
            LifecycleError::Closing => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            LifecycleError::Write { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "write_failed"),
            LifecycleError::Refused(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_configuration")
            }
        };
        let details = match error {
            LifecycleError::Refused(report) => report.errors,
            _ => Vec::new(),
        };
        ApiError {
            status,
            code,
            message,
            details,
            allow: None,
        }
    }
}

type Handled = Result<Response<Body>, ApiError>;

/// What a request asks for, once its path, its method and its ids are
/// known to be right.
enum Route<'a> {
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
    fn resolve(method: &Method, segments: &[&'a str]) -> Result<Route<'a>, ApiError> {
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
    fn least(&self) -> Action {
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

fn bad_id(error: crate::config::BadConnectorId) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_id", error.to_string())
}

impl Admin {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        _peer: SocketAddr,
    ) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        match self.route(request, &method, &path).await {
            Ok(response) => response,
            Err(mut error) => {
                if error.status.is_server_error() {
                    tracing::error!(%method, %path, "{}", error.message);
                }
                // Only reloads and writes (422, 5xx: reached by authorised
                // callers alone) can name the server's files; nothing else
                // waits for the gateway here.
                let may_name_files = error.status == StatusCode::UNPROCESSABLE_ENTITY
                    || error.status.is_server_error();
                let has_paths =
                    error.message.contains('/') || error.details.iter().any(|d| d.contains('/'));
                if may_name_files && has_paths {
                    let paths = ServerPaths::of(&*self.gateway.lock().await);
                    error.message = paths.hide(&error.message);
                    for detail in &mut error.details {
                        *detail = paths.hide(detail);
                    }
                }
                error.response()
            }
        }
    }

    /// Answers a request in a fixed order: the route and its ids, the
    /// token, the least role the route needs, and only then the body and
    /// whatever else (a production connector's stricter role) it decides.
    async fn route(&self, request: Request<Incoming>, method: &Method, path: &str) -> Handled {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let route = Route::resolve(method, &segments)?;
        // Public: the page (it asks for a token) and the API's description.
        match route {
            Route::Page => return Ok(http::content("text/html; charset=utf-8", PAGE)),
            Route::OpenApi => return Ok(http::content("application/json", OPENAPI)),
            _ => {}
        }
        let caller = self.tokens.caller(&request).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send `Authorization: Bearer <token>` with a token from [admin] in switchboard.toml",
            )
        })?;
        caller.require(route.least(), false)?;
        match &route {
            Route::Page | Route::OpenApi => unreachable!("answered above"),
            Route::Metrics => {
                let gateway = self.gateway.lock().await;
                Ok(http::content(
                    "text/plain; version=0.0.4; charset=utf-8",
                    metrics::render(&gateway),
                ))
            }
            Route::List => {
                let gateway = self.gateway.lock().await;
                let list: Vec<Value> = gateway
                    .connector_ids()
                    .iter()
                    .filter_map(|id| summary(&gateway, id).ok())
                    .collect();
                Ok(http::json(StatusCode::OK, &json!({ "connectors": list })))
            }
            Route::Add => self.add(&caller, request).await,
            Route::Show(id) => {
                let gateway = self.gateway.lock().await;
                let mut details = summary(&gateway, id.as_str())?;
                let report = gateway.report(id.as_str())?;
                details["details"] = json!(report.details);
                details["progress"] = json!(report.progress);
                Ok(http::json(StatusCode::OK, &details))
            }
            Route::Edit(id) => self.edit(&caller, id, request).await,
            Route::Delete(id) => {
                let id = id.as_str();
                let mut gateway = self.gateway.lock().await;
                caller.require(Action::Change, is_production(&gateway, id)?)?;
                gateway.delete_connector(id).await?;
                Ok(http::json(StatusCode::OK, &json!({ "deleted": id })))
            }
            Route::Start(id) | Route::Stop(id) => {
                let start = matches!(route, Route::Start(_));
                let id = id.as_str();
                let mut gateway = self.gateway.lock().await;
                caller.require(Action::Change, is_production(&gateway, id)?)?;
                if start {
                    gateway.start_connector(id)?;
                } else {
                    gateway.stop_connector(id).await?;
                }
                let verb = if start { "start" } else { "stop" };
                tracing::info!(connector = id, owner = %caller.owner, "connector {verb} through the admin API");
                Ok(http::json(StatusCode::OK, &summary(&gateway, id)?))
            }
            Route::History(id) => {
                let gateway = self.gateway.lock().await;
                Ok(http::json(
                    StatusCode::OK,
                    &json!({ "history": gateway.history(id.as_str())? }),
                ))
            }
            Route::Plugins(id) => {
                let gateway = self.gateway.lock().await;
                let plugins = gateway.report(id.as_str())?.details.plugins;
                Ok(http::json(StatusCode::OK, &json!({ "plugins": plugins })))
            }
            Route::ResetPlugin(id, name) => {
                let id = id.as_str();
                let gateway = self.gateway.lock().await;
                let name = *name;
                gateway.reset_plugin(id, name)?;
                tracing::info!(connector = id, plugin = name, owner = %caller.owner, "plugin reset by an operator");
                let plugins = gateway.report(id)?.details.plugins;
                Ok(http::json(StatusCode::OK, &json!({ "plugins": plugins })))
            }
            Route::ReloadStatus => {
                let gateway = self.gateway.lock().await;
                Ok(http::json(StatusCode::OK, &reload_status(&gateway)))
            }
            Route::Reload => {
                let mut gateway = self.gateway.lock().await;
                gateway.reload().await;
                Ok(http::json(StatusCode::OK, &reload_status(&gateway)))
            }
        }
    }

    /// `POST /api/connectors`: the caller may change demo connectors (checked
    /// before this); a production one needs more, known once the body is.
    async fn add(&self, caller: &Caller, request: Request<Incoming>) -> Handled {
        let body = read_json(request).await?;
        let id = match body.get("id") {
            None => return Err(bad_connector("`id` is missing".into())),
            Some(Value::String(id)) => ConnectorId::parse(id).map_err(bad_id)?,
            Some(_) => return Err(bad_connector("`id` must be a string".into())),
        };
        caller.require(Action::Change, deploys_to_production(&body))?;
        let config = connector_from_json(&body, &id)?;
        let mut gateway = self.gateway.lock().await;
        check_owner(&gateway, caller, &config).await?;
        gateway.add_connector(config).await?;
        tracing::info!(connector = %id, owner = %caller.owner, "connector added through the admin API");
        Ok(http::json(
            StatusCode::CREATED,
            &summary(&gateway, id.as_str())?,
        ))
    }

    /// `PUT /api/connectors/{id}`: a production connector, or a body that
    /// makes one, needs more than a demo one. The connector's own side is
    /// checked before the body is read, the body's after.
    async fn edit(&self, caller: &Caller, id: &ConnectorId, request: Request<Incoming>) -> Handled {
        let is_production_now = |gateway: &Gateway| is_production(gateway, id.as_str());
        caller.require(
            Action::Change,
            is_production_now(&*self.gateway.lock().await)?,
        )?;
        let body = read_json(request).await?;
        match body.get("id") {
            None => {}
            Some(Value::String(given)) if given == id.as_str() => {}
            Some(Value::String(given)) => {
                ConnectorId::parse(given).map_err(bad_id)?;
                return Err(bad_connector(format!(
                    "the body's id `{given}` is not the path's `{id}`"
                )));
            }
            Some(_) => return Err(bad_connector("`id` must be a string".into())),
        }
        caller.require(Action::Change, deploys_to_production(&body))?;
        let config = connector_from_json(&body, id)?;
        let mut gateway = self.gateway.lock().await;
        // Checked again: it may have changed while the body was read.
        caller.require(Action::Change, is_production_now(&gateway)?)?;
        check_owner(&gateway, caller, &config).await?;
        gateway.edit_connector(config).await?;
        tracing::info!(connector = %id, owner = %caller.owner, "connector edited through the admin API");
        Ok(http::json(StatusCode::OK, &summary(&gateway, id.as_str())?))
    }
}

/// Adding or editing a connector for a bot user created by another owner
/// answers 401, as the product documents.
async fn check_owner(
    gateway: &Gateway,
    caller: &Caller,
    config: &crate::config::ConnectorConfig,
) -> Result<(), ApiError> {
    match gateway.bot_user_owner(config).await {
        Some(owner) if owner != caller.owner => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_owner",
            format!(
                "bot user `{}` was created by another owner: only they can add or edit its connectors",
                config.identity.agent_user_id
            ),
        )),
        _ => Ok(()),
    }
}

impl Caller {
    fn require(&self, action: Action, production: bool) -> Result<(), ApiError> {
        if auth::allows(self.role, action, production) {
            return Ok(());
        }
        let needs = match (action, production) {
            (Action::Read, _) => "viewer",
            (Action::Change, false) => "bot_developer",
            (Action::Change, true) => "administrator or bot_status_access (production)",
            (Action::Operate, _) => "bot_status_access or administrator",
            (Action::Reload, _) => "administrator",
        };
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "role {} may not do this; it needs {needs}",
                role_name(self.role)
            ),
        ))
    }
}

fn role_name(role: AdminRole) -> &'static str {
    match role {
        AdminRole::Viewer => "viewer",
        AdminRole::BotDeveloper => "bot_developer",
        AdminRole::BotStatusAccess => "bot_status_access",
        AdminRole::Administrator => "administrator",
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

/// The request's body as JSON: 413 over [`MAX_BODY`] (by its
/// `Content-Length` before reading, or while reading), 400 if not JSON.
async fn read_json(request: Request<Incoming>) -> Result<Value, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {} KiB", MAX_BODY >> 10),
        )
    };
    let declared = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    let bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "the body could not be read",
                )
            }
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not JSON: {e}"),
        )
    })
}

fn bad_connector(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_connector", message)
}

/// Whether a connector document asks for production, read with the same
/// [`DeployTo`] the file's parser uses (anything else is refused by it
/// later).
fn deploys_to_production(body: &Value) -> bool {
    body.get("deploy_to")
        .and_then(|value| DeployTo::deserialize(value).ok())
        == Some(DeployTo::Production)
}

/// A connector document (the keys of a connector file, as JSON) turned
/// into the file it will be, checked like one; `id` is already checked
/// and the body's `id`, if any, is the same.
fn connector_from_json(
    body: &Value,
    id: &ConnectorId,
) -> Result<crate::config::ConnectorConfig, ApiError> {
    let mut body = body.clone();
    let Some(object) = body.as_object_mut() else {
        return Err(bad_connector(
            "the body must be a JSON object with the keys of a connector file".into(),
        ));
    };
    object.insert("id".into(), json!(id.as_str()));
    let text = toml::to_string(&body)
        .map_err(|e| bad_connector(format!("the connector cannot be written as TOML: {e}")))?;
    let file = std::path::PathBuf::from(format!("connectors/{id}.toml"));
    crate::config::connector_from_text(&file, &text).map_err(|errors| {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_configuration",
            format!("connector `{id}` has errors"),
        );
        error.details = errors.0.iter().map(ToString::to_string).collect();
        error
    })
}

/// The server's own folders (the configuration directory, the plugin
/// folders, the data directory), kept out of what the API says: paths
/// inside the configuration directory are told relative to it, the others
/// by their last component (`…/plugins`). The whole paths are in the log.
struct ServerPaths {
    /// (folder as text, what it reads as before a `/`, what it reads as alone),
    /// longest first.
    hidden: Vec<(String, String, String)>,
}

impl ServerPaths {
    fn of(gateway: &Gateway) -> Self {
        let mut dirs = gateway.watched_dirs().into_iter();
        let config = dirs.next().unwrap_or_default();
        let mut hidden = Vec::new();
        // Relative folders say nothing about the server; their absolute
        // forms do.
        let mut hide = |dir: &Path, inside: String, alone: String| {
            let canonical = dir.canonicalize().ok();
            for form in std::iter::once(dir).chain(canonical.as_deref()) {
                let text = form.display().to_string();
                if form.is_absolute() && text.len() > 1 {
                    hidden.push((text, inside.clone(), alone.clone()));
                }
            }
        };
        hide(&config, String::new(), ".".into());
        for dir in dirs.chain([gateway.data_dir().to_owned()]) {
            if dir.starts_with(&config) {
                continue;
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            hide(&dir, format!("…/{name}/"), format!("…/{name}"));
        }
        hidden.sort_by_key(|(text, ..)| std::cmp::Reverse(text.len()));
        ServerPaths { hidden }
    }

    /// `text` with every hidden folder replaced where it stands as a whole
    /// path component.
    fn hide(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (dir, inside, alone) in &self.hidden {
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(at) = rest.find(dir.as_str()) {
                out.push_str(&rest[..at]);
                let after = &rest[at + dir.len()..];
                match after.chars().next() {
                    Some('/') => {
                        out.push_str(inside);
                        rest = &after[1..];
                    }
                    Some(c) if c.is_alphanumeric() || "-_.".contains(c) => {
                        out.push_str(dir);
                        rest = after;
                    }
                    _ => {
                        out.push_str(alone);
                        rest = after;
                    }
                }
            }
            out.push_str(rest);
            text = out;
        }
        text
    }
}

fn is_production(gateway: &Gateway, id: &str) -> Result<bool, ApiError> {
    Ok(*gateway.connector_config(id)?.identity.deploy_to == DeployTo::Production)
}

/// One row of the connector table.
fn summary(gateway: &Gateway, id: &str) -> Result<Value, ApiError> {
    let identity = &gateway.connector_config(id)?.identity;
    let report = gateway.report(id)?;
    Ok(json!({
        "id": id,
        "bot": identity.bot,
        "account": identity.account,
        "agent_user_id": identity.agent_user_id,
        "conversation_type": identity.conversation_type,
        "deploy_to": identity.deploy_to,
        "status": report.status,
        "running": gateway.is_running(id),
        "conversations": report.conversations,
    }))
}

/// The last reload's outcome; its findings name files relative to the
/// configuration directory (see [`ServerPaths`]).
fn reload_status(gateway: &Gateway) -> Value {
    let paths = ServerPaths::of(gateway);
    let mut last = json!(gateway.last_reload());
    for list in ["errors", "warnings", "changes"] {
        if let Some(Value::Array(items)) = last.get_mut(list) {
            for item in items {
                if let Value::String(text) = item {
                    *text = paths.hide(text);
                }
            }
        }
    }
    json!({
        "last": last,
        "applied": gateway.reloads_applied(),
        "refused": gateway.reloads_refused(),
        "compiles": gateway.compile_stats(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_told_relative_to_the_configuration_or_by_their_last_name() {
        let paths = ServerPaths {
            hidden: vec![
                ("/srv/gw/config".into(), String::new(), ".".into()),
                (
                    "/opt/plugins".into(),
                    "…/plugins/".into(),
                    "…/plugins".into(),
                ),
            ],
        };
        assert_eq!(
            paths.hide("/srv/gw/config/connectors/a.toml:1:6: error: unknown plugin file `x.wasm` (searched /opt/plugins, /srv/gw/config/plugins)"),
            "connectors/a.toml:1:6: error: unknown plugin file `x.wasm` (searched …/plugins, plugins)"
        );
        assert_eq!(paths.hide("/srv/gw/config: fuel"), ".: fuel");
        assert_eq!(
            paths.hide("/srv/gw/configs/a and /opt/plugins-old"),
            "/srv/gw/configs/a and /opt/plugins-old",
            "only whole path components"
        );
    }
}

/// Entry points for `cargo fuzz` (`fuzz/fuzz_targets/admin_bodies.rs`) and
/// the seed test: the admin API's connector documents, taken the way the
/// API takes them once the caller may send one. None may panic.
#[doc(hidden)]
pub mod fuzzing {
    /// A body of `POST /api/connectors` or `PUT /api/connectors/{id}`.
    pub fn connector_body(data: &[u8]) {
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
            return;
        };
        let _ = super::deploys_to_production(&body);
        let id = body
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("fuzz");
        if let Ok(id) = crate::config::ConnectorId::parse(id) {
            let _ = super::connector_from_json(&body, &id);
        }
    }
}
