//! Agent login sessions as LivePerson keeps them: a login makes a session
//! with a bearer token (for the agent socket and the account APIs), a
//! `Session_id` cookie and a CSRF token (for refresh). A session lives
//! [`AgentSessions::lifetime`] after its login or last refresh, and ends
//! at once on logout or when its user logs in again. Logins of one user
//! are counted: more than [`AgentSessions::login_limit`] within
//! [`AgentSessions::login_window`] are refused.
//!
//! A pure store: the caller passes the time, so the rules are tested
//! without a clock; closing the sockets of an ended session is the
//! caller's.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;

use super::random_token;
use super::state::Session;
use crate::config::AgentSessions;

/// A live session: who it runs as, its tokens and when it ends. Its Debug
/// hides the tokens.
#[derive(Clone)]
pub struct Live {
    /// Who it runs as (and its bearer).
    pub session: Session,
    /// The `Session_id` cookie's value.
    pub cookie: String,
    /// What a refresh must send back.
    pub csrf: String,
    expires: Instant,
}

/// Why a refresh is refused (all are 401: log in again).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshRefused {
    /// No `Session_id`, or one the hub does not know (ended or expired).
    #[error("no live session for this Session_id cookie: log in again")]
    NoSession,
    /// The body's `csrf` is not the session's.
    #[error("csrf does not match the session's: log in again")]
    WrongCsrf,
}

/// A login over the user's limit: wait, then try again.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many logins of user {login}: at most {limit} in {window_s} s; retry after 5 seconds")]
pub struct TooManyLogins {
    login: String,
    limit: u32,
    window_s: u64,
}

/// The seconds a client refused for too many logins is told to wait
/// (LivePerson's "retry after 5 seconds").
pub const LOGIN_RETRY_AFTER_S: u64 = 5;

/// The hub's live sessions and its users' recent logins; its Debug names
/// the sessions' users, not their bearers.
pub struct Sessions {
    settings: AgentSessions,
    by_bearer: HashMap<String, Live>,
    /// Each user's logins within the window, earliest first.
    logins: HashMap<String, VecDeque<Instant>>,
}

impl Sessions {
    pub fn new(settings: AgentSessions) -> Self {
        Sessions {
            settings,
            by_bearer: HashMap::new(),
            logins: HashMap::new(),
        }
    }

    /// Counts a login of `session.login`; within the limit, ends that
    /// user's other sessions (one session per user) and starts this one,
    /// returning the ones it ended.
    pub fn login(
        &mut self,
        session: Session,
        now: Instant,
    ) -> Result<(Live, Vec<Live>), TooManyLogins> {
        let window = self.settings.login_window;
        let recent = self.logins.entry(session.login.clone()).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            recent.pop_front();
        }
        if recent.len() >= self.settings.login_limit as usize {
            return Err(TooManyLogins {
                login: session.login,
                limit: self.settings.login_limit,
                window_s: window.as_secs(),
            });
        }
        recent.push_back(now);
        // Forget what has ended, so the store holds live sessions only.
        self.by_bearer.retain(|_, live| live.expires > now);
        self.logins.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) < window)
        });
        let ended = self.end_where(|live| live.session.login == session.login);
        let live = Live {
            session,
            cookie: random_token(),
            csrf: random_token(),
            expires: now + self.settings.lifetime,
        };
        self.by_bearer
            .insert(live.session.bearer.clone(), live.clone());
        Ok((live, ended))
    }

    /// How many live sessions `login` holds.
    pub fn live(&self, login: &str, now: Instant) -> usize {
        self.by_bearer
            .values()
            .filter(|live| live.session.login == login && live.expires > now)
            .count()
    }

    /// The live session of `bearer`.
    pub fn by_bearer(&self, bearer: &str, now: Instant) -> Option<&Live> {
        self.by_bearer.get(bearer).filter(|live| live.expires > now)
    }

    /// When the session of `bearer` ends unless refreshed; `None` once it
    /// has ended.
    pub fn expiry(&self, bearer: &str, now: Instant) -> Option<Instant> {
        self.by_bearer(bearer, now).map(|live| live.expires)
    }

    /// Extends the session of the `Session_id` cookie by a lifetime, when
    /// `csrf` is its own.
    pub fn refresh(
        &mut self,
        cookie: Option<&str>,
        csrf: &str,
        now: Instant,
    ) -> Result<(), RefreshRefused> {
        let lifetime = self.settings.lifetime;
        let live = self
            .by_bearer
            .values_mut()
            .find(|live| Some(live.cookie.as_str()) == cookie && live.expires > now)
            .ok_or(RefreshRefused::NoSession)?;
        if live.csrf != csrf {
            return Err(RefreshRefused::WrongCsrf);
        }
        live.expires = now + lifetime;
        Ok(())
    }

    /// Ends the live session named by its bearer or its cookie (logout).
    pub fn logout(
        &mut self,
        bearer: Option<&str>,
        cookie: Option<&str>,
        now: Instant,
    ) -> Option<Live> {
        let ended = self.end_where(|live| {
            live.expires > now
                && (Some(live.session.bearer.as_str()) == bearer
                    || Some(live.cookie.as_str()) == cookie)
        });
        ended.into_iter().next()
    }

    fn end_where(&mut self, mut ends: impl FnMut(&Live) -> bool) -> Vec<Live> {
        let bearers: Vec<String> = self
            .by_bearer
            .iter()
            .filter(|(_, live)| ends(live))
            .map(|(bearer, _)| bearer.clone())
            .collect();
        bearers
            .iter()
            .filter_map(|bearer| self.by_bearer.remove(bearer))
            .collect()
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("session", &self.session)
            .field("cookie", &"<hidden>")
            .field("csrf", &"<hidden>")
            .field("expires", &self.expires)
            .finish()
    }
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut users: Vec<&str> = self
            .by_bearer
            .values()
            .map(|live| live.session.login.as_str())
            .collect();
        users.sort_unstable();
        f.debug_struct("Sessions")
            .field("settings", &self.settings)
            .field("live_sessions_of", &users)
            .field("logins", &self.logins)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sessions(limit: u32) -> Sessions {
        Sessions::new(AgentSessions {
            lifetime: Duration::from_secs(60),
            login_limit: limit,
            login_window: Duration::from_secs(10),
        })
    }

    fn session(login: &str) -> Session {
        Session {
            bearer: random_token(),
            login: login.into(),
            user_id: format!("123.{login}"),
            pid: "pid".into(),
        }
    }

    #[test]
    fn debug_output_carries_no_bearer_cookie_or_csrf() {
        let (mut store, now) = (sessions(5), Instant::now());
        let (live, _) = store.login(session("bot"), now).unwrap();
        let printed = format!("{live:?} {store:?} {:?}", live.session);
        for secret in [&live.session.bearer, &live.cookie, &live.csrf] {
            assert!(!printed.contains(secret.as_str()), "{printed}");
        }
        assert!(printed.contains("bot"), "{printed}");
    }

    #[test]
    fn a_session_lives_a_lifetime_after_its_login_or_last_refresh() {
        let (mut store, start) = (sessions(5), Instant::now());
        let (live, _) = store.login(session("bot"), start).unwrap();
        let bearer = live.session.bearer.as_str();
        let at = |s: u64| start + Duration::from_secs(s);
        assert!(store.by_bearer(bearer, at(59)).is_some());
        store
            .refresh(Some(&live.cookie), &live.csrf, at(59))
            .unwrap();
        assert_eq!(store.expiry(bearer, at(60)), Some(at(119)));
        assert!(store.by_bearer(bearer, at(119)).is_none());
        assert_eq!(
            store.refresh(Some(&live.cookie), &live.csrf, at(119)),
            Err(RefreshRefused::NoSession)
        );
    }

    #[test]
    fn a_refresh_needs_the_session_s_cookie_and_csrf() {
        let (mut store, now) = (sessions(5), Instant::now());
        let (live, _) = store.login(session("bot"), now).unwrap();
        assert_eq!(
            store.refresh(Some(&live.cookie), "other", now),
            Err(RefreshRefused::WrongCsrf)
        );
        assert_eq!(
            store.refresh(None, &live.csrf, now),
            Err(RefreshRefused::NoSession)
        );
    }

    #[test]
    fn a_new_login_or_a_logout_ends_the_user_s_session() {
        let (mut store, now) = (sessions(5), Instant::now());
        let (first, _) = store.login(session("bot"), now).unwrap();
        let (second, ended) = store.login(session("bot"), now).unwrap();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].session.bearer, first.session.bearer);
        assert!(store.by_bearer(&first.session.bearer, now).is_none());
        assert!(store.logout(None, Some(&second.cookie), now).is_some());
        assert!(store.by_bearer(&second.session.bearer, now).is_none());
        assert!(
            store
                .logout(Some(&second.session.bearer), None, now)
                .is_none()
        );
    }

    #[test]
    fn logins_over_the_limit_within_the_window_are_refused_until_it_passes() {
        let (mut store, start) = (sessions(2), Instant::now());
        store.login(session("bot"), start).unwrap();
        store.login(session("bot"), start).unwrap();
        assert!(store.login(session("bot"), start).is_err());
        store.login(session("other"), start).unwrap();
        let later = start + Duration::from_secs(10);
        store.login(session("bot"), later).unwrap();
    }
}
