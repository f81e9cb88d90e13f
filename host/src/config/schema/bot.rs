//! One `bots/*.toml`: the bot brain a connector talks to, scripted rules
//! from the file or an HTTP bot.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::parse;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// One `bots/*.toml`.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// The file it came from.
    pub file: PathBuf,
    /// Bot id.
    pub id: Located<String>,
    /// What kind of bot brain.
    pub kind: BotKind,
    /// The bot takes the consumer's engagement attributes with each turn
    /// (HTTP and Bot Framework bots; the connector reads them from the
    /// platform when a conversation arrives and after a step-up).
    pub engagement_attributes: bool,
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
    /// A private text for the conversation's agents and managers, after
    /// the answers (the consumer never sees it).
    pub note: Option<String>,
    /// The conversation's new time to response, set after answering.
    pub ttr: Option<lp::fields::Ttr>,
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

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBot {
    id: Located<String>,
    kind: Located<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    url: Option<Located<String>>,
    #[serde(default = "default_bot_timeout")]
    timeout_ms: u64,
    #[serde(default)]
    callback_listen: Option<Located<String>>,
    #[serde(default)]
    engagement_attributes: Option<Located<bool>>,
}

fn default_bot_timeout() -> u64 {
    10_000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: Located<String>,
    #[serde(default)]
    say: Vec<Located<RawAnswer>>,
    #[serde(default)]
    quick_replies: Vec<RawQuickReply>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    ttr: Option<Located<RawTtr>>,
    #[serde(default)]
    escalate: Option<String>,
    #[serde(default)]
    close: bool,
}

/// A rule's `ttr`: `"URGENT"`, `"NORMAL"`, `"PRIORITIZED"`, or a custom
/// time in seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawTtr {
    Seconds(i64),
    Type(String),
}

impl RawTtr {
    /// The time to response, or what is wrong with it.
    fn typed(self) -> Result<lp::fields::Ttr, String> {
        use lp::fields::{Ttr, TtrType};
        match self {
            RawTtr::Seconds(seconds) => Ttr::new(TtrType::Custom, u64::try_from(seconds).ok())
                .map_err(|_| {
                    format!("`ttr` = {seconds}: a custom time to response is seconds, above 0")
                }),
            RawTtr::Type(name) => match TtrType::from(name.to_ascii_uppercase().as_str()) {
                // CUSTOM is written as its seconds.
                TtrType::Custom => Err(name),
                known => Ttr::new(known, None).map_err(|_| name),
            }
            .map_err(|name| {
                format!(
                    "`ttr` = {name:?}: expected \"URGENT\", \"NORMAL\", \"PRIORITIZED\" or a number of seconds"
                )
            }),
        }
    }
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

pub(in crate::config) fn parse_bot(
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<BotConfig> {
    let raw: RawBot = parse(file, source, diagnostics)?;
    let timeout = Duration::from_millis(raw.timeout_ms.max(1));
    let http_url = |diagnostics: &mut Vec<Diagnostic>| match &raw.url {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.get().clone())
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
    let kind = match raw.kind.as_str() {
        "scripted" => BotKind::Scripted(rules(raw.rules, file, source, diagnostics)),
        "rasa" => BotKind::Rasa {
            url: http_url(diagnostics)?,
            timeout,
        },
        "webhook" => BotKind::Webhook {
            url: http_url(diagnostics)?,
            timeout,
        },
        "botframework" => {
            let callback = match &raw.callback_listen {
                None => SocketAddr::from(([127, 0, 0, 1], 0)),
                Some(text) => match text.parse() {
                    Ok(addr) => addr,
                    Err(error) => {
                        diagnostics.push(Diagnostic::error(
                            file,
                            source,
                            text.span(),
                            format!(
                                "`callback_listen` must be an address like 127.0.0.1:3979: {error}"
                            ),
                        ));
                        return None;
                    }
                },
            };
            BotKind::BotFramework {
                url: http_url(diagnostics)?,
                timeout,
                callback,
            }
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
    let engagement_attributes = match &raw.engagement_attributes {
        Some(flag) if **flag && matches!(kind, BotKind::Scripted(_)) => {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                flag.span(),
                "a scripted bot reads no engagement attributes: `engagement_attributes` is for rasa, webhook and botframework bots",
            ));
            return None;
        }
        Some(flag) => **flag,
        None => false,
    };
    Some(BotConfig {
        file: file.to_owned(),
        id: raw.id,
        kind,
        engagement_attributes,
    })
}

/// A scripted bot's rules; a rule whose pattern is not a regular
/// expression is reported and left out.
fn rules(
    raw: Vec<RawRule>,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<ScriptedRule> {
    let mut rules = Vec::new();
    for rule in raw {
        let pattern = match Regex::new(&format!("(?i){}", rule.pattern.as_str())) {
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
            match answer.into_inner() {
                RawAnswer {
                    text: Some(text),
                    card: None,
                } => say.push(ScriptedAnswer::Text(text)),
                RawAnswer {
                    text: None,
                    card: Some(card),
                } => say.push(ScriptedAnswer::Card(card)),
                _ => diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    at,
                    "each `say` entry needs exactly one of `text` or `card`",
                )),
            }
        }
        let ttr = rule.ttr.and_then(|ttr| {
            let at = ttr.span();
            ttr.into_inner()
                .typed()
                .map_err(|reason| diagnostics.push(Diagnostic::error(file, source, at, reason)))
                .ok()
        });
        rules.push(ScriptedRule {
            pattern,
            say,
            quick_replies: rule
                .quick_replies
                .into_iter()
                .map(|q| (q.title, q.text))
                .collect(),
            note: rule.note,
            ttr,
            escalate: rule.escalate,
            close: rule.close,
        });
    }
    rules
}
