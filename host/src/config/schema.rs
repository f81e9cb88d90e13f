//! The files' schemas (version 1) and their conversion to typed values.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::connector_id::ConnectorId;
use super::custom::CustomFields;
use super::diagnostic::Diagnostic;
use crate::plugin::{Grants, Limits};

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

/// `switchboard.toml`.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The embedded hub, when enabled.
    pub hub: Option<HubConfig>,
    /// The platform's domain lookup (CSDS) base URL; `None` means the embedded hub.
    pub csds: Option<String>,
    /// A CA certificate (PEM) to trust for an `https://` platform instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Where the state store lives.
    pub data_dir: PathBuf,
    /// Where plugin files are looked up, in order; the build's output comes last.
    pub plugin_dirs: Vec<PathBuf>,
    /// Default limits of every plugin.
    pub plugin_limits: Limits,
    /// The admin API and the Agent Connectors page, when enabled.
    pub admin: Option<AdminConfig>,
}

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

impl GatewayConfig {
    /// The first `dir/file` that exists among the plugin directories.
    pub fn find_plugin(&self, file: &str) -> Option<PathBuf> {
        self.plugin_dirs
            .iter()
            .map(|dir| dir.join(file))
            .find(|path| path.is_file())
    }
}

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
    /// Its id.
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

/// How an agent user logs in (LivePerson's login API).
#[derive(Clone, PartialEq, Eq)]
pub enum LoginCredentials {
    /// Username and password. Works; API keys are the documented recommendation.
    Password(String),
    /// API key (OAuth1): the documented recommendation for bots.
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
            LoginCredentials::Password(_) => f.write_str("Password(<hidden>)"),
            LoginCredentials::ApiKey { .. } => f.write_str("ApiKey(<hidden>)"),
        }
    }
}

/// An engagement: an entry point that routes consumers to a skill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubEngagement {
    /// Its id.
    pub id: String,
    /// The skill it routes to.
    pub skill: String,
}

/// How the hub checks brand JWTs for consumer step-up, and how long and
/// how many of the consumer JWTs it issues it honours.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// One `connectors/*.toml`.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    /// The file it came from.
    pub file: PathBuf,
    /// Connector id; a loaded configuration holds only ids that pass
    /// [`ConnectorId::parse`](super::ConnectorId::parse).
    pub id: String,
    /// The bot it serves.
    pub bot: String,
    /// Messaging account number.
    pub account: String,
    /// Login name of the bot agent user.
    pub agent_user_id: String,
    /// How the agent user logs in (from the file or the environment).
    pub credentials: LoginCredentials,
    /// The most conversations this connector takes at once (1 to 999).
    pub max_conversations: u32,
    /// Agent or manager.
    pub role: Role,
    /// Messaging or chat.
    pub conversation_type: ConversationType,
    /// Demo or production.
    pub deploy_to: DeployTo,
    /// Skill to escalate to when the bot fails.
    pub fallback_skill_id: Option<String>,
    /// Reach the platform by HTTP webhooks at this URL instead of the WebSocket.
    pub external_webhook_url: Option<String>,
    /// Structured content carries tooltips.
    pub accessibility: bool,
    /// Start with the gateway.
    pub autostart: bool,
    /// Plugins in chain order.
    pub plugins: Vec<PluginConfig>,
    /// The custom fields.
    pub custom: CustomFields,
    /// Where each custom field set in the file is.
    pub custom_spans: BTreeMap<&'static str, Range<usize>>,
    /// Where the identity fields are, for later diagnostics.
    pub spans: ConnectorSpans,
    /// The file's text, to locate later findings (a reload's refusals).
    pub source: std::sync::Arc<str>,
}

/// Byte spans of a connector file's fields; a field left to its default
/// points at `id`.
#[derive(Clone, Debug, Default)]
pub struct ConnectorSpans {
    /// `id`.
    pub id: Range<usize>,
    /// `bot`.
    pub bot: Range<usize>,
    /// `account`.
    pub account: Range<usize>,
    /// `agent_user_id`.
    pub agent_user_id: Range<usize>,
    /// `password`, `password_env` or `api_key`.
    pub credentials: Range<usize>,
    /// `role`.
    pub role: Range<usize>,
    /// `conversation_type`.
    pub conversation_type: Range<usize>,
    /// `deploy_to`.
    pub deploy_to: Range<usize>,
    /// `external_webhook_url`.
    pub external_webhook_url: Range<usize>,
}

/// One `[[plugins]]` entry of a connector.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    /// The file name as written.
    pub file: String,
    /// Where it was written.
    pub span: Range<usize>,
    /// Its settings for this connector.
    pub settings: BTreeMap<String, String>,
    /// Its own limits, where they differ from the gateway's `[plugins.limits]`.
    pub limits: LimitOverrides,
    /// What it may reach beyond the host interface.
    pub grants: Grants,
}

/// Per-plugin limits that replace the gateway's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// Hook deadline.
    pub deadline: Option<Duration>,
    /// Memory cap of the whole instance, in bytes.
    pub memory_bytes: Option<usize>,
    /// Fuel per hook call.
    pub fuel: Option<u64>,
    /// Output per hook call, in bytes.
    pub max_output_bytes: Option<usize>,
    /// Key-value store quota, in bytes.
    pub kv_quota_bytes: Option<usize>,
    /// Consecutive faults before quarantine.
    pub quarantine_after: Option<u32>,
}

impl LimitOverrides {
    /// `defaults` with these overrides applied.
    pub fn apply(self, defaults: Limits) -> Limits {
        Limits {
            deadline: self.deadline.unwrap_or(defaults.deadline),
            memory_bytes: self.memory_bytes.unwrap_or(defaults.memory_bytes),
            fuel: self.fuel.or(defaults.fuel),
            max_output_bytes: self.max_output_bytes.unwrap_or(defaults.max_output_bytes),
            kv_quota_bytes: self.kv_quota_bytes.unwrap_or(defaults.kv_quota_bytes),
            quarantine_after: self.quarantine_after.unwrap_or(defaults.quarantine_after),
        }
    }
}

/// One `bots/*.toml`.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// The file it came from.
    pub file: PathBuf,
    /// Bot id.
    pub id: String,
    /// What kind of bot brain.
    pub kind: BotKind,
    /// Where fields are.
    pub spans: BotSpans,
}

/// Byte spans of a bot file's fields.
#[derive(Clone, Debug, Default)]
pub struct BotSpans {
    /// `id`.
    pub id: Range<usize>,
}

/// The bot brain.
#[derive(Clone, Debug)]
pub enum BotKind {
    /// Rules from the file: pattern → answers.
    Scripted(Vec<ScriptedRule>),
    /// Rasa's REST channel at `url` (`/webhooks/rest/webhook` is added).
    Rasa {
        /// The Rasa server's base URL.
        url: String,
        /// How long one answer may take.
        timeout: Duration,
    },
    /// A Bot Framework bot (Activity protocol) at `url` (`/api/messages` is added).
    BotFramework {
        /// The bot's base URL.
        url: String,
        /// How long one answer may take.
        timeout: Duration,
        /// Where the callback server (the Activities' `serviceUrl`) listens.
        callback: SocketAddr,
    },
    /// A brand's own HTTP bot speaking Rasa's REST format at exactly `url`.
    Webhook {
        /// The endpoint.
        url: String,
        /// How long one answer may take.
        timeout: Duration,
    },
}

/// A scripted bot's rule: the first rule whose pattern matches answers.
#[derive(Clone, Debug)]
pub struct ScriptedRule {
    /// Matched against the text the bot receives (case-insensitive).
    pub pattern: Regex,
    /// The answers, in order; `{text}` in a text answer is the received text.
    pub say: Vec<ScriptedAnswer>,
    /// Quick replies attached to the last answer: (title, text sent when tapped).
    pub quick_replies: Vec<(String, String)>,
    /// Transfer the conversation to this skill after answering.
    pub escalate: Option<String>,
    /// Close the conversation after answering.
    pub close: bool,
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum ScriptedAnswer {
    /// A text message.
    Text(String),
    /// A card (published as structured content).
    Card(CardConfig),
}

/// A card of a scripted answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardConfig {
    /// Title, shown first.
    pub title: String,
    /// Body text.
    #[serde(default)]
    pub text: Option<String>,
    /// Image URL.
    #[serde(default)]
    pub image: Option<String>,
    /// Buttons.
    #[serde(default)]
    pub buttons: Vec<CardButton>,
}

/// A card button: publishes `text` or opens `url`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardButton {
    /// Label.
    pub title: String,
    /// Text published when clicked.
    #[serde(default)]
    pub text: Option<String>,
    /// Link opened when clicked.
    #[serde(default)]
    pub url: Option<String>,
}

// ---- raw file shapes -------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    #[serde(default)]
    hub: Option<RawHub>,
    #[serde(default)]
    messaging: RawMessaging,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    plugins: RawPlugins,
    #[serde(default)]
    admin: Option<RawAdmin>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "default_admin_listen")]
    listen: Spanned<String>,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

fn default_admin_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8081".into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    owner: Spanned<String>,
    role: AdminRole,
    #[serde(default)]
    token: Option<Spanned<String>>,
    #[serde(default)]
    token_env: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHub {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "default_hub_listen")]
    listen: Spanned<String>,
    #[serde(default = "default_account")]
    account: String,
    #[serde(default = "default_skill")]
    default_skill: Spanned<String>,
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
    tls: Option<RawHubTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHubTls {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    cert_file: Option<Spanned<String>>,
    #[serde(default)]
    key_file: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSkill {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    login: Spanned<String>,
    #[serde(default, rename = "type")]
    kind: UserKind,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_env: Option<Spanned<String>>,
    #[serde(default)]
    api_key: Option<Spanned<RawApiKey>>,
    #[serde(default)]
    skills: Vec<Spanned<String>>,
    #[serde(default = "default_max_conversations")]
    max_conversations: Spanned<u32>,
    #[serde(default)]
    created_by: Option<String>,
}

struct RawSecret {
    password: Option<String>,
    password_env: Option<Spanned<String>>,
    api_key: Option<Spanned<RawApiKey>>,
}

/// An API key; each part is a literal or `{ env = "NAME" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApiKey {
    app_key: Spanned<RawSecretValue>,
    secret: Spanned<RawSecretValue>,
    access_token: Spanned<RawSecretValue>,
    access_token_secret: Spanned<RawSecretValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSecretValue {
    Literal(String),
    Env { env: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngagement {
    id: String,
    skill: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawClients {
    #[serde(default)]
    signups_per_minute: Option<Spanned<u64>>,
    #[serde(default)]
    open_conversations: Option<Spanned<u64>>,
    #[serde(default)]
    open_sockets: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConsumerAuth {
    #[serde(default)]
    hs256_secret: Option<String>,
    #[serde(default)]
    hs256_secret_env: Option<Spanned<String>>,
    #[serde(default)]
    rs256_public_key_file: Option<Spanned<String>>,
    #[serde(default)]
    issuer: Option<Spanned<String>>,
    #[serde(default)]
    audience: Option<Spanned<String>>,
    #[serde(default)]
    token_lifetime_ms: Option<Spanned<u64>>,
    #[serde(default)]
    max_tokens: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMessaging {
    #[serde(default)]
    csds: Option<String>,
    #[serde(default)]
    ca_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default = "default_data_dir")]
    data_dir: String,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            data_dir: default_data_dir(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    #[serde(default)]
    dirs: Vec<String>,
    #[serde(default)]
    limits: RawLimits,
}

/// Plugin limits; every one optional (the defaults, or the gateway's).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    deadline_ms: Option<Spanned<u64>>,
    #[serde(default)]
    memory_mib: Option<Spanned<u64>>,
    #[serde(default)]
    fuel: Option<Spanned<u64>>,
    #[serde(default)]
    max_output_kib: Option<Spanned<u64>>,
    #[serde(default)]
    kv_quota_kib: Option<Spanned<u64>>,
    #[serde(default)]
    quarantine_after: Option<Spanned<u32>>,
}

/// What a plugin may reach: read-only directories, environment variables,
/// the precise clock.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    dirs: Vec<RawDirGrant>,
    #[serde(default)]
    env: Vec<Spanned<String>>,
    #[serde(default)]
    precise_clock: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirGrant {
    host: Spanned<String>,
    guest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    id: Spanned<String>,
    bot: Spanned<String>,
    account: Spanned<String>,
    agent_user_id: Spanned<String>,
    #[serde(default)]
    password: Option<Spanned<String>>,
    #[serde(default)]
    password_env: Option<Spanned<String>>,
    #[serde(default)]
    api_key: Option<Spanned<RawApiKey>>,
    #[serde(default = "default_max_conversations")]
    max_conversations: Spanned<u32>,
    #[serde(default)]
    role: Option<Spanned<Role>>,
    #[serde(default)]
    conversation_type: Option<Spanned<ConversationType>>,
    #[serde(default)]
    deploy_to: Option<Spanned<DeployTo>>,
    #[serde(default)]
    fallback_skill_id: Option<String>,
    #[serde(default)]
    external_webhook_url: Option<Spanned<String>>,
    #[serde(default)]
    accessibility: bool,
    #[serde(default)]
    autostart: bool,
    #[serde(default)]
    plugins: Vec<RawPluginEntry>,
    #[serde(default)]
    custom: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPluginEntry {
    file: Spanned<String>,
    #[serde(default)]
    settings: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    grants: RawGrants,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBot {
    id: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    url: Option<Spanned<String>>,
    #[serde(default = "default_bot_timeout")]
    timeout_ms: u64,
    #[serde(default)]
    callback_listen: Option<Spanned<String>>,
}

fn default_bot_timeout() -> u64 {
    10_000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    #[serde(default)]
    say: Vec<Spanned<RawAnswer>>,
    #[serde(default)]
    quick_replies: Vec<RawQuickReply>,
    #[serde(default)]
    escalate: Option<String>,
    #[serde(default)]
    close: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    card: Option<CardConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuickReply {
    title: String,
    text: String,
}

fn yes() -> bool {
    true
}
fn default_hub_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8080".into())
}
fn default_account() -> String {
    "123".into()
}
fn default_skill() -> Spanned<String> {
    Spanned::new(0..0, "1".into())
}
fn default_ring_expiration() -> u64 {
    30_000
}
fn default_agent_grace() -> u64 {
    10_000
}
fn default_max_conversations() -> Spanned<u32> {
    Spanned::new(0..0, 50)
}
fn default_data_dir() -> String {
    "../data".into()
}

/// The most conversations the platform assigns one agent.
pub const MAX_CONVERSATIONS_PER_AGENT: u32 = 999;

/// The longest `[hub.consumer_auth] token_lifetime_ms`: a day.
const MAX_CONSUMER_TOKEN_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;
/// The largest `[hub.consumer_auth] max_tokens`.
const MAX_CONSUMER_TOKENS: u64 = 10_000_000;

/// A `[hub.consumer_auth]` string that must not be empty when given
/// (`issuer`, `audience`): an empty one would match no token at all.
fn consumer_auth_text(
    value: Option<Spanned<String>>,
    name: &str,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    let value = value?;
    if value.get_ref().trim().is_empty() {
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

/// A number of `table` within `range`, or a diagnostic at it.
fn table_number(
    value: Option<Spanned<u64>>,
    table: &str,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<u64> {
    let value = value?;
    if range.contains(value.get_ref()) {
        return Some(value.into_inner());
    }
    diagnostics.push(Diagnostic::error(
        file,
        source,
        value.span(),
        format!(
            "{table} `{name}` must be {} to {}",
            range.start(),
            range.end()
        ),
    ));
    None
}

fn parse<T: for<'de> Deserialize<'de>>(
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    match toml::from_str(source) {
        Ok(raw) => Some(raw),
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            diagnostics.push(Diagnostic::error(
                file,
                source,
                span,
                error.message().trim().to_owned(),
            ));
            None
        }
    }
}

/// A secret given as it is, or read from the environment; an unset
/// variable is reported at the value that names it.
fn secret_value(
    value: Spanned<RawSecretValue>,
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

fn credentials(
    raw: RawSecret,
    what: &str,
    file: &Path,
    source: &str,
    span: Range<usize>,
    diagnostics: &mut Vec<Diagnostic>,
) -> LoginCredentials {
    let given = usize::from(raw.password.is_some())
        + usize::from(raw.password_env.is_some())
        + usize::from(raw.api_key.is_some());
    if given != 1 {
        diagnostics.push(Diagnostic::error(
            file,
            source,
            span,
            format!("the {what} needs exactly one of `password`, `password_env` or `[api_key]`"),
        ));
        return LoginCredentials::Password(String::new());
    }
    if let Some(password) = raw.password {
        return LoginCredentials::Password(password);
    }
    if let Some(var) = raw.password_env {
        return LoginCredentials::Password(std::env::var(var.get_ref()).unwrap_or_else(|_| {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                var.span(),
                format!(
                    "environment variable `{}` (the {what}'s password) is not set",
                    var.get_ref()
                ),
            ));
            String::new()
        }));
    }
    let key = raw.api_key.expect("counted above").into_inner();
    let mut part = |value| secret_value(value, file, source, diagnostics);
    LoginCredentials::ApiKey {
        app_key: part(key.app_key),
        secret: part(key.secret),
        access_token: part(key.access_token),
        access_token_secret: part(key.access_token_secret),
    }
}

fn limits(
    raw: RawLimits,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> LimitOverrides {
    let mut check =
        |value: Option<Spanned<u64>>, name: &str, range: std::ops::RangeInclusive<u64>| {
            let value = value?;
            if range.contains(value.get_ref()) {
                Some(*value.get_ref())
            } else {
                let message = format!("`{name}` must be {} to {}", range.start(), range.end());
                diagnostics.push(Diagnostic::error(file, source, value.span(), message));
                None
            }
        };
    let max_mib = (crate::plugin::MAX_PLUGIN_MEMORY_BYTES >> 20) as u64;
    LimitOverrides {
        deadline: check(raw.deadline_ms, "deadline_ms", 1..=10_000).map(Duration::from_millis),
        memory_bytes: check(raw.memory_mib, "memory_mib", 1..=max_mib).map(|m| (m as usize) << 20),
        fuel: check(raw.fuel, "fuel", 1_000..=u64::MAX),
        max_output_bytes: check(raw.max_output_kib, "max_output_kib", 1..=16 * 1024)
            .map(|k| (k as usize) << 10),
        kv_quota_bytes: check(raw.kv_quota_kib, "kv_quota_kib", 1..=1024 * 1024)
            .map(|k| (k as usize) << 10),
        quarantine_after: check(
            raw.quarantine_after
                .map(|q| Spanned::new(q.span(), u64::from(*q.get_ref()))),
            "quarantine_after",
            1..=1_000,
        )
        .map(|q| q as u32),
    }
}

fn grants(
    raw: RawGrants,
    dir: &Path,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Grants {
    let dirs = raw
        .dirs
        .into_iter()
        .filter_map(|grant| {
            let host = dir.join(grant.host.get_ref());
            if host.is_dir() {
                Some((host, grant.guest))
            } else {
                let message = format!("granted directory {} does not exist", host.display());
                diagnostics.push(Diagnostic::error(file, source, grant.host.span(), message));
                None
            }
        })
        .collect();
    let env = raw
        .env
        .into_iter()
        .filter_map(|name| match std::env::var(name.get_ref()) {
            Ok(value) => Some((name.into_inner(), value)),
            Err(_) => {
                let message = format!(
                    "granted environment variable `{}` is not set",
                    name.get_ref()
                );
                diagnostics.push(Diagnostic::warning(file, source, name.span(), message));
                None
            }
        })
        .collect();
    Grants {
        dirs,
        env,
        precise_clock: raw.precise_clock,
    }
}

/// A `listen` address, or its located error.
fn parse_listen(
    listen: &Spanned<String>,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SocketAddr> {
    match listen.get_ref().parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(error) => {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                listen.span(),
                format!("`listen` must be an address like 127.0.0.1:8080: {error}"),
            ));
            None
        }
    }
}

fn parse_admin(
    raw: RawAdmin,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<AdminConfig> {
    let listen = parse_listen(&raw.listen, file, source, diagnostics)?;
    let mut tokens = Vec::new();
    for token in raw.tokens {
        let owner = token.owner.get_ref().clone();
        let (secret, at) = match (token.token, token.token_env) {
            (Some(secret), None) => (secret.get_ref().clone(), secret.span()),
            (None, Some(var)) => match std::env::var(var.get_ref()) {
                Ok(secret) => (secret, var.span()),
                Err(_) => {
                    diagnostics.push(Diagnostic::error(
                        file,
                        source,
                        var.span(),
                        format!(
                            "environment variable `{}` (the admin token of `{owner}`) is not set",
                            var.get_ref(),
                        ),
                    ));
                    continue;
                }
            },
            _ => {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    token.owner.span(),
                    format!(
                        "the admin token of `{owner}` needs exactly one of `token` or `token_env`"
                    ),
                ));
                continue;
            }
        };
        if secret.len() < 16 {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                at,
                format!(
                    "the admin token of `{owner}` is shorter than 16 characters: too easy to guess"
                ),
            ));
            continue;
        }
        tokens.push(AdminToken {
            owner,
            role: token.role,
            secret,
        });
    }
    Some(AdminConfig { listen, tokens })
}

pub(super) fn parse_gateway(
    dir: &Path,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<GatewayConfig> {
    let raw: RawGateway = parse(file, source, diagnostics)?;
    let hub = match raw.hub {
        Some(hub) if hub.enabled => {
            let listen = parse_listen(&hub.listen, file, source, diagnostics)?;
            // Every skill named anywhere must be one of `[[hub.skills]]`;
            // a hub that lists none has one: its default skill.
            let mut known: Vec<&str> = hub.skills.iter().map(|s| s.id.get_ref().as_str()).collect();
            if known.is_empty() {
                known.push(hub.default_skill.get_ref());
            }
            let mut check_skill = |skill: &Spanned<String>, what: &str| {
                if !known.contains(&skill.get_ref().as_str()) {
                    diagnostics.push(Diagnostic::error(
                        file,
                        source,
                        skill.span(),
                        format!(
                            "{what} `{}` is not one of the hub's skills ([[hub.skills]]: {})",
                            skill.get_ref(),
                            known.join(", ")
                        ),
                    ));
                }
            };
            // A `default_skill` left out is `1`; where that is not listed,
            // the finding stands at the first listed skill.
            match (hub.default_skill.span().is_empty(), hub.skills.first()) {
                (true, Some(first)) => check_skill(
                    &Spanned::new(first.id.span(), hub.default_skill.get_ref().clone()),
                    "default_skill (not set, so the default)",
                ),
                _ => check_skill(&hub.default_skill, "default_skill"),
            }
            for engagement in &hub.engagements {
                check_skill(&engagement.skill, "the engagement's skill");
            }
            for user in &hub.users {
                for skill in &user.skills {
                    check_skill(skill, "the user's skill");
                }
            }
            let mut users = Vec::new();
            for user in hub.users {
                let max = *user.max_conversations.get_ref();
                if max == 0 || max > MAX_CONVERSATIONS_PER_AGENT {
                    diagnostics.push(Diagnostic::error(
                        file,
                        source,
                        user.max_conversations.span(),
                        format!("`max_conversations` must be 1 to {MAX_CONVERSATIONS_PER_AGENT}"),
                    ));
                }
                let raw_secret = RawSecret {
                    password: user.password,
                    password_env: user.password_env,
                    api_key: user.api_key,
                };
                let credentials = credentials(
                    raw_secret,
                    "hub user",
                    file,
                    source,
                    user.login.span(),
                    diagnostics,
                );
                users.push(HubUser {
                    login: user.login.into_inner(),
                    kind: user.kind,
                    enabled: user.enabled,
                    credentials,
                    skills: user.skills.into_iter().map(Spanned::into_inner).collect(),
                    max_conversations: max.clamp(1, MAX_CONVERSATIONS_PER_AGENT),
                    created_by: user.created_by,
                });
            }
            let mut skills: Vec<HubSkill> = hub
                .skills
                .into_iter()
                .map(|s| HubSkill {
                    name: s
                        .name
                        .unwrap_or_else(|| format!("skill {}", s.id.get_ref())),
                    id: s.id.into_inner(),
                })
                .collect();
            if skills.is_empty() {
                skills.push(HubSkill {
                    id: hub.default_skill.get_ref().clone(),
                    name: "default".into(),
                });
            }
            let consumer_auth = ConsumerAuth {
                hs256_secret: match (
                    hub.consumer_auth.hs256_secret,
                    hub.consumer_auth.hs256_secret_env,
                ) {
                    (Some(secret), _) => Some(secret),
                    (None, Some(var)) => match std::env::var(var.get_ref()) {
                        Ok(secret) => Some(secret),
                        Err(_) => {
                            diagnostics.push(Diagnostic::error(
                                file,
                                source,
                                var.span(),
                                format!("environment variable `{}` is not set", var.get_ref()),
                            ));
                            None
                        }
                    },
                    (None, None) => None,
                },
                rs256_public_key: hub.consumer_auth.rs256_public_key_file.and_then(|path| {
                    std::fs::read_to_string(dir.join(path.get_ref()))
                        .map_err(|e| {
                            diagnostics.push(Diagnostic::error(
                                file,
                                source,
                                path.span(),
                                format!("cannot read the RS256 public key: {e}"),
                            ))
                        })
                        .ok()
                }),
                issuer: consumer_auth_text(
                    hub.consumer_auth.issuer,
                    "issuer",
                    file,
                    source,
                    diagnostics,
                ),
                audience: consumer_auth_text(
                    hub.consumer_auth.audience,
                    "audience",
                    file,
                    source,
                    diagnostics,
                ),
                token_lifetime: table_number(
                    hub.consumer_auth.token_lifetime_ms,
                    "[hub.consumer_auth]",
                    "token_lifetime_ms",
                    1_000..=MAX_CONSUMER_TOKEN_LIFETIME_MS,
                    file,
                    source,
                    diagnostics,
                )
                .map_or(ConsumerAuth::DEFAULT_TOKEN_LIFETIME, Duration::from_millis),
                max_tokens: table_number(
                    hub.consumer_auth.max_tokens,
                    "[hub.consumer_auth]",
                    "max_tokens",
                    1..=MAX_CONSUMER_TOKENS,
                    file,
                    source,
                    diagnostics,
                )
                .map_or(ConsumerAuth::DEFAULT_MAX_TOKENS, |max| max as usize),
            };
            let tls = match hub.tls {
                Some(tls) if tls.enabled => match (tls.cert_file, tls.key_file) {
                    (Some(cert), Some(key)) => Some(HubTls::Files {
                        cert: dir.join(cert.get_ref()),
                        key: dir.join(key.get_ref()),
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
                },
                _ => None,
            };
            let mut client_limit = |value, name, default: u32| {
                table_number(
                    value,
                    "[hub.clients]",
                    name,
                    1..=u64::from(ClientLimits::MAX),
                    file,
                    source,
                    diagnostics,
                )
                .map_or(default, |n| n as u32)
            };
            let defaults = ClientLimits::default();
            let clients = ClientLimits {
                signups_per_minute: client_limit(
                    hub.clients.signups_per_minute,
                    "signups_per_minute",
                    defaults.signups_per_minute,
                ),
                open_conversations: client_limit(
                    hub.clients.open_conversations,
                    "open_conversations",
                    defaults.open_conversations,
                ),
                open_sockets: client_limit(
                    hub.clients.open_sockets,
                    "open_sockets",
                    defaults.open_sockets,
                ),
            };
            Some(HubConfig {
                tls,
                clients,
                engagements: hub
                    .engagements
                    .into_iter()
                    .map(|e| HubEngagement {
                        id: e.id,
                        skill: e.skill.into_inner(),
                    })
                    .collect(),
                consumer_auth,
                agent_grace: Duration::from_millis(hub.agent_grace_ms),
                listen,
                account: hub.account,
                default_skill: hub.default_skill.into_inner(),
                skills,
                users,
                ring_expiration: Duration::from_millis(hub.ring_expiration_ms),
            })
        }
        _ => None,
    };
    let admin = raw
        .admin
        .filter(|a| a.enabled)
        .and_then(|admin| parse_admin(admin, file, source, diagnostics));
    let mut plugin_dirs: Vec<PathBuf> = raw.plugins.dirs.iter().map(|d| dir.join(d)).collect();
    plugin_dirs.extend(crate::plugin::shipped_plugin_dir());
    let plugin_limits =
        limits(raw.plugins.limits, file, source, diagnostics).apply(Limits::default());
    Some(GatewayConfig {
        hub,
        csds: raw.messaging.csds,
        ca_file: raw.messaging.ca_file.map(|f| dir.join(f)),
        data_dir: dir.join(raw.store.data_dir),
        plugin_dirs,
        plugin_limits,
        admin,
    })
}

pub(super) fn parse_connector(
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<ConnectorConfig> {
    let raw: RawConnector = parse(file, source, diagnostics)?;
    let id_span = raw.id.span();
    if let Err(error) = ConnectorId::parse(raw.id.get_ref()) {
        diagnostics.push(Diagnostic::error(
            file,
            source,
            id_span.clone(),
            error.to_string(),
        ));
    }
    let span_of = |span: Option<Range<usize>>| span.unwrap_or_else(|| id_span.clone());
    let spans = ConnectorSpans {
        id: raw.id.span(),
        bot: raw.bot.span(),
        account: raw.account.span(),
        agent_user_id: raw.agent_user_id.span(),
        credentials: span_of(
            raw.password
                .as_ref()
                .map(Spanned::span)
                .or(raw.password_env.as_ref().map(Spanned::span))
                .or(raw.api_key.as_ref().map(Spanned::span)),
        ),
        role: span_of(raw.role.as_ref().map(Spanned::span)),
        conversation_type: span_of(raw.conversation_type.as_ref().map(Spanned::span)),
        deploy_to: span_of(raw.deploy_to.as_ref().map(Spanned::span)),
        external_webhook_url: span_of(raw.external_webhook_url.as_ref().map(Spanned::span)),
    };
    let conversation_type = raw
        .conversation_type
        .map(Spanned::into_inner)
        .unwrap_or_default();
    if let Some(password) = &raw.password {
        diagnostics.push(Diagnostic::warning(
            file,
            source,
            password.span(),
            "password login works, but API-key login (`[api_key]`) is the documented recommendation for bot users",
        ));
    }
    let max = *raw.max_conversations.get_ref();
    if max == 0 || max > MAX_CONVERSATIONS_PER_AGENT {
        diagnostics.push(Diagnostic::error(
            file,
            source,
            raw.max_conversations.span(),
            format!("`max_conversations` must be 1 to {MAX_CONVERSATIONS_PER_AGENT}"),
        ));
    }
    let raw_secret = RawSecret {
        password: raw.password.map(Spanned::into_inner),
        password_env: raw.password_env,
        api_key: raw.api_key,
    };
    let credentials = credentials(
        raw_secret,
        "agent user",
        file,
        source,
        raw.agent_user_id.span(),
        diagnostics,
    );
    let (custom, custom_spans) =
        CustomFields::parse(&raw.custom, conversation_type, file, source, diagnostics);
    let plugins = raw
        .plugins
        .into_iter()
        .map(|entry| PluginConfig {
            file: entry.file.get_ref().clone(),
            span: entry.file.span(),
            settings: entry
                .settings
                .into_iter()
                .map(|(key, value)| {
                    let text = match value.get_ref() {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (key, text)
                })
                .collect(),
            limits: limits(entry.limits, file, source, diagnostics),
            grants: grants(
                entry.grants,
                file.parent()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new(".")),
                file,
                source,
                diagnostics,
            ),
        })
        .collect();
    Some(ConnectorConfig {
        file: file.to_owned(),
        spans,
        source: source.into(),
        id: raw.id.into_inner(),
        bot: raw.bot.into_inner(),
        account: raw.account.into_inner(),
        agent_user_id: raw.agent_user_id.into_inner(),
        credentials,
        max_conversations: max.clamp(1, MAX_CONVERSATIONS_PER_AGENT),
        role: raw.role.map(Spanned::into_inner).unwrap_or_default(),
        conversation_type,
        deploy_to: raw.deploy_to.map(Spanned::into_inner).unwrap_or_default(),
        fallback_skill_id: raw.fallback_skill_id,
        external_webhook_url: raw.external_webhook_url.map(Spanned::into_inner),
        accessibility: raw.accessibility,
        autostart: raw.autostart,
        plugins,
        custom,
        custom_spans,
    })
}

pub(super) fn parse_bot(
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<BotConfig> {
    let raw: RawBot = parse(file, source, diagnostics)?;
    let timeout = Duration::from_millis(raw.timeout_ms.max(1));
    let http_kind =
        |make: fn(String, Duration) -> BotKind, diagnostics: &mut Vec<Diagnostic>| match &raw.url {
            Some(url)
                if url.get_ref().starts_with("http://")
                    || url.get_ref().starts_with("https://") =>
            {
                Some(make(url.get_ref().clone(), timeout))
            }
            Some(url) => {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    url.span(),
                    "`url` must start with http:// or https://",
                ));
                None
            }
            None => {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    raw.kind.span(),
                    "this bot kind needs `url`",
                ));
                None
            }
        };
    let kind = match raw.kind.get_ref().as_str() {
        "scripted" => None,
        "rasa" => Some(http_kind(
            |url, timeout| BotKind::Rasa { url, timeout },
            diagnostics,
        )?),
        "webhook" => Some(http_kind(
            |url, timeout| BotKind::Webhook { url, timeout },
            diagnostics,
        )?),
        "botframework" => {
            let callback = match &raw.callback_listen {
                None => SocketAddr::from(([127, 0, 0, 1], 0)),
                Some(text) => {
                    match text.get_ref().parse() {
                        Ok(addr) => addr,
                        Err(error) => {
                            diagnostics.push(Diagnostic::error(
                            file,
                            source,
                            text.span(),
                            format!("`callback_listen` must be an address like 127.0.0.1:3979: {error}"),
                        ));
                            return None;
                        }
                    }
                }
            };
            let http = http_kind(
                |url, timeout| BotKind::Webhook { url, timeout },
                diagnostics,
            )?;
            let BotKind::Webhook { url, timeout } = http else {
                unreachable!("built just above")
            };
            Some(BotKind::BotFramework {
                url,
                timeout,
                callback,
            })
        }
        other => {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                raw.kind.span(),
                format!("unknown bot kind `{other}`; known: scripted, rasa, webhook, botframework"),
            ));
            return None;
        }
    };
    if let Some(kind) = kind {
        return Some(BotConfig {
            file: file.to_owned(),
            spans: BotSpans { id: raw.id.span() },
            id: raw.id.into_inner(),
            kind,
        });
    }
    let mut rules = Vec::new();
    for rule in raw.rules {
        let pattern = match Regex::new(&format!("(?i){}", rule.pattern.get_ref())) {
            Ok(regex) => regex,
            Err(error) => {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    rule.pattern.span(),
                    format!("`match` is not a valid regular expression: {error}"),
                ));
                continue;
            }
        };
        let mut say = Vec::new();
        for answer in rule.say {
            let at = answer.span();
            let answer = answer.into_inner();
            match (answer.text, answer.card) {
                (Some(text), None) => say.push(ScriptedAnswer::Text(text)),
                (None, Some(card)) => say.push(ScriptedAnswer::Card(card)),
                _ => diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    at,
                    "each `say` entry needs exactly one of `text` or `card`",
                )),
            }
        }
        rules.push(ScriptedRule {
            pattern,
            say,
            quick_replies: rule
                .quick_replies
                .into_iter()
                .map(|q| (q.title, q.text))
                .collect(),
            escalate: rule.escalate,
            close: rule.close,
        });
    }
    Some(BotConfig {
        file: file.to_owned(),
        spans: BotSpans { id: raw.id.span() },
        id: raw.id.into_inner(),
        kind: BotKind::Scripted(rules),
    })
}
