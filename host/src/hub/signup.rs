//! Consumer signup and authentication: the consumer JWTs the hub issues
//! (kept in `consumer_tokens`), for a new anonymous consumer (`signup`) or
//! for a brand JWT checked by `brand_jwt` (`authenticate`, the step-up).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::clients::ClientKey;
use super::{BODY_LIMIT, Hub, answer_json, brand_jwt, random_token, too_many};
use crate::clock::now_ms;
use crate::http::{self, Body};

/// The answer to a signup or an authentication: the consumer's JWT.
#[derive(Serialize)]
struct Issued {
    jwt: String,
}

/// The claims of a consumer JWT.
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
}

/// The authentication body: `{"authCode": "<brand JWT>"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthCode {
    auth_code: String,
}

impl Hub {
    /// A new anonymous consumer, within `client`'s signups.
    pub(super) fn signup(&self, client: ClientKey) -> Response<Body> {
        let allowed = self.state().clients.signup(client, Instant::now());
        if let Err(over) = allowed {
            return too_many(over);
        }
        let jwt = self.issue_consumer_token(uuid::Uuid::new_v4().to_string(), None);
        answer_json(&Issued { jwt })
    }

    /// How many consumer JWTs the hub honours now (at most
    /// `[hub.consumer_auth] max_tokens`).
    pub fn consumer_tokens(&self) -> usize {
        self.state().consumer_tokens.len()
    }

    /// A consumer JWT whose `sub` is `consumer_id`, honoured until its
    /// `exp` (see `consumer_tokens`). The hub is issuer and verifier, so
    /// the signature is a random secret it remembers.
    pub(super) fn issue_consumer_token(
        &self,
        consumer_id: String,
        steps_up_from: Option<String>,
    ) -> String {
        let mut state = self.state();
        let iat = now_ms() / 1000;
        let exp = iat + state.consumer_tokens.lifetime().as_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = Claims {
            sub: &consumer_id,
            iat,
            exp,
        };
        let claims = serde_json::to_vec(&claims).expect("claims are plain JSON data");
        let token = format!(
            "{header}.{}.{}",
            URL_SAFE_NO_PAD.encode(claims),
            random_token()
        );
        state
            .consumer_tokens
            .issue(&token, consumer_id, steps_up_from, Instant::now());
        token
    }

    /// Exchanges a brand JWT for an authenticated consumer JWT: the brand JWT is checked with the account's key, and the
    /// consumer id is the SHA-256 of its `sub` in hex. A request that also
    /// carries the consumer's unauthenticated JWT (`Authorization: jwt ...`)
    /// links the two, so step-up works from a new socket too.
    pub(super) async fn authenticate(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Response<Body> {
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
        let Ok(AuthCode { auth_code: code }) = serde_json::from_slice(&body) else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "body must be JSON {\"authCode\": \"<brand JWT>\"}",
            );
        };
        let auth = self.state().config.consumer_auth.clone();
        let verified = match brand_jwt::verify(&auth, &code) {
            Ok(verified) => verified,
            Err(reason) => return http::error(StatusCode::UNAUTHORIZED, reason),
        };
        let consumer_id: String = Sha256::digest(verified.subject.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The brand's attributes, or (without lp_sdes) none of the brand's.
        let brand = super::profiles::Source::Brand;
        if let Err(refused) = self
            .profiles()
            .set(&consumer_id, brand, verified.engagement.as_ref())
        {
            let code = StatusCode::from_u16(refused.code).unwrap_or(StatusCode::BAD_REQUEST);
            return http::error(code, refused.message);
        }
        let steps_up_from = previous.and_then(|t| {
            let state = self.state();
            state
                .consumer_tokens
                .consumer(&t, Instant::now())
                .map(str::to_owned)
        });
        let jwt = self.issue_consumer_token(consumer_id, steps_up_from);
        answer_json(&Issued { jwt })
    }
}
