//! Routing, on the agent side: an agent's availability (`SetAgentState`,
//! watched with `SubscribeAgentsState`), the rings that offer it
//! conversations (`SubscribeRoutingTasks` and its
//! `RoutingTaskNotification`), and its answer to a ring (`UpdateRingState`).

use serde::{Deserialize, Serialize};

use crate::common::{
    AgentId, BrandId, Change, ChannelType, ConversationId, ParticipantId, RingId, SkillId,
    SubscriptionId,
};

string_enum!(
    /// An agent's availability. Only ONLINE agents are offered new
    /// conversations; OCCUPIED ones take transfers only.
    pub enum Availability {
        /// Takes new conversations.
        Online = "ONLINE",
        /// Takes transfers only.
        Occupied = "OCCUPIED",
        /// Away: takes nothing new.
        Away = "AWAY",
        /// Logged out.
        Offline = "OFFLINE",
    }
);

/// `SetAgentState`: `{"availability":"ONLINE","channels":["MESSAGING"],"agentUserId":"123.456"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAgentState {
    /// The new availability.
    pub availability: Availability,
    /// The channels it applies to (the hub reads none as MESSAGING).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelType>,
    /// The agent (the requester when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_user_id: Option<AgentId>,
}

/// `SubscribeRoutingTasks`: rings for this agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeRoutingTasks {
    /// MESSAGING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    /// The agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
}

/// `RoutingTaskNotification`: routing tasks (conversations waiting for an
/// agent) and their rings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingTaskNotification {
    /// The subscription it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<SubscriptionId>,
    /// The tasks that changed.
    #[serde(default, deserialize_with = "crate::common::lenient_list")]
    pub changes: Vec<Change<RoutingTask>>,
}

/// A conversation waiting for an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingTask {
    /// The task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_task_id: Option<String>,
    /// The conversation offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Its consumer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_id: Option<ParticipantId>,
    /// The skill it is routed by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_id: Option<SkillId>,
    /// Its rings to this agent.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rings_details: Vec<Ring>,
}

/// A ring: a conversation offered to an agent until it answers or the ring expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ring {
    /// The ring, to answer with [`UpdateRingState`].
    pub ring_id: RingId,
    /// How long it rings, in milliseconds.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub ring_expiration: Option<u64>,
    /// When it stops ringing, in milliseconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub ring_expiration_ts: Option<u64>,
    /// Its state; only WAITING rings can be answered.
    pub ring_state: RingState,
    /// Its weight among the agent's rings.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub weight: Option<u32>,
}

string_enum!(
    /// A ring's state.
    pub enum RingState {
        /// Ringing: the agent may accept or reject it.
        Waiting = "WAITING",
        /// Accepted by the agent.
        Accepted = "ACCEPTED",
        /// Accepted for the agent by the platform.
        AutoAccept = "AUTO_ACCEPT",
        /// Withdrawn.
        Cancelled = "CANCELLED",
        /// Not answered in time.
        Expired = "EXPIRED",
        /// Rejected by the agent.
        Rejected = "REJECTED",
    }
);

/// `UpdateRingState`: `{"ringId":"c1_456_1","ringState":"ACCEPTED"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRingState {
    /// The ring.
    pub ring_id: RingId,
    /// ACCEPTED or REJECTED.
    pub ring_state: RingState,
}

/// `SubscribeAgentsState`: an agent user's state changes (the
/// requester's own when `agentId` is absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeAgentsState {
    /// The agent watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
}

/// `AgentStateNotification`: a watched agent set its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStateNotification {
    /// The subscription it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<SubscriptionId>,
    /// The new states.
    pub changes: Vec<Change<AgentState>>,
}

/// An agent's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentState {
    /// The agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_user_id: Option<AgentId>,
    /// The channels it applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelType>,
    /// Its availability.
    pub availability: Availability,
    /// A free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentClientFrame, AgentNotification, AgentRequest, AgentServerFrame};
    use crate::common::{Empty, Subscribed};
    use crate::envelope::Frame;
    use crate::error::FrameError;
    use crate::kind::Agent;
    use serde_json::{Value, json};

    fn json_of(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn set_agent_state_reads_and_writes_as_the_connector_sends_it() {
        let text = r#"{"kind":"req","id":"1","type":".ams.routing.SetAgentState","body":{"availability":"ONLINE","channels":["MESSAGING"],"agentUserId":"123.456"}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        let state = SetAgentState {
            availability: Availability::Online,
            channels: vec![ChannelType::Messaging],
            agent_user_id: Some("123.456".into()),
        };
        assert_eq!(incoming.request, AgentRequest::SetAgentState(state.clone()));
        assert_eq!(json_of(&Agent::request("1", &state)), json_of(text));
        assert_eq!(
            json_of(&Agent::response::<SetAgentState>("1", 200, &Empty {})),
            json!({"kind": "resp", "reqId": "1", "code": 200, "type": ".ams.routing.SetAgentState$Response", "body": {}})
        );
    }

    #[test]
    fn a_state_without_availability_is_a_bad_body() {
        let text = r#"{"kind":"req","id":"1","type":".ams.routing.SetAgentState","body":{"channels":["MESSAGING"]}}"#;
        let error = AgentServerFrame::parse(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid body for .ams.routing.SetAgentState: missing field `availability`"
        );
        assert_eq!(error.request_id(), Some("1"));
    }

    #[test]
    fn routing_tasks_carry_typed_rings() {
        let text = r#"{"kind":"notification","type":".ams.routing.RoutingTaskNotification","body":{"subscriptionId":"s","changes":[{"type":"UPSERT","result":{"routingTaskId":"rt1","conversationId":"c1","consumerId":"cons-1","skillId":"1","ringsDetails":[{"ringId":"c1_456_1","ringExpiration":72000,"ringExpirationTs":1517000899442,"ringState":"WAITING","weight":1}]}}]}}"#;
        let Ok(Frame::Notification(AgentNotification::RoutingTask(note))) =
            AgentClientFrame::parse(text)
        else {
            panic!("a RoutingTaskNotification")
        };
        let ring = &note.changes[0].result.rings_details[0];
        assert_eq!(ring.ring_id, "c1_456_1");
        assert_eq!(ring.ring_state, RingState::Waiting);
        assert_eq!(ring.ring_expiration_ts, Some(1517000899442));
        assert_eq!(json_of(&Agent::notification(&note)), json_of(text));
    }

    #[test]
    fn answering_a_ring() {
        let answer = UpdateRingState {
            ring_id: "c1_456_1".into(),
            ring_state: RingState::Accepted,
        };
        let text = Agent::request("2", &answer);
        assert_eq!(
            json_of(&text),
            json!({"kind": "req", "id": "2", "type": ".ams.routing.UpdateRingState",
                   "body": {"ringId": "c1_456_1", "ringState": "ACCEPTED"}})
        );
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(&text) else {
            panic!("a request")
        };
        assert_eq!(incoming.request, AgentRequest::UpdateRingState(answer));
    }

    #[test]
    fn subscriptions_are_answered_with_their_id() {
        let text = r#"{"kind":"req","id":"3","type":".ams.routing.SubscribeRoutingTasks","body":{"channelType":"MESSAGING","agentId":"123.456","brandId":"123"}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        let answer = incoming.respond(
            200,
            &Subscribed {
                subscription_id: "sub-1".into(),
            },
        );
        let Ok(Frame::Response(response)) = AgentClientFrame::parse(&answer) else {
            panic!("a response")
        };
        assert_eq!(response.kind, ".ams.routing.SubscribeRoutingTasks$Response");
        assert_eq!(
            response.decode::<Subscribed>().unwrap().subscription_id,
            "sub-1"
        );
    }

    #[test]
    fn agent_state_notifications_name_the_agent_and_its_availability() {
        let text = r#"{"kind":"notification","type":".ams.routing.AgentStateNotification","body":{"subscriptionId":"s","changes":[{"type":"UPSERT","result":{"agentUserId":"123.bot","channels":["MESSAGING"],"availability":"AWAY","description":""}}]}}"#;
        let Ok(Frame::Notification(AgentNotification::AgentState(note))) =
            AgentClientFrame::parse(text)
        else {
            panic!("an AgentStateNotification")
        };
        assert_eq!(note.changes[0].result.availability, Availability::Away);
        assert_eq!(json_of(&Agent::notification(&note)), json_of(text));
        let watch =
            r#"{"kind":"req","id":"4","type":".ams.routing.SubscribeAgentsState","body":{}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(watch) else {
            panic!("a request")
        };
        assert_eq!(
            incoming.request,
            AgentRequest::SubscribeAgentsState(SubscribeAgentsState::default())
        );
    }

    #[test]
    fn unknown_agent_requests_are_a_typed_error_naming_the_kind() {
        let text = r#"{"kind":"req","id":"5","type":".ams.routing.UpdateRoutingTaskSubscription","body":{}}"#;
        assert_eq!(
            AgentServerFrame::parse(text),
            Err(FrameError::UnknownType {
                frame: "request",
                kind: ".ams.routing.UpdateRoutingTaskSubscription".into(),
                side: "agent",
                id: Some("5".into()),
            })
        );
    }
}
