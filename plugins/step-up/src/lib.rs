//! The step-up plugin: decides the text sent to the bot when the consumer
//! passes step-up authentication mid-conversation.
//!
//! Settings (optional): `text` replaces `defaultStepupMessage`, and may name
//! the new consumer id as `{consumer}`; `silent = "true"` sends nothing.

use switchboard_sdk::{Conversation, Plugin, host};

/// The plugin type.
pub struct StepUp;

#[switchboard_sdk::plugin]
impl Plugin for StepUp {
    fn on_step_up(conv: &Conversation, text: String) -> Option<String> {
        choose(&conv.consumer_id, text, host::setting)
    }
}

/// The step-up rule, apart from the host so it can be tested natively.
pub fn choose(
    consumer_id: &str,
    text: String,
    setting: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if setting("silent").as_deref() == Some("true") {
        return None;
    }
    match setting("text") {
        Some(template) => Some(template.replace("{consumer}", consumer_id)),
        None => Some(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_stepup_message_passes_through() {
        assert_eq!(
            choose("c", "_STEPUP_".into(), |_| None),
            Some("_STEPUP_".into())
        );
    }

    #[test]
    fn text_setting_names_the_consumer() {
        let setting = |k: &str| (k == "text").then(|| "verified {consumer}".to_string());
        assert_eq!(
            choose("abc", "_STEPUP_".into(), setting),
            Some("verified abc".into())
        );
    }
}
