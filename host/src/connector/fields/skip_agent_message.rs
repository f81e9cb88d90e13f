//! `skipAgentMessage`: when a conversation arrives with a history (a
//! transfer in), the bot first sees the last utterance in it, whoever sent
//! it; with `true`, agent utterances are skipped and the bot sees the last
//! consumer utterance. Consumer messages after the last agent utterance are
//! all handed on (they are what the consumer said that nobody answered).
//!
//! That rule is for transfers from another skill or bot. A conversation
//! whose last agent utterance is the bot's own (another connector of the
//! same bot left it: a stop, a crash, a lost connection) is a failover, not
//! a transfer: it resumes where it was, so the bot gets only the consumer
//! messages it has not answered and never its own last answer.
//!
//! A human agent's private note and the platform's automatic (CONTROLLER)
//! messages are no utterances: the history never holds them (see
//! `ports::PastEvent`), so the bot is never handed one.

use lp::messaging::{Event, Message};

use crate::ports::PastEvent;

/// What the bot sees first in a conversation that arrived with a history.
#[derive(Debug, PartialEq)]
pub enum FirstTurn {
    /// No utterance in the history: the greeting applies.
    Nothing,
    /// These consumer messages (sequence, event), handled like live ones.
    Consumer(Vec<(u64, Event)>),
    /// This agent utterance, sent to the bot as it is.
    Agent(String),
    /// The bot itself spoke last (failover): nothing to send, no greeting.
    Resume,
}

/// What was said in `event`, if it is an utterance (text or a file, whose
/// text is empty); receipts and chat states are not.
fn utterance(event: &Event) -> Option<String> {
    match event {
        Event::Content(content) => Some(match &content.message {
            Message::Text(text) => text.clone(),
            _ => String::new(),
        }),
        _ => None,
    }
}

/// The first turn for a conversation with history `events`.
pub fn first_turn(events: &[PastEvent], skip_agent_message: bool) -> FirstTurn {
    let utterances: Vec<&PastEvent> = events
        .iter()
        .filter(|e| utterance(&e.event).is_some())
        .collect();
    let Some(last) = utterances.last() else {
        return FirstTurn::Nothing;
    };
    if last.from_consumer {
        let unanswered = utterances
            .iter()
            .rev()
            .take_while(|e| e.from_consumer)
            .map(|e| (e.sequence, e.event.clone()))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return FirstTurn::Consumer(unanswered);
    }
    if last.from_this_bot {
        return FirstTurn::Resume;
    }
    if !skip_agent_message {
        return FirstTurn::Agent(utterance(&last.event).unwrap_or_default());
    }
    match utterances.iter().rev().find(|e| e.from_consumer) {
        Some(consumer) => FirstTurn::Consumer(vec![(consumer.sequence, consumer.event.clone())]),
        None => FirstTurn::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lp::messaging::ContentEvent;

    fn said(sequence: u64, from_consumer: bool, text: &str) -> PastEvent {
        PastEvent {
            sequence,
            from_consumer,
            from_this_bot: false,
            event: Event::Content(ContentEvent::text(text)),
        }
    }

    #[test]
    fn the_bot_sees_the_last_utterance_or_with_skip_the_last_consumer_one() {
        let history = [
            said(1, true, "billing please"),
            said(2, false, "Transferring you to billing"),
        ];
        assert_eq!(
            first_turn(&history, false),
            FirstTurn::Agent("Transferring you to billing".into())
        );
        let FirstTurn::Consumer(messages) = first_turn(&history, true) else {
            panic!()
        };
        assert_eq!(utterance(&messages[0].1).as_deref(), Some("billing please"));
    }

    #[test]
    fn unanswered_consumer_messages_are_all_handed_on() {
        let history = [
            said(1, false, "hello"),
            said(2, true, "a"),
            said(3, true, "b"),
        ];
        let FirstTurn::Consumer(messages) = first_turn(&history, false) else {
            panic!()
        };
        assert_eq!(messages.iter().map(|m| m.0).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(first_turn(&[], false), FirstTurn::Nothing);
    }

    fn bot_said(sequence: u64, text: &str) -> PastEvent {
        PastEvent {
            from_this_bot: true,
            ..said(sequence, false, text)
        }
    }

    #[test]
    fn a_failover_resumes_without_feeding_the_bot_its_own_answer() {
        let silent = [said(1, true, "four"), bot_said(2, "You said: four")];
        for skip in [false, true] {
            assert_eq!(first_turn(&silent, skip), FirstTurn::Resume);
        }
        let in_flight = [
            said(1, true, "four"),
            bot_said(2, "You said: four"),
            said(3, true, "five"),
            said(4, true, "six"),
        ];
        let FirstTurn::Consumer(messages) = first_turn(&in_flight, false) else {
            panic!()
        };
        assert_eq!(messages.iter().map(|m| m.0).collect::<Vec<_>>(), [3, 4]);
    }
}
