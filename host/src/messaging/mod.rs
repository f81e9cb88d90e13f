//! The LivePerson Messaging Agent API client: domain lookup, login, the
//! agent WebSocket (or the HTTP webhook mode), typed requests matched to
//! their responses, and the translation of notifications into
//! [`PlatformEvent`](crate::ports::PlatformEvent)s.
//!
//! Owns: the wire side of a connector's platform connection. Implements
//! the connector's ports ([`Dialer`], [`Session`], `Platform`); knows
//! nothing of conversations' logic. Every frame is an `lp` type: built with
//! `lp`'s writers, read once with `lp::AgentClientFrame::parse`.
//!
//! # Layout
//! - this file: [`Credentials`] and the [`LivePersonDialer`];
//! - [`connection`]: [`AgentConnection`]: connecting, typed requests, the
//!   `Platform` requests, logout;
//! - `transport`: the WebSocket and the webhook transports, and matching
//!   responses to the requests waiting for them;
//! - `login`: domain lookup, login, the session's refresh and logout, as
//!   LivePerson's Login Service describes them;
//! - `prerequisites`: the bot user's prerequisites in the account's
//!   configuration;
//! - `translate`: notifications into the events a connector acts on, and
//!   history pages into past events (without private or platform messages).

mod connection;
mod login;
mod prerequisites;
mod translate;
mod transport;

pub use connection::{AgentConnection, LOGOUT_PATIENCE};
pub use translate::notification_events;
pub use transport::MAX_FRAME_BYTES;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::LoginCredentials;
use crate::http::HttpClient;
use crate::ports::{DialError, Dialed, Dialer, Session};

/// Where and as whom to log in.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Base URL of the domain lookup (CSDS), e.g. `http://127.0.0.1:8080`.
    pub csds: String,
    /// Account number.
    pub account: String,
    /// Agent user login name.
    pub username: String,
    /// How it logs in.
    pub login: LoginCredentials,
    /// `external_webhook_url`: reach the platform over HTTP, with
    /// notifications posted to this URL, instead of the WebSocket.
    pub webhook: Option<String>,
    /// The roots trusted for `https://` and `wss://`.
    pub tls: Arc<rustls::ClientConfig>,
    /// The HTTP(S) client made with them.
    pub client: HttpClient,
    /// Login names of every agent user that serves the same bot in this
    /// account (this one among them): what they said in a conversation is
    /// the bot's own words (a failover, not a transfer).
    pub bot_users: Vec<String>,
    /// How often the login session is refreshed.
    pub session_refresh: std::time::Duration,
}

impl Credentials {
    /// Credentials for `csds`, trusting `tls`'s roots.
    pub fn new(
        csds: &str,
        account: &str,
        username: &str,
        login: LoginCredentials,
        webhook: Option<String>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        Credentials {
            csds: csds.to_owned(),
            account: account.to_owned(),
            username: username.to_owned(),
            login,
            webhook,
            client: HttpClient::new(tls.clone()),
            tls,
            bot_users: vec![username.to_owned()],
            session_refresh: crate::config::DEFAULT_SESSION_REFRESH,
        }
    }

    /// Names the agent users of every connector of the same bot (this
    /// one's is added if missing).
    pub fn with_bot_users(mut self, users: impl IntoIterator<Item = String>) -> Self {
        let mut all: Vec<String> = users.into_iter().collect();
        if !all.contains(&self.username) {
            all.push(self.username.clone());
        }
        self.bot_users = all;
        self
    }

    /// Refreshes the login session every `every` instead of the default.
    pub fn with_session_refresh(mut self, every: std::time::Duration) -> Self {
        self.session_refresh = every;
        self
    }

    /// True for a platform on `https://`: every service is then reached over TLS.
    fn secure(&self) -> bool {
        self.csds.starts_with("https://")
    }

    fn http(&self) -> &'static str {
        if self.secure() { "https" } else { "http" }
    }
}

/// Dials the platform for one connector's bot user (the [`Dialer`] the
/// connector is given).
pub struct LivePersonDialer {
    credentials: Credentials,
}

impl LivePersonDialer {
    /// A dialer that logs in with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        LivePersonDialer { credentials }
    }
}

impl Dialer for LivePersonDialer {
    fn dial<'a>(
        &'a self,
        progress: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<Dialed, DialError>> {
        Box::pin(async move {
            let (connection, events) =
                AgentConnection::connect(&self.credentials, progress).await?;
            Ok((connection as Arc<dyn Session>, events))
        })
    }
}

impl Session for AgentConnection {
    fn agent_id(&self) -> &str {
        AgentConnection::agent_id(self)
    }

    fn log_out(&self) -> BoxFuture<'_, ()> {
        Box::pin(AgentConnection::log_out(self))
    }

    fn warnings(&self) -> Vec<String> {
        AgentConnection::warnings(self).to_vec()
    }
}
