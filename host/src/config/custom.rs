//! The ten custom configuration fields of a connector, declared once in
//! `custom_fields!`'s table: each field's documented name, its Rust
//! field, the kind of value it takes (and so its check), its default, and
//! its value on a chat connector. Parsing, the checks, the defaults and the
//! values plugins see come from that table; tests hold the README's table
//! and the admin API's JSON schema to it. Their *behaviour* lives in the
//! connector (`connector/fields/`), one file each.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use super::ConversationType;
use super::diagnostic::{Diagnostic, nearest};
use super::located::Located;

/// `tileDisplay`: how a bot's list of cards is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TileDisplay {
    /// Stacked vertical cards (the default).
    #[default]
    Vertical,
    /// One horizontal carousel.
    Horizontal,
}

/// The kind of value a field takes: how it is read from TOML, checked,
/// shown to plugins and documented.
trait Kind {
    /// The typed value.
    type Value;
    /// The value, or why it is refused (the message after the field's name).
    fn parse(&self, value: &toml::Value) -> Result<Self::Value, String>;
    /// The value as plugins see it.
    fn show(&self, value: &Self::Value) -> String;
    /// What it takes, for the README.
    fn describe(&self) -> String;
    /// The value as a connector file writes it, for the README.
    fn written(&self, value: &Self::Value) -> String {
        self.show(value)
    }
    /// Its JSON schema, for the admin API's document.
    fn json_schema(&self) -> serde_json::Value;
}

/// Milliseconds, 0 to this many.
struct Millis(u64);
/// A count, 0 to this many.
struct Count(u64);
/// A text that is not empty.
struct Text;
/// `true` or `false`.
struct Flag;
/// `"vertical"` or `"horizontal"`.
struct Tiles;

impl Kind for Millis {
    type Value = Duration;
    fn parse(&self, value: &toml::Value) -> Result<Duration, String> {
        let max = self.0;
        match value.as_integer() {
            Some(n) if n >= 0 && n as u64 <= max => Ok(Duration::from_millis(n as u64)),
            Some(n) => Err(format!("is {n} ms; it must be 0 to {max} ms")),
            None => Err(format!(
                "must be a whole number of milliseconds, not {}",
                value.type_str()
            )),
        }
    }
    fn show(&self, value: &Duration) -> String {
        value.as_millis().to_string()
    }
    fn describe(&self) -> String {
        format!("milliseconds, 0 to {}", self.0)
    }
    fn json_schema(&self) -> serde_json::Value {
        serde_json::json!({ "type": "integer", "minimum": 0, "maximum": self.0 })
    }
}

impl Kind for Count {
    type Value = u32;
    fn parse(&self, value: &toml::Value) -> Result<u32, String> {
        let max = self.0;
        match value.as_integer() {
            Some(n) if n >= 0 && n as u64 <= max => Ok(n as u32),
            Some(n) => Err(format!("is {n}; it must be 0 to {max}")),
            None => Err(format!("must be a whole number, not {}", value.type_str())),
        }
    }
    fn show(&self, value: &u32) -> String {
        value.to_string()
    }
    fn describe(&self) -> String {
        format!("a count, 0 to {}", self.0)
    }
    fn json_schema(&self) -> serde_json::Value {
        serde_json::json!({ "type": "integer", "minimum": 0, "maximum": self.0 })
    }
}

impl Kind for Text {
    type Value = String;
    fn parse(&self, value: &toml::Value) -> Result<String, String> {
        match value.as_str() {
            Some(text) if !text.is_empty() => Ok(text.to_owned()),
            Some(_) => Err("must not be empty".into()),
            None => Err(format!("must be a string, not {}", value.type_str())),
        }
    }
    fn show(&self, value: &String) -> String {
        value.clone()
    }
    fn describe(&self) -> String {
        "a text, not empty".into()
    }
    fn written(&self, value: &String) -> String {
        format!("{value:?}")
    }
    fn json_schema(&self) -> serde_json::Value {
        serde_json::json!({ "type": "string", "minLength": 1 })
    }
}

impl Kind for Flag {
    type Value = bool;
    fn parse(&self, value: &toml::Value) -> Result<bool, String> {
        value
            .as_bool()
            .ok_or_else(|| format!("must be true or false, not {}", value.type_str()))
    }
    fn show(&self, value: &bool) -> String {
        value.to_string()
    }
    fn describe(&self) -> String {
        "`true` or `false`".into()
    }
    fn json_schema(&self) -> serde_json::Value {
        serde_json::json!({ "type": "boolean" })
    }
}

impl Kind for Tiles {
    type Value = TileDisplay;
    fn parse(&self, value: &toml::Value) -> Result<TileDisplay, String> {
        match value.as_str() {
            Some("vertical") => Ok(TileDisplay::Vertical),
            Some("horizontal") => Ok(TileDisplay::Horizontal),
            _ => Err("must be \"vertical\" or \"horizontal\"".into()),
        }
    }
    fn show(&self, value: &TileDisplay) -> String {
        match value {
            TileDisplay::Vertical => "vertical",
            TileDisplay::Horizontal => "horizontal",
        }
        .into()
    }
    fn describe(&self) -> String {
        "`\"vertical\"` or `\"horizontal\"`".into()
    }
    fn written(&self, value: &TileDisplay) -> String {
        format!("{:?}", self.show(value))
    }
    fn json_schema(&self) -> serde_json::Value {
        serde_json::json!({ "type": "string", "enum": ["vertical", "horizontal"] })
    }
}

/// Which conversations a field applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppliesTo {
    /// Messaging and chat.
    Both,
    /// Messaging only: a chat connector ignores it (with a warning) and
    /// keeps its chat value.
    Messaging,
}

/// One custom field as the table declares it, for listings.
#[derive(Debug)]
pub struct FieldSpec {
    /// Its documented name (`messageDelay`).
    pub name: &'static str,
    /// What it means.
    pub doc: &'static str,
    /// What it takes.
    pub takes: String,
    /// Its default, as a connector file writes it.
    pub default: String,
    /// Its value on a chat connector, as a connector file writes it.
    pub on_chat: String,
    /// Where it applies.
    pub applies_to: AppliesTo,
    /// Its JSON schema.
    pub json_schema: serde_json::Value,
}

/// Declares the custom fields: the [`CustomFields`] struct, its defaults,
/// its chat values, reading one field from TOML, the values as plugins see
/// them, and [`specs`], all from one row per field:
///
/// `/// doc` `"name" => rust_field: Type as Kind, default <toml>, chat <toml> | default, Both | Messaging;`
///
/// Defaults are written as they would be in a connector file and read
/// through the field's own check.
macro_rules! custom_fields {
    ($(
        #[doc = $doc:literal]
        $name:literal => $field:ident: $ty:ty as $kind:expr,
            default $default:literal, chat $chat:tt, $applies:ident;
    )*) => {
        /// A connector's custom fields with their effective values.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct CustomFields {
            $(
                #[doc = concat!("`", $name, "`:", $doc)]
                pub $field: $ty,
            )*
        }

        impl CustomFields {
            /// Each field's default, read through its check.
            fn documented() -> CustomFields {
                CustomFields {
                    $($field: $kind
                        .parse(&toml::Value::from($default))
                        .expect(concat!("the default of `", $name, "` passes its check")),)*
                }
            }

            /// The fields of a chat connector: messaging-only behaviours
            /// are off; fields without a chat value keep their defaults.
            fn chat() -> CustomFields {
                let mut fields = Self::documented();
                $(custom_fields!(@chat fields, $name, $field, $kind, $chat);)*
                fields
            }

            /// Sets the field named `name` from `value`: `None` if there is
            /// no such field, else the check's refusal, if any.
            fn set(&mut self, name: &str, value: &toml::Value) -> Option<Result<(), String>> {
                match name {
                    $($name => Some($kind.parse(value).map(|v| self.$field = v)),)*
                    _ => None,
                }
            }

            /// The fields by their documented names with their effective
            /// values, as plugins see them.
            pub fn as_pairs(&self) -> Vec<(String, String)> {
                vec![$(($name.to_owned(), $kind.show(&self.$field)),)*]
            }
        }

        /// Every custom field, in the table's order.
        pub fn specs() -> &'static [FieldSpec] {
            static FIELDS: LazyLock<Vec<FieldSpec>> = LazyLock::new(|| {
                let (defaults, chat) = (CustomFields::documented(), CustomFields::chat());
                vec![$(FieldSpec {
                    name: $name,
                    doc: $doc.trim(),
                    takes: $kind.describe(),
                    default: $kind.written(&defaults.$field),
                    on_chat: $kind.written(&chat.$field),
                    applies_to: AppliesTo::$applies,
                    json_schema: $kind.json_schema(),
                },)*]
            });
            &FIELDS
        }
    };
    (@chat $fields:ident, $name:literal, $field:ident, $kind:expr, default) => {};
    (@chat $fields:ident, $name:literal, $field:ident, $kind:expr, $chat:literal) => {
        $fields.$field = $kind
            .parse(&toml::Value::from($chat))
            .expect(concat!("the chat value of `", $name, "` passes its check"));
    };
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

custom_fields! {
    /// bot silence before transfer to the fallback skill.
    "fallbackEscalationTime" => fallback_escalation_time: Duration as Millis(DAY_MS),
        default 180_000, chat 0, Messaging;
    /// sent to the bot when a conversation arrives and the consumer is silent.
    "defaultGreetingMessage" => default_greeting_message: String as Text,
        default "hi", chat default, Both;
    /// sent to the bot when the consumer steps up.
    "defaultStepupMessage" => default_stepup_message: String as Text,
        default "_STEPUP_", chat default, Messaging;
    /// consumer messages within this window are joined.
    "messageDelay" => message_delay: Duration as Millis(60_000),
        default 300, chat 0, Messaging;
    /// on transfer, the bot sees the last consumer utterance.
    "skipAgentMessage" => skip_agent_message: bool as Flag,
        default false, chat false, Messaging;
    /// vertical cards or one carousel.
    "tileDisplay" => tile_display: TileDisplay as Tiles,
        default "vertical", chat "vertical", Messaging;
    /// resends to a bot that gives no response.
    "messageResendMaxRetries" => message_resend_max_retries: u32 as Count(100),
        default 1, chat 0, Messaging;
    /// wait between resends.
    "retryMessageInterval" => retry_message_interval: Duration as Millis(DAY_MS),
        default 30_000, chat default, Messaging;
    /// `__agent_escalation_failed__` sends per conversation.
    "maxEscalationRetries" => max_escalation_retries: u32 as Count(1_000),
        default 5, chat default, Messaging;
    /// wait before accepting a ring.
    "ringAcceptWait" => ring_accept_wait: Duration as Millis(60_000),
        default 100, chat 0, Messaging;
}

impl Default for CustomFields {
    /// The documented defaults (a messaging connector's).
    fn default() -> Self {
        static DEFAULTS: LazyLock<CustomFields> = LazyLock::new(CustomFields::documented);
        DEFAULTS.clone()
    }
}

/// A connector's `[custom]` table as read: the effective fields, and each
/// field the file sets, located at its key.
#[derive(Clone, Debug, Default)]
pub struct CustomTable {
    /// The effective values.
    pub fields: CustomFields,
    /// The names the file sets, at their keys.
    pub written: Vec<Located<&'static str>>,
}

impl PartialEq for CustomTable {
    /// Equal when the effective values are: writing a default out changes
    /// no behaviour.
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Eq for CustomTable {}

impl CustomFields {
    /// Parses a connector's `[custom]` table, reporting each problem at its
    /// place in `file`. Messaging-only fields on a chat connector are
    /// ignored with a warning.
    pub fn parse(
        table: &BTreeMap<Located<String>, Located<toml::Value>>,
        conversation_type: ConversationType,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> CustomTable {
        let mut fields = match conversation_type {
            ConversationType::Messaging => CustomFields::default(),
            ConversationType::Chat => CustomFields::for_chat(),
        };
        let mut written = Vec::new();
        for (key, value) in table {
            let Some(spec) = specs().iter().find(|f| f.name == key.as_str()) else {
                let hint = match nearest(key, names()) {
                    Some(near) => format!("; did you mean `{near}`?"),
                    None => format!("; known fields: {}", names().collect::<Vec<_>>().join(", ")),
                };
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    key.span(),
                    format!("unknown custom field `{}`{hint}", key.as_str()),
                ));
                continue;
            };
            let name = spec.name;
            // Checked on a copy: a field a chat connector ignores must not
            // change its value.
            let mut checked = fields.clone();
            if let Some(Err(why)) = checked.set(name, value) {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    value.span(),
                    format!("`{name}` {why}"),
                ));
                continue;
            }
            if spec.applies_to == AppliesTo::Messaging
                && conversation_type == ConversationType::Chat
            {
                diagnostics.push(Diagnostic::warning(
                    file,
                    source,
                    key.span(),
                    format!("`{name}` applies to messaging conversations only; this chat connector ignores it"),
                ));
                continue;
            }
            fields = checked;
            written.push(Located::new(name, key.span()));
        }
        CustomTable { fields, written }
    }

    /// The fields of a chat connector: the messaging-only behaviours are
    /// off (no aggregation, no resends, no fallback escalation, no wait
    /// before accepting, stacked cards, no skipping of agent messages);
    /// the other fields keep their defaults.
    pub fn for_chat() -> CustomFields {
        static CHAT: LazyLock<CustomFields> = LazyLock::new(CustomFields::chat);
        CHAT.clone()
    }

    /// True when fallbackEscalationTime is in force (messaging connectors).
    pub fn escalates_on_silence(&self) -> bool {
        !self.fallback_escalation_time.is_zero()
    }
}

/// The documented names of every custom field.
pub fn names() -> impl Iterator<Item = &'static str> {
    specs().iter().map(|f| f.name)
}

/// The first field whose effective value differs between `a` and `b`:
/// its name, and its value in each.
pub fn first_difference(a: &CustomFields, b: &CustomFields) -> Option<(String, String, String)> {
    a.as_pairs()
        .into_iter()
        .zip(b.as_pairs())
        .find(|((_, va), (_, vb))| va != vb)
        .map(|((name, va), (_, vb))| (name, va, vb))
}

/// The README's table of the custom fields, from [`specs`].
pub fn markdown_table() -> String {
    let mut table = String::from(
        "| field | takes | default | on a chat connector | what it does |\n|---|---|---|---|---|\n",
    );
    for field in specs() {
        let on_chat = match field.applies_to {
            AppliesTo::Both => "as set".to_owned(),
            AppliesTo::Messaging => format!("ignored, always `{}`", field.on_chat),
        };
        table.push_str(&format!(
            "| `{}` | {} | `{}` | {on_chat} | {} |\n",
            field.name, field.takes, field.default, field.doc
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_chat_values_are_the_documented_ones() {
        let defaults = CustomFields::default();
        assert_eq!(defaults.fallback_escalation_time, Duration::from_secs(180));
        assert_eq!(defaults.default_greeting_message, "hi");
        assert_eq!(defaults.default_stepup_message, "_STEPUP_");
        assert_eq!(defaults.message_delay, Duration::from_millis(300));
        assert!(!defaults.skip_agent_message);
        assert_eq!(defaults.tile_display, TileDisplay::Vertical);
        assert_eq!(defaults.message_resend_max_retries, 1);
        assert_eq!(defaults.retry_message_interval, Duration::from_secs(30));
        assert_eq!(defaults.max_escalation_retries, 5);
        assert_eq!(defaults.ring_accept_wait, Duration::from_millis(100));
        let chat = CustomFields::for_chat();
        assert_eq!(
            chat,
            CustomFields {
                fallback_escalation_time: Duration::ZERO,
                message_delay: Duration::ZERO,
                message_resend_max_retries: 0,
                ring_accept_wait: Duration::ZERO,
                ..defaults
            }
        );
    }

    /// The README lists the fields as the table declares them.
    #[test]
    fn the_readme_lists_the_custom_fields_of_the_table() {
        let readme = include_str!("../../../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's custom field table is not the declared one; it should read:\n{table}"
        );
    }

    /// Every `custom` object of the admin API's document takes exactly
    /// the declared fields, with their checks.
    #[test]
    fn the_openapi_document_describes_the_custom_fields_of_the_table() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../admin/openapi.json")).unwrap();
        let declared: serde_json::Map<String, serde_json::Value> = specs()
            .iter()
            .map(|f| (f.name.to_owned(), f.json_schema.clone()))
            .collect();
        let mut found = 0;
        let mut stack = vec![&doc];
        while let Some(value) = stack.pop() {
            if let Some(object) = value.as_object() {
                if let Some(properties) = object.get("custom").and_then(|c| c.get("properties")) {
                    assert_eq!(properties.as_object(), Some(&declared));
                    found += 1;
                }
                stack.extend(object.values());
            } else if let Some(array) = value.as_array() {
                stack.extend(array);
            }
        }
        assert!(found > 0, "openapi.json describes `custom` somewhere");
    }
}
