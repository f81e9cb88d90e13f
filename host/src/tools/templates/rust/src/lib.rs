//! {{name}}: a switchboard connector plugin.
//!
//! Define the hooks you need in the `#[switchboard_sdk::plugin]` block; the
//! attribute lists them for the gateway and gives the others their
//! defaults. A method named `on_*` that is no hook does not compile.

use switchboard_sdk::{ConsumerAction, Conversation, Message, Plugin, host};

/// The plugin type; every hook is an associated function.
pub struct {{type}};

#[switchboard_sdk::plugin]
impl Plugin for {{type}} {
    fn on_consumer_message(_conv: &Conversation, text: String) -> ConsumerAction {
        answer(&text, host::setting)
    }
}

/// A consumer message on its way to the bot: "ping" is answered here (the
/// `pong` setting, "pong" without it) and the bot never sees it; anything
/// else goes on unchanged. Apart from the host, so `cargo test` runs it.
pub fn answer(text: &str, setting: impl Fn(&str) -> Option<String>) -> ConsumerAction {
    if text.trim().eq_ignore_ascii_case("ping") {
        let pong = setting("pong").unwrap_or_else(|| "pong".into());
        return ConsumerAction::Reply(vec![Message::text(pong)]);
    }
    ConsumerAction::Forward
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::Content;

    use super::*;

    fn settings(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn ping_is_answered_with_the_pong_setting_and_the_bot_is_not_asked() {
        let ConsumerAction::Reply(messages) = answer(" Ping ", settings(&[("pong", "PONG!")]))
        else {
            panic!("ping is answered here");
        };
        assert_eq!(messages.len(), 1);
        assert!(matches!(&messages[0].body, Content::Text(text) if text == "PONG!"));
    }

    #[test]
    fn anything_else_goes_to_the_bot_unchanged() {
        assert!(matches!(
            answer("hello", settings(&[])),
            ConsumerAction::Forward
        ));
    }
}
