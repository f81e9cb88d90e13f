//! Agent login, refresh and logout (LivePerson's agent login API): a user
//! of the account and its credentials (password, an API key's four parts,
//! or OAuth2 client credentials) get a session (see `sessions`): a bearer
//! token for the agent socket and the account APIs, a `Session_id` cookie
//! and a CSRF token for refresh. One session per user: a new login logs
//! the old one out (its sockets are closed with 4407). A session that
//! ends by logout or expiry closes its sockets with 4401.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{RETRY_AFTER, SET_COOKIE};
use hyper::{Request, Response, StatusCode};
use lp::login::{LoginAnswer, LoginRequest, LoginSecret, Refresh, SessionUser, UserId};
use serde::Serialize;
use tokio::time::Instant;

use super::sessions::LOGIN_RETRY_AFTER_S;
use super::state::{self, Session};
use super::{BODY_LIMIT, Hub, answer_json, bearer_of, random_token, version_missing};
use crate::http::{self, Body};

/// An empty JSON object: the answer to a refresh and to a logout.
#[derive(Serialize)]
struct Done {}

/// The cookie a login sets and refresh and logout read.
const SESSION_COOKIE: &str = "Session_id";

/// The close code of a socket whose session ended (LivePerson's
/// "authentication problem: log in again").
const SESSION_ENDED: u16 = 4401;

impl Hub {
    /// How many live login sessions the agent user `login` holds (one at
    /// most: a new login ends the old one).
    pub fn live_sessions(&self, login: &str) -> usize {
        self.state().sessions.live(login, Instant::now())
    }

    /// `POST .../login?v=1.3`: a session for a user whose credentials match.
    pub(super) async fn login(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        if let Some(refused) = version_missing(&request) {
            return refused;
        }
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let login = match serde_json::from_slice::<LoginRequest>(&body) {
            Ok(login) => login,
            // An object that carries neither form of secret whole is
            // wrong credentials, as an unknown user is.
            Err(_)
                if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
                    .is_ok() =>
            {
                return http::error(StatusCode::UNAUTHORIZED, "invalid username or credentials");
            }
            Err(_) => {
                return http::error(
                    StatusCode::BAD_REQUEST,
                    "login body must be JSON: {\"username\",\"password\"} or {\"username\",\"appKey\",\"secret\",\"accessToken\",\"accessTokenSecret\"}",
                );
            }
        };
        let mut state = self.state();
        let Some(user) = state
            .config
            .users
            .iter()
            .find(|u| u.login == login.username)
            .cloned()
        else {
            return http::error(StatusCode::UNAUTHORIZED, "invalid username or credentials");
        };
        // Bots send OAuth2 client credentials in the API key's fields, with
        // "dummy" for the OAuth1 tokens, as LivePerson documents the body.
        if login.secret != LoginSecret::from(&user.credentials) {
            return http::error(StatusCode::UNAUTHORIZED, "invalid username or credentials");
        }
        if !user.enabled {
            return http::error(
                StatusCode::UNAUTHORIZED,
                format!("user {} is disabled", user.login),
            );
        }
        let session = Session {
            bearer: random_token(),
            login: user.login.clone(),
            user_id: format!("{}.{}", state.config.account, user.login),
            pid: uuid::Uuid::new_v4().to_string(),
        };
        let (live, ended) = match state.sessions.login(session, Instant::now()) {
            Ok(started) => started,
            Err(too_many) => {
                let mut response = http::error(StatusCode::TOO_MANY_REQUESTS, too_many.to_string());
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, LOGIN_RETRY_AFTER_S.into());
                return response;
            }
        };
        // One active session per agent user: a new login logs the old one out.
        for old in &ended {
            close_sockets(&state, &old.session.bearer, 4407, "logged in elsewhere");
        }
        let answer = LoginAnswer {
            bearer: live.session.bearer.clone(),
            csrf: Some(live.csrf.clone()),
            config: SessionUser {
                user_id: UserId::from(live.session.login.as_str()),
                user_pid: Some(live.session.pid.clone()),
                login_name: Some(live.session.login.clone()),
            },
        };
        let mut response = answer_json(&answer);
        let cookie = format!("{SESSION_COOKIE}={}; Path=/; HttpOnly", live.cookie);
        response.headers_mut().insert(
            SET_COOKIE,
            cookie.parse().expect("a token is a valid header value"),
        );
        response
    }

    /// `POST .../refresh`: the `Session_id` cookie's session lives a
    /// lifetime more, when the body's `csrf` is its own.
    pub(super) async fn refresh(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let cookie = session_cookie(&request);
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let Ok(refresh) = serde_json::from_slice::<Refresh>(&body) else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "refresh body must be JSON {\"csrf\"}",
            );
        };
        let refreshed =
            self.state()
                .sessions
                .refresh(cookie.as_deref(), &refresh.csrf, Instant::now());
        match refreshed {
            Ok(()) => answer_json(&Done {}),
            Err(refused) => http::error(StatusCode::UNAUTHORIZED, refused.to_string()),
        }
    }

    /// `POST .../logout`: the session of the `Authorization: Bearer` token
    /// or the `Session_id` cookie ends now; its sockets are closed.
    pub(super) fn logout(&self, request: &Request<Incoming>) -> Response<Body> {
        let cookie = session_cookie(request);
        let mut state = self.state();
        let ended = state
            .sessions
            .logout(bearer_of(request), cookie.as_deref(), Instant::now());
        match ended {
            Some(ended) => {
                close_sockets(&state, &ended.session.bearer, SESSION_ENDED, "logged out");
                answer_json(&Done {})
            }
            None => http::error(
                StatusCode::UNAUTHORIZED,
                "no live session for this bearer token or Session_id cookie",
            ),
        }
    }

    /// Closes the agent connection `conn` (4401) when the session of
    /// `bearer` expires; a refresh moves the moment on. Ends with the
    /// connection.
    pub(super) fn watch_session(self: &Arc<Self>, conn: u64, bearer: String) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                let (expires, outbox) = {
                    let state = hub.state();
                    let Some(agent) = state.agents.get(&conn) else {
                        return;
                    };
                    match state.sessions.expiry(&bearer, Instant::now()) {
                        Some(expires) => (expires, agent.outbox.clone()),
                        None => {
                            let _ = agent.outbox.send(state::Outgoing::Close(
                                SESSION_ENDED,
                                "session expired: log in again".into(),
                            ));
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(expires) => {}
                    _ = outbox.closed() => return,
                }
            }
        });
    }
}

/// Closes every agent connection running in the session of `bearer`.
fn close_sockets(state: &state::HubState, bearer: &str, code: u16, reason: &str) {
    for agent in state.agents.values().filter(|a| a.bearer == bearer) {
        let _ = agent
            .outbox
            .send(state::Outgoing::Close(code, reason.into()));
    }
}

/// The `Session_id` cookie's value, if the request carries one.
fn session_cookie(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}
