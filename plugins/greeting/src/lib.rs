//! The greeting plugin: decides the text sent to the bot when a conversation
//! reaches the connector and the consumer has been silent for 3 s.
//!
//! Settings (all optional, in the connector's `[[plugins]]` entry):
//! - `text`: replaces `defaultGreetingMessage`;
//! - `authenticated`: used instead when the consumer is authenticated;
//! - `skill.<id>`: used instead for conversations routed to skill `<id>`
//!   (after a transfer, say);
//! - `silent = "true"`: send no greeting at all.
//!
//! The most specific applies: authenticated, then skill, then text, then the
//! greeting the host passed in (defaultGreetingMessage).

use switchboard_sdk::{Conversation, Plugin, host};

/// The plugin type.
pub struct Greeting;

#[switchboard_sdk::plugin]
impl Plugin for Greeting {
    fn on_conversation_start(conv: &Conversation, greeting: String) -> Option<String> {
        choose(
            conv.authenticated,
            conv.skill_id.as_deref(),
            greeting,
            host::setting,
        )
    }
}

/// The greeting rule, apart from the host so it can be tested natively.
pub fn choose(
    authenticated: bool,
    skill: Option<&str>,
    greeting: String,
    setting: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if setting("silent").as_deref() == Some("true") {
        return None;
    }
    if authenticated && let Some(text) = setting("authenticated") {
        return Some(text);
    }
    if let Some(text) = skill.and_then(|skill| setting(&format!("skill.{skill}"))) {
        return Some(text);
    }
    Some(setting("text").unwrap_or(greeting))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn default_greeting_passes_through_without_settings() {
        assert_eq!(
            choose(false, None, "hi".into(), settings(&[])),
            Some("hi".into())
        );
    }

    #[test]
    fn authenticated_variant_wins_over_skill_and_text() {
        let s = settings(&[
            ("authenticated", "welcome back"),
            ("skill.7", "sk"),
            ("text", "t"),
        ]);
        assert_eq!(
            choose(true, Some("7"), "hi".into(), &s),
            Some("welcome back".into())
        );
        assert_eq!(choose(false, Some("7"), "hi".into(), &s), Some("sk".into()));
        assert_eq!(choose(false, Some("8"), "hi".into(), &s), Some("t".into()));
    }

    #[test]
    fn silent_sends_nothing() {
        assert_eq!(
            choose(false, None, "hi".into(), settings(&[("silent", "true")])),
            None
        );
    }
}
