//! `[hub]`: the embedded hub's address and its account model (skills,
//! users, engagements), and `[hub.tls]`. What consumers may do is in
//! [`super::hub_access`]; how agent login sessions live, in
//! [`super::hub_sessions`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::connector::{DEFAULT_MAX_CONVERSATIONS, max_conversations};
use super::credentials::{RawApiKey, RawOAuth2, RawSecret};
use super::hub_access::{ClientLimits, ConsumerAuth, RawClients, RawConsumerAuth};
use super::hub_sessions::{AgentSessions, RawAgentSessions};
use super::{LoginCredentials, parse_listen, yes};
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// The embedded hub's settings and its account model.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Where it listens (HTTP and WebSocket on one address).
    pub listen: SocketAddr,
    /// Its account number.
    pub account: String,
    /// The skill of conversations that ask for none.
    pub default_skill: String,
    /// The account's skills.
    pub skills: Vec<HubSkill>,
    /// The account's users that may log in as agents.
    pub users: Vec<HubUser>,
    /// How long a ring waits for an answer before it expires.
    pub ring_expiration: Duration,
    /// Engagements and the skills they route to.
    pub engagements: Vec<HubEngagement>,
    /// How brand JWTs are checked for step-up.
    pub consumer_auth: ConsumerAuth,
    /// What one consumer client (one address) may take.
    pub clients: ClientLimits,
    /// How long an agent that dropped without logging out keeps its
    /// conversations before they are routed to others.
    pub agent_grace: Duration,
    /// How agent login sessions live, and how many logins a user may make.
    pub sessions: AgentSessions,
    /// Serve HTTPS and WSS instead of HTTP and WS.
    pub tls: Option<HubTls>,
}

/// The hub's TLS certificate: from files, or self-signed at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubTls {
    /// A certificate chain and key in PEM files.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// Generate one for localhost and 127.0.0.1 at start, written to the data directory.
    SelfSigned,
}

/// A skill of the hub's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubSkill {
    /// Its id: digits, as LivePerson's skill ids are numbers (the
    /// configuration refuses others).
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A user of the hub's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubUser {
    /// Login name.
    pub login: String,
    /// Bot or human.
    pub kind: UserKind,
    /// Disabled users cannot log in.
    pub enabled: bool,
    /// How the user logs in.
    pub credentials: LoginCredentials,
    /// Skills routed to this user.
    pub skills: Vec<String>,
    /// The most conversations assigned at once (at most 999).
    pub max_conversations: u32,
    /// Who created the user (an admin token's owner); connectors for it
    /// may be added or edited only by that owner.
    pub created_by: Option<String>,
    /// Whether the user's bearer may read the account configuration
    /// (users, skills, campaigns); without it those answer 403.
    pub can_read_account_config: bool,
}

/// A platform user's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    /// A bot agent user (what connectors log in as).
    #[default]
    Bot,
    /// A person.
    Human,
}

/// An engagement: an entry point that routes consumers to a skill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubEngagement {
    /// Its id.
    pub id: String,
    /// The skill it routes to.
    pub skill: String,
}

/// `[hub]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHub {
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    #[serde(default = "default_hub_listen")]
    listen: Located<String>,
    #[serde(default = "default_account")]
    account: String,
    #[serde(default)]
    default_skill: Option<Located<String>>,
    #[serde(default)]
    skills: Vec<RawSkill>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default = "default_ring_expiration")]
    ring_expiration_ms: u64,
    #[serde(default)]
    engagements: Vec<RawEngagement>,
    #[serde(default)]
    consumer_auth: RawConsumerAuth,
    #[serde(default)]
    clients: RawClients,
    #[serde(default = "default_agent_grace")]
    agent_grace_ms: u64,
    #[serde(default)]
    session_lifetime_ms: Option<Located<u64>>,
    #[serde(default)]
    login_limit: Option<Located<u64>>,
    #[serde(default)]
    login_window_ms: Option<Located<u64>>,
    #[serde(default)]
    tls: Option<RawHubTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHubTls {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    cert_file: Option<Located<String>>,
    #[serde(default)]
    key_file: Option<Located<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSkill {
    id: Located<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    login: Located<String>,
    #[serde(default, rename = "type")]
    kind: UserKind,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    password: Option<Located<String>>,
    #[serde(default)]
    password_env: Option<Located<String>>,
    #[serde(default)]
    api_key: Option<Located<RawApiKey>>,
    #[serde(default)]
    oauth2: Option<Located<RawOAuth2>>,
    #[serde(default)]
    skills: Vec<Located<String>>,
    #[serde(default)]
    max_conversations: Option<Located<u32>>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default = "yes")]
    can_read_account_config: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngagement {
    id: String,
    skill: Located<String>,
}

fn default_hub_listen() -> Located<String> {
    Located::new("127.0.0.1:8080".into(), 0..0)
}
fn default_account() -> String {
    "123".into()
}
fn default_ring_expiration() -> u64 {
    30_000
}
fn default_agent_grace() -> u64 {
    10_000
}

/// The skill of conversations that ask for none, when `default_skill` is left out.
const DEFAULT_SKILL: &str = "1";

impl RawHub {
    /// The checked hub; `None` only if it has no address to listen on.
    /// Files it names are relative to `dir`.
    pub(super) fn check(
        self,
        dir: &Path,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<HubConfig> {
        let listen = parse_listen(&self.listen, file, source, diagnostics)?;
        let default_skill = self.default_skill.clone();
        let default_skill_id = default_skill
            .as_ref()
            .map_or(DEFAULT_SKILL, |s| s.as_str())
            .to_owned();
        // LivePerson's skill ids are numbers (the account configuration
        // serves them as such); a hub listing none has its default skill.
        let declared = match (self.skills.is_empty(), &default_skill) {
            (true, Some(default)) => vec![default],
            _ => self.skills.iter().map(|s| &s.id).collect(),
        };
        for id in declared {
            if id.parse::<u64>().is_err() {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    id.span(),
                    format!("skill id `{id}` must be a number, as LivePerson's skill ids are"),
                ));
            }
        }
        // Every skill named anywhere must be one of `[[hub.skills]]`;
        // a hub that lists none has one: its default skill.
        let mut known: Vec<&str> = self.skills.iter().map(|s| s.id.as_str()).collect();
        if known.is_empty() {
            known.push(&default_skill_id);
        }
        let mut check_skill = |skill: &Located<String>, what: &str| {
            if !known.contains(&skill.as_str()) {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    skill.span(),
                    format!(
                        "{what} `{skill}` is not one of the hub's skills ([[hub.skills]]: {})",
                        known.join(", ")
                    ),
                ));
            }
        };
        // A `default_skill` left out is `1`; where that is not listed,
        // the finding stands at the first listed skill.
        match (&default_skill, self.skills.first()) {
            (None, Some(first)) => check_skill(
                &Located::new(default_skill_id.clone(), first.id.span()),
                "default_skill (not set, so the default)",
            ),
            (Some(set), _) => check_skill(set, "default_skill"),
            (None, None) => {}
        }
        for engagement in &self.engagements {
            check_skill(&engagement.skill, "the engagement's skill");
        }
        for user in &self.users {
            for skill in &user.skills {
                check_skill(skill, "the user's skill");
            }
        }
        let users = self
            .users
            .into_iter()
            .map(|user| user.check(file, source, diagnostics))
            .collect();
        let mut skills: Vec<HubSkill> = self
            .skills
            .into_iter()
            .map(|s| HubSkill {
                name: s.name.unwrap_or_else(|| format!("skill {}", s.id.as_str())),
                id: s.id.into_inner(),
            })
            .collect();
        if skills.is_empty() {
            skills.push(HubSkill {
                id: default_skill_id.clone(),
                name: "default".into(),
            });
        }
        let consumer_auth = self.consumer_auth.check(dir, file, source, diagnostics);
        let tls = match self.tls {
            Some(tls) if tls.enabled => tls.check(dir, file, source, diagnostics),
            _ => None,
        };
        let clients = self.clients.check(file, source, diagnostics);
        let sessions = RawAgentSessions {
            session_lifetime_ms: self.session_lifetime_ms,
            login_limit: self.login_limit,
            login_window_ms: self.login_window_ms,
        }
        .check(file, source, diagnostics);
        Some(HubConfig {
            listen,
            account: self.account,
            default_skill: default_skill_id,
            skills,
            users,
            ring_expiration: Duration::from_millis(self.ring_expiration_ms),
            engagements: self
                .engagements
                .into_iter()
                .map(|e| HubEngagement {
                    id: e.id,
                    skill: e.skill.into_inner(),
                })
                .collect(),
            consumer_auth,
            clients,
            agent_grace: Duration::from_millis(self.agent_grace_ms),
            sessions,
            tls,
        })
    }
}

impl RawUser {
    fn check(self, file: &Path, source: &str, diagnostics: &mut Vec<Diagnostic>) -> HubUser {
        let max = max_conversations(
            self.max_conversations
                .unwrap_or_else(|| Located::new(DEFAULT_MAX_CONVERSATIONS, self.login.span())),
            file,
            source,
            diagnostics,
        );
        let secret = RawSecret {
            password: self.password,
            password_env: self.password_env,
            api_key: self.api_key,
            oauth2: self.oauth2,
        };
        let credentials =
            secret.credentials("hub user", file, source, self.login.span(), diagnostics);
        HubUser {
            login: self.login.into_inner(),
            kind: self.kind,
            enabled: self.enabled,
            credentials,
            skills: self.skills.into_iter().map(Located::into_inner).collect(),
            max_conversations: max.into_inner(),
            created_by: self.created_by,
            can_read_account_config: self.can_read_account_config,
        }
    }
}

impl RawHubTls {
    /// Files or self-signed; a certificate without its key (or the
    /// reverse) is refused.
    fn check(
        self,
        dir: &Path,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<HubTls> {
        match (self.cert_file, self.key_file) {
            (Some(cert), Some(key)) => Some(HubTls::Files {
                cert: dir.join(cert.as_str()),
                key: dir.join(key.as_str()),
            }),
            (None, None) => Some(HubTls::SelfSigned),
            (Some(cert), None) => {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    cert.span(),
                    "`cert_file` needs `key_file`",
                ));
                None
            }
            (None, Some(key)) => {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    key.span(),
                    "[hub.tls] `key_file` needs `cert_file`",
                ));
                None
            }
        }
    }
}
