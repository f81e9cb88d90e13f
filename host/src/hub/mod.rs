//! The embedded hub: a stand-in for LivePerson's messaging service so that
//! switchboard runs whole on one machine and every test has a real peer.
//!
//! It serves, on one address: the domain lookup (CSDS), agent login and
//! refresh, the agent WebSocket (PROTOCOL.md §A), consumer signup and the
//! consumer WebSocket (CONSUMER.md), and a small web chat page at `/`.
//! It routes conversations by skill to logged-in agents with free slots,
//! rings them, expires unanswered rings, transfers, re-routes a lost
//! agent's conversations and closes conversations.
//!
//! Owns: its account model and conversation histories (in memory: the hub
//! is the platform, not switchboard's state). May not touch: connectors;
//! they reach it only over the wire, like they would reach LivePerson.

mod agent;
mod consumer;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::HubConfig;
use crate::http::{self, Body};
use state::{HubState, Session};

const CHAT_PAGE: &str = include_str!("chat.html");
const BODY_LIMIT: usize = 64 << 10;

/// A running hub.
pub struct Hub {
    state: Mutex<HubState>,
    addr: SocketAddr,
}

/// Keeps the hub serving; dropping it stops the listener.
pub struct HubHandle {
    /// The hub.
    pub hub: Arc<Hub>,
    task: JoinHandle<()>,
}

impl Drop for HubHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HubHandle {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.hub.addr
    }

    /// The base URL of its HTTP API (and of its domain lookup).
    pub fn url(&self) -> String {
        format!("http://{}", self.hub.addr)
    }
}

/// Why the hub did not start.
#[derive(Debug, thiserror::Error)]
#[error("hub: cannot listen on {addr}: {source}")]
pub struct HubError {
    addr: SocketAddr,
    source: std::io::Error,
}

impl Hub {
    /// Binds `config.listen` and serves until the handle is dropped.
    pub async fn start(config: HubConfig) -> Result<HubHandle, HubError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| HubError {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| HubError {
            addr: config.listen,
            source,
        })?;
        let hub = Arc::new(Hub {
            state: Mutex::new(HubState::new(config)),
            addr,
        });
        let serving = hub.clone();
        let task = tokio::spawn(http::serve(listener, move |request, _peer| {
            let hub = serving.clone();
            async move { hub.handle(request).await }
        }));
        Ok(HubHandle { hub, task })
    }

    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state
            .lock()
            .expect("hub state lock is never poisoned: no panics under it")
    }

    fn account(&self) -> String {
        self.state().config.account.clone()
    }

    /// Starts the expiry timers of rings just made.
    fn arm_rings(self: &Arc<Self>, rings: Vec<(String, String)>) {
        if rings.is_empty() {
            return;
        }
        let expiration = self.state().config.ring_expiration;
        for (conv_id, ring_id) in rings {
            let hub = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(expiration).await;
                let more = {
                    let mut state = hub.state();
                    state.expire_ring(&conv_id, &ring_id);
                    state.route_waiting()
                };
                hub.arm_rings(more);
            });
        }
    }

    /// Routes every waiting conversation and arms the rings.
    fn route(self: &Arc<Self>) {
        let rings = self.state().route_waiting();
        self.arm_rings(rings);
    }

    async fn handle(self: Arc<Self>, mut request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let account = self.account();
        match (request.method(), segments.as_slice()) {
            (&Method::GET, [""]) | (&Method::GET, ["chat"]) => http::content(
                "text/html; charset=utf-8",
                CHAT_PAGE.replace("{{ACCOUNT}}", &account),
            ),
            (&Method::GET, ["api", "account", acc, "service", "baseURI.json"]) => {
                if *acc != account {
                    return http::error(StatusCode::NOT_FOUND, format!("no account {acc}"));
                }
                let base = self.addr.to_string();
                let services = ["agentVep", "asyncMessagingEnt", "facadeMsg", "idp"]
                    .map(|service| json!({"service": service, "account": acc, "baseURI": base}));
                http::json(StatusCode::OK, &json!({"baseURIs": services}))
            }
            (&Method::POST, ["api", "account", acc, "login"]) if *acc == account => {
                self.login(request).await
            }
            (&Method::POST, ["api", "account", acc, "refresh"]) if *acc == account => {
                self.refresh(request).await
            }
            (&Method::POST, ["api", "account", acc, "signup"]) if *acc == account => {
                let token = self.issue_consumer_token();
                http::json(StatusCode::OK, &json!({"jwt": token}))
            }
            (&Method::GET, ["ws_api", "account", acc, "messaging", "brand", bearer])
                if *acc == account =>
            {
                let session = self.state().sessions.get(*bearer).cloned();
                let Some(session) = session else {
                    return http::error(
                        StatusCode::UNAUTHORIZED,
                        "unknown or expired bearer token: log in again",
                    );
                };
                match http::upgrade_websocket(&mut request) {
                    Some((response, socket)) => {
                        let hub = self.clone();
                        tokio::spawn(async move {
                            if let Some(socket) = socket.await {
                                agent::serve(hub, session, socket).await;
                            }
                        });
                        response
                    }
                    None => http::error(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade"),
                }
            }
            (&Method::GET, ["ws_api", "account", acc, "messaging", "consumer"])
                if *acc == account =>
            {
                let header_token = request
                    .headers()
                    .get(hyper::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("jwt "))
                    .map(str::to_owned);
                match http::upgrade_websocket(&mut request) {
                    Some((response, socket)) => {
                        let hub = self.clone();
                        tokio::spawn(async move {
                            if let Some(socket) = socket.await {
                                consumer::serve(hub, header_token, socket).await;
                            }
                        });
                        response
                    }
                    None => http::error(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade"),
                }
            }
            (_, ["api", "account", acc, ..]) | (_, ["ws_api", "account", acc, ..])
                if *acc != account =>
            {
                http::error(StatusCode::NOT_FOUND, format!("no account {acc}"))
            }
            _ => http::error(
                StatusCode::NOT_FOUND,
                format!("no route for {} {path}", request.method()),
            ),
        }
    }

    async fn login(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let Ok(credentials) = serde_json::from_slice::<Value>(&body) else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "login body must be JSON {\"username\",\"password\"}",
            );
        };
        let username = credentials
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let password = credentials
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut state = self.state();
        let Some(user) = state.config.users.iter().find(|u| u.login == username) else {
            return http::error(StatusCode::UNAUTHORIZED, "invalid username or password");
        };
        if user.password != password {
            return http::error(StatusCode::UNAUTHORIZED, "invalid username or password");
        }
        let session = Session {
            login: user.login.clone(),
            user_id: format!("{}.{}", state.config.account, user.login),
            pid: uuid::Uuid::new_v4().to_string(),
        };
        let bearer = random_token();
        let answer = json!({
            "bearer": bearer, "csrf": random_token(),
            "config": {"userId": session.login, "userPid": session.pid, "loginName": session.login},
        });
        state.sessions.insert(bearer, session);
        http::json(StatusCode::OK, &answer)
    }

    async fn refresh(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        match http::read_body(request, BODY_LIMIT).await {
            Ok(_) => http::json(StatusCode::OK, &json!({})),
            Err(e) => http::error(StatusCode::BAD_REQUEST, e),
        }
    }

    /// A consumer JWT: `sub` is a new consumer id. The hub is issuer and
    /// verifier, so the signature is a random secret it remembers.
    fn issue_consumer_token(&self) -> String {
        let consumer_id = uuid::Uuid::new_v4().to_string();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD
            .encode(json!({"sub": consumer_id, "iat": wire::now_ms() / 1000}).to_string());
        let token = format!("{header}.{claims}.{}", random_token());
        self.state()
            .consumer_tokens
            .insert(token.clone(), consumer_id);
        token
    }
}

use crate::wire;

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}
