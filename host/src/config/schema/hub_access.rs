//! What the embedded hub lets consumers do: `[hub.consumer_auth]` (brand
//! JWTs for step-up, and the consumer JWTs the hub issues) and
//! `[hub.clients]` (what one client may take).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::number_in;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// How the hub checks brand JWTs for consumer step-up, and how long and
/// how many of the consumer JWTs it issues it honours. Its Debug hides the
/// HS256 secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsumerAuth {
    /// HS256 shared secret.
    pub hs256_secret: Option<String>,
    /// RS256 public key, PEM.
    pub rs256_public_key: Option<String>,
    /// The `iss` a brand JWT must carry; unset: `iss` is not checked.
    pub issuer: Option<String>,
    /// The value a brand JWT's `aud` must name; unset: `aud` is not checked.
    pub audience: Option<String>,
    /// How long a consumer JWT the hub issued (signup or authenticate) is
    /// honoured; it carries the matching `exp`.
    pub token_lifetime: Duration,
    /// The most consumer JWTs the hub honours at once; issuing one more
    /// forgets the oldest.
    pub max_tokens: usize,
}

impl std::fmt::Debug for ConsumerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerAuth")
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<hidden>"),
            )
            .field("rs256_public_key", &self.rs256_public_key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("token_lifetime", &self.token_lifetime)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

impl ConsumerAuth {
    /// The default [`ConsumerAuth::token_lifetime`]: an hour, short-lived
    /// like LivePerson's unauthenticated consumer tokens.
    pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
    /// The default [`ConsumerAuth::max_tokens`].
    pub const DEFAULT_MAX_TOKENS: usize = 100_000;
}

impl Default for ConsumerAuth {
    /// No brand keys: step-up is refused; the default lifetime and bound.
    fn default() -> Self {
        ConsumerAuth {
            hs256_secret: None,
            rs256_public_key: None,
            issuer: None,
            audience: None,
            token_lifetime: Self::DEFAULT_TOKEN_LIFETIME,
            max_tokens: Self::DEFAULT_MAX_TOKENS,
        }
    }
}

/// What one consumer client may take from the hub (`[hub.clients]`), so
/// that one client cannot fill the connectors' slots. A client is one IPv4
/// address, or one IPv6 /64 (what one subscriber is usually given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientLimits {
    /// Signups a client may make in a minute (a bucket of this many,
    /// refilled evenly over the minute); the next one is answered 429.
    pub signups_per_minute: u32,
    /// Conversations a client's consumers may hold open at once.
    pub open_conversations: u32,
    /// Consumer sockets a client may hold open at once.
    pub open_sockets: u32,
}

impl ClientLimits {
    /// The largest value any of the limits takes.
    pub const MAX: u32 = 1_000_000;
}

impl Default for ClientLimits {
    /// Enough for a household or an office behind one address; far less
    /// than a connector's slots.
    fn default() -> Self {
        ClientLimits {
            signups_per_minute: 60,
            open_conversations: 20,
            open_sockets: 100,
        }
    }
}

/// The longest `token_lifetime_ms`: a day.
const MAX_CONSUMER_TOKEN_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;
/// The largest `max_tokens`.
const MAX_CONSUMER_TOKENS: u64 = 10_000_000;

/// `[hub.consumer_auth]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsumerAuth {
    #[serde(default)]
    hs256_secret: Option<String>,
    #[serde(default)]
    hs256_secret_env: Option<Located<String>>,
    #[serde(default)]
    rs256_public_key_file: Option<Located<String>>,
    #[serde(default)]
    issuer: Option<Located<String>>,
    #[serde(default)]
    audience: Option<Located<String>>,
    #[serde(default)]
    token_lifetime_ms: Option<Located<u64>>,
    #[serde(default)]
    max_tokens: Option<Located<u64>>,
}

/// `[hub.clients]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClients {
    #[serde(default)]
    signups_per_minute: Option<Located<u64>>,
    #[serde(default)]
    open_conversations: Option<Located<u64>>,
    #[serde(default)]
    open_sockets: Option<Located<u64>>,
}

impl RawConsumerAuth {
    /// The checked table; the RS256 key file is relative to `dir`.
    pub(super) fn check(
        self,
        dir: &Path,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> ConsumerAuth {
        let hs256_secret = match (self.hs256_secret, self.hs256_secret_env) {
            (Some(secret), _) => Some(secret),
            (None, Some(var)) => match std::env::var(var.as_str()) {
                Ok(secret) => Some(secret),
                Err(_) => {
                    diagnostics.push(Diagnostic::error(
                        file,
                        source,
                        var.span(),
                        format!("environment variable `{var}` is not set"),
                    ));
                    None
                }
            },
            (None, None) => None,
        };
        let rs256_public_key = self.rs256_public_key_file.and_then(|path| {
            std::fs::read_to_string(dir.join(path.as_str()))
                .map_err(|e| {
                    diagnostics.push(Diagnostic::error(
                        file,
                        source,
                        path.span(),
                        format!("cannot read the RS256 public key: {e}"),
                    ))
                })
                .ok()
        });
        let mut text = |value: Option<Located<String>>, name: &str| {
            not_empty(value, name, file, source, diagnostics)
        };
        let issuer = text(self.issuer, "issuer");
        let audience = text(self.audience, "audience");
        let token_lifetime = number_in(
            self.token_lifetime_ms.as_ref(),
            "[hub.consumer_auth] `token_lifetime_ms`",
            1_000..=MAX_CONSUMER_TOKEN_LIFETIME_MS,
            file,
            source,
            diagnostics,
        )
        .map_or(ConsumerAuth::DEFAULT_TOKEN_LIFETIME, Duration::from_millis);
        let max_tokens = number_in(
            self.max_tokens.as_ref(),
            "[hub.consumer_auth] `max_tokens`",
            1..=MAX_CONSUMER_TOKENS,
            file,
            source,
            diagnostics,
        )
        .map_or(ConsumerAuth::DEFAULT_MAX_TOKENS, |max| max as usize);
        ConsumerAuth {
            hs256_secret,
            rs256_public_key,
            issuer,
            audience,
            token_lifetime,
            max_tokens,
        }
    }
}

/// A `[hub.consumer_auth]` string that must not be empty when given
/// (`issuer`, `audience`): an empty one would match no token at all.
fn not_empty(
    value: Option<Located<String>>,
    name: &str,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    let value = value?;
    if value.trim().is_empty() {
        diagnostics.push(Diagnostic::error(
            file,
            source,
            value.span(),
            format!("[hub.consumer_auth] `{name}` must not be empty: remove it to skip the check"),
        ));
        return None;
    }
    Some(value.into_inner())
}

impl RawClients {
    /// The checked table; a key left out or refused keeps its default.
    pub(super) fn check(
        self,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> ClientLimits {
        let defaults = ClientLimits::default();
        let mut limit = |value: Option<Located<u64>>, name: &str, default: u32| {
            number_in(
                value.as_ref(),
                &format!("[hub.clients] `{name}`"),
                1..=u64::from(ClientLimits::MAX),
                file,
                source,
                diagnostics,
            )
            .map_or(default, |n| n as u32)
        };
        ClientLimits {
            signups_per_minute: limit(
                self.signups_per_minute,
                "signups_per_minute",
                defaults.signups_per_minute,
            ),
            open_conversations: limit(
                self.open_conversations,
                "open_conversations",
                defaults.open_conversations,
            ),
            open_sockets: limit(self.open_sockets, "open_sockets", defaults.open_sockets),
        }
    }
}
