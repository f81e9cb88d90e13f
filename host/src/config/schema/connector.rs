//! One `connectors/*.toml`: what the connector *is* ([`ConnectorIdentity`],
//! which a running connector cannot change without a restart) and how it
//! *behaves* ([`ConnectorBehaviour`], which a reload swaps in at once).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::credentials::{LoginCredentials, RawApiKey, RawOAuth2, RawSecret};
use super::parse;
use super::plugin::{PluginConfig, RawPluginEntry};
use super::transcripts::{RawTranscripts, TranscriptSettings};
use crate::config::connector_id::ConnectorId;
use crate::config::custom::{CustomFields, CustomTable};
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// The account's conversation type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationType {
    /// Asynchronous messaging (the default).
    #[default]
    Messaging,
    /// Live chat.
    Chat,
}

/// The bot agent user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes conversations routed to it.
    #[default]
    Agent,
    /// Sees every conversation of the account and joins them.
    Manager,
}

/// Where the connector is deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployTo {
    /// A demo deployment.
    #[default]
    Demo,
    /// Production; needs the Administrator or Bot Status Access role.
    Production,
}

/// The most conversations the platform assigns one agent.
pub const MAX_CONVERSATIONS_PER_AGENT: u32 = 999;

/// One `connectors/*.toml`.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    /// The file it came from.
    pub file: PathBuf,
    /// The file's text, to locate findings about its values.
    pub source: Arc<str>,
    /// Connector id; a loaded configuration holds only ids that pass
    /// [`ConnectorId::parse`].
    pub id: Located<String>,
    /// Start with the gateway.
    pub autostart: bool,
    /// What it is.
    pub identity: ConnectorIdentity,
    /// How it behaves.
    pub behaviour: ConnectorBehaviour,
}

/// Declares [`ConnectorIdentity`] once: its fields, and from them the
/// names the README lists and a reload's refusals name.
macro_rules! identity {
    ($( #[doc = $doc:literal] $field:ident: $ty:ty, )*) => {
        /// What a connector is to the platform and to its bot: a running
        /// connector cannot change any of it by a reload (stop it first).
        /// Each value is located in the file; one left to its default is
        /// located at the connector's `id`.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct ConnectorIdentity {
            $( #[doc = $doc] pub $field: Located<$ty>, )*
        }

        impl ConnectorIdentity {
            /// The fields' names, in order.
            pub const FIELDS: &[&str] = &[$(stringify!($field)),*];

            /// The first field whose value differs in `new`, with its
            /// place in `new`'s file.
            pub fn first_change(&self, new: &Self) -> Option<(&'static str, Range<usize>)> {
                $(
                    if self.$field != new.$field {
                        return Some((stringify!($field), new.$field.span()));
                    }
                )*
                None
            }
        }
    };
}

identity! {
    /// The bot it serves.
    bot: String,
    /// Messaging account number.
    account: String,
    /// Login name of the bot agent user.
    agent_user_id: String,
    /// How the agent user logs in (`[oauth2]`, `[api_key]`, `password` or `password_env`).
    credentials: LoginCredentials,
    /// Agent or manager.
    role: Role,
    /// Messaging or chat.
    conversation_type: ConversationType,
    /// Demo or production.
    deploy_to: DeployTo,
    /// Reach the platform by HTTP webhooks at this URL instead of the WebSocket.
    external_webhook_url: Option<String>,
}

/// How a connector behaves: a reload changes it on a running connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorBehaviour {
    /// The most conversations this connector takes at once (1 to 999).
    pub max_conversations: Located<u32>,
    /// Skill to escalate to when the bot fails.
    pub fallback_skill_id: Option<String>,
    /// Structured content carries tooltips.
    pub accessibility: bool,
    /// Plugins in chain order.
    pub plugins: Vec<PluginConfig>,
    /// The custom fields.
    pub custom: CustomTable,
    /// Hook calls are recorded (`[transcripts] record = true`).
    pub transcripts: Option<TranscriptSettings>,
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    id: Located<String>,
    bot: Located<String>,
    account: Located<String>,
    agent_user_id: Located<String>,
    #[serde(default)]
    password: Option<Located<String>>,
    #[serde(default)]
    password_env: Option<Located<String>>,
    #[serde(default)]
    api_key: Option<Located<RawApiKey>>,
    #[serde(default)]
    oauth2: Option<Located<RawOAuth2>>,
    #[serde(default)]
    max_conversations: Option<Located<u32>>,
    #[serde(default)]
    role: Option<Located<Role>>,
    #[serde(default)]
    conversation_type: Option<Located<ConversationType>>,
    #[serde(default)]
    deploy_to: Option<Located<DeployTo>>,
    #[serde(default)]
    fallback_skill_id: Option<String>,
    #[serde(default)]
    external_webhook_url: Option<Located<String>>,
    #[serde(default)]
    accessibility: bool,
    #[serde(default)]
    autostart: bool,
    #[serde(default)]
    plugins: Vec<RawPluginEntry>,
    #[serde(default)]
    custom: BTreeMap<Located<String>, Located<toml::Value>>,
    #[serde(default)]
    transcripts: Option<RawTranscripts>,
}

/// A `max_conversations` (a connector's or a hub user's) between 1 and
/// [`MAX_CONVERSATIONS_PER_AGENT`]; one outside is reported and clamped.
pub(super) fn max_conversations(
    value: Located<u32>,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Located<u32> {
    if *value == 0 || *value > MAX_CONVERSATIONS_PER_AGENT {
        diagnostics.push(Diagnostic::error(
            file,
            source,
            value.span(),
            format!("`max_conversations` must be 1 to {MAX_CONVERSATIONS_PER_AGENT}"),
        ));
    }
    value.map(|max| max.clamp(1, MAX_CONVERSATIONS_PER_AGENT))
}

/// The default `max_conversations`.
pub(super) const DEFAULT_MAX_CONVERSATIONS: u32 = 50;

/// `value`, or the default located at `id` (where a finding about a value
/// the file leaves out points).
fn or_default<T: Default>(value: Option<Located<T>>, id: &Range<usize>) -> Located<T> {
    value.unwrap_or_else(|| Located::new(T::default(), id.clone()))
}

pub(in crate::config) fn parse_connector(
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<ConnectorConfig> {
    let raw: RawConnector = parse(file, source, diagnostics)?;
    let id_span = raw.id.span();
    if let Err(error) = ConnectorId::parse(&raw.id) {
        diagnostics.push(Diagnostic::error(
            file,
            source,
            id_span.clone(),
            error.to_string(),
        ));
    }
    if let Some(password) = &raw.password {
        diagnostics.push(Diagnostic::warning(
            file,
            source,
            password.span(),
            "password login works, but LivePerson asks bot users to log in with OAuth2 client credentials (`[oauth2]`)",
        ));
    }
    if let Some(key) = &raw.api_key {
        diagnostics.push(Diagnostic::warning(
            file,
            source,
            key.span(),
            "OAuth1 API-key login for bots reached its end of life at LivePerson on 30 April 2026: log in with OAuth2 client credentials (`[oauth2] client_id, client_secret`)",
        ));
    }
    let max_conversations = max_conversations(
        raw.max_conversations
            .unwrap_or_else(|| Located::new(DEFAULT_MAX_CONVERSATIONS, id_span.clone())),
        file,
        source,
        diagnostics,
    );
    let secret = RawSecret {
        password: raw.password,
        password_env: raw.password_env,
        api_key: raw.api_key,
        oauth2: raw.oauth2,
    };
    let credentials_at = secret.span_or(id_span.clone());
    let credentials = secret.credentials(
        "agent user",
        file,
        source,
        raw.agent_user_id.span(),
        diagnostics,
    );
    let conversation_type: Located<ConversationType> = or_default(raw.conversation_type, &id_span);
    let custom = CustomFields::parse(&raw.custom, *conversation_type, file, source, diagnostics);
    // Granted directories are relative to the configuration directory.
    let dir = file
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let plugins = raw
        .plugins
        .into_iter()
        .map(|entry| entry.check(dir, file, source, diagnostics))
        .collect();
    Some(ConnectorConfig {
        file: file.to_owned(),
        source: source.into(),
        autostart: raw.autostart,
        identity: ConnectorIdentity {
            bot: raw.bot,
            account: raw.account,
            agent_user_id: raw.agent_user_id,
            credentials: Located::new(credentials, credentials_at),
            role: or_default(raw.role, &id_span),
            conversation_type,
            deploy_to: or_default(raw.deploy_to, &id_span),
            external_webhook_url: match raw.external_webhook_url {
                Some(url) => url.map(Some),
                None => Located::new(None, id_span.clone()),
            },
        },
        behaviour: ConnectorBehaviour {
            max_conversations,
            fallback_skill_id: raw.fallback_skill_id,
            accessibility: raw.accessibility,
            plugins,
            custom,
            transcripts: raw
                .transcripts
                .and_then(|t| t.check(file, source, diagnostics)),
        },
        id: raw.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in backticks of the README's **Identity** item, leaving
    /// out what its parentheses explain.
    fn readme_identity() -> Vec<String> {
        let readme = include_str!("../../../../README.md");
        let item = readme
            .split("- **Identity** — ")
            .nth(1)
            .and_then(|rest| rest.split(" — ").next())
            .expect("README.md has an **Identity** item under Hot reload");
        let mut plain = String::new();
        let mut depth = 0;
        for c in item.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => plain.push(c),
                _ => {}
            }
        }
        plain
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_readme_lists_the_identity_fields_of_the_type() {
        assert_eq!(readme_identity(), ConnectorIdentity::FIELDS);
    }

    const FILE: &str =
        "id = \"c\"\nbot = \"b\"\naccount = \"1\"\nagent_user_id = \"u\"\npassword = \"p\"\n";

    fn parsed(text: &str) -> ConnectorConfig {
        let mut diagnostics = Vec::new();
        parse_connector(Path::new("c.toml"), text, &mut diagnostics).expect("parses")
    }

    #[test]
    fn an_identity_change_is_the_first_differing_field_at_its_new_place() {
        let old = parsed(FILE);
        let moved = parsed(&format!("\n{FILE}"));
        assert_eq!(
            old.identity, moved.identity,
            "a value's place is not its identity"
        );
        let new = parsed(&format!("{FILE}role = \"manager\"\n"));
        assert_ne!(old.identity, new.identity);
        let (field, span) = old.identity.first_change(&new.identity).unwrap();
        assert_eq!(field, "role");
        assert_eq!(&new.source[span], "\"manager\"");
    }

    #[test]
    fn a_value_left_to_its_default_is_located_at_the_id() {
        let config = parsed(FILE);
        assert_eq!(*config.identity.role, Role::Agent);
        assert_eq!(config.identity.role.span(), config.id.span());
        assert_eq!(&config.source[config.identity.credentials.span()], "\"p\"");
    }
}
