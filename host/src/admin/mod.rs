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
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::app::{Gateway, LifecycleError};
use crate::config::{AdminConfig, AdminRole, DeployTo};
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
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
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
        http::json(self.status, &json!({ "error": error }))
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
        }
    }
}

type Handled = Result<Response<Body>, ApiError>;

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
            Err(error) => {
                if error.status.is_server_error() {
                    tracing::error!(%method, %path, "{}", error.message);
                }
                error.response()
            }
        }
    }

    async fn route(&self, request: Request<Incoming>, method: &Method, path: &str) -> Handled {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        // Public: the page (it asks for a token) and the API's description.
        match (method.as_str(), segments.as_slice()) {
            ("GET", [""]) => return Ok(http::content("text/html; charset=utf-8", PAGE)),
            ("GET", ["api", "openapi.json"]) => {
                return Ok(http::content("application/json", OPENAPI));
            }
            _ => {}
        }
        let caller = self.tokens.caller(&request).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send `Authorization: Bearer <token>` with a token from [admin] in switchboard.toml",
            )
        })?;
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["metrics"]) => {
                caller.require(Action::Read, false)?;
                let gateway = self.gateway.lock().await;
                Ok(http::content(
                    "text/plain; version=0.0.4; charset=utf-8",
                    metrics::render(&gateway),
                ))
            }
            ("GET", ["api", "connectors"]) => {
                caller.require(Action::Read, false)?;
                let gateway = self.gateway.lock().await;
                let list: Vec<Value> = gateway
                    .connector_ids()
                    .iter()
                    .filter_map(|id| summary(&gateway, id).ok())
                    .collect();
                Ok(http::json(StatusCode::OK, &json!({ "connectors": list })))
            }
            ("POST", ["api", "connectors"]) => {
                let body = read_json(request).await?;
                self.add(&caller, body).await
            }
            ("GET", ["api", "connectors", id]) => {
                caller.require(Action::Read, false)?;
                let gateway = self.gateway.lock().await;
                let mut details = summary(&gateway, id)?;
                let report = gateway.report(id)?;
                details["details"] = json!(report.details);
                details["progress"] = json!(report.progress);
                Ok(http::json(StatusCode::OK, &details))
            }
            ("PUT", ["api", "connectors", id]) => {
                let body = read_json(request).await?;
                self.edit(&caller, id, body).await
            }
            ("DELETE", ["api", "connectors", id]) => {
                let mut gateway = self.gateway.lock().await;
                caller.require(Action::Change, is_production(&gateway, id)?)?;
                gateway.delete_connector(id).await?;
                Ok(http::json(StatusCode::OK, &json!({ "deleted": id })))
            }
            ("POST", ["api", "connectors", id, verb @ ("start" | "stop")]) => {
                let mut gateway = self.gateway.lock().await;
                caller.require(Action::Change, is_production(&gateway, id)?)?;
                if *verb == "start" {
                    gateway.start_connector(id)?;
                } else {
                    gateway.stop_connector(id).await?;
                }
                tracing::info!(connector = id, owner = %caller.owner, "connector {verb} through the admin API");
                Ok(http::json(StatusCode::OK, &summary(&gateway, id)?))
            }
            ("GET", ["api", "connectors", id, "history"]) => {
                caller.require(Action::Read, false)?;
                let gateway = self.gateway.lock().await;
                Ok(http::json(
                    StatusCode::OK,
                    &json!({ "history": gateway.history(id)? }),
                ))
            }
            ("GET", ["api", "connectors", id, "plugins"]) => {
                caller.require(Action::Read, false)?;
                let gateway = self.gateway.lock().await;
                let plugins = gateway.report(id)?.details.plugins;
                Ok(http::json(StatusCode::OK, &json!({ "plugins": plugins })))
            }
            ("POST", ["api", "connectors", id, "plugins", name, "reset"]) => {
                caller.require(Action::Operate, false)?;
                let gateway = self.gateway.lock().await;
                gateway.reset_plugin(id, name)?;
                tracing::info!(connector = id, plugin = name, owner = %caller.owner, "plugin reset by an operator");
                let plugins = gateway.report(id)?.details.plugins;
                Ok(http::json(StatusCode::OK, &json!({ "plugins": plugins })))
            }
            ("GET", ["api", "reload"]) => {
                caller.require(Action::Read, false)?;
                let gateway = self.gateway.lock().await;
                Ok(http::json(StatusCode::OK, &reload_status(&gateway)))
            }
            ("POST", ["api", "reload"]) => {
                caller.require(Action::Reload, false)?;
                let mut gateway = self.gateway.lock().await;
                gateway.reload().await;
                Ok(http::json(StatusCode::OK, &reload_status(&gateway)))
            }
            _ => {
                let known = ROUTES
                    .iter()
                    .any(|(_, pattern)| matches(pattern, &segments));
                Err(if known {
                    ApiError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        format!("{method} is not allowed on {path}"),
                    )
                } else {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        format!("no route {path}"),
                    )
                })
            }
        }
    }

    async fn add(&self, caller: &Caller, body: Value) -> Handled {
        let config = connector_from_json(&body, None)?;
        caller.require(Action::Change, config.deploy_to == DeployTo::Production)?;
        let mut gateway = self.gateway.lock().await;
        check_owner(&gateway, caller, &config).await?;
        let id = config.id.clone();
        gateway.add_connector(config).await?;
        tracing::info!(connector = %id, owner = %caller.owner, "connector added through the admin API");
        Ok(http::json(StatusCode::CREATED, &summary(&gateway, &id)?))
    }

    async fn edit(&self, caller: &Caller, id: &str, body: Value) -> Handled {
        let config = connector_from_json(&body, Some(id))?;
        let mut gateway = self.gateway.lock().await;
        let production = is_production(&gateway, id)? || config.deploy_to == DeployTo::Production;
        caller.require(Action::Change, production)?;
        check_owner(&gateway, caller, &config).await?;
        gateway.edit_connector(config).await?;
        tracing::info!(connector = %id, owner = %caller.owner, "connector edited through the admin API");
        Ok(http::json(StatusCode::OK, &summary(&gateway, id)?))
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
                config.agent_user_id
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

async fn read_json(request: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes = http::read_body(request, MAX_BODY)
        .await
        .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "bad_body", e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not JSON: {e}"),
        )
    })
}

/// A connector document (the keys of a connector file, as JSON) turned
/// into the file it will be, checked like one.
fn connector_from_json(
    body: &Value,
    path_id: Option<&str>,
) -> Result<crate::config::ConnectorConfig, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_connector", message);
    let mut body = body.clone();
    let Some(object) = body.as_object_mut() else {
        return Err(bad(
            "the body must be a JSON object with the keys of a connector file".into(),
        ));
    };
    match (path_id, object.get("id").and_then(Value::as_str)) {
        (Some(path), Some(given)) if path != given => {
            return Err(bad(format!(
                "the body's id `{given}` is not the path's `{path}`"
            )));
        }
        (Some(path), None) => {
            object.insert("id".into(), json!(path));
        }
        _ => {}
    }
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`id` is missing".into()))?
        .to_owned();
    let text = toml::to_string(&body)
        .map_err(|e| bad(format!("the connector cannot be written as TOML: {e}")))?;
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

fn is_production(gateway: &Gateway, id: &str) -> Result<bool, ApiError> {
    Ok(gateway.connector_config(id)?.deploy_to == DeployTo::Production)
}

/// One row of the connector table.
fn summary(gateway: &Gateway, id: &str) -> Result<Value, ApiError> {
    let config = gateway.connector_config(id)?;
    let report = gateway.report(id)?;
    Ok(json!({
        "id": id,
        "bot": config.bot,
        "account": config.account,
        "agent_user_id": config.agent_user_id,
        "conversation_type": config.conversation_type,
        "deploy_to": config.deploy_to,
        "status": report.status,
        "running": gateway.is_running(id),
        "conversations": report.conversations,
    }))
}

fn reload_status(gateway: &Gateway) -> Value {
    json!({
        "last": gateway.last_reload(),
        "applied": gateway.reloads_applied(),
        "refused": gateway.reloads_refused(),
        "compiles": gateway.compile_stats(),
    })
}
