//! Changing a conversation: `UpdateConversationField` and its field
//! changes (transfer to a skill, close, join or leave, time to response).
//! Both sides send it; a consumer may only close.

use serde::{Deserialize, Serialize};

use crate::common::{AgentId, ConversationId, Role, SkillId};
use crate::conversations::ConversationState;

/// `UpdateConversationField`: changes fields of a conversation. Read from
/// a list or a single object; written as a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConversationField {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The changes, applied together.
    #[serde(deserialize_with = "crate::common::one_or_many")]
    pub conversation_field: Vec<ConversationField>,
}

open_enum!(
    /// One change of [`UpdateConversationField`], tagged by `field`.
    /// A transfer to a skill is `ParticipantsChange REMOVE ASSIGNED_AGENT`
    /// and `Skill UPDATE` in the same request.
    pub enum ConversationField tagged "field" {
        /// Adds or removes a participant (join as MANAGER, leave).
        ParticipantsChange(ParticipantsChange) = "ParticipantsChange",
        /// Moves the conversation to another skill.
        Skill(SkillChange) = "Skill",
        /// Closes the conversation.
        State(ConversationStateField) = "ConversationStateField",
        /// Sets its time to response (urgency).
        Ttr(Ttr) = "TTRField",
    }
);

string_enum!(
    /// What a field change does.
    pub enum FieldChangeType {
        /// Add a participant.
        Add = "ADD",
        /// Remove a participant.
        Remove = "REMOVE",
        /// Replace a value.
        Update = "UPDATE",
        /// Suggest a participant.
        Suggest = "SUGGEST",
    }
);

/// `ParticipantsChange`: `{"type":"REMOVE","role":"ASSIGNED_AGENT","userId":"123.456"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantsChange {
    /// ADD or REMOVE.
    #[serde(rename = "type")]
    pub change: FieldChangeType,
    /// The role concerned.
    pub role: Role,
    /// The agent concerned (the requester when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<AgentId>,
}

/// `Skill`: `{"type":"UPDATE","skill":"99"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillChange {
    /// UPDATE.
    #[serde(rename = "type")]
    pub change: FieldChangeType,
    /// The new skill.
    pub skill: SkillId,
}

/// `ConversationStateField`: `{"conversationState":"CLOSE"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationStateField {
    /// The new state (CLOSE).
    pub conversation_state: ConversationState,
}

/// Time to response: `{"ttrType":"URGENT","value":600}` (as `TTRField`
/// and as a conversation's `ttr`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ttr {
    /// How urgent.
    pub ttr_type: TtrType,
    /// Seconds, where the type takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
}

impl Ttr {
    /// A time to response LivePerson takes: a known type, and for `CUSTOM`
    /// its seconds, above 0. The other types' times are the account's, so
    /// a value given with one is dropped.
    pub fn new(ttr_type: TtrType, value: Option<u64>) -> Result<Ttr, TtrError> {
        match (&ttr_type, value) {
            (TtrType::Other(other), _) => Err(TtrError::UnknownType(other.clone())),
            (TtrType::Custom, None | Some(0)) => Err(TtrError::CustomWithoutSeconds),
            (TtrType::Custom, value) => Ok(Ttr { ttr_type, value }),
            _ => Ok(Ttr {
                ttr_type,
                value: None,
            }),
        }
    }

    /// This one as LivePerson takes it (see [`Ttr::new`]), as read from
    /// the wire.
    pub fn checked(&self) -> Result<Ttr, TtrError> {
        Ttr::new(self.ttr_type.clone(), self.value)
    }
}

/// Why LivePerson refuses a time to response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TtrError {
    /// A type it does not know.
    #[error("ttrType {0}: expected URGENT, NORMAL, PRIORITIZED or CUSTOM")]
    UnknownType(String),
    /// `CUSTOM` without seconds, or with 0.
    #[error("a CUSTOM ttrType needs a value: seconds, above 0")]
    CustomWithoutSeconds,
}

string_enum!(
    /// A time to response type.
    pub enum TtrType {
        /// Answer sooner than normal.
        Urgent = "URGENT",
        /// The skill's normal time.
        Normal = "NORMAL",
        /// Prioritised.
        Prioritized = "PRIORITIZED",
        /// A custom time (`value`).
        Custom = "CUSTOM",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_to_response_is_a_known_type_and_a_custom_one_has_seconds() {
        assert_eq!(
            Ttr::new(TtrType::Custom, Some(120)),
            Ok(Ttr {
                ttr_type: TtrType::Custom,
                value: Some(120)
            })
        );
        assert_eq!(
            Ttr::new(TtrType::Urgent, Some(5)),
            Ok(Ttr {
                ttr_type: TtrType::Urgent,
                value: None
            }),
            "the account's time, not the request's"
        );
        for seconds in [None, Some(0)] {
            assert_eq!(
                Ttr::new(TtrType::Custom, seconds),
                Err(TtrError::CustomWithoutSeconds)
            );
        }
        let asap = Ttr {
            ttr_type: TtrType::from("ASAP"),
            value: None,
        };
        assert_eq!(asap.checked(), Err(TtrError::UnknownType("ASAP".into())));
    }
    use crate::agent::{AgentRequest, AgentServerFrame};
    use crate::consumer::{ConsumerRequest, ConsumerServerFrame};
    use crate::envelope::Frame;
    use crate::error::FrameError;
    use crate::kind::Agent;
    use serde_json::Value;
    #[test]
    fn a_transfer_is_a_participants_change_and_a_skill_update() {
        let text = r#"{"kind":"req","id":"4","type":".ams.cm.UpdateConversationField","body":{"conversationId":"c1","conversationField":[{"field":"ParticipantsChange","type":"REMOVE","role":"ASSIGNED_AGENT","userId":"123.456"},{"field":"Skill","type":"UPDATE","skill":"99"}]}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        let expected = UpdateConversationField {
            conversation_id: "c1".into(),
            conversation_field: vec![
                ParticipantsChange {
                    change: FieldChangeType::Remove,
                    role: Role::AssignedAgent,
                    user_id: Some("123.456".into()),
                }
                .into(),
                SkillChange {
                    change: FieldChangeType::Update,
                    skill: "99".into(),
                }
                .into(),
            ],
        };
        assert_eq!(
            incoming.request,
            AgentRequest::UpdateConversationField(expected.clone())
        );
        let written = Agent::request("4", &expected);
        assert_eq!(
            serde_json::from_str::<Value>(&written).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_close_may_come_as_a_single_field_and_ttr_is_typed() {
        let text = r#"{"kind":"req","id":"5","type":"cm.UpdateConversationField","body":{"conversationId":"c1","conversationField":{"field":"ConversationStateField","conversationState":"CLOSE"}}}"#;
        let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
            panic!("a request")
        };
        let ConsumerRequest::UpdateConversationField(update) = &incoming.request else {
            panic!("UpdateConversationField")
        };
        assert_eq!(
            update.conversation_field,
            [ConversationField::State(ConversationStateField {
                conversation_state: ConversationState::Close
            })]
        );
        let ttr: ConversationField =
            serde_json::from_str(r#"{"field":"TTRField","ttrType":"URGENT"}"#).unwrap();
        assert_eq!(
            ttr,
            ConversationField::Ttr(Ttr {
                ttr_type: TtrType::Urgent,
                value: None
            })
        );
        let unknown: ConversationField =
            serde_json::from_str(r#"{"field":"ManualETTR","time":1}"#).unwrap();
        assert_eq!(unknown.tag(), "ManualETTR");
    }

    #[test]
    fn a_known_field_with_a_bad_body_names_the_field() {
        let text = r#"{"kind":"req","id":"6","type":".ams.cm.UpdateConversationField","body":{"conversationId":"c1","conversationField":[{"field":"Skill","type":"UPDATE"}]}}"#;
        let Err(FrameError::BadBody { kind, reason, id }) = AgentServerFrame::parse(text) else {
            panic!("a bad body")
        };
        assert_eq!(kind, ".ams.cm.UpdateConversationField");
        assert!(
            reason.contains("Skill field") && reason.contains("skill"),
            "{reason}"
        );
        assert_eq!(id.as_deref(), Some("6"));
    }
}
