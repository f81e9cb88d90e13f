//! Agent sessions over HTTP (the connector's `external_webhook_url` mode):
//! a logged-in agent opens a session naming a URL, sends each request
//! frame as a POST and gets its response frame as the answer; the hub
//! POSTs notifications to the URL (see `agent::serve_webhook`).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::{BODY_LIMIT, Hub, agent, answer_json};
use crate::http::{self, Body};

/// The body that opens a session: `{"url": "http://..."}`.
#[derive(Deserialize)]
struct OpenSession {
    url: String,
}

/// The answer to opening a session.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionOpened {
    session_id: String,
}

/// The answer to closing a session: `{}`.
#[derive(Serialize)]
struct SessionClosed {}

impl Hub {
    /// The HTTP agent session's routes: open and close the session
    /// (`webhook-session`), and its requests (`request`).
    pub(super) async fn agent_over_http(
        self: Arc<Self>,
        request: Request<Incoming>,
        method: Method,
        bearer: String,
        action: &str,
    ) -> Response<Body> {
        match (method, action) {
            (Method::POST, "webhook-session") => self.open_webhook_session(request, bearer).await,
            (Method::POST, "request") => self.webhook_request(request, bearer).await,
            (Method::DELETE, "webhook-session") => {
                let conn = self.state().webhook_sessions.remove(&bearer);
                match conn {
                    Some(conn) => {
                        agent::gone(&self, conn);
                        answer_json(&SessionClosed {})
                    }
                    None => http::error(
                        StatusCode::NOT_FOUND,
                        "no webhook session for this bearer token",
                    ),
                }
            }
            (method, action) => http::error(
                StatusCode::NOT_FOUND,
                format!("no route for {method} .../{action}"),
            ),
        }
    }

    /// Opens an agent session over HTTP: notifications will be POSTed to
    /// the `url` in the body (the connector's `external_webhook_url`).
    async fn open_webhook_session(
        self: Arc<Self>,
        request: Request<Incoming>,
        bearer: String,
    ) -> Response<Body> {
        let Some(session) = self.live_session(&bearer) else {
            return http::error(
                StatusCode::UNAUTHORIZED,
                "unknown or expired bearer token: log in again",
            );
        };
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let url = serde_json::from_slice::<OpenSession>(&body)
            .ok()
            .map(|open| open.url);
        let Some(url) = url.filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "body must be JSON {\"url\": \"http://...\"}",
            );
        };
        if let Some(old) = self.state().webhook_sessions.remove(&bearer) {
            agent::gone(&self, old);
        }
        let conn = agent::serve_webhook(&self, &session, url);
        self.state().webhook_sessions.insert(bearer, conn);
        answer_json(&SessionOpened {
            session_id: conn.to_string(),
        })
    }

    /// One request of an HTTP agent session: the body is a request frame,
    /// the answer its response frame.
    async fn webhook_request(
        self: Arc<Self>,
        request: Request<Incoming>,
        bearer: String,
    ) -> Response<Body> {
        let (session, conn) = {
            let session = self.live_session(&bearer);
            match (session, self.state().webhook_sessions.get(&bearer)) {
                (Some(session), Some(conn)) => (session, *conn),
                _ => {
                    return http::error(
                        StatusCode::UNAUTHORIZED,
                        "no webhook session for this bearer token",
                    );
                }
            }
        };
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let text = String::from_utf8_lossy(&body);
        let (reply, then) = agent::process(&self, conn, &session, &text);
        agent::after(&self, conn, then);
        match reply {
            Some(reply) => http::content("application/json", reply),
            None => http::error(StatusCode::BAD_REQUEST, "expected a request frame"),
        }
    }
}
