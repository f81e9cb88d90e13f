//! The embedded hub: a stand-in for LivePerson's messaging service so that
//! switchboard runs whole on one machine and every test has a real peer.
//!
//! It serves, on one address: the domain lookup (CSDS), agent login and
//! refresh, the agent WebSocket (LivePerson's Messaging Agent API), consumer signup and the
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
//! Owns: its account model and conversation histories (in memory: the hub
//! is the platform, not switchboard's state). May not touch: connectors;
//! they reach it only over the wire, like they would reach LivePerson.

mod agent;
mod brand_jwt;
pub mod clients;
mod consumer;
mod consumer_tokens;
pub mod limits;
mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use sha2::{Digest, Sha256};

use crate::config::{HubConfig, HubTls, LoginCredentials, UserKind};
use crate::http::{self, Body};
use crate::tls;
use crate::wire;
use clients::{ClientKey, OverLimit};
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
                let allowed = self.state().clients.signup(client, Instant::now());
                if let Err(over) = allowed {
                    return too_many(over);
                }
                let token = self.issue_consumer_token(uuid::Uuid::new_v4().to_string(), None);
                http::json(StatusCode::OK, &json!({"jwt": token}))
            }
            (&Method::POST, ["api", "account", acc, "authenticate"]) if *acc == account => {
                self.authenticate(request).await
            }
            (
                &Method::GET,
                [
                    "api",
                    "account",
                    acc,
                    "configuration",
                    "le-users",
                    what @ ("users" | "skills"),
                ],
            ) if *acc == account => self.account_configuration(&request, what),
            (
                &Method::GET,
                [
                    "api",
                    "account",
                    acc,
                    "configuration",
                    "le-campaigns",
                    "engagements",
                ],
            ) if *acc == account => self.account_configuration(&request, "engagements"),
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
                let Some((response, socket)) = http::upgrade_websocket(&mut request) else {
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

    async fn login(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let Ok(body) = serde_json::from_slice::<Value>(&body) else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "login body must be JSON: {\"username\",\"password\"} or {\"username\",\"appKey\",\"secret\",\"accessToken\",\"accessTokenSecret\"}",
            );
        };
        let field = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
        let mut state = self.state();
        let Some(user) = state
            .config
            .users
            .iter()
            .find(|u| u.login == field("username"))
            .cloned()
        else {
            return http::error(StatusCode::UNAUTHORIZED, "invalid username or credentials");
        };
        let matches = match &user.credentials {
            LoginCredentials::Password(password) => field("password") == password,
            LoginCredentials::ApiKey {
                app_key,
                secret,
                access_token,
                access_token_secret,
            } => {
                field("appKey") == app_key
                    && field("secret") == secret
                    && field("accessToken") == access_token
                    && field("accessTokenSecret") == access_token_secret
            }
        };
        if !matches {
            return http::error(StatusCode::UNAUTHORIZED, "invalid username or credentials");
        }
        if !user.enabled {
            return http::error(
                StatusCode::UNAUTHORIZED,
                format!("user {} is disabled", user.login),
            );
        }
        let session = Session {
            login: user.login.clone(),
            user_id: format!("{}.{}", state.config.account, user.login),
            pid: uuid::Uuid::new_v4().to_string(),
        };
        // One active session per agent user: a new login logs the old one out.
        state.sessions.retain(|_, s| s.login != user.login);
        for agent in state.agents.values().filter(|a| a.login == user.login) {
            let _ = agent
                .outbox
                .send(state::Outgoing::Close(4407, "logged in elsewhere".into()));
        }
        let bearer = random_token();
        let answer = json!({
            "bearer": bearer, "csrf": random_token(),
            "config": {"userId": session.login, "userPid": session.pid, "loginName": session.login},
        });
        state.sessions.insert(bearer, session);
        http::json(StatusCode::OK, &answer)
    }

    /// The HTTP agent session's routes: open and close the session
    /// (`webhook-session`), and its requests (`request`).
    async fn agent_over_http(
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
                        http::json(StatusCode::OK, &json!({}))
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
        let Some(session) = self.state().sessions.get(&bearer).cloned() else {
            return http::error(
                StatusCode::UNAUTHORIZED,
                "unknown or expired bearer token: log in again",
            );
        };
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let url = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("url").and_then(Value::as_str).map(str::to_owned));
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
        http::json(StatusCode::OK, &json!({"sessionId": conn.to_string()}))
    }

    /// One request of an HTTP agent session: the body is a request frame,
    /// the answer its response frame.
    async fn webhook_request(
        self: Arc<Self>,
        request: Request<Incoming>,
        bearer: String,
    ) -> Response<Body> {
        let (session, conn) = {
            let state = self.state();
            match (
                state.sessions.get(&bearer),
                state.webhook_sessions.get(&bearer),
            ) {
                (Some(session), Some(conn)) => (session.clone(), *conn),
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

    /// The account's users, skills and engagements (a subset of
    /// LivePerson's account configuration API), for a logged-in agent.
    fn account_configuration(&self, request: &Request<Incoming>, what: &str) -> Response<Body> {
        let bearer = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let state = self.state();
        if !bearer.is_some_and(|b| state.sessions.contains_key(b)) {
            return http::error(StatusCode::UNAUTHORIZED, "a valid Bearer token is required");
        }
        let config = &state.config;
        let list: Vec<Value> = match what {
            "users" => config
                .users
                .iter()
                .map(|u| {
                    json!({"id": u.login, "loginName": u.login,
                        "userTypeId": match u.kind { UserKind::Human => 1, UserKind::Bot => 2 },
                        "isEnabled": u.enabled, "skillIds": u.skills, "maxAsyncChats": u.max_conversations, "createdBy": u.created_by,
                        "loginMethod": match u.credentials { LoginCredentials::Password(_) => "password", LoginCredentials::ApiKey { .. } => "apiKey" }})
                })
                .collect(),
            "skills" => config.skills.iter().map(|s| json!({"id": s.id, "name": s.name})).collect(),
            _ => {
                let mut engagements: Vec<Value> =
                    config.engagements.iter().map(|e| json!({"id": e.id, "skillId": e.skill})).collect();
                engagements.push(json!({"id": "default", "skillId": config.default_skill}));
                engagements
            }
        };
        http::json(StatusCode::OK, &Value::Array(list))
    }

    async fn refresh(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        match http::read_body(request, BODY_LIMIT).await {
            Ok(_) => http::json(StatusCode::OK, &json!({})),
            Err(e) => http::error(StatusCode::BAD_REQUEST, e),
        }
    }

    /// How many consumer JWTs the hub honours now (at most
    /// `[hub.consumer_auth] max_tokens`).
    pub fn consumer_tokens(&self) -> usize {
        self.state().consumer_tokens.len()
    }

    /// A consumer JWT whose `sub` is `consumer_id`, honoured until its
    /// `exp` (see `consumer_tokens`). The hub is issuer and verifier, so
    /// the signature is a random secret it remembers.
    fn issue_consumer_token(&self, consumer_id: String, steps_up_from: Option<String>) -> String {
        let mut state = self.state();
        let iat = wire::now_ms() / 1000;
        let exp = iat + state.consumer_tokens.lifetime().as_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims =
            URL_SAFE_NO_PAD.encode(json!({"sub": consumer_id, "iat": iat, "exp": exp}).to_string());
        let token = format!("{header}.{claims}.{}", random_token());
        state
            .consumer_tokens
            .issue(&token, consumer_id, steps_up_from, Instant::now());
        token
    }

    /// Exchanges a brand JWT for an authenticated consumer JWT: the brand JWT is checked with the account's key, and the
    /// consumer id is the SHA-256 of its `sub` in hex. A request that also
    /// carries the consumer's unauthenticated JWT (`Authorization: jwt ...`)
    /// links the two, so step-up works from a new socket too.
    async fn authenticate(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let previous = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("jwt "))
            .map(str::to_owned);
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let Some(code) = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("authCode").and_then(Value::as_str).map(str::to_owned))
        else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "body must be JSON {\"authCode\": \"<brand JWT>\"}",
            );
        };
        let auth = self.state().config.consumer_auth.clone();
        let subject = match brand_jwt::verify(&auth, &code) {
            Ok(subject) => subject,
            Err(reason) => return http::error(StatusCode::UNAUTHORIZED, reason),
        };
        let consumer_id: String = Sha256::digest(subject.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let steps_up_from = previous.and_then(|t| {
            let state = self.state();
            state
                .consumer_tokens
                .consumer(&t, Instant::now())
                .map(str::to_owned)
        });
        let token = self.issue_consumer_token(consumer_id, steps_up_from);
        http::json(StatusCode::OK, &json!({"jwt": token}))
    }
}

/// Entry points for the fuzz targets in `fuzz/`: one frame through the
/// agent side, or the consumer side, of a fresh hub with one logged-in
/// agent or one authenticated consumer. Not for production use.
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::{Arc, Mutex};

    use super::state::{Consumer, HubState, Session};
    use super::{Hub, Instant, agent, consumer};
    use crate::config::{ClientLimits, ConsumerAuth, HubConfig, HubSkill};
    use crate::wire::{self, Frame};

    fn hub() -> Arc<Hub> {
        let config = HubConfig {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            account: "123".into(),
            default_skill: "1".into(),
            skills: vec![HubSkill {
                id: "1".into(),
                name: "one".into(),
            }],
            users: Vec::new(),
            ring_expiration: std::time::Duration::from_secs(30),
            engagements: Vec::new(),
            consumer_auth: ConsumerAuth::default(),
            clients: ClientLimits::default(),
            agent_grace: std::time::Duration::from_secs(1),
            tls: None,
        };
        Arc::new(Hub {
            state: Mutex::new(HubState::new(config)),
            addr: "127.0.0.1:0".parse().expect("literal address"),
        })
    }

    /// One frame from an agent.
    pub fn agent_frame(text: &str) {
        let hub = hub();
        let session = Session {
            login: "bot".into(),
            user_id: "123.bot".into(),
            pid: "pid".into(),
        };
        let (outbox, _frames) = super::state::outbox();
        let conn = agent::register(&hub, &session, outbox);
        let (_reply, then) = agent::process(&hub, conn, &session, text);
        agent::after(&hub, conn, then);
    }

    /// One frame from a consumer.
    pub fn consumer_frame(text: &str) {
        let hub = hub();
        let (outbox, _frames) = super::state::outbox();
        let conn = {
            let mut state = hub.state();
            let conn = state.next_id();
            state
                .consumer_tokens
                .issue("jwt", "consumer-1".into(), None, Instant::now());
            state.consumers.insert(
                conn,
                Consumer {
                    outbox: Some(outbox.clone()),
                    consumer_id: Some("consumer-1".into()),
                    ..Consumer::default()
                },
            );
            conn
        };
        if let Ok(Frame::Request(request)) = wire::parse(text) {
            consumer::handle(&hub, conn, &outbox, request);
        }
    }
}

/// 429 for a client over one of its limits, with `Retry-After` when
/// waiting helps.
fn too_many(over: OverLimit) -> Response<Body> {
    let mut response = http::error(StatusCode::TOO_MANY_REQUESTS, over.message);
    if let Some(wait) = over.retry_after {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, seconds.into());
    }
    response
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}
