//! `maxEscalationRetries`: when a transfer fails, the bot is sent
//! `__agent_escalation_failed__` so it can tell the consumer or try
//! something else; at most this many times per conversation, which stops a
//! bot that escalates again on every failure from looping for ever. After
//! that, the consumer is told that a transfer is not possible now.

/// What the bot hears when a transfer it asked for failed.
pub const ESCALATION_FAILED: &str = "__agent_escalation_failed__";

/// What the consumer reads once the bot has heard of enough failures.
pub const TRANSFER_IMPOSSIBLE: &str =
    "Sorry, a transfer is not possible right now. Please try again later.";

/// Failed transfers the bot has been told about, in one conversation.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EscalationFailures {
    told: u32,
}

impl EscalationFailures {
    /// Counts a failure the bot may still hear about; false once `max` were told.
    pub fn try_count(&mut self, max: u32) -> bool {
        if self.told < max {
            self.told += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_hears_of_at_most_max_failures() {
        let mut failures = EscalationFailures::default();
        let told: Vec<bool> = (0..4).map(|_| failures.try_count(2)).collect();
        assert_eq!(told, [true, true, false, false]);
    }
}
