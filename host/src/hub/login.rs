//! Agent login and refresh (LivePerson's agent login API): a user of the
//! account and its credentials (password, or an API key's four parts) get
//! a bearer token for the agent socket. One session per user: a new login
//! logs the old one out.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::state::{self, Session};
use super::{BODY_LIMIT, Hub, answer_json, random_token};
use crate::config::LoginCredentials;
use crate::http::{self, Body};

/// The login body: `{"username","password"}`, or
/// `{"username","appKey","secret","accessToken","accessTokenSecret"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[derive(Default)]
struct Login {
    username: String,
    password: String,
    app_key: String,
    secret: String,
    access_token: String,
    access_token_secret: String,
}

/// The answer to a login: the bearer token and who logged in.
#[derive(Serialize)]
struct LoggedIn {
    bearer: String,
    csrf: String,
    config: LoginConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginConfig {
    user_id: String,
    user_pid: String,
    login_name: String,
}

/// An empty JSON object: the answer to a refresh.
#[derive(Serialize)]
struct Refreshed {}

impl Login {
    fn matches(&self, credentials: &LoginCredentials) -> bool {
        match credentials {
            // Bots send their OAuth2 client credentials in the API-key
            // fields, with "dummy" for the OAuth1 tokens, as LivePerson
            // documents the body.
            LoginCredentials::OAuth2 {
                client_id,
                client_secret,
            } => {
                self.app_key == *client_id
                    && self.secret == *client_secret
                    && self.access_token == "dummy"
                    && self.access_token_secret == "dummy"
            }
            LoginCredentials::Password(password) => self.password == *password,
            LoginCredentials::ApiKey {
                app_key,
                secret,
                access_token,
                access_token_secret,
            } => {
                self.app_key == *app_key
                    && self.secret == *secret
                    && self.access_token == *access_token
                    && self.access_token_secret == *access_token_secret
            }
        }
    }
}

impl Hub {
    pub(super) async fn login(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let body = match http::read_body(request, BODY_LIMIT).await {
            Ok(body) => body,
            Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
        };
        let Ok(login) = serde_json::from_slice::<Login>(&body) else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "login body must be JSON: {\"username\",\"password\"} or {\"username\",\"appKey\",\"secret\",\"accessToken\",\"accessTokenSecret\"}",
            );
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
        if !login.matches(&user.credentials) {
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
        let answer = LoggedIn {
            bearer: bearer.clone(),
            csrf: random_token(),
            config: LoginConfig {
                user_id: session.login.clone(),
                user_pid: session.pid.clone(),
                login_name: session.login.clone(),
            },
        };
        state.sessions.insert(bearer, session);
        answer_json(&answer)
    }

    /// Keeps a session alive: sessions do not expire on the hub.
    pub(super) async fn refresh(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        match http::read_body(request, BODY_LIMIT).await {
            Ok(_) => answer_json(&Refreshed {}),
            Err(e) => http::error(StatusCode::BAD_REQUEST, e),
        }
    }
}
