//! What agents and consumers are told when a conversation changes
//! (`ExConversationChangeNotification` on both sides, ring notifications),
//! and the snapshot a new conversation subscription gets at once.

use serde_json::{Value, json};

use super::{Conversation, HubState};
use crate::wire::{self, now_ms};

impl HubState {
    /// The agent-side view of a conversation (`ExConversationChangeNotification`).
    pub(super) fn agent_details(&self, conv: &Conversation) -> Value {
        let account = &self.config.account;
        let mut participants = json!({"CONSUMER": [conv.consumer_id]});
        let mut pids = json!({"CONSUMER": [conv.consumer_id]});
        let mut details =
            vec![json!({"id": conv.consumer_id, "role": "CONSUMER", "state": "ACTIVE"})];
        if let (Some(agent), Some(pid)) = (&conv.assigned, &conv.assigned_pid) {
            participants["ASSIGNED_AGENT"] = json!([agent]);
            pids["ASSIGNED_AGENT"] = json!([pid]);
            details.push(json!({"id": agent, "role": "ASSIGNED_AGENT", "state": "ACTIVE"}));
        }
        let state = if conv.open { "OPEN" } else { "CLOSE" };
        let mut result = json!({
            "skillId": conv.skill_id, "brandId": account, "state": state, "stage": state,
            "startTs": conv.start_ts, "participants": participants, "participantsPId": pids,
            "dialogs": [{"dialogId": conv.id, "dialogType": "MAIN", "channelType": "MESSAGING",
                         "state": state, "participantsDetails": details}],
        });
        if let Some(reason) = conv.close_reason {
            result["closeReason"] = json!(reason);
        }
        result
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
            let wants_state = subscription.wants(conv.open);
            let change = if sees_now && wants_state {
                json!({"type": "UPSERT", "result": {"convId": conv.id, "effectiveTTR": -1, "conversationDetails": details}})
            } else if subscription.sees(previous_user) || sees_now {
                json!({"type": "DELETE", "result": {"convId": conv.id, "conversationDetails": details}})
            } else {
                continue;
            };
            Self::send(
                &agent.outbox,
                wire::notification(
                    ".ams.aam.ExConversationChangeNotification",
                    json!({"subscriptionId": subscription.id, "changes": [change]}),
                ),
            );
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
        let changes: Vec<Value> = self
            .conversations
            .values()
            .filter(|c| subscription.sees(c.assigned.as_deref()) && subscription.wants(c.open))
            .map(|c| json!({"type": "UPSERT", "result": {"convId": c.id, "effectiveTTR": -1, "conversationDetails": self.agent_details(c)}}))
            .collect();
        if !changes.is_empty() {
            Self::send(
                &agent.outbox,
                wire::notification(
                    ".ams.aam.ExConversationChangeNotification",
                    json!({"subscriptionId": subscription.id, "changes": changes}),
                ),
            );
        }
    }

    pub(super) fn send_ring(&self, conn: u64, conv_id: &str, ring_id: &str, state: &str) {
        let (Some(agent), Some(conv)) = (self.agents.get(&conn), self.conversations.get(conv_id))
        else {
            return;
        };
        let Some(subscription) = &agent.routing_subscription else {
            return;
        };
        let expiration = self.config.ring_expiration.as_millis() as u64;
        let body = json!({"subscriptionId": subscription, "changes": [{"type": "UPSERT", "result": {
            "routingTaskId": format!("rt-{conv_id}"), "conversationId": conv_id,
            "consumerId": conv.consumer_id, "skillId": conv.skill_id,
            "ringsDetails": [{"ringId": ring_id, "ringExpiration": expiration,
                "ringExpirationTs": now_ms() + expiration, "ringState": state, "weight": 1}]}}]});
        Self::send(
            &agent.outbox,
            wire::notification(".ams.routing.RoutingTaskNotification", body),
        );
    }

    /// The consumer-side view of a conversation (`cqm.ExConversationChangeNotification`).
    pub(super) fn consumer_details(&self, conv: &Conversation) -> Value {
        let mut participants = vec![json!({"id": conv.consumer_id, "role": "CONSUMER"})];
        if let Some(pid) = &conv.assigned_pid {
            participants.push(json!({"id": pid, "role": "ASSIGNED_AGENT"}));
        }
        let state = if conv.open { "OPEN" } else { "CLOSE" };
        let mut details = json!({
            "skillId": conv.skill_id, "participants": participants, "brandId": self.config.account,
            "state": state, "stage": state, "startTs": conv.start_ts,
            "dialogs": [{"dialogId": conv.id, "dialogType": "MAIN", "channelType": "MESSAGING", "state": state}],
        });
        if let Some(reason) = conv.close_reason {
            details["closeReason"] = json!(reason);
            details["closedBy"] = json!(reason);
        }
        details
    }

    /// Sends the conversation's state to its consumer's subscriptions.
    pub(super) fn notify_consumer(&self, conv_id: &str) {
        let Some(conv) = self.conversations.get(conv_id) else {
            return;
        };
        let details = self.consumer_details(conv);
        for consumer in self.consumers.values() {
            if consumer.consumer_id.as_deref() != Some(conv.consumer_id.as_str()) {
                continue;
            }
            if let (Some(subscription), Some(outbox)) =
                (&consumer.conversation_subscription, &consumer.outbox)
            {
                Self::send(
                    outbox,
                    wire::notification(
                        "cqm.ExConversationChangeNotification",
                        json!({"subscriptionId": subscription, "changes": [
                            {"type": "UPSERT", "result": {"convId": conv.id, "conversationDetails": details}}]}),
                    ),
                );
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
        let changes: Vec<Value> = self
            .conversations
            .values()
            .filter(|c| &c.consumer_id == consumer_id)
            .map(|c| json!({"type": "UPSERT", "result": {"convId": c.id, "conversationDetails": self.consumer_details(c)}}))
            .collect();
        Self::send(
            outbox,
            wire::notification(
                "cqm.ExConversationChangeNotification",
                json!({"subscriptionId": subscription, "changes": changes}),
            ),
        );
    }

    /// Tells both sides about a conversation just opened.
    pub fn announce(&self, conv_id: &str) {
        self.notify_agents(conv_id, None);
        self.notify_consumer(conv_id);
    }
}
