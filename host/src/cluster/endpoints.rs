//! How the etcd client reaches its cluster: each call goes to the endpoint
//! that answered last, then to the others in turn; `https://` endpoints
//! with the `[cluster]` CA and client certificate; with etcd's
//! authentication on, a token from `/v3/auth/authenticate` in the
//! `Authorization` header, and a new one whenever etcd refuses it (it
//! restarted, the token went unused too long, or etcd's users and roles
//! changed since it was given).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::config::EtcdAuth;
use crate::http::HttpClient;

/// An etcd call that failed.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No endpoint answered.
    #[error("etcd unreachable ({endpoints}): {reason}")]
    Unreachable {
        /// The endpoints tried.
        endpoints: String,
        /// The last one's error.
        reason: String,
    },
    /// etcd refused the call.
    #[error("etcd refused {call}: {status} {message}")]
    Refused {
        /// The call.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// etcd's message.
        message: String,
    },
    /// etcd's answer is not what its API says.
    #[error("etcd's answer to {call} is not understood: {reason}")]
    Answer {
        /// The call.
        call: &'static str,
        /// Why.
        reason: String,
    },
}

/// The endpoints of one etcd cluster, and the token etcd gave, if any.
pub(super) struct Endpoints {
    endpoints: Vec<String>,
    http: HttpClient,
    /// The endpoint that answered last, tried first.
    current: AtomicUsize,
    /// etcd's user, when its authentication is on.
    auth: Option<EtcdAuth>,
    /// The token etcd gave for `auth`, sent with every call until etcd
    /// refuses it (tokens end when etcd restarts, or after minutes unused).
    token: std::sync::Mutex<Option<Arc<str>>>,
    /// Held by the call that logs in.
    logging_in: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("endpoints", &self.endpoints)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// How long one call may take before the next endpoint is tried.
const CALL_LIMIT: Duration = Duration::from_secs(2);

/// Why one endpoint gave no answer to use.
enum Attempt {
    /// It did not answer: try the next.
    Unreachable(String),
    /// It answered no.
    Failed(EtcdError),
}

impl Endpoints {
    /// `endpoints` (`http://host:port` or `https://host:port`), reaching
    /// `https://` ones with `tls`, logging in as `auth` when given.
    pub(super) fn new(
        endpoints: &[String],
        tls: Arc<rustls::ClientConfig>,
        auth: Option<EtcdAuth>,
    ) -> Endpoints {
        Endpoints {
            endpoints: endpoints
                .iter()
                .map(|e| e.trim_end_matches('/').to_owned())
                .collect(),
            http: HttpClient::new(tls),
            current: AtomicUsize::new(0),
            auth,
            token: std::sync::Mutex::new(None),
            logging_in: tokio::sync::Mutex::new(()),
        }
    }

    /// POSTs `body` to `path` of the endpoint that answered last, then of
    /// the others in turn.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, EtcdError> {
        let body = Bytes::from(body.to_string());
        let first = self.current.load(Ordering::Relaxed);
        let mut last_error = String::new();
        for turn in 0..self.endpoints.len() {
            let index = (first + turn) % self.endpoints.len();
            let endpoint = &self.endpoints[index];
            match self.call_at(endpoint, call, path, &body).await {
                Ok(answer) => {
                    self.current.store(index, Ordering::Relaxed);
                    return serde_json::from_slice(&answer).map_err(|e| EtcdError::Answer {
                        call,
                        reason: e.to_string(),
                    });
                }
                Err(Attempt::Unreachable(why)) => last_error = why,
                Err(Attempt::Failed(error)) => {
                    self.current.store(index, Ordering::Relaxed);
                    return Err(error);
                }
            }
        }
        Err(EtcdError::Unreachable {
            endpoints: self.endpoints.join(", "),
            reason: last_error,
        })
    }

    /// [`Self::call`] at one endpoint, with a token when etcd's
    /// authentication is on: the one held, or a new one when there is none
    /// or etcd refuses the one held (a refused call was not carried out, so
    /// it is sent once more).
    async fn call_at(
        &self,
        endpoint: &str,
        call: &'static str,
        path: &str,
        body: &Bytes,
    ) -> Result<Bytes, Attempt> {
        let Some(auth) = &self.auth else {
            return self.post(endpoint, call, path, body, None).await;
        };
        let held = self.token.lock().expect("the token lock").clone();
        if let Some(token) = &held {
            match self.post(endpoint, call, path, body, Some(token)).await {
                Err(Attempt::Failed(error)) if token_refused(&error) => {}
                other => return other,
            }
        }
        let token = self.log_in(endpoint, auth, held).await?;
        self.post(endpoint, call, path, body, Some(&token)).await
    }

    /// A token in place of `stale` (the one etcd refused, or none): one
    /// another call got meanwhile, or a new one from logging in at
    /// `endpoint` as `auth`. One call logs in at a time, so that calls
    /// refused together (after etcd restarted) log in once.
    async fn log_in(
        &self,
        endpoint: &str,
        auth: &EtcdAuth,
        stale: Option<Arc<str>>,
    ) -> Result<Arc<str>, Attempt> {
        #[derive(Deserialize)]
        struct Authenticated {
            token: String,
        }
        let _one_at_a_time = self.logging_in.lock().await;
        let held = self.token.lock().expect("the token lock").clone();
        if let Some(token) = held
            && Some(&token) != stale.as_ref()
        {
            return Ok(token);
        }
        let credentials = json!({ "name": auth.username, "password": auth.password });
        let body = Bytes::from(credentials.to_string());
        let answer = match self
            .post(
                endpoint,
                "authenticate",
                "/v3/auth/authenticate",
                &body,
                None,
            )
            .await
        {
            // A member without a leader (just restarted, say) logs nobody
            // in; another member may: try the next.
            Err(Attempt::Failed(EtcdError::Refused {
                status: 500..,
                message,
                ..
            })) => return Err(Attempt::Unreachable(format!("{endpoint}: {message}"))),
            other => other?,
        };
        let token: Arc<str> = serde_json::from_slice::<Authenticated>(&answer)
            .map_err(|e| {
                Attempt::Failed(EtcdError::Answer {
                    call: "authenticate",
                    reason: e.to_string(),
                })
            })?
            .token
            .into();
        *self.token.lock().expect("the token lock") = Some(token.clone());
        Ok(token)
    }

    /// One POST of `body` to `path` at `endpoint`: the answer's body if it
    /// is a 200.
    async fn post(
        &self,
        endpoint: &str,
        call: &'static str,
        path: &str,
        body: &Bytes,
        token: Option<&str>,
    ) -> Result<Bytes, Attempt> {
        let url = format!("{endpoint}{path}");
        let mut request = Request::post(&url).header(CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token);
        }
        let request = request.body(Full::new(body.clone())).map_err(|e| {
            Attempt::Failed(EtcdError::Answer {
                call,
                reason: e.to_string(),
            })
        })?;
        let answer = match tokio::time::timeout(CALL_LIMIT, self.http.request(request)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => return Err(Attempt::Unreachable(error.to_string())),
            Err(_) => {
                return Err(Attempt::Unreachable(format!(
                    "{url}: no answer within {CALL_LIMIT:?}"
                )));
            }
        };
        if answer.status == 200 {
            return Ok(answer.body);
        }
        #[derive(Deserialize)]
        struct Failure {
            #[serde(default)]
            message: String,
        }
        let mut message = serde_json::from_slice::<Failure>(&answer.body)
            .map(|f| f.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&answer.body).trim().to_owned());
        if message.contains("CommonName of client") {
            message.push_str(
                " (switchboard reaches etcd through its JSON gateway: give the gateway a client certificate without a Common Name)",
            );
        }
        Err(Attempt::Failed(EtcdError::Refused {
            call,
            status: answer.status,
            message,
        }))
    }
}

/// etcd refused the token a call carried: it is unknown (etcd restarted,
/// or it went unused too long: 401), or older than a change of etcd's
/// users and roles (400 from etcd 3.4; some later releases answer 500
/// with another wording).
fn token_refused(error: &EtcdError) -> bool {
    match error {
        EtcdError::Refused { status: 401, .. } => true,
        EtcdError::Refused { message, .. } => {
            message.contains("revision of auth store is old")
                || message.contains("revision in header is old")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::StatusCode;

    /// A stand-in for one etcd member, on loopback: `leader` false answers
    /// everything 503 as a member without a leader does; true logs user
    /// `u` in with token `t` and answers a range carrying it.
    async fn member(leader: bool) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(crate::http::serve(listener, move |request, _| async move {
            let token = request.headers().get(AUTHORIZATION).cloned();
            // etcd's JSON gateway writes its refusals so.
            let refusal = |status: StatusCode, message: &str| {
                crate::http::json(status, &json!({ "error": message, "message": message }))
            };
            match (leader, request.uri().path()) {
                (false, _) => refusal(StatusCode::SERVICE_UNAVAILABLE, "etcdserver: no leader"),
                (true, "/v3/auth/authenticate") => {
                    crate::http::json(StatusCode::OK, &json!({ "token": "t" }))
                }
                (true, "/v3/kv/range") if token.is_some_and(|t| t == "t") => {
                    crate::http::json(StatusCode::OK, &json!({ "kvs": [] }))
                }
                _ => refusal(StatusCode::UNAUTHORIZED, "etcdserver: invalid auth token"),
            }
        }));
        (url, server)
    }

    #[tokio::test]
    async fn a_member_that_cannot_log_anyone_in_is_passed_over_for_one_that_can() {
        let (leaderless, _a) = member(false).await;
        let (leader, _b) = member(true).await;
        let endpoints = Endpoints::new(
            &[leaderless, leader],
            crate::tls::client_config(None).unwrap(),
            Some(EtcdAuth {
                username: "u".into(),
                password: "p".into(),
            }),
        );
        let answer: serde_json::Value = endpoints
            .call("range", "/v3/kv/range", json!({}))
            .await
            .expect("the second member answers");
        assert_eq!(answer, json!({ "kvs": [] }));
    }
}
