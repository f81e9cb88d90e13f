//! What a conversation keeps in the state store so that a crash loses
//! nothing: who and where (participants, authentication, skill), the
//! messageDelay window, turns not yet sent to the bot, the one in flight,
//! the resend and escalation counters, and the newest consumer sequence
//! handled.
//!
//! Deadlines are saved as wall-clock milliseconds (an `Instant` means
//! nothing to another process) and turned back into `Instant`s on restore.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::fields::fallback_escalation_time::EscalationClock;
use super::fields::max_escalation_retries::EscalationFailures;
use super::fields::message_delay::MessageDelay;
use super::fields::message_resend_max_retries::Resends;
use crate::ports::BotTurn;

/// A conversation's durable state. The conversation task writes it after
/// every step, and makes it durable before each bot call, so that after a
/// crash a turn is either unsent (and sent once) or was sent (and is never
/// sent again).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SavedConversation {
    /// The consumer participant.
    pub consumer_id: String,
    /// True once the consumer stepped up.
    pub authenticated: bool,
    /// The skill the conversation is routed to.
    pub skill_id: Option<String>,
    /// The newest consumer sequence handled; `None` until one is.
    /// LivePerson numbers a dialog's events from 0, so 0 is a sequence
    /// like any other, not "none".
    #[serde(default)]
    pub newest_handled: Option<u64>,
    /// The field the first format kept instead (see [`Self::upgraded`]).
    #[serde(default, rename = "last_sequence", skip_serializing)]
    legacy_last_sequence: u64,
    /// The messageDelay window.
    pub delay: MessageDelay,
    /// When the greeting is due, if not sent yet.
    #[serde(with = "wall_clock")]
    pub greet_at: Option<tokio::time::Instant>,
    /// Turns waiting behind the bot call in flight.
    pub queued: VecDeque<BotTurn>,
    /// The turn the bot was asked and has not answered (boxed, as the
    /// state of every idle conversation holds the room for it).
    pub in_flight: Option<Box<BotTurn>>,
    /// messageResendMaxRetries state.
    pub resends: Resends,
    /// fallbackEscalationTime state.
    pub escalation: EscalationClock,
    /// maxEscalationRetries state.
    pub escalation_failures: EscalationFailures,
}

impl SavedConversation {
    /// The state as this version keeps it. The first format saved
    /// `last_sequence`, with 0 for "none"; its dedupe skipped every
    /// sequence up to it, so a saved 0 never stood for a handled event 0:
    /// it reads as none handled, and any other value as that one.
    pub fn upgraded(mut self) -> Self {
        if self.newest_handled.is_none() && self.legacy_last_sequence > 0 {
            self.newest_handled = Some(self.legacy_last_sequence);
        }
        self.legacy_last_sequence = 0;
        self
    }
}

/// `Option<Instant>` as wall-clock milliseconds since the Unix epoch.
pub mod wall_clock {
    use super::*;
    use tokio::time::Instant;

    /// Saves a deadline as the wall-clock time it falls on.
    pub fn serialize<S: serde::Serializer>(
        at: &Option<Instant>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        at.map(|at| {
            let now = Instant::now();
            let wall = crate::clock::now_ms();
            if at >= now {
                wall.saturating_add(millis(at - now))
            } else {
                wall.saturating_sub(millis(now - at))
            }
        })
        .serialize(serializer)
    }

    /// Restores a deadline; one that passed while the process was down is due now.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Instant>, D::Error> {
        let wall: Option<u64> = Option::deserialize(deserializer)?;
        Ok(wall.map(|wall| {
            let ahead = wall.saturating_sub(crate::clock::now_ms());
            Instant::now() + Duration::from_millis(ahead)
        }))
    }

    fn millis(d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::TurnKind;
    use tokio::time::Instant;

    #[tokio::test]
    async fn a_saved_conversation_reads_back_with_its_window_and_turns() {
        let mut saved = SavedConversation {
            consumer_id: "consumer".into(),
            newest_handled: Some(7),
            ..Default::default()
        };
        saved
            .delay
            .push(Instant::now(), Duration::from_secs(2), 7, "hello".into());
        saved.queued.push_back(BotTurn {
            conversation_id: "c".into(),
            consumer_id: "consumer".into(),
            text: "queued".into(),
            kind: TurnKind::Message,
            engagement: None,
        });
        let bytes = serde_json::to_vec(&saved).unwrap();
        let back: SavedConversation = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.newest_handled, Some(7));
        assert_eq!(back.queued, saved.queued);
        let due = back.delay.due().expect("the window is still open");
        let left = due.saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_millis(1500) && left <= Duration::from_secs(2),
            "the window keeps its deadline across a save: {left:?}"
        );
        assert_eq!(back.delay.sequences(), [7]);
    }

    #[test]
    fn a_handled_event_0_reads_back_as_handled() {
        let saved = SavedConversation {
            newest_handled: Some(0),
            ..Default::default()
        };
        let bytes = serde_json::to_vec(&saved).unwrap();
        let back: SavedConversation = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.upgraded().newest_handled, Some(0));
    }

    #[test]
    fn state_saved_by_the_first_format_reads_with_its_newest_sequence() {
        // A state of the first format: `last_sequence` where
        // `newest_handled` is now.
        let first_format = |last_sequence: u64| {
            let mut json = serde_json::to_value(SavedConversation::default()).unwrap();
            let fields = json.as_object_mut().unwrap();
            fields.remove("newest_handled");
            fields.insert("last_sequence".into(), last_sequence.into());
            let saved: SavedConversation = serde_json::from_value(json).unwrap();
            saved.upgraded().newest_handled
        };
        // Its 0 meant nothing was handled (it skipped event 0).
        assert_eq!(first_format(0), None);
        assert_eq!(first_format(5), Some(5));
    }
}
