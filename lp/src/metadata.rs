//! Conversation metadata: context a bot attaches to what it publishes and
//! to a transfer (the request envelope's `metadata` list), and that
//! notifications carry on their events. LivePerson's Third-Party Bots
//! send the bot's reading of the last consumer message (`BotResponse`),
//! why it escalated (`ActionReason`, `EscalationSummary`) and which card
//! it sent (`ExternalId`). Other types (payment and authentication
//! responses, social messaging data) are kept whole as `Other`.

use serde::{Deserialize, Serialize};

open_enum!(
    /// One metadata item, tagged by `type`.
    pub enum Metadata tagged "type" {
        /// The bot's analysis of the last consumer message.
        BotResponse(BotResponse) = "BotResponse",
        /// Why a bot or agent took an action (escalation, transfer).
        ActionReason(ActionReason) = "ActionReason",
        /// The conversation up to an escalation, for the receiving agent.
        EscalationSummary(EscalationSummary) = "EscalationSummary",
        /// Which structured content card, or card action, this is.
        ExternalId(ExternalId) = "ExternalId",
    }
);

/// `BotResponse`: the bot's reading of the last consumer message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotResponse {
    /// The bot platform's conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_conversation_id: Option<String>,
    /// The topics of the conversation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub business_cases: Vec<String>,
    /// The intents found in the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<Intent>,
}

/// An intent a bot found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The bot platform's confidence, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_score: Option<f64>,
    /// The same, as a word (low, medium, high).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
}

/// `ActionReason`: why an action was taken (`escalated_by_bot`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReason {
    /// The reason.
    pub reason: String,
    /// Its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_id: Option<String>,
}

/// `EscalationSummary`: the conversation up to an escalation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EscalationSummary {
    /// Why it escalated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_cause: Option<String>,
    /// The topics handled, and for how long.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub business_cases: Vec<BusinessCase>,
    /// How long the conversation lasted until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_duration: Option<u64>,
    /// The topic that led to the escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_during_business_case: Option<String>,
}

/// A topic of an [`EscalationSummary`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessCase {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How long it was handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
}

/// `ExternalId`: a card's or a card action's identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalId {
    /// The identifier.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentRequest, AgentServerFrame};
    use crate::envelope::Frame;
    use crate::kind::Agent;
    use crate::messaging::{ContentEvent, PublishEvent};
    use serde_json::{Value, json};

    #[test]
    fn a_bot_response_rides_on_the_request_envelope() {
        let text = r#"{"kind":"req","id":"1","type":".ams.ms.PublishEvent","body":{"dialogId":"c1","event":{"type":"ContentEvent","contentType":"text/plain","message":"I can help"}},"metadata":[{"type":"ActionReason","reason":"escalated_by_bot","reasonId":"3"},{"type":"BotResponse","externalConversationId":"x1","businessCases":["Help-Greetings"],"intents":[{"id":"Help-Greetings","confidenceScore":0.8,"confidence":"high"}]},{"type":"ConnectorPaymentResponse","status":true}]}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        assert_eq!(
            incoming.metadata[0],
            Metadata::ActionReason(ActionReason {
                reason: "escalated_by_bot".into(),
                reason_id: Some("3".into()),
            })
        );
        let Metadata::BotResponse(bot) = &incoming.metadata[1] else {
            panic!("a BotResponse")
        };
        assert_eq!(bot.intents[0].confidence_score, Some(0.8));
        assert_eq!(incoming.metadata[2].tag(), "ConnectorPaymentResponse");
        let AgentRequest::PublishEvent(publish) = &incoming.request else {
            panic!("PublishEvent")
        };
        let written = Agent::request_with("1", publish, incoming.extras());
        assert_eq!(
            serde_json::from_str::<Value>(&written).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_card_is_named_by_an_external_id() {
        let metadata = [Metadata::from(ExternalId {
            id: "CARD_ID".into(),
        })];
        let publish = PublishEvent::new("c1", ContentEvent::text("hi"));
        let extras = crate::envelope::Extras {
            metadata: &metadata,
            ..Default::default()
        };
        let written: Value =
            serde_json::from_str(&Agent::request_with("2", &publish, extras)).unwrap();
        assert_eq!(
            written["metadata"],
            json!([{"type": "ExternalId", "id": "CARD_ID"}])
        );
    }
}
