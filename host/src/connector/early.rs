//! Consumer events of conversations the session does not know yet, kept
//! for the conversation's arrival: the platform does not promise to send a
//! conversation's UPSERT before its first events.
//!
//! What no arrival claims is dropped once [`PATIENCE`] old, at the next
//! look (at least once a [`PATIENCE`], and whenever the waiting have
//! doubled): events of a conversation that left this agent (a late event
//! after its DELETE) or never came would otherwise be kept for the
//! session's whole life, which can be weeks. Nothing is lost by it: a
//! conversation that comes later reads from its history what nobody
//! answered (unless its history cannot be read). A conversation's age
//! counts from its first waiting event, so a look may drop newer events
//! beside old ones: its history has them too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lp::messaging::Event;

/// How long events wait for their conversation.
const PATIENCE: Duration = Duration::from_secs(60);

/// Expired entries are looked for once a [`PATIENCE`], and sooner once
/// this many conversations wait (then at twice the count left), so keeping
/// an event stays cheap.
const SWEEP_FLOOR: usize = 64;

/// Events waiting for their conversation, in the order they came.
pub(super) struct Early {
    waiting: HashMap<String, (Instant, Vec<(u64, Event)>)>,
    sweep_at: usize,
    next_sweep: Instant,
}

impl Default for Early {
    fn default() -> Self {
        Early {
            waiting: HashMap::new(),
            sweep_at: SWEEP_FLOOR,
            next_sweep: Instant::now() + PATIENCE,
        }
    }
}

impl Early {
    /// Keeps event `sequence` of `conversation_id`, which came at `now`.
    pub(super) fn keep(
        &mut self,
        conversation_id: String,
        sequence: u64,
        event: Event,
        now: Instant,
    ) {
        if self.waiting.len() >= self.sweep_at || now >= self.next_sweep {
            self.waiting
                .retain(|_, (first, _)| now.saturating_duration_since(*first) < PATIENCE);
            self.sweep_at = (self.waiting.len() * 2).max(SWEEP_FLOOR);
            self.next_sweep = now + PATIENCE;
        }
        self.waiting
            .entry(conversation_id)
            .or_insert_with(|| (now, Vec::new()))
            .1
            .push((sequence, event));
    }

    /// The events kept for `conversation_id`, which has come (or will not:
    /// it closed); none are kept after.
    pub(super) fn take(&mut self, conversation_id: &str) -> Vec<(u64, Event)> {
        self.waiting
            .remove(conversation_id)
            .map(|(_, events)| events)
            .unwrap_or_default()
    }

    /// How many conversations have events waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use lp::messaging::ContentEvent;

    use super::*;

    fn text(t: &str) -> Event {
        Event::Content(ContentEvent::text(t))
    }

    #[test]
    fn events_wait_for_their_conversation_in_order_and_are_handed_over_once() {
        let mut early = Early::default();
        let now = Instant::now();
        early.keep("c1".into(), 4, text("a"), now);
        early.keep("c1".into(), 5, text("b"), now);
        let sequences: Vec<u64> = early.take("c1").iter().map(|(s, _)| *s).collect();
        assert_eq!(sequences, [4, 5]);
        assert!(early.take("c1").is_empty());
    }

    #[test]
    fn a_few_unclaimed_events_are_dropped_too_within_two_patiences() {
        let mut early = Early::default();
        let start = Instant::now();
        early.keep("gone".into(), 1, text("late"), start);
        early.keep("other".into(), 1, text("hi"), start + PATIENCE * 2);
        assert!(early.take("gone").is_empty(), "kept past its patience");
        assert_eq!(early.take("other").len(), 1);
    }

    #[test]
    fn events_no_conversation_claimed_within_the_patience_are_dropped() {
        let mut early = Early::default();
        let start = Instant::now();
        early.keep("gone".into(), 1, text("late"), start);
        let later = start + PATIENCE + Duration::from_secs(1);
        for n in 0..SWEEP_FLOOR {
            early.keep(format!("c{n}"), 0, text("hi"), later);
        }
        assert!(early.take("gone").is_empty(), "kept past its patience");
        assert_eq!(early.len(), SWEEP_FLOOR, "the fresh ones wait");
        // Within the patience nothing is dropped, however many wait.
        let soon = later + PATIENCE / 2;
        for n in 0..SWEEP_FLOOR * 3 {
            early.keep(format!("d{n}"), 0, text("hi"), soon);
        }
        assert_eq!(early.len(), SWEEP_FLOOR * 4);
    }
}
