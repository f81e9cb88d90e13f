//! The embedded hub's agent login sessions: how long one lives without a
//! refresh (`[hub] session_lifetime_ms`) and how many logins of one user
//! it takes in a window (`[hub] login_limit`, `login_window_ms`).

use std::path::Path;
use std::time::Duration;

use super::number_in;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// How the hub keeps agent login sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentSessions {
    /// How long a session lives after its login or its last refresh; then
    /// its bearer is refused (401) and its agent sockets are closed (4401).
    pub lifetime: Duration,
    /// The most logins of one user within [`AgentSessions::login_window`];
    /// one more is answered 429 with `Retry-After: 5`.
    pub login_limit: u32,
    /// The window [`AgentSessions::login_limit`] counts logins in.
    pub login_window: Duration,
}

impl AgentSessions {
    /// The default [`AgentSessions::lifetime`]: half an hour, the hub's own
    /// figure (a client refreshing every 10 minutes, as LivePerson asks,
    /// never reaches it).
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 60);
    /// The default [`AgentSessions::login_limit`]: far more than a
    /// connector reconnecting with back-off logs in.
    pub const DEFAULT_LOGIN_LIMIT: u32 = 20;
    /// The default [`AgentSessions::login_window`]: a minute.
    pub const DEFAULT_LOGIN_WINDOW: Duration = Duration::from_secs(60);
}

impl Default for AgentSessions {
    fn default() -> Self {
        AgentSessions {
            lifetime: Self::DEFAULT_LIFETIME,
            login_limit: Self::DEFAULT_LOGIN_LIMIT,
            login_window: Self::DEFAULT_LOGIN_WINDOW,
        }
    }
}

/// The longest `session_lifetime_ms` and `login_window_ms`: a day.
const MAX_MS: u64 = 24 * 60 * 60 * 1000;
/// The largest `login_limit`.
const MAX_LOGIN_LIMIT: u64 = 1_000_000;

/// `[hub]`'s session keys as written.
pub(super) struct RawAgentSessions {
    pub(super) session_lifetime_ms: Option<Located<u64>>,
    pub(super) login_limit: Option<Located<u64>>,
    pub(super) login_window_ms: Option<Located<u64>>,
}

impl RawAgentSessions {
    /// The checked settings; a key left out or refused keeps its default.
    pub(super) fn check(
        self,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> AgentSessions {
        let mut number = |value: Option<Located<u64>>, name: &str, min: u64, max: u64| {
            number_in(
                value.as_ref(),
                &format!("[hub] `{name}`"),
                min..=max,
                file,
                source,
                diagnostics,
            )
        };
        let lifetime = number(
            self.session_lifetime_ms,
            "session_lifetime_ms",
            1_000,
            MAX_MS,
        )
        .map_or(AgentSessions::DEFAULT_LIFETIME, Duration::from_millis);
        let login_limit = number(self.login_limit, "login_limit", 1, MAX_LOGIN_LIMIT)
            .map_or(AgentSessions::DEFAULT_LOGIN_LIMIT, |n| n as u32);
        let login_window = number(self.login_window_ms, "login_window_ms", 1_000, MAX_MS)
            .map_or(AgentSessions::DEFAULT_LOGIN_WINDOW, Duration::from_millis);
        AgentSessions {
            lifetime,
            login_limit,
            login_window,
        }
    }
}
