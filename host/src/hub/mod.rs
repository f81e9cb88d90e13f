//! The embedded hub: a stand-in for LivePerson's messaging service so that
//! switchboard runs whole on one machine and every test has a real peer.
//!
//! It serves, on one address: the domain lookup (CSDS), agent login,
//! refresh and logout, the agent WebSocket (LivePerson's Messaging Agent API), consumer signup and the
//! consumer WebSocket (LivePerson's Messaging Window API), and a small web chat page at `/`.
//! Brand JWTs for step-up are checked in `brand_jwt`; the consumer JWTs it
//! issues expire and are kept in a bounded store, `consumer_tokens`. What
//! one consumer client may take (signups, sockets, open conversations) is
//! counted in `clients`; every other bound is in `limits`.
//! It routes conversations by skill to logged-in agents with free slots,
//! rings them, expires unanswered rings, transfers, re-routes a lost
//! agent's conversations and closes conversations; an agent may also open
//! one with a consumer the hub knows (outbound, see `agent`). Both sockets
//! answer a peer's close frame and then close the connection.
//!
//! Both sockets speak LivePerson's protocol through the `lp` crate: a frame
//! is read once into `lp::AgentRequest` or `lp::ConsumerRequest`, answered
//! by that kind's handler, and everything the hub sends is an `lp` type
//! written by `lp`'s frame writers.
//!
//! # Layout
//! - this file: the [`Hub`], its listener and the HTTP routes;
//! - `agent`: the agent socket and HTTP agent sessions; `agent::requests`,
//!   one handler per agent request kind;
//! - `consumer`: the consumer socket; `consumer::requests`, one handler per
//!   consumer request kind;
//! - `state`: the account model (conversations, agents, consumers), routing,
//!   event logs and the notifications both sides get;
//! - `login`: agent login, refresh and logout, and the end of a session's
//!   sockets; `sessions`: the session store (expiry, the login rate);
//!   `signup`: consumer signup and
//!   authentication (the consumer JWTs), with `brand_jwt` and
//!   `consumer_tokens`;
//! - `socket`: the WebSocket upgrade, buffers sized for each side;
//! - `webhook`: agent sessions over HTTP;
//! - `account`: the domain lookup and the account configuration (users,
//!   skills, campaigns and engagements);
//! - `profiles`: consumers' profiles (names, engagement attributes), which
//!   consumers set and agents read;
//! - `clients` and `limits`: the bounds on what peers may take;
//! - `fuzzing`: the fuzz targets' entry points.
//!
//! Owns: its account model and conversation histories (in memory: the hub
//! is the platform, not switchboard's state). May not touch: connectors;
//! they reach it only over the wire, like they would reach LivePerson.

mod account;
mod agent;
mod brand_jwt;
pub mod clients;
mod consumer;
mod consumer_tokens;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
mod login;
pub mod profiles;
mod sessions;
mod signup;
mod socket;
mod state;
mod webhook;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use lp::FrameError;
use lp::error::{ErrorResponse, GENERIC_RESPONSE};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{HubConfig, HubTls};
use crate::http::{self, Body};
use crate::tls;
use account::Listing;
use clients::{ClientKey, OverLimit};
use state::HubState;

const CHAT_PAGE: &str = include_str!("chat.html");
const BODY_LIMIT: usize = 64 << 10;

/// A running hub.
pub struct Hub {
    state: Mutex<HubState>,
    profiles: Mutex<profiles::Profiles>,
    addr: SocketAddr,
}

/// Keeps the hub serving; dropping it stops the listener.
pub struct HubHandle {
    /// The hub.
    pub hub: Arc<Hub>,
    task: JoinHandle<()>,
    /// The TLS certificate clients must trust, when the hub serves TLS.
    pub certificate: Option<PathBuf>,
}

impl Drop for HubHandle {
    /// The platform goes away: no new connections, and every open socket
    /// is closed (1001, going away).
    fn drop(&mut self) {
        self.task.abort();
        let state = self.hub.state();
        let outboxes = state
            .agents
            .values()
            .map(|a| &a.outbox)
            .chain(state.consumers.values().filter_map(|c| c.outbox.as_ref()));
        for outbox in outboxes {
            let _ = outbox.send(state::Outgoing::Close(1001, "the hub is stopping".into()));
        }
    }
}

impl HubHandle {
    /// Stops the hub as dropping it does, then waits (a second at most)
    /// until every socket has answered its close frame or gone, so the
    /// close frames reach the peers before the process ends.
    pub async fn stop(self) {
        const PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);
        let hub = self.hub.clone();
        drop(self);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            {
                let state = hub.state();
                if state.agents.is_empty() && state.consumers.values().all(|c| c.outbox.is_none()) {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.hub.addr
    }

    /// The base URL of its HTTP API (and of its domain lookup):
    /// `https://` when it serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.certificate.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.hub.addr)
    }
}

/// Why the hub did not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The address is taken or not ours.
    #[error("hub: cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS certificate could not be loaded or made.
    #[error("hub: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

impl Hub {
    /// Binds `config.listen` and serves until the handle is dropped.
    /// With TLS configured, it serves HTTPS and WSS; a self-signed
    /// certificate is written into `data_dir`.
    pub async fn start(config: HubConfig, data_dir: &Path) -> Result<HubHandle, HubError> {
        let (tls, certificate) = match &config.tls {
            None => (None, None),
            Some(HubTls::Files { cert, key }) => {
                (Some(tls::server_config(cert, key)?), Some(cert.clone()))
            }
            Some(HubTls::SelfSigned) => {
                let (cert, key) = tls::self_signed(data_dir)?;
                (Some(tls::server_config(&cert, &key)?), Some(cert))
            }
        };
        let listen_error = |source| HubError::Listen {
            addr: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let hub = Arc::new(Hub {
            state: Mutex::new(HubState::new(config)),
            profiles: Mutex::default(),
            addr,
        });
        let serving = hub.clone();
        let task = tokio::spawn(http::serve_tls(listener, tls, move |request, peer| {
            let hub = serving.clone();
            async move { hub.handle(request, ClientKey::of(peer.ip())).await }
        }));
        Ok(HubHandle {
            hub,
            task,
            certificate,
        })
    }

    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state
            .lock()
            .expect("hub state lock is never poisoned: no panics under it")
    }

    fn profiles(&self) -> MutexGuard<'_, profiles::Profiles> {
        self.profiles
            .lock()
            .expect("profiles lock is never poisoned: no panics under it")
    }

    fn account(&self) -> String {
        self.state().config.account.clone()
    }

    /// Who a bearer token runs as, while its session lives.
    fn live_session(&self, bearer: &str) -> Option<state::Session> {
        let state = self.state();
        let live = state
            .sessions
            .by_bearer(bearer, tokio::time::Instant::now());
        live.map(|live| live.session.clone())
    }

    /// Starts the expiry timers of rings just made; a ring that ends
    /// before it expires stops its timer (see `state::Ring`).
    fn arm_rings(self: &Arc<Self>, rings: Vec<(String, String)>) {
        if rings.is_empty() {
            return;
        }
        let mut state = self.state();
        let expiration = state.config.ring_expiration;
        for (conv_id, ring_id) in rings {
            let Some(ring) = state
                .conversations
                .get_mut(&conv_id)
                .and_then(|c| c.ring.as_mut())
                .filter(|r| r.id == ring_id)
            else {
                continue;
            };
            let hub = self.clone();
            let timer = tokio::spawn(async move {
                tokio::time::sleep(expiration).await;
                let more = {
                    let mut state = hub.state();
                    state.expire_ring(&conv_id, &ring_id);
                    state.route_waiting()
                };
                hub.arm_rings(more);
            });
            ring.expiry = Some(timer.abort_handle());
        }
    }

    /// Routes every waiting conversation and arms the rings.
    fn route(self: &Arc<Self>) {
        let rings = self.state().route_waiting();
        self.arm_rings(rings);
    }

    async fn handle(
        self: Arc<Self>,
        mut request: Request<Incoming>,
        client: ClientKey,
    ) -> Response<Body> {
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
                self.base_uris(acc)
            }
            (&Method::GET, ["api", "account", acc, "service", service, "baseURI.json"]) => {
                if *acc != account {
                    return http::error(StatusCode::NOT_FOUND, format!("no account {acc}"));
                }
                self.base_uri(acc, service)
            }
            (&Method::POST, ["api", "account", acc, "login"]) if *acc == account => {
                self.login(request).await
            }
            (&Method::POST, ["api", "account", acc, "refresh"]) if *acc == account => {
                self.refresh(request).await
            }
            (&Method::POST, ["api", "account", acc, "logout"]) if *acc == account => {
                self.logout(&request)
            }
            (&Method::POST, ["api", "account", acc, "signup"]) if *acc == account => {
                self.signup(client)
            }
            (&Method::POST, ["api", "account", acc, "authenticate"]) if *acc == account => {
                self.authenticate(request).await
            }
            (&Method::GET, ["api", "account", acc, "configuration", api, rest @ ..])
                if *acc == account =>
            {
                match Listing::of(api, rest) {
                    Some(listing) => self.account_configuration(&request, listing),
                    None => http::error(StatusCode::NOT_FOUND, format!("no route for GET {path}")),
                }
            }
            (&Method::GET, ["ws_api", "account", acc, "messaging", "brand", bearer])
                if *acc == account =>
            {
                let session = self.live_session(bearer);
                let Some(session) = session else {
                    return http::error(
                        StatusCode::UNAUTHORIZED,
                        "unknown or expired bearer token: log in again",
                    );
                };
                match socket::upgrade(&mut request, socket::AGENT) {
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
            (method, ["api", "account", acc, "messaging", "agent", bearer, action])
                if *acc == account =>
            {
                let (method, bearer, action) =
                    (method.clone(), bearer.to_string(), action.to_string());
                self.agent_over_http(request, method, bearer, &action).await
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
                let Some((response, socket)) = socket::upgrade(&mut request, socket::CONSUMER)
                else {
                    return http::error(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade");
                };
                if let Err(over) = self.state().clients.open_socket(client) {
                    return too_many(over);
                }
                let hub = self.clone();
                tokio::spawn(async move {
                    match socket.await {
                        Some(socket) => consumer::serve(hub, header_token, client, socket).await,
                        None => hub.state().clients.socket_closed(client),
                    }
                });
                response
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
}

/// 429 for a client over one of its limits, with `Retry-After` when
/// waiting helps.
fn too_many(over: OverLimit) -> Response<Body> {
    let mut response = http::error(StatusCode::TOO_MANY_REQUESTS, over.message);
    if let Some(wait) = over.retry_after {
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, wait.as_secs().into());
    }
    response
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_of(request: &Request<Incoming>) -> Option<&str> {
    request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// LivePerson's APIs name their version in the query (`?v=1.3`): the 400
/// naming `v` for a request without it.
fn version_missing(request: &Request<Incoming>) -> Option<Response<Body>> {
    let query = request.uri().query().unwrap_or_default();
    let has_version = query.split('&').any(|pair| {
        pair.split_once('=')
            .is_some_and(|(k, v)| k == "v" && !v.is_empty())
    });
    (!has_version).then(|| {
        http::error(
            StatusCode::BAD_REQUEST,
            "query parameter `v` (the API version) is required",
        )
    })
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// A 200 answer of an HTTP endpoint with `body` as JSON.
fn answer_json<T: Serialize>(body: &T) -> Response<Body> {
    let value = serde_json::to_value(body).expect("the hub's answers are plain JSON data");
    http::json(StatusCode::OK, &value)
}

/// A new subscription id (`Subscribe...` requests of both sockets).
fn new_subscription() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The 400 answering a frame the hub cannot read (either socket), under
/// the request's id when it can be found.
fn unreadable(text: &str, error: &FrameError) -> String {
    let id = error
        .request_id()
        .map(str::to_owned)
        .or_else(|| lp::envelope::salvage_id(text));
    ErrorResponse::from(error).to_frame(id.as_deref(), GENERIC_RESPONSE)
}
