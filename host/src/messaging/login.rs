//! Reaching the account as LivePerson's Login Service describes it: the
//! domain lookup (CSDS) names each service's domain; login
//! (`login?v=1.3`, JSON with `Accept` and `Content-Type`) answers a bearer,
//! a `csrf` and a `Session_id` cookie; the session is refreshed with both
//! before it expires and logged out when the connector stops.
//!
//! Retries follow LivePerson's retry policy: a login answered 429 is tried
//! again after 5 s, one answered 5xx after 5, 10 and 15 s; any other
//! refusal is the credentials' fault and is not retried here (the
//! connector's own backoff takes over).

use std::time::Duration;

use bytes::Bytes;
use hyper::Request;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use lp::login::{DomainLookup, LoginAnswer, LoginRequest, LoginSecret, Refresh};

use super::Credentials;
use crate::http::{Answer, Body};
use crate::ports::DialError;

/// The domains of the services a connector uses.
pub(super) struct Domains {
    /// `agentVep`: login, refresh, logout.
    pub(super) vep: String,
    /// `asyncMessagingEnt`: the agent WebSocket.
    pub(super) messaging: String,
    /// `accountConfigReadOnly`: users, skills, campaigns; `None` when the
    /// platform names none (its prerequisites cannot be read then).
    pub(super) config: Option<String>,
}

/// A login session: what refresh and logout need.
#[derive(Clone)]
pub(super) struct LoginSession {
    /// The bearer token.
    pub(super) bearer: String,
    /// The CSRF token refresh sends back.
    pub(super) csrf: Option<String>,
    /// The `Session_id` cookie, as `Session_id=...`.
    pub(super) cookie: Option<String>,
    /// The agent's account-qualified id.
    pub(super) agent_id: String,
}

impl std::fmt::Debug for LoginSession {
    /// Never prints the bearer, the csrf or the cookie.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSession")
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// How long LivePerson asks a client to wait after a 429 to a login.
const LOGIN_THROTTLED: Duration = Duration::from_secs(5);
/// How long to wait after a 5xx, before each of the three retries.
const SERVER_ERROR_PAUSES: [Duration; 3] = [
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(15),
];
/// How many 429s in a row a login waits out before it gives up.
const THROTTLED_TRIES: usize = 3;

/// Looks up the domains of the services a connector uses.
pub(super) async fn domains(credentials: &Credentials) -> Result<Domains, DialError> {
    let account = &credentials.account;
    let url = format!(
        "{}/api/account/{account}/service/baseURI.json?version=1.0",
        credentials.csds
    );
    let answer = send(credentials, Request::get(&url), None)
        .await
        .map_err(DialError::Lookup)?;
    if answer.status != 200 {
        return Err(DialError::Lookup(format!("{url}: HTTP {}", answer.status)));
    }
    let lookup: DomainLookup = serde_json::from_slice(&answer.body)
        .map_err(|e| DialError::Lookup(format!("{url}: {e}")))?;
    let domain = |service: &str| lookup.domain(service).map(str::to_owned);
    let required = |service: &str| {
        domain(service)
            .ok_or_else(|| DialError::Lookup(format!("no {service} domain for account {account}")))
    };
    Ok(Domains {
        vep: required("agentVep")?,
        messaging: required("asyncMessagingEnt")?,
        config: domain("accountConfigReadOnly"),
    })
}

/// Logs in on `vep`, waiting out 429s and 5xx answers as LivePerson's
/// retry policy asks.
pub(super) async fn login(
    credentials: &Credentials,
    vep: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<LoginSession, DialError> {
    let account = &credentials.account;
    let url = format!(
        "{}://{vep}/api/account/{account}/login?v=1.3",
        credentials.http()
    );
    let body = serde_json::to_vec(&login_request(credentials)).expect("a login body serializes");
    let refused = |reason: String| DialError::Login {
        user: credentials.username.clone(),
        reason,
    };
    let (mut throttled, mut server_errors) = (0, 0);
    let answer = loop {
        progress("logging in");
        let answer = send(credentials, Request::post(&url), Some(body.clone()))
            .await
            .map_err(refused)?;
        let pause = match answer.status {
            429 if throttled < THROTTLED_TRIES => {
                throttled += 1;
                LOGIN_THROTTLED
            }
            500..=599 if server_errors < SERVER_ERROR_PAUSES.len() => {
                server_errors += 1;
                SERVER_ERROR_PAUSES[server_errors - 1]
            }
            _ => break answer,
        };
        progress(&format!(
            "login answered {}: trying again in {} s",
            answer.status,
            pause.as_secs()
        ));
        tokio::time::sleep(pause).await;
    };
    if answer.status != 200 {
        return Err(refused(format!(
            "HTTP {}: {}",
            answer.status,
            excerpt(&answer.body)
        )));
    }
    let logged_in: LoginAnswer = serde_json::from_slice(&answer.body)
        .map_err(|e| refused(format!("the answer lacks bearer or config.userId: {e}")))?;
    Ok(LoginSession {
        cookie: session_cookie(&answer),
        bearer: logged_in.bearer,
        csrf: logged_in.csrf,
        agent_id: format!("{account}.{}", logged_in.config.user_id),
    })
}

/// Refreshes the session: `Ok(false)` when the platform says it is over
/// (401: log in again), `Err` when the refresh could not be made.
pub(super) async fn refresh(
    credentials: &Credentials,
    vep: &str,
    session: &LoginSession,
) -> Result<bool, String> {
    let account = &credentials.account;
    let url = format!(
        "{}://{vep}/api/account/{account}/refresh?v=1.3",
        credentials.http()
    );
    let mut request = Request::post(&url);
    if let Some(cookie) = &session.cookie {
        request = request.header(COOKIE, cookie);
    }
    let body = Refresh {
        csrf: session.csrf.clone().unwrap_or_default(),
    };
    let body = serde_json::to_vec(&body).expect("a csrf body serializes");
    let answer = send(credentials, request, Some(body)).await?;
    match answer.status {
        200..=299 => Ok(true),
        401 => Ok(false),
        status => Err(format!(
            "refresh answered HTTP {status}: {}",
            excerpt(&answer.body)
        )),
    }
}

/// Logs the session out (its bearer is no good after).
pub(super) async fn logout(
    credentials: &Credentials,
    vep: &str,
    session: &LoginSession,
) -> Result<(), String> {
    let account = &credentials.account;
    let url = format!(
        "{}://{vep}/api/account/{account}/logout?v=1.3",
        credentials.http()
    );
    let mut request =
        Request::post(&url).header(AUTHORIZATION, format!("Bearer {}", session.bearer));
    if let Some(cookie) = &session.cookie {
        request = request.header(COOKIE, cookie);
    }
    let answer = send(credentials, request, Some(b"{}".to_vec())).await?;
    match answer.status {
        200..=299 => Ok(()),
        status => Err(format!(
            "logout answered HTTP {status}: {}",
            excerpt(&answer.body)
        )),
    }
}

/// GETs `url` on the account configuration with the session's bearer.
pub(super) async fn get_config(
    credentials: &Credentials,
    url: &str,
    bearer: &str,
) -> Result<Answer, String> {
    let request = Request::get(url).header(AUTHORIZATION, format!("Bearer {bearer}"));
    send(credentials, request, None).await
}

/// The login body for the connector's credentials.
fn login_request(credentials: &Credentials) -> LoginRequest {
    LoginRequest {
        username: credentials.username.clone(),
        secret: LoginSecret::from(&credentials.login),
    }
}

/// Sends a request with LivePerson's JSON headers; a transport failure is
/// its text.
async fn send(
    credentials: &Credentials,
    request: hyper::http::request::Builder,
    body: Option<Vec<u8>>,
) -> Result<Answer, String> {
    let mut request = request.header(ACCEPT, "application/json");
    if body.is_some() {
        request = request.header(CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map(|b| Body::new(Bytes::from(b))).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    credentials
        .client
        .request(request)
        .await
        .map_err(|e| e.to_string())
}

/// The `Session_id` cookie of a login answer, ready to send back.
fn session_cookie(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.trim_start().starts_with("Session_id="))
        .map(|pair| pair.trim().to_owned())
}

/// The start of a body, for a message.
pub(super) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoginCredentials;

    #[test]
    fn oauth2_credentials_travel_as_the_documented_login_body() {
        let tls = crate::tls::client_config(None).unwrap();
        let credentials = Credentials::new(
            "http://127.0.0.1:1",
            "123",
            "bot",
            LoginCredentials::OAuth2 {
                client_id: "id".into(),
                client_secret: "secret".into(),
            },
            None,
            tls,
        );
        let body = serde_json::to_value(login_request(&credentials)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"username": "bot", "appKey": "id", "secret": "secret",
                "accessToken": "dummy", "accessTokenSecret": "dummy"})
        );
    }
}
