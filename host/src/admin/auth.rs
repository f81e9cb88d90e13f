//! Bearer tokens and roles of the admin API.
//!
//! Tokens are compared in constant time: each presented token is hashed
//! (SHA-256) and compared with every configured token's hash without
//! stopping at the first difference or the first match, so timing tells
//! nothing about how much of a guess was right. Secrets are never logged.

use hyper::{Request, StatusCode};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::config::{AdminRole, AdminToken};

/// What a request wants to do, for the role check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read status, details, history, metrics.
    Read,
    /// Add, edit, delete, start or stop a connector.
    Change,
    /// Reset a quarantined plugin.
    Operate,
    /// Reload the configuration by request.
    Reload,
}

/// Whether `role` may do `action` (on a production connector if `production`).
///
/// | role | read | change demo | change production | reset plugin | reload |
/// |---|---|---|---|---|---|
/// | viewer | yes | no | no | no | no |
/// | bot_developer | yes | yes | no | no | no |
/// | bot_status_access | yes | yes | yes | yes | no |
/// | administrator | yes | yes | yes | yes | yes |
pub fn allows(role: AdminRole, action: Action, production: bool) -> bool {
    match action {
        Action::Read => true,
        Action::Change if production => role >= AdminRole::BotStatusAccess,
        Action::Change => role >= AdminRole::BotDeveloper,
        Action::Operate => role >= AdminRole::BotStatusAccess,
        Action::Reload => role == AdminRole::Administrator,
    }
}

/// Who made a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's owner.
    pub owner: String,
    /// The token's role.
    pub role: AdminRole,
}

/// The configured tokens, by hash.
pub struct Tokens {
    known: Vec<([u8; 32], Caller)>,
}

impl Tokens {
    /// Keeps the hashes of `tokens`, not the secrets.
    pub fn new(tokens: &[AdminToken]) -> Self {
        Tokens {
            known: tokens
                .iter()
                .map(|t| {
                    (
                        Sha256::digest(t.secret.as_bytes()).into(),
                        Caller {
                            owner: t.owner.clone(),
                            role: t.role,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The caller whose token the request bears, if any.
    pub fn caller<B>(&self, request: &Request<B>) -> Option<Caller> {
        let presented = request
            .headers()
            .get(hyper::header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        self.check(presented)
    }

    /// The caller holding `presented`, compared in constant time.
    pub fn check(&self, presented: &str) -> Option<Caller> {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (hash, caller) in &self.known {
            let difference = hash
                .iter()
                .zip(&presented)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            // No early exit: every token is compared.
            if std::hint::black_box(difference) == 0 {
                found = Some(caller.clone());
            }
        }
        found
    }
}

impl Caller {
    /// Nothing if the caller's role may do `action`; otherwise the 403
    /// that names the role it needs.
    pub(super) fn require(&self, action: Action, production: bool) -> Result<(), ApiError> {
        if allows(self.role, action, production) {
            return Ok(());
        }
        let needs = match (action, production) {
            (Action::Read, _) => "viewer",
            (Action::Change, false) => "bot_developer",
            (Action::Change, true) => "administrator or bot_status_access (production)",
            (Action::Operate, _) => "bot_status_access or administrator",
            (Action::Reload, _) => "administrator",
        };
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "role {} may not do this; it needs {needs}",
                role_name(self.role)
            ),
        ))
    }
}

fn role_name(role: AdminRole) -> &'static str {
    match role {
        AdminRole::Viewer => "viewer",
        AdminRole::BotDeveloper => "bot_developer",
        AdminRole::BotStatusAccess => "bot_status_access",
        AdminRole::Administrator => "administrator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_recognised_only_whole() {
        let tokens = Tokens::new(&[AdminToken {
            owner: "alice".into(),
            role: AdminRole::Viewer,
            secret: "alice-secret-token-1".into(),
        }]);
        assert_eq!(tokens.check("alice-secret-token-1").unwrap().owner, "alice");
        assert!(tokens.check("alice-secret-token-").is_none());
        assert!(tokens.check("alice-secret-token-12").is_none());
        assert!(tokens.check("").is_none());
    }

    #[test]
    fn production_needs_bot_status_access_or_administrator() {
        assert!(!allows(AdminRole::BotDeveloper, Action::Change, true));
        assert!(allows(AdminRole::BotDeveloper, Action::Change, false));
        assert!(allows(AdminRole::BotStatusAccess, Action::Change, true));
        assert!(allows(AdminRole::Administrator, Action::Change, true));
        assert!(!allows(AdminRole::Viewer, Action::Change, false));
    }
}
