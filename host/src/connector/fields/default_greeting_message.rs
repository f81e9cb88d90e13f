//! `defaultGreetingMessage`: when a new conversation reaches the connector
//! and no consumer message arrives within 3 s, the greeting (this field,
//! then the greeting hooks) is sent to the bot to wake it.
//!
//! "New" means the connector accepted a ring for it in this session (a new
//! conversation or a transfer in). Conversations the platform replays to a
//! connector that has just (re)started come without a ring, so they are not
//! greeted again.

use std::time::Duration;

use tokio::time::Instant;

/// How long the consumer may stay silent before the greeting goes out.
pub const GREETING_SILENCE: Duration = Duration::from_secs(3);

/// When to greet a conversation that arrived `now`; `None` if it is replayed.
pub fn greeting_due(now: Instant, rung_in_this_session: bool) -> Option<Instant> {
    rung_in_this_session.then(|| now + GREETING_SILENCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn greeting_waits_three_seconds_and_skips_replayed_conversations() {
        let now = Instant::now();
        assert_eq!(greeting_due(now, true), Some(now + Duration::from_secs(3)));
        assert_eq!(greeting_due(now, false), None);
    }
}
