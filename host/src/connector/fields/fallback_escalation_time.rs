//! `fallbackEscalationTime` (with `fallback_skill_id`): after a consumer
//! message is forwarded, if the bot has not answered within this time, the
//! conversation is transferred to the fallback skill. The clock starts at
//! the first unanswered message (later ones do not push it back) and stops
//! when the bot answers anything. Chat connectors do not escalate on
//! silence (the field is messaging-only).

use std::time::Duration;

use tokio::time::Instant;

/// The escalation clock of one conversation.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EscalationClock {
    #[serde(with = "crate::connector::saved::wall_clock")]
    due: Option<Instant>,
}

impl EscalationClock {
    /// A message was forwarded at `now`; starts the clock if it is not running.
    pub fn start(&mut self, now: Instant, after: Duration) {
        self.due.get_or_insert(now + after);
    }

    /// The bot answered, or the conversation was transferred.
    pub fn stop(&mut self) {
        self.due = None;
    }

    /// When to escalate, if the clock runs.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_runs_from_the_first_unanswered_message() {
        let mut clock = EscalationClock::default();
        let start = Instant::now();
        clock.start(start, Duration::from_secs(180));
        clock.start(start + Duration::from_secs(60), Duration::from_secs(180));
        assert_eq!(clock.due(), Some(start + Duration::from_secs(180)));
        clock.stop();
        assert_eq!(clock.due(), None);
    }
}
