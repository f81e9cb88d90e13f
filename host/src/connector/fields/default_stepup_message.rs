//! `defaultStepupMessage`: when the consumer passes step-up authentication
//! (the platform replaces the CONSUMER participant with an authenticated
//! one), this text (then the step-up hooks) is sent to the bot. A consumer
//! message equal to it is ignored: it is the step-up signal, not words.

use crate::config::CustomFields;

/// True if consumer `text` is the step-up signal itself.
pub fn is_step_up_echo(text: &str, custom: &CustomFields) -> bool {
    text == custom.default_stepup_message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_text_equal_to_the_step_up_message_is_ignored() {
        let custom = CustomFields::default();
        assert!(is_step_up_echo("_STEPUP_", &custom));
        assert!(!is_step_up_echo("_stepup_ please", &custom));
    }
}
