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
//!
//! # Layout
//! - this file: the listener, and each request answered in a fixed order
//!   (route, token, role, then the route's work);
//! - `routes`: [`ROUTES`], and a request's method and path resolved to
//!   the route it asks for and the least role that route needs;
//! - [`auth`]: bearer tokens, roles and the 403 a missing role answers;
//! - `connectors`: adding and editing connectors (their JSON bodies,
//!   checked like connector files) and the connector table's rows;
//! - `error`: the stable error shape and what each lifecycle error answers;
//! - `paths`: the server's own folders, kept out of what the API says;
//! - `metrics`: `/metrics`; [`client`]: the API's client for the CLI;
//! - `fuzzing`: the fuzz target's entry point.

pub mod auth;
pub mod client;
mod connectors;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod metrics;
mod paths;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::app::Gateway;
use crate::config::AdminConfig;
use crate::http::{self, Body};
use auth::{Action, Tokens};
use connectors::{is_production, summary};
use error::{ApiError, Handled};
use paths::ServerPaths;
pub use routes::ROUTES;
use routes::Route;

/// The page at `/`.
const PAGE: &str = include_str!("page.html");
/// The API's OpenAPI document, served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

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
                let mut report = gateway.report(id.as_str())?;
                ServerPaths::of(&gateway).hide_plugins(&mut report.details.plugins);
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
                gateway.set_running(id, start).await?;
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
                let mut plugins = gateway.report(id.as_str())?.details.plugins;
                ServerPaths::of(&gateway).hide_plugins(&mut plugins);
                Ok(http::json(StatusCode::OK, &json!({ "plugins": plugins })))
            }
            Route::ResetPlugin(id, name) => {
                let id = id.as_str();
                let gateway = self.gateway.lock().await;
                let name = *name;
                gateway.reset_plugin(id, name)?;
                tracing::info!(connector = id, plugin = name, owner = %caller.owner, "plugin reset by an operator");
                let mut plugins = gateway.report(id)?.details.plugins;
                ServerPaths::of(&gateway).hide_plugins(&mut plugins);
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
