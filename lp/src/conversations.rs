//! Conversations: opening one (`ConsumerRequestConversation`,
//! `AgentRequestConversation`), subscribing to their state
//! (`SubscribeExConversations` and its `ExConversationChangeNotification`,
//! on both sides). Changing them is `fields`.
//!
//! The two sides list participants differently: the agent side as a map
//! from role to ids (plus `participantsPId` and each dialog's
//! `participantsDetails`), the consumer side as a list of `{id, role}`.
//! [`Participants`] reads both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::Ttr;

use crate::common::{
    AgentId, BrandId, Change, ChannelType, ConversationId, DialogId, ParticipantId, Role, SkillId,
    SubscriptionId,
};

string_enum!(
    /// A conversation's or a dialog's state.
    pub enum ConversationState {
        /// Going on.
        Open = "OPEN",
        /// Closed.
        Close = "CLOSE",
    }
);

/// `SubscribeExConversations`: conversation state notifications. On the
/// agent side without `agentIds` it covers every conversation of the
/// account (the manager view); on the consumer side, the consumer's own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeExConversations {
    /// The states it covers; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conv_state: Vec<ConversationState>,
    /// The assigned agents whose conversations it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_ids: Option<Vec<AgentId>>,
}

/// `UnsubscribeExConversations`: ends a subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsubscribeExConversations {
    /// The subscription to end.
    pub subscription_id: SubscriptionId,
}

/// `ExConversationChangeNotification`: conversations that changed, each
/// with its whole current state. Order is not guaranteed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExConversationChangeNotification {
    /// The subscription it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<SubscriptionId>,
    /// The changes; a DELETE means the conversation left the
    /// subscription's view (closed, transferred away, agent removed).
    #[serde(default, deserialize_with = "crate::common::lenient_list")]
    pub changes: Vec<Change<ConversationChange>>,
}

/// One conversation of an [`ExConversationChangeNotification`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationChange {
    /// The conversation.
    pub conv_id: ConversationId,
    /// Time to response in effect, in milliseconds (-1: none).
    #[serde(
        rename = "effectiveTTR",
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub effective_ttr: Option<i64>,
    /// Its state (a DELETE may come without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_details: Option<ConversationDetails>,
}

/// A conversation's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDetails {
    /// The skill it is routed by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_id: Option<SkillId>,
    /// The account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    /// OPEN or CLOSE.
    pub state: ConversationState,
    /// Its stage (as `state` on the hub).
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub stage: Option<ConversationState>,
    /// When it started, in milliseconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_ts: Option<u64>,
    /// Who takes part.
    #[serde(default)]
    pub participants: Participants,
    /// The agent side's participants by pid (the official agent SDK needs it).
    #[serde(
        rename = "participantsPId",
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub participants_pid: Option<BTreeMap<Role, Vec<ParticipantId>>>,
    /// Its dialogs; the MAIN one has the conversation's id.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dialogs: Vec<Dialog>,
    /// Who closed it, once closed.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub close_reason: Option<CloseReason>,
    /// Who closed it, as the consumer side also says.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub closed_by: Option<CloseReason>,
    /// Its time to response setting.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttr: Option<Ttr>,
}

string_enum!(
    /// Who or what closed a conversation.
    pub enum CloseReason {
        /// An agent.
        Agent = "AGENT",
        /// The consumer.
        Consumer = "CONSUMER",
        /// The platform (auto-close).
        System = "SYSTEM",
    }
);

/// Participants, as either side lists them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Participants {
    /// The agent side: role → ids (`{"CONSUMER":["c"],"ASSIGNED_AGENT":["123.456"]}`).
    ByRole(BTreeMap<Role, Vec<ParticipantId>>),
    /// The consumer side: `[{"id":"c","role":"CONSUMER"}, ..]`.
    List(Vec<Participant>),
}

impl Default for Participants {
    fn default() -> Self {
        Participants::ByRole(BTreeMap::new())
    }
}

impl Participants {
    /// The ids with `role`, in order.
    pub fn with_role(&self, role: &Role) -> Vec<&ParticipantId> {
        match self {
            Participants::ByRole(map) => map
                .get(role)
                .map(|ids| ids.iter().collect())
                .unwrap_or_default(),
            Participants::List(list) => list
                .iter()
                .filter(|p| &p.role == role)
                .map(|p| &p.id)
                .collect(),
        }
    }

    /// True if `id` takes part with `role`.
    pub fn has(&self, role: &Role, id: &str) -> bool {
        self.with_role(role).iter().any(|p| p.as_str() == id)
    }
}

/// A participant of the consumer side's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Consumer id or agent pid.
    pub id: ParticipantId,
    /// Its role.
    pub role: Role,
}

/// A dialog of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dialog {
    /// Its id.
    pub dialog_id: DialogId,
    /// MAIN, or a survey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog_type: Option<DialogType>,
    /// Its channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    /// OPEN or CLOSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ConversationState>,
    /// Who takes part and how (agent side; the official agent SDK needs it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants_details: Vec<ParticipantDetail>,
}

string_enum!(
    /// What a dialog is for.
    pub enum DialogType {
        /// The conversation itself.
        Main = "MAIN",
        /// A post-conversation survey.
        PostSurvey = "POST_SURVEY",
    }
);

/// A participant of a dialog, on the agent side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantDetail {
    /// Consumer id or agent id.
    pub id: ParticipantId,
    /// Its role.
    pub role: Role,
    /// ACTIVE, or another state LivePerson names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ParticipantState>,
}

string_enum!(
    /// A dialog participant's state.
    pub enum ParticipantState {
        /// Taking part.
        Active = "ACTIVE",
        /// Suggested, not yet taking part.
        Suggested = "SUGGESTED",
    }
);

/// `ConsumerRequestConversation`: a consumer asks for a conversation; the
/// body is optional. `skillId` "-1" or absent is the account's default skill.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerRequestConversation {
    /// The account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    /// The skill to route by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_id: Option<SkillId>,
    /// MESSAGING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    /// The campaign and engagement that brought the consumer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_info: Option<CampaignInfo>,
    /// Where the consumer is (a page, an app); free-form, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_context: Option<Value>,
}

/// The campaign and engagement of a conversation request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignInfo {
    /// The campaign.
    pub campaign_id: String,
    /// The engagement, which names the skill.
    pub engagement_id: String,
}

/// `AgentRequestConversation`: an agent opens an outbound conversation
/// with a consumer the platform knows; it is assigned to that agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRequestConversation {
    /// The consumer.
    pub consumer_id: ParticipantId,
    /// The skill; the default skill when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_id: Option<SkillId>,
    /// MESSAGING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    /// Proactive context; free-form, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_context: Option<Value>,
}

/// The answer to a conversation request: `{"conversationId":".."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationCreated {
    /// The new conversation (its MAIN dialog has the same id).
    pub conversation_id: ConversationId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentClientFrame, AgentNotification, AgentRequest, AgentServerFrame};
    use crate::consumer::{
        ConsumerClientFrame, ConsumerNotification, ConsumerRequest, ConsumerServerFrame,
    };
    use crate::envelope::Frame;
    use crate::kind::Consumer;

    /// The agent-side UPSERT the hub sends (participants by role, pids,
    /// dialogs with their participants' details).
    const AGENT_UPSERT: &str = r#"{"kind":"notification","type":".ams.aam.ExConversationChangeNotification","body":{"subscriptionId":"s1","changes":[{"type":"UPSERT","result":{"convId":"c1","effectiveTTR":-1,"conversationDetails":{"skillId":"1","brandId":"123","state":"OPEN","stage":"OPEN","startTs":1517000899442,"participants":{"CONSUMER":["cons-1"],"ASSIGNED_AGENT":["123.456"]},"participantsPId":{"CONSUMER":["cons-1"],"ASSIGNED_AGENT":["pid-456"]},"dialogs":[{"dialogId":"c1","dialogType":"MAIN","channelType":"MESSAGING","state":"OPEN","participantsDetails":[{"id":"cons-1","role":"CONSUMER","state":"ACTIVE"},{"id":"123.456","role":"ASSIGNED_AGENT","state":"ACTIVE"}]}]}}}]}}"#;

    /// The consumer-side UPSERT of a closed conversation.
    const CONSUMER_CLOSED: &str = r#"{"kind":"notification","type":"cqm.ExConversationChangeNotification","body":{"subscriptionId":"s2","changes":[{"type":"UPSERT","result":{"convId":"c1","conversationDetails":{"skillId":"77","participants":[{"id":"cons-1","role":"CONSUMER"},{"id":"pid-456","role":"ASSIGNED_AGENT"}],"brandId":"123","state":"CLOSE","stage":"CLOSE","startTs":1,"dialogs":[{"dialogId":"c1","dialogType":"MAIN","channelType":"MESSAGING","state":"CLOSE"}],"closeReason":"CONSUMER","closedBy":"CONSUMER"}}}]}}"#;

    #[test]
    fn agent_side_upserts_list_participants_by_role() {
        let Ok(Frame::Notification(AgentNotification::ExConversationChange(note))) =
            AgentClientFrame::parse(AGENT_UPSERT)
        else {
            panic!("an ExConversationChangeNotification")
        };
        let change = &note.changes[0];
        assert_eq!(change.change_type, crate::common::ChangeType::Upsert);
        assert_eq!(change.result.conv_id, "c1");
        let details = change.result.conversation_details.as_ref().unwrap();
        assert_eq!(details.state, ConversationState::Open);
        assert!(details.participants.has(&Role::AssignedAgent, "123.456"));
        assert_eq!(details.participants.with_role(&Role::Consumer), ["cons-1"]);
        assert_eq!(details.dialogs[0].dialog_type, Some(DialogType::Main));
        assert_eq!(details.dialogs[0].participants_details.len(), 2);
        let text = Frame::<crate::envelope::Untyped, _>::Notification(AgentNotification::from(
            note.clone(),
        ))
        .to_text();
        assert_eq!(
            AgentClientFrame::parse(&text).unwrap(),
            AgentClientFrame::parse(AGENT_UPSERT).unwrap()
        );
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            serde_json::from_str::<Value>(AGENT_UPSERT).unwrap()
        );
    }

    #[test]
    fn consumer_side_upserts_list_participants_in_a_list() {
        let Ok(Frame::Notification(ConsumerNotification::ExConversationChange(note))) =
            ConsumerClientFrame::parse(CONSUMER_CLOSED)
        else {
            panic!("an ExConversationChangeNotification")
        };
        let details = note.changes[0].result.conversation_details.clone().unwrap();
        assert_eq!(details.state, ConversationState::Close);
        assert_eq!(details.close_reason, Some(CloseReason::Consumer));
        assert_eq!(
            details.participants.with_role(&Role::AssignedAgent),
            ["pid-456"]
        );
        let text = Consumer::notification(&note);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            serde_json::from_str::<Value>(CONSUMER_CLOSED).unwrap()
        );
    }

    #[test]
    fn a_delete_may_come_with_the_conversation_id_only() {
        let body = r#"{"kind":"notification","type":".ams.aam.ExConversationChangeNotification","body":{"changes":[{"type":"DELETE","result":{"convId":"c2"}}]}}"#;
        let Ok(Frame::Notification(AgentNotification::ExConversationChange(note))) =
            AgentClientFrame::parse(body)
        else {
            panic!("a notification")
        };
        assert_eq!(
            note.changes[0].change_type,
            crate::common::ChangeType::Delete
        );
        assert_eq!(note.changes[0].result.conversation_details, None);
    }

    #[test]
    fn consumers_request_conversations_with_or_without_a_body() {
        for (text, expected) in [
            (
                r#"{"kind":"req","id":"2","type":"cm.ConsumerRequestConversation","body":{"brandId":"123","skillId":77,"channelType":"MESSAGING"}}"#,
                ConsumerRequestConversation {
                    brand_id: Some("123".into()),
                    skill_id: Some("77".into()),
                    channel_type: Some(ChannelType::Messaging),
                    ..Default::default()
                },
            ),
            (
                r#"{"kind":"req","id":"2","type":"cm.ConsumerRequestConversation"}"#,
                ConsumerRequestConversation::default(),
            ),
        ] {
            let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
                panic!("a request")
            };
            assert_eq!(
                incoming.request,
                ConsumerRequest::ConsumerRequestConversation(expected)
            );
            let answer: Value = serde_json::from_str(&incoming.respond(
                200,
                &ConversationCreated {
                    conversation_id: "c1".into(),
                },
            ))
            .unwrap();
            assert_eq!(
                answer,
                serde_json::json!({"kind": "resp", "reqId": "2", "code": 200,
                    "type": "cm.RequestConversationResponse", "body": {"conversationId": "c1"}})
            );
        }
    }

    #[test]
    fn agents_open_outbound_conversations_and_subscribe() {
        let text = r#"{"kind":"req","id":"9","type":".ams.cm.AgentRequestConversation","body":{"consumerId":"cons-1","skillId":77,"channelType":"MESSAGING","conversationContext":{"type":"SharkContext","lang":"en-US"}}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        let AgentRequest::AgentRequestConversation(outbound) = &incoming.request else {
            panic!("AgentRequestConversation")
        };
        assert_eq!(outbound.skill_id.as_ref().unwrap(), "77");
        assert_eq!(
            incoming.response_kind(),
            ".ams.cm.AgentRequestConversation$Response"
        );

        let text = r#"{"kind":"req","id":"3","type":".ams.aam.SubscribeExConversations","body":{"convState":["OPEN","CLOSE"],"agentIds":["123.456"]}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        let subscribe = SubscribeExConversations {
            conv_state: vec![ConversationState::Open, ConversationState::Close],
            agent_ids: Some(vec!["123.456".into()]),
        };
        assert_eq!(
            incoming.request,
            AgentRequest::SubscribeExConversations(subscribe)
        );

        // The older service name of the same request is accepted too.
        let text = r#"{"kind":"req","id":"8","type":".ams.cqm.UnsubscribeExConversations","body":{"subscriptionId":"s1"}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        assert_eq!(
            incoming.request,
            AgentRequest::UnsubscribeExConversations(UnsubscribeExConversations {
                subscription_id: "s1".into()
            })
        );
    }
}
