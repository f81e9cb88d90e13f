//! The platform's notifications, read once into `lp` types, turned into
//! the events a connector acts on: waiting rings, conversations it sees
//! appearing, changing and leaving, and what the consumers of its
//! conversations send (the rest of what is live, agents' events among it,
//! is read and dropped here);
//! and pages of a conversation's history, turned into its past events.

use std::collections::HashSet;

use lp::common::{ChangeType, Role};
use lp::conversations::{ConversationChange, ConversationState};
use lp::messaging::{EventRecord, MessageAudience};
use lp::routing::{RingState, RoutingTask};
use lp::{AgentClientFrame, AgentNotification, Frame};

use crate::ports::{PastEvent, PlatformEvent};

/// The events one frame from the platform carries (none for responses
/// and for frames that do not parse).
pub fn notification_events(text: &str, agent_id: &str) -> Vec<PlatformEvent> {
    match AgentClientFrame::parse(text) {
        Ok(Frame::Notification(notification)) => translate(notification, agent_id),
        _ => Vec::new(),
    }
}

/// Turns a notification into the events a connector acts on.
pub(super) fn translate(notification: AgentNotification, agent_id: &str) -> Vec<PlatformEvent> {
    match notification {
        AgentNotification::RoutingTask(tasks) => tasks
            .changes
            .into_iter()
            .filter(|change| change.change_type == ChangeType::Upsert)
            .flat_map(|change| rings(change.result))
            .collect(),
        AgentNotification::ExConversationChange(changes) => changes
            .changes
            .into_iter()
            .map(|change| conversation(change.change_type, change.result, agent_id))
            .collect(),
        AgentNotification::OnlineEvent(record) => consumer_event(record).into_iter().collect(),
        // Agent states and subscribed history are not what a bot connector
        // acts on: it reads history with `QueryMessages`.
        AgentNotification::AgentState(_) | AgentNotification::MessagingEvents(_) => Vec::new(),
    }
}

/// A routing task's rings waiting for an answer, and those that ended
/// without one (an accepted ring is followed by the conversation itself).
fn rings(task: RoutingTask) -> Vec<PlatformEvent> {
    let Some(conversation_id) = task.conversation_id else {
        return Vec::new();
    };
    let conversation_id = conversation_id.as_str();
    task.rings_details
        .into_iter()
        .filter_map(|ring| match ring.ring_state {
            RingState::Waiting => Some(PlatformEvent::Ring {
                ring_id: ring.ring_id.into(),
                conversation_id: conversation_id.to_owned(),
                skill_id: task.skill_id.clone().map(Into::into),
            }),
            RingState::Cancelled | RingState::Expired | RingState::Rejected => {
                Some(PlatformEvent::RingEnded {
                    ring_id: ring.ring_id.into(),
                    conversation_id: conversation_id.to_owned(),
                })
            }
            _ => None,
        })
        .collect()
}

fn conversation(change: ChangeType, result: ConversationChange, agent_id: &str) -> PlatformEvent {
    let conversation_id: String = result.conv_id.into();
    if change != ChangeType::Upsert {
        return PlatformEvent::ConversationGone { conversation_id };
    }
    // An UPSERT without details says nothing of the conversation but that
    // it changed: it is taken as not open and not this agent's.
    let Some(details) = result.conversation_details else {
        return PlatformEvent::ConversationUpsert {
            conversation_id,
            skill_id: None,
            consumer_id: String::new(),
            open: false,
            assigned_to_me: false,
        };
    };
    let consumer_id = details
        .participants
        .with_role(&Role::Consumer)
        .first()
        .map_or_else(String::new, |id| id.as_str().to_owned());
    PlatformEvent::ConversationUpsert {
        assigned_to_me: details.participants.has(&Role::AssignedAgent, agent_id),
        conversation_id,
        skill_id: details.skill_id.map(Into::into),
        consumer_id,
        open: details.state == ConversationState::Open,
    }
}

/// A live event, if the consumer sent it with a sequence: the agents' own
/// (the platform echoes what this connector publishes, two events a turn)
/// and chat states end here, not in the session's queue.
fn consumer_event(record: EventRecord) -> Option<PlatformEvent> {
    if record.role() != Some(&Role::Consumer) {
        return None;
    }
    let sequence = record.sequence?;
    // The MAIN dialog's id is the conversation's; a peer may name only the latter.
    let conversation_id = match (record.dialog_id.as_str(), record.conversation_id) {
        ("", Some(conversation)) => conversation.into(),
        _ => record.dialog_id.into(),
    };
    Some(PlatformEvent::ConsumerEvent {
        conversation_id,
        sequence,
        event: record.event,
    })
}

/// A page of history as past events; `bot_agents` are the account-qualified
/// ids of the bot's agent users. What the consumer never saw and nobody in
/// the conversation said is left out: private messages (`messageAudience`
/// `AGENTS_AND_MANAGERS`, a human agent's note to colleagues) and the
/// platform's own (`CONTROLLER`, automatic messages). Left in, either could
/// be the last utterance a transferred bot is handed (or pass for the bot
/// having spoken last); dropped here, the history holds only the exchange
/// between the consumer and its agents, whatever reads it.
pub(super) fn past_events(page: Vec<EventRecord>, bot_agents: &HashSet<String>) -> Vec<PastEvent> {
    page.into_iter()
        .filter(|record| {
            record.message_audience != Some(MessageAudience::AgentsAndManagers)
                && record.role() != Some(&Role::Controller)
        })
        .filter_map(|record| {
            let from_consumer = record.role() == Some(&Role::Consumer);
            let from_this_bot =
                !from_consumer && bot_agents.contains(record.originator_id.as_str());
            Some(PastEvent {
                sequence: record.sequence?,
                from_consumer,
                from_this_bot,
                event: record.event,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(kind: &str, body: &str) -> Vec<PlatformEvent> {
        let frame = format!(r#"{{"kind":"notification","type":"{kind}","body":{body}}}"#);
        notification_events(&frame, "123.456")
    }

    #[test]
    fn waiting_rings_become_ring_events_and_unanswered_ones_ring_ends() {
        let events = events_of(
            ".ams.routing.RoutingTaskNotification",
            r#"{"subscriptionId": "s", "changes": [{"type": "UPSERT", "result": {
            "routingTaskId": "rt1", "conversationId": "c1", "consumerId": "cons-1", "skillId": "1",
            "ringsDetails": [{"ringId": "c1_456_1", "ringState": "WAITING"}, {"ringId": "old", "ringState": "EXPIRED"},
                {"ringId": "gone", "ringState": "CANCELLED"}, {"ringId": "mine", "ringState": "ACCEPTED"}]}}]}"#,
        );
        let ended = |ring_id: &str| PlatformEvent::RingEnded {
            ring_id: ring_id.into(),
            conversation_id: "c1".into(),
        };
        assert_eq!(
            events,
            vec![
                PlatformEvent::Ring {
                    ring_id: "c1_456_1".into(),
                    conversation_id: "c1".into(),
                    skill_id: Some("1".into())
                },
                ended("old"),
                ended("gone"),
            ]
        );
    }

    #[test]
    fn conversation_changes_name_the_assigned_agent() {
        let events = events_of(
            ".ams.aam.ExConversationChangeNotification",
            r#"{"changes": [
            {"type": "UPSERT", "result": {"convId": "c1", "conversationDetails": {"skillId": "1", "state": "OPEN",
                "participants": {"CONSUMER": ["cons-1"], "ASSIGNED_AGENT": ["123.456"]}}}},
            {"type": "DELETE", "result": {"convId": "c2"}}]}"#,
        );
        assert_eq!(
            events[0],
            PlatformEvent::ConversationUpsert {
                conversation_id: "c1".into(),
                skill_id: Some("1".into()),
                consumer_id: "cons-1".into(),
                open: true,
                assigned_to_me: true,
            }
        );
        assert_eq!(
            events[1],
            PlatformEvent::ConversationGone {
                conversation_id: "c2".into()
            }
        );
    }

    #[test]
    fn one_change_that_does_not_read_costs_only_itself() {
        // A ring whose weight is a fraction and one without a state, beside
        // a good ring; a change without a state beside a good change.
        let rings = events_of(
            ".ams.routing.RoutingTaskNotification",
            r#"{"changes": [{"type": "UPSERT", "result": {"conversationId": "c1", "ringsDetails": [
                {"ringId": "r1", "ringState": "WAITING", "weight": 0.5},
                {"ringId": "r2"},
                {"ringId": "r3", "ringState": "WAITING"}]}}]}"#,
        );
        let ids: Vec<&str> = rings
            .iter()
            .map(|e| match e {
                PlatformEvent::Ring { ring_id, .. } => ring_id.as_str(),
                other => panic!("a ring: {other:?}"),
            })
            .collect();
        assert_eq!(ids, ["r1", "r3"]);
        let changes = events_of(
            ".ams.aam.ExConversationChangeNotification",
            r#"{"changes": [
            {"type": "UPSERT", "result": {"convId": "c1", "conversationDetails": {"participants": {}}}},
            {"type": "UPSERT", "result": {"convId": "c2", "conversationDetails": {"state": "OPEN",
                "participantsPId": "not a map", "participants": {"CONSUMER": ["x"]}}}},
            {"type": "UPSERT", "result": {"convId": "c3"}}]}"#,
        );
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(
            matches!(&changes[0], PlatformEvent::ConversationUpsert { conversation_id, open: true, .. } if conversation_id == "c2")
        );
        assert!(
            matches!(&changes[1], PlatformEvent::ConversationUpsert { conversation_id, open: false, .. } if conversation_id == "c3")
        );
    }

    #[test]
    fn a_live_event_naming_only_its_conversation_is_read() {
        let events = events_of(
            ".ams.ms.OnlineEventDistribution",
            r#"{"conversationId": "c9", "sequence": 2,
            "originatorMetadata": {"id": "cons-1", "role": "CONSUMER"},
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}}"#,
        );
        assert!(
            matches!(&events[..], [PlatformEvent::ConsumerEvent { conversation_id, .. }] if conversation_id == "c9"),
            "{events:?}"
        );
    }

    #[test]
    fn live_events_of_agents_and_chat_states_are_not_passed_on() {
        // The platform's echo of what this connector published.
        let echo = events_of(
            ".ams.ms.OnlineEventDistribution",
            r#"{"dialogId": "c1", "sequence": 5, "originatorId": "123.bot",
            "originatorMetadata": {"id": "pid-bot", "role": "ASSIGNED_AGENT"},
            "event": {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [4]}}"#,
        );
        assert!(echo.is_empty(), "{echo:?}");
        let typing = events_of(
            ".ams.ms.OnlineEventDistribution",
            r#"{"dialogId": "c1", "originatorId": "123.cons-1",
            "originatorMetadata": {"id": "cons-1", "role": "CONSUMER"},
            "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}}"#,
        );
        assert!(typing.is_empty(), "{typing:?}");
    }

    #[test]
    fn a_live_consumer_event_carries_its_sequence_and_typed_event() {
        let events = events_of(
            ".ams.ms.OnlineEventDistribution",
            r#"{"dialogId": "c1", "sequence": 4, "originatorId": "123.cons-1",
            "originatorMetadata": {"id": "cons-1", "role": "CONSUMER"}, "serverTimestamp": 1,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}}"#,
        );
        let [
            PlatformEvent::ConsumerEvent {
                conversation_id,
                sequence,
                event,
            },
        ] = events.as_slice()
        else {
            panic!("one event: {events:?}")
        };
        assert_eq!((conversation_id.as_str(), *sequence), ("c1", 4));
        let lp::messaging::Event::Content(content) = event else {
            panic!("a ContentEvent")
        };
        assert_eq!(content.as_text(), Some("hi"));
    }

    #[test]
    fn history_leaves_out_private_messages_and_the_platform_s_own() {
        let page: Vec<EventRecord> = serde_json::from_str(
            r#"[
            {"sequence": 0, "dialogId": "c1", "originatorId": "123.cons-1",
             "originatorMetadata": {"id": "cons-1", "role": "CONSUMER"},
             "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "billing please"}},
            {"sequence": 1, "dialogId": "c1", "originatorId": "123.bot",
             "originatorMetadata": {"id": "pid-bot", "role": "ASSIGNED_AGENT"},
             "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "one moment"}},
            {"sequence": 2, "dialogId": "c1", "originatorId": "123.human", "messageAudience": "AGENTS_AND_MANAGERS",
             "originatorMetadata": {"id": "pid-human", "role": "ASSIGNED_AGENT"},
             "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "angry customer"}},
            {"sequence": 3, "dialogId": "c1", "originatorId": "123.system",
             "originatorMetadata": {"id": "system", "role": "CONTROLLER"},
             "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "Transferred to billing"}},
            {"sequence": 4, "dialogId": "c1", "originatorId": "123.human", "messageAudience": "ALL",
             "originatorMetadata": {"id": "pid-human", "role": "ASSIGNED_AGENT"},
             "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}}]"#,
        )
        .unwrap();
        let bot = HashSet::from(["123.bot".to_owned()]);
        let past = past_events(page, &bot);
        let kept: Vec<(u64, bool, bool)> = past
            .iter()
            .map(|e| (e.sequence, e.from_consumer, e.from_this_bot))
            .collect();
        assert_eq!(
            kept,
            [(0, true, false), (1, false, true), (4, false, false)]
        );
    }
}
