//! How an agent user logs in: a connector's and a hub user's `[oauth2]`
//! client credentials (what LivePerson asks of bots since OAuth1 login
//! ended on 30 April 2026), `[api_key]` (OAuth1), `password` or
//! `password_env`; secrets read from the environment at load.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;

use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// How an agent user logs in (LivePerson's login API).
#[derive(Clone, PartialEq, Eq)]
pub enum LoginCredentials {
    /// OAuth2 client credentials: how LivePerson's bots log in. They travel
    /// in the login API's API-key fields (`appKey`, `secret`, with
    /// `accessToken` and `accessTokenSecret` set to "dummy").
    OAuth2 {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: String,
    },
    /// Username and password. Works; LivePerson asks bots for OAuth2.
    Password(String),
    /// API key (OAuth1): ended at LivePerson for bots on 30 April 2026.
    ApiKey {
        /// `appKey`.
        app_key: String,
        /// `secret`.
        secret: String,
        /// `accessToken`.
        access_token: String,
        /// `accessTokenSecret`.
        access_token_secret: String,
    },
}

impl std::fmt::Debug for LoginCredentials {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginCredentials::OAuth2 { .. } => f.write_str("OAuth2(<hidden>)"),
            LoginCredentials::Password(_) => f.write_str("Password(<hidden>)"),
            LoginCredentials::ApiKey { .. } => f.write_str("ApiKey(<hidden>)"),
        }
    }
}

/// What the login API's body carries for these credentials: the connector
/// sends it, the hub compares what it receives with it.
impl From<&LoginCredentials> for lp::login::LoginSecret {
    fn from(credentials: &LoginCredentials) -> Self {
        match credentials {
            LoginCredentials::OAuth2 {
                client_id,
                client_secret,
            } => Self::oauth2(client_id, client_secret),
            LoginCredentials::Password(password) => Self::Password {
                password: password.clone(),
            },
            LoginCredentials::ApiKey {
                app_key,
                secret,
                access_token,
                access_token_secret,
            } => Self::ApiKey {
                app_key: app_key.clone(),
                secret: secret.clone(),
                access_token: access_token.clone(),
                access_token_secret: access_token_secret.clone(),
            },
        }
    }
}

/// The login keys of a connector file or a `[[hub.users]]` entry, as written.
pub(super) struct RawSecret {
    pub(super) password: Option<Located<String>>,
    pub(super) password_env: Option<Located<String>>,
    pub(super) api_key: Option<Located<RawApiKey>>,
    pub(super) oauth2: Option<Located<RawOAuth2>>,
}

/// OAuth2 client credentials; each part is a literal or `{ env = "NAME" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    client_id: Located<RawSecretValue>,
    client_secret: Located<RawSecretValue>,
}

/// An API key; each part is a literal or `{ env = "NAME" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApiKey {
    app_key: Located<RawSecretValue>,
    secret: Located<RawSecretValue>,
    access_token: Located<RawSecretValue>,
    access_token_secret: Located<RawSecretValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSecretValue {
    Literal(String),
    Env { env: String },
}

/// A secret given as it is, or read from the environment; an unset
/// variable is reported at the value that names it.
fn secret_value(
    value: Located<RawSecretValue>,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> String {
    let span = value.span();
    match value.into_inner() {
        RawSecretValue::Literal(text) => text,
        RawSecretValue::Env { env } => std::env::var(&env).unwrap_or_else(|_| {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                span,
                format!("environment variable `{env}` is not set"),
            ));
            String::new()
        }),
    }
}

impl RawSecret {
    /// Where the login is written: the key given, or `otherwise`.
    pub(super) fn span_or(&self, otherwise: Range<usize>) -> Range<usize> {
        self.password
            .as_ref()
            .map(Located::span)
            .or(self.password_env.as_ref().map(Located::span))
            .or(self.api_key.as_ref().map(Located::span))
            .or(self.oauth2.as_ref().map(Located::span))
            .unwrap_or(otherwise)
    }

    /// The credentials of `what` (`agent user`, `hub user`); exactly one
    /// way to log in must be given, else the finding is at `span`.
    pub(super) fn credentials(
        self,
        what: &str,
        file: &Path,
        source: &str,
        span: Range<usize>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> LoginCredentials {
        let given = usize::from(self.password.is_some())
            + usize::from(self.password_env.is_some())
            + usize::from(self.api_key.is_some())
            + usize::from(self.oauth2.is_some());
        if given != 1 {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                span,
                format!(
                    "the {what} needs exactly one of `[oauth2]`, `[api_key]`, `password` or `password_env`"
                ),
            ));
            return LoginCredentials::Password(String::new());
        }
        if let Some(password) = self.password {
            return LoginCredentials::Password(password.into_inner());
        }
        if let Some(var) = self.password_env {
            return LoginCredentials::Password(std::env::var(var.as_str()).unwrap_or_else(|_| {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    var.span(),
                    format!(
                        "environment variable `{}` (the {what}'s password) is not set",
                        var.as_str()
                    ),
                ));
                String::new()
            }));
        }
        let mut part = |value| secret_value(value, file, source, diagnostics);
        if let Some(oauth2) = self.oauth2 {
            let oauth2 = oauth2.into_inner();
            return LoginCredentials::OAuth2 {
                client_id: part(oauth2.client_id),
                client_secret: part(oauth2.client_secret),
            };
        }
        let key = self.api_key.expect("counted above").into_inner();
        LoginCredentials::ApiKey {
            app_key: part(key.app_key),
            secret: part(key.secret),
            access_token: part(key.access_token),
            access_token_secret: part(key.access_token_secret),
        }
    }
}
