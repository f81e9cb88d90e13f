//! `[admin]`: where the admin API listens and the bearer tokens it accepts.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use super::{parse_listen, yes};
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// `[admin]`: where the admin API listens and who may use it.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// Its address.
    pub listen: SocketAddr,
    /// The bearer tokens it accepts.
    pub tokens: Vec<AdminToken>,
}

/// One bearer token of the admin API.
#[derive(Clone)]
pub struct AdminToken {
    /// Who holds it: the owner of the connectors and bot users it creates.
    pub owner: String,
    /// What it may do.
    pub role: AdminRole,
    /// The secret itself (from the file or the environment).
    pub secret: String,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("owner", &self.owner)
            .field("role", &self.role)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The roles of the admin API, as the product names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Reads status, details and metrics.
    Viewer,
    /// Also adds, edits, deletes, starts and stops demo connectors.
    BotDeveloper,
    /// Also deploys to production and starts and stops any connector.
    BotStatusAccess,
    /// Everything, including plugin resets and reloads.
    Administrator,
}

/// The shortest token accepted: shorter ones are too easy to guess.
const MIN_TOKEN_LEN: usize = 16;

/// `[admin]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    #[serde(default = "default_admin_listen")]
    listen: Located<String>,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

fn default_admin_listen() -> Located<String> {
    Located::new("127.0.0.1:8081".into(), 0..0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    owner: Located<String>,
    role: AdminRole,
    #[serde(default)]
    token: Option<Located<String>>,
    #[serde(default)]
    token_env: Option<Located<String>>,
}

impl RawAdmin {
    /// The checked table; `None` if it has no address to listen on. A
    /// token that is refused is left out.
    pub(super) fn check(
        self,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<AdminConfig> {
        let listen = parse_listen(&self.listen, file, source, diagnostics)?;
        let tokens = self
            .tokens
            .into_iter()
            .filter_map(|token| token.check(file, source, diagnostics))
            .collect();
        Some(AdminConfig { listen, tokens })
    }
}

impl RawToken {
    fn check(
        self,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<AdminToken> {
        let owner = self.owner.as_str();
        let mut refuse = |span, message: String| {
            diagnostics.push(Diagnostic::error(file, source, span, message));
            None
        };
        let (secret, at) = match (&self.token, &self.token_env) {
            (Some(secret), None) => (secret.get().clone(), secret.span()),
            (None, Some(var)) => match std::env::var(var.as_str()) {
                Ok(secret) => (secret, var.span()),
                Err(_) => {
                    return refuse(
                        var.span(),
                        format!(
                            "environment variable `{var}` (the admin token of `{owner}`) is not set"
                        ),
                    );
                }
            },
            _ => {
                return refuse(
                    self.owner.span(),
                    format!(
                        "the admin token of `{owner}` needs exactly one of `token` or `token_env`"
                    ),
                );
            }
        };
        if secret.len() < MIN_TOKEN_LEN {
            return refuse(
                at,
                format!(
                    "the admin token of `{owner}` is shorter than {MIN_TOKEN_LEN} characters: too easy to guess"
                ),
            );
        }
        Some(AdminToken {
            owner: owner.to_owned(),
            role: self.role,
            secret,
        })
    }
}
