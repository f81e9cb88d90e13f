//! The ten custom configuration fields of a connector:
//! their names, types, ranges, defaults and the conversation type they
//! apply to. Their *behaviour* lives in the connector, one place each.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::ConversationType;
use super::diagnostic::{Diagnostic, nearest};

/// `tileDisplay`: how a bot's list of cards is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TileDisplay {
    /// Stacked vertical cards (the default).
    #[default]
    Vertical,
    /// One horizontal carousel.
    Horizontal,
}

/// A connector's custom fields with their effective values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomFields {
    /// `fallbackEscalationTime`: bot silence before transfer to the fallback skill.
    pub fallback_escalation_time: Duration,
    /// `defaultGreetingMessage`: sent to the bot when a conversation arrives and the consumer is silent.
    pub default_greeting_message: String,
    /// `defaultStepupMessage`: sent to the bot when the consumer steps up.
    pub default_stepup_message: String,
    /// `messageDelay`: consumer messages within this window are joined.
    pub message_delay: Duration,
    /// `skipAgentMessage`: on transfer, the bot sees the last consumer utterance.
    pub skip_agent_message: bool,
    /// `tileDisplay`: vertical cards or one carousel.
    pub tile_display: TileDisplay,
    /// `messageResendMaxRetries`: resends to a bot that gives no response.
    pub message_resend_max_retries: u32,
    /// `retryMessageInterval`: wait between resends.
    pub retry_message_interval: Duration,
    /// `maxEscalationRetries`: `__agent_escalation_failed__` sends per conversation.
    pub max_escalation_retries: u32,
    /// `ringAcceptWait`: wait before accepting a ring.
    pub ring_accept_wait: Duration,
}

impl Default for CustomFields {
    fn default() -> Self {
        CustomFields {
            fallback_escalation_time: Duration::from_millis(180_000),
            default_greeting_message: "hi".into(),
            default_stepup_message: "_STEPUP_".into(),
            message_delay: Duration::from_millis(300),
            skip_agent_message: false,
            tile_display: TileDisplay::Vertical,
            message_resend_max_retries: 1,
            retry_message_interval: Duration::from_millis(30_000),
            max_escalation_retries: 5,
            ring_accept_wait: Duration::from_millis(100),
        }
    }
}

/// What kind of value a field takes.
#[derive(Clone, Copy)]
enum Kind {
    /// Milliseconds, at most this many.
    Millis(u64),
    /// A count, at most this many.
    Count(u64),
    Text,
    Bool,
    TileDisplay,
}

/// Where a field applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AppliesTo {
    Both,
    Messaging,
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Every field: name, kind, where it applies.
const FIELDS: &[(&str, Kind, AppliesTo)] = &[
    (
        "fallbackEscalationTime",
        Kind::Millis(DAY_MS),
        AppliesTo::Messaging,
    ),
    ("defaultGreetingMessage", Kind::Text, AppliesTo::Both),
    ("defaultStepupMessage", Kind::Text, AppliesTo::Messaging),
    ("messageDelay", Kind::Millis(60_000), AppliesTo::Messaging),
    ("skipAgentMessage", Kind::Bool, AppliesTo::Messaging),
    ("tileDisplay", Kind::TileDisplay, AppliesTo::Messaging),
    (
        "messageResendMaxRetries",
        Kind::Count(100),
        AppliesTo::Messaging,
    ),
    (
        "retryMessageInterval",
        Kind::Millis(DAY_MS),
        AppliesTo::Messaging,
    ),
    (
        "maxEscalationRetries",
        Kind::Count(1_000),
        AppliesTo::Messaging,
    ),
    ("ringAcceptWait", Kind::Millis(60_000), AppliesTo::Messaging),
];

/// The names of every custom field.
pub fn field_names() -> impl Iterator<Item = &'static str> {
    FIELDS.iter().map(|(name, _, _)| *name)
}

/// A parsed value, before it lands in [`CustomFields`].
enum Parsed {
    Millis(Duration),
    Count(u32),
    Text(String),
    Bool(bool),
    Tile(TileDisplay),
}

impl CustomFields {
    /// Parses a connector's `[custom]` table, reporting each problem at its
    /// place in `file`. Messaging-only fields on a chat connector are
    /// ignored with a warning. Returns the fields and the spans of the ones set.
    pub fn parse(
        table: &BTreeMap<Spanned<String>, Spanned<toml::Value>>,
        conversation_type: ConversationType,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> (CustomFields, BTreeMap<&'static str, Range<usize>>) {
        let mut fields = match conversation_type {
            ConversationType::Messaging => CustomFields::default(),
            ConversationType::Chat => CustomFields::for_chat(),
        };
        let mut spans = BTreeMap::new();
        for (key, value) in table {
            let Some(&(name, kind, applies)) =
                FIELDS.iter().find(|(name, _, _)| name == key.get_ref())
            else {
                let hint = match nearest(key.get_ref(), field_names()) {
                    Some(near) => format!("; did you mean `{near}`?"),
                    None => format!(
                        "; known fields: {}",
                        field_names().collect::<Vec<_>>().join(", ")
                    ),
                };
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    key.span(),
                    format!("unknown custom field `{}`{hint}", key.get_ref()),
                ));
                continue;
            };
            let parsed = match parse_value(kind, value.get_ref()) {
                Ok(parsed) => parsed,
                Err(why) => {
                    diagnostics.push(Diagnostic::error(
                        file,
                        source,
                        value.span(),
                        format!("`{name}` {why}"),
                    ));
                    continue;
                }
            };
            if applies == AppliesTo::Messaging && conversation_type == ConversationType::Chat {
                diagnostics.push(Diagnostic::warning(
                    file,
                    source,
                    key.span(),
                    format!("`{name}` applies to messaging conversations only; this chat connector ignores it"),
                ));
                continue;
            }
            spans.insert(name, key.span());
            fields.set(name, parsed);
        }
        (fields, spans)
    }

    /// The fields of a chat connector: the messaging-only behaviours are
    /// off (no aggregation, no resends, no fallback escalation, no wait
    /// before accepting, stacked cards, no skipping of agent messages);
    /// the fields that apply to both keep their defaults.
    pub fn for_chat() -> CustomFields {
        CustomFields {
            fallback_escalation_time: Duration::ZERO,
            message_delay: Duration::ZERO,
            skip_agent_message: false,
            tile_display: TileDisplay::Vertical,
            message_resend_max_retries: 0,
            ring_accept_wait: Duration::ZERO,
            ..CustomFields::default()
        }
    }

    /// True when fallbackEscalationTime is in force (messaging connectors).
    pub fn escalates_on_silence(&self) -> bool {
        !self.fallback_escalation_time.is_zero()
    }

    fn set(&mut self, name: &str, value: Parsed) {
        match (name, value) {
            ("fallbackEscalationTime", Parsed::Millis(d)) => self.fallback_escalation_time = d,
            ("defaultGreetingMessage", Parsed::Text(t)) => self.default_greeting_message = t,
            ("defaultStepupMessage", Parsed::Text(t)) => self.default_stepup_message = t,
            ("messageDelay", Parsed::Millis(d)) => self.message_delay = d,
            ("skipAgentMessage", Parsed::Bool(b)) => self.skip_agent_message = b,
            ("tileDisplay", Parsed::Tile(t)) => self.tile_display = t,
            ("messageResendMaxRetries", Parsed::Count(n)) => self.message_resend_max_retries = n,
            ("retryMessageInterval", Parsed::Millis(d)) => self.retry_message_interval = d,
            ("maxEscalationRetries", Parsed::Count(n)) => self.max_escalation_retries = n,
            ("ringAcceptWait", Parsed::Millis(d)) => self.ring_accept_wait = d,
            _ => unreachable!("FIELDS and set() name the same fields with the same kinds"),
        }
    }

    /// The fields by their documented names with their effective values,
    /// as plugins see them.
    pub fn as_pairs(&self) -> Vec<(String, String)> {
        let ms = |d: Duration| d.as_millis().to_string();
        let tile = match self.tile_display {
            TileDisplay::Vertical => "vertical",
            TileDisplay::Horizontal => "horizontal",
        };
        [
            ("fallbackEscalationTime", ms(self.fallback_escalation_time)),
            (
                "defaultGreetingMessage",
                self.default_greeting_message.clone(),
            ),
            ("defaultStepupMessage", self.default_stepup_message.clone()),
            ("messageDelay", ms(self.message_delay)),
            ("skipAgentMessage", self.skip_agent_message.to_string()),
            ("tileDisplay", tile.to_owned()),
            (
                "messageResendMaxRetries",
                self.message_resend_max_retries.to_string(),
            ),
            ("retryMessageInterval", ms(self.retry_message_interval)),
            (
                "maxEscalationRetries",
                self.max_escalation_retries.to_string(),
            ),
            ("ringAcceptWait", ms(self.ring_accept_wait)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

fn parse_value(kind: Kind, value: &toml::Value) -> Result<Parsed, String> {
    match kind {
        Kind::Millis(max) => match value.as_integer() {
            Some(n) if n >= 0 && n as u64 <= max => {
                Ok(Parsed::Millis(Duration::from_millis(n as u64)))
            }
            Some(n) => Err(format!("is {n} ms; it must be 0 to {max} ms")),
            None => Err(format!(
                "must be a whole number of milliseconds, not {}",
                value.type_str()
            )),
        },
        Kind::Count(max) => match value.as_integer() {
            Some(n) if n >= 0 && n as u64 <= max => Ok(Parsed::Count(n as u32)),
            Some(n) => Err(format!("is {n}; it must be 0 to {max}")),
            None => Err(format!("must be a whole number, not {}", value.type_str())),
        },
        Kind::Text => match value.as_str() {
            Some(text) if !text.is_empty() => Ok(Parsed::Text(text.to_owned())),
            Some(_) => Err("must not be empty".into()),
            None => Err(format!("must be a string, not {}", value.type_str())),
        },
        Kind::Bool => value
            .as_bool()
            .map(Parsed::Bool)
            .ok_or_else(|| format!("must be true or false, not {}", value.type_str())),
        Kind::TileDisplay => match value.as_str() {
            Some("vertical") => Ok(Parsed::Tile(TileDisplay::Vertical)),
            Some("horizontal") => Ok(Parsed::Tile(TileDisplay::Horizontal)),
            _ => Err("must be \"vertical\" or \"horizontal\"".into()),
        },
    }
}

/// The first field whose effective value differs between `a` and `b`.
pub fn first_difference(a: &CustomFields, b: &CustomFields) -> Option<(String, String, String)> {
    a.as_pairs()
        .into_iter()
        .zip(b.as_pairs())
        .find(|((_, va), (_, vb))| va != vb)
        .map(|((name, va), (_, vb))| (name, va, vb))
}
