//! What agents and consumers are told when a conversation changes
//! (`ExConversationChangeNotification` on both sides, ring notifications),
//! and the snapshot a new conversation subscription gets at once.

use std::collections::BTreeMap;

use lp::common::{Change, ChannelType, ParticipantId, Role};
use lp::conversations::{
    ConversationChange, ConversationDetails, ConversationState, Dialog, DialogType,
    ExConversationChangeNotification, Participant, ParticipantDetail, ParticipantState,
    Participants,
};
use lp::routing::{Ring, RingState, RoutingTask, RoutingTaskNotification};

use super::{Conversation, HubState};
use crate::clock::now_ms;

/// The agent side says a conversation has no time to response set.
const NO_TTR: i64 = -1;

impl Conversation {
    /// OPEN or CLOSE, as both sides are told.
    pub fn state(&self) -> ConversationState {
        if self.open {
            ConversationState::Open
        } else {
            ConversationState::Close
        }
    }
}

impl HubState {
    /// The agent-side view of a conversation (`ExConversationChangeNotification`).
    pub(super) fn agent_details(&self, conv: &Conversation) -> ConversationDetails {
        let consumer = ParticipantId::from(conv.consumer_id.as_str());
        let mut participants = BTreeMap::from([(Role::Consumer, vec![consumer.clone()])]);
        let mut pids = participants.clone();
        let mut details = vec![ParticipantDetail {
            id: consumer,
            role: Role::Consumer,
            state: Some(ParticipantState::Active),
        }];
        if let (Some(agent), Some(pid)) = (&conv.assigned, &conv.assigned_pid) {
            let agent = ParticipantId::from(agent.as_str());
            participants.insert(Role::AssignedAgent, vec![agent.clone()]);
            pids.insert(Role::AssignedAgent, vec![pid.as_str().into()]);
            details.push(ParticipantDetail {
                id: agent,
                role: Role::AssignedAgent,
                state: Some(ParticipantState::Active),
            });
        }
        ConversationDetails {
            participants: Participants::ByRole(participants),
            participants_pid: Some(pids),
            dialogs: vec![Dialog {
                participants_details: details,
                ..main_dialog(conv)
            }],
            ..self.details(conv)
        }
    }

    /// What both sides' views of a conversation share.
    fn details(&self, conv: &Conversation) -> ConversationDetails {
        ConversationDetails {
            skill_id: Some(conv.skill_id.as_str().into()),
            brand_id: Some(self.config.account.as_str().into()),
            state: conv.state(),
            stage: Some(conv.state()),
            start_ts: Some(conv.start_ts),
            participants: Participants::default(),
            participants_pid: None,
            dialogs: vec![main_dialog(conv)],
            close_reason: conv.close_reason.clone(),
            closed_by: None,
            ttr: conv.ttr.as_deref().cloned(),
        }
    }

    /// Tells every subscribed agent that should see `conv` about it; an agent
    /// that saw it before and should no longer gets a DELETE.
    pub(super) fn notify_agents(&self, conv_id: &str, previous_user: Option<&str>) {
        let Some(conv) = self.conversations.get(conv_id) else {
            return;
        };
        let details = self.agent_details(conv);
        for agent in self.agents.values() {
            let Some(subscription) = &agent.conversation_subscription else {
                continue;
            };
            let sees_now = subscription.sees(conv.assigned.as_deref());
            let change = if sees_now && subscription.wants(conv) {
                Change::upsert(agent_change(conv, details.clone()))
            } else if subscription.sees(previous_user) || sees_now {
                Change::delete(ConversationChange {
                    effective_ttr: None,
                    ..agent_change(conv, details.clone())
                })
            } else {
                continue;
            };
            let note = ExConversationChangeNotification {
                subscription_id: Some(subscription.id.as_str().into()),
                changes: vec![change],
            };
            Self::send(&agent.outbox, lp::Agent::notification(&note));
        }
    }

    /// The current conversations an agent subscription should see at once.
    pub fn snapshot_for(&self, conn: u64) {
        let Some(agent) = self.agents.get(&conn) else {
            return;
        };
        let Some(subscription) = &agent.conversation_subscription else {
            return;
        };
        let changes: Vec<_> = self
            .conversations
            .values()
            .filter(|c| subscription.sees(c.assigned.as_deref()) && subscription.wants(c))
            .map(|c| Change::upsert(agent_change(c, self.agent_details(c))))
            .collect();
        if !changes.is_empty() {
            let note = ExConversationChangeNotification {
                subscription_id: Some(subscription.id.as_str().into()),
                changes,
            };
            Self::send(&agent.outbox, lp::Agent::notification(&note));
        }
    }

    pub(super) fn send_ring(&self, conn: u64, conv_id: &str, ring_id: &str, state: RingState) {
        let (Some(agent), Some(conv)) = (self.agents.get(&conn), self.conversations.get(conv_id))
        else {
            return;
        };
        let Some(subscription) = &agent.routing_subscription else {
            return;
        };
        let expiration = self.config.ring_expiration.as_millis() as u64;
        let task = RoutingTask {
            routing_task_id: Some(format!("rt-{conv_id}")),
            conversation_id: Some(conv_id.into()),
            consumer_id: Some(conv.consumer_id.as_str().into()),
            skill_id: Some(conv.skill_id.as_str().into()),
            rings_details: vec![Ring {
                ring_id: ring_id.into(),
                ring_expiration: Some(expiration),
                ring_expiration_ts: Some(now_ms() + expiration),
                ring_state: state,
                weight: Some(1),
            }],
        };
        let note = RoutingTaskNotification {
            subscription_id: Some(subscription.as_str().into()),
            changes: vec![Change::upsert(task)],
        };
        Self::send(&agent.outbox, lp::Agent::notification(&note));
    }

    /// The consumer-side view of a conversation (`cqm.ExConversationChangeNotification`).
    pub(super) fn consumer_details(&self, conv: &Conversation) -> ConversationDetails {
        let mut participants = vec![Participant {
            id: conv.consumer_id.as_str().into(),
            role: Role::Consumer,
        }];
        if let Some(pid) = &conv.assigned_pid {
            participants.push(Participant {
                id: pid.as_str().into(),
                role: Role::AssignedAgent,
            });
        }
        ConversationDetails {
            participants: Participants::List(participants),
            closed_by: conv.close_reason.clone(),
            ..self.details(conv)
        }
    }

    /// Sends the conversation's state to its consumer's subscriptions.
    pub(super) fn notify_consumer(&self, conv_id: &str) {
        let Some(conv) = self.conversations.get(conv_id) else {
            return;
        };
        let change = Change::upsert(consumer_change(conv, self.consumer_details(conv)));
        let sockets = self.sockets_of(&conv.consumer_id);
        for consumer in sockets.iter().filter_map(|conn| self.consumers.get(conn)) {
            if let (Some(subscription), Some(outbox)) =
                (&consumer.conversation_subscription, &consumer.outbox)
            {
                let note = ExConversationChangeNotification {
                    subscription_id: Some(subscription.as_str().into()),
                    changes: vec![change.clone()],
                };
                Self::send(outbox, lp::Consumer::notification(&note));
            }
        }
    }

    /// Every conversation of the consumer on `conn`, for a new subscription.
    pub fn consumer_snapshot(&self, conn: u64) {
        let Some(consumer) = self.consumers.get(&conn) else {
            return;
        };
        let (Some(subscription), Some(outbox), Some(consumer_id)) = (
            &consumer.conversation_subscription,
            &consumer.outbox,
            &consumer.consumer_id,
        ) else {
            return;
        };
        let changes = self
            .conversations_of(consumer_id)
            .iter()
            .filter_map(|id| self.conversations.get(id))
            .map(|c| Change::upsert(consumer_change(c, self.consumer_details(c))))
            .collect();
        let note = ExConversationChangeNotification {
            subscription_id: Some(subscription.as_str().into()),
            changes,
        };
        Self::send(outbox, lp::Consumer::notification(&note));
    }

    /// Tells both sides about a conversation just opened.
    pub fn announce(&self, conv_id: &str) {
        self.notify_agents(conv_id, None);
        self.notify_consumer(conv_id);
    }
}

/// A conversation's MAIN dialog (its id is the conversation's).
fn main_dialog(conv: &Conversation) -> Dialog {
    Dialog {
        dialog_id: conv.id.as_str().into(),
        dialog_type: Some(DialogType::Main),
        channel_type: Some(ChannelType::Messaging),
        state: Some(conv.state()),
        participants_details: Vec::new(),
    }
}

/// An agent-side change: the conversation and its details.
fn agent_change(conv: &Conversation, details: ConversationDetails) -> ConversationChange {
    ConversationChange {
        conv_id: conv.id.as_str().into(),
        effective_ttr: Some(NO_TTR),
        conversation_details: Some(details),
    }
}

/// A consumer-side change: the consumer side is told no time to response.
fn consumer_change(conv: &Conversation, details: ConversationDetails) -> ConversationChange {
    ConversationChange {
        conv_id: conv.id.as_str().into(),
        effective_ttr: None,
        conversation_details: Some(details),
    }
}
