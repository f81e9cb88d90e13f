//! `messageResendMaxRetries` and `retryMessageInterval`: if the bot gives
//! no response to a consumer message (an empty answer or an error), the
//! message is sent again after the interval, up to this many times. A new
//! consumer message, an answer, or a transfer ends the resends.

use std::time::Duration;

use tokio::time::Instant;

use crate::ports::BotTurn;

/// The resends of the last forwarded message.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Resends {
    /// Boxed: every conversation's state holds one, armed or not.
    turn: Option<Box<BotTurn>>,
    left: u32,
    #[serde(with = "crate::connector::saved::wall_clock")]
    due: Option<Instant>,
}

impl Resends {
    /// A new message was forwarded: it may be resent `max` times.
    pub fn arm(&mut self, turn: &BotTurn, max: u32) {
        self.turn = Some(Box::new(turn.clone()));
        self.left = max;
        self.due = None;
    }

    /// The bot gave no response to `turn` at `now`: schedule a resend if any are left.
    pub fn no_response(&mut self, turn: &BotTurn, now: Instant, interval: Duration) {
        if self.turn.as_deref() == Some(turn) && self.left > 0 {
            self.due = Some(now + interval);
        }
    }

    /// When the next resend is due.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The turn to resend now, counting it.
    pub fn take_due(&mut self) -> Option<BotTurn> {
        self.due = None;
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.turn.as_deref().cloned()
    }

    /// The bot answered, or the conversation moved on.
    pub fn clear(&mut self) {
        *self = Resends::default();
    }

    /// The consumer wrote again: the previous message is no longer worth
    /// resending, even while the new one still waits out its messageDelay
    /// window (longer than the resend interval, perhaps).
    pub fn consumer_wrote(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::TurnKind;

    #[tokio::test(start_paused = true)]
    async fn a_silent_bot_gets_the_message_again_at_the_interval_max_times() {
        let turn = BotTurn {
            conversation_id: "c".into(),
            consumer_id: "x".into(),
            text: "hello".into(),
            kind: TurnKind::Message,
            engagement: None,
        };
        let mut resends = Resends::default();
        resends.arm(&turn, 2);
        let interval = Duration::from_secs(30);
        let mut sent = 0;
        let now = Instant::now();
        for _ in 0..5 {
            resends.no_response(&turn, now, interval);
            if resends.due() == Some(now + interval) && resends.take_due().is_some() {
                sent += 1;
            }
        }
        assert_eq!(sent, 2);
        assert_eq!(resends.due(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_consumer_message_ends_the_resends_of_the_previous_one() {
        let turn = BotTurn {
            conversation_id: "c".into(),
            consumer_id: "x".into(),
            text: "one".into(),
            kind: TurnKind::Message,
            engagement: None,
        };
        let mut resends = Resends::default();
        resends.arm(&turn, 3);
        resends.no_response(&turn, Instant::now(), Duration::from_secs(1));
        assert!(resends.due().is_some());
        resends.consumer_wrote();
        assert_eq!(resends.due(), None);
        assert_eq!(resends.take_due(), None);
        // A late empty answer to the old turn arms nothing.
        resends.no_response(&turn, Instant::now(), Duration::from_secs(1));
        assert_eq!(resends.due(), None);
    }
}
