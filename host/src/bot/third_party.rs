//! LivePerson's Third-Party Bots conventions for what a bot asks of the
//! conversation besides plain text: structured content and quick replies
//! (`structuredContent`), bot actions (`TRANSFER`, `CLOSE_CONVERSATION`,
//! `CHANGE_TTR`) and private texts (`messageAudience`
//! `AGENTS_AND_MANAGERS`). A bot written for Third-Party Bots puts them in
//! its answers (a Bot Framework activity's `channelData`), so it works here
//! unchanged.
//!
//! Also read: `delay` (a pause, with a typing indicator) and
//! `multiMessage` (several texts, private texts, structured contents and
//! pauses in one answer), see [`delay`] and [`multi_message`].
//!
//! What is written: the consumer's engagement attributes (`lpSdes`, see
//! [`lp_sdes`]), for a bot that takes them. What is read: `messageAudience`; `encodedMetadata` (base64 metadata a
//! message carries for the consumer's window); `action.name` and its `parameters`
//! (`skill` for a transfer, a skill's name or id; `ttrType` and, for
//! `CUSTOM`, `value` in seconds as a number or a numeric string). The two
//! are read apart, so a bad action never loses a text its audience. A
//! transfer's `agentId` and a close's `withoutPcs` are not read (the
//! transfer goes to the skill, the close is a close); the actions
//! switchboard has no counterpart for (`INVOCATION` of a LivePerson
//! Function) are refused with their name.

use std::time::Duration;

use lp::fields::{Ttr, TtrType};
use lp::messaging::{EncodedMetadata, MessageAudience};
use lp::users::UserProfile;
use serde::Deserialize;
use serde_json::Value;

use crate::content::OutMessage;
use crate::ports::BotAction;

/// Who may see an answer's text, as its `channelData` says.
#[derive(Debug, PartialEq, Eq)]
pub enum Audience {
    /// Everyone (no `messageAudience`, or `ALL`).
    Everyone,
    /// Agents and managers only: a private text.
    AgentsAndManagers,
    /// A `messageAudience` that does not read as one of those: the text
    /// was meant for someone in particular, so it is shown to no one.
    Unknown(String),
}

/// The audience `channel_data` (a `channelData` object, or null) names.
pub fn audience(channel_data: &Value) -> Audience {
    if !channel_data.is_object() && !channel_data.is_null() {
        return Audience::Unknown(format!("channelData {channel_data}"));
    }
    match channel_data.get("messageAudience") {
        None | Some(Value::Null) => Audience::Everyone,
        Some(written) => match MessageAudience::deserialize(written) {
            Ok(MessageAudience::All) => Audience::Everyone,
            Ok(MessageAudience::AgentsAndManagers) => Audience::AgentsAndManagers,
            Ok(MessageAudience::Other(other)) => Audience::Unknown(other),
            Err(_) => Audience::Unknown(written.to_string()),
        },
    }
}

/// The bot action `channel_data` asks for, if it names one.
pub fn action(channel_data: &Value) -> Option<Result<BotAction, ActionError>> {
    let written = channel_data.get("action").filter(|a| !a.is_null())?;
    Some(match ActionRequest::deserialize(written) {
        Ok(request) => request.to_action(),
        Err(error) => Err(ActionError::Unreadable(error.to_string())),
    })
}

/// The message `channel_data.structuredContent` carries, if any: LivePerson
/// structured content, or (with `quickReplies`) its `message` text with
/// those quick replies. It takes the activity's text's place: Third-Party
/// Bots reads basic content from the text or from `channelData`. Its
/// `metadata` is not carried. Content LivePerson's schemas refuse is
/// refused later, with every bot message's.
pub fn structured_content(channel_data: &Value) -> Option<OutMessage> {
    let content = channel_data
        .get("structuredContent")
        .filter(|c| c.is_object())?;
    Some(match content.get("quickReplies") {
        Some(replies) => OutMessage {
            quick_replies: Some(replies.clone()),
            ..OutMessage::text(content["message"].as_str().unwrap_or_default())
        },
        None => OutMessage::structured(content.clone()),
    })
}

/// The `encodedMetadata` `data` (a `channelData` object or a custom
/// payload) gives its messages, as written: a message whose metadata
/// LivePerson would drop it for (not base64, over 5k) is refused with
/// every bot message LivePerson would refuse.
pub fn encoded_metadata(data: &Value) -> Option<EncodedMetadata> {
    data.get("encodedMetadata")
        .filter(|m| !m.is_null())
        .map(EncodedMetadata::from_json)
}

/// What a `delay` asks (`channelData.delay`: `{"delay": seconds,
/// "typing": true}`, typing shown unless `false`): the typing indicator,
/// then the pause, before the activity's messages and actions.
pub fn delay(channel_data: &Value) -> Option<Result<Vec<BotAction>, String>> {
    let written = channel_data.get("delay").filter(|d| !d.is_null())?;
    let pause = match seconds(&written["delay"]) {
        Ok(pause) => pause,
        Err(reason) => return Some(Err(format!("delay.delay {reason}"))),
    };
    let typing = written
        .get("typing")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut actions = Vec::new();
    if typing {
        actions.push(BotAction::Typing);
    }
    actions.push(BotAction::Delay(pause));
    Some(Ok(actions))
}

/// A delay's seconds: a whole number, written as a number or as text.
fn seconds(written: &Value) -> Result<Duration, String> {
    let text = TextOrNumber::deserialize(written)
        .map(|n| n.text())
        .map_err(|_| format!("{written} is not a whole number of seconds"))?;
    text.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{text:?} is not a whole number of seconds"))
}

/// The actions a `multiMessage` list asks, in its order: `text` (its
/// `value`), `private-message` (`value`: a text with `messageAudience`
/// `AGENTS_AND_MANAGERS`; another audience shows it to no one),
/// `structured-content` (`value`: as [`structured_content`] reads
/// `channelData`), each text or structured content with its own
/// `encodedMetadata`, and `delay` (`value`: seconds, no typing indicator).
/// An item that does not read is left out, logged.
pub fn multi_message(items: &[Value]) -> Vec<BotAction> {
    let mut actions = Vec::new();
    for (at, item) in items.iter().enumerate() {
        let value = &item["value"];
        let read = match item["type"].as_str() {
            Some("text") => value
                .as_str()
                .map(|text| {
                    BotAction::Say(OutMessage {
                        encoded_metadata: encoded_metadata(item),
                        ..OutMessage::text(text)
                    })
                })
                .ok_or_else(|| "a text's value must be text".to_owned()),
            Some("private-message") => match (audience(value), value["text"].as_str()) {
                (Audience::AgentsAndManagers, Some(text)) => Ok(BotAction::Private(text.into())),
                (Audience::AgentsAndManagers, None) => {
                    Err("a private message needs value.text".into())
                }
                (other, _) => Err(format!(
                    "a private message for {other:?}, not AGENTS_AND_MANAGERS: shown to no one"
                )),
            },
            Some("structured-content") => structured_content(value)
                .map(|message| {
                    BotAction::Say(OutMessage {
                        encoded_metadata: encoded_metadata(item),
                        ..message
                    })
                })
                .ok_or_else(|| "value.structuredContent must be an object".to_owned()),
            Some("delay") => seconds(value).map(BotAction::Delay),
            _ => Err(format!(
                "type {} is not one switchboard reads",
                item["type"]
            )),
        };
        match read {
            Ok(action) => actions.push(action),
            Err(reason) => tracing::warn!(item = at, %reason, "a multiMessage item is left out"),
        }
    }
    actions
}

/// The consumer's engagement attributes where Third-Party Bots hands them
/// to bots (`lpSdes`). LivePerson documents the place, not the shape
/// inside; switchboard's is an object with one entry per attribute type
/// (`ctmrinfo`, `personal`, ...) holding the attribute's content
/// (`{"info": {..}}`), or a list of contents when the type repeats. No
/// attributes read: an empty object.
pub fn lp_sdes(profile: Option<&UserProfile>) -> Value {
    let mut entries = serde_json::Map::new();
    for attribute in profile.into_iter().flatten() {
        let content = Value::Object(attribute.content.clone());
        match entries.get_mut(&attribute.kind) {
            None => {
                entries.insert(attribute.kind.clone(), content);
            }
            Some(Value::Array(repeated)) => repeated.push(content),
            Some(first) => *first = Value::Array(vec![first.take(), content]),
        }
    }
    Value::Object(entries)
}

/// A bot action as written: its name and parameters.
#[derive(Debug, Deserialize)]
pub struct ActionRequest {
    /// `TRANSFER`, `CLOSE_CONVERSATION`, `CHANGE_TTR`, ...
    pub name: String,
    /// What the action needs (absent or null: nothing).
    #[serde(default)]
    pub parameters: Option<Parameters>,
}

/// The parameters the actions read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    /// A transfer's skill (name or id).
    #[serde(default)]
    skill: Option<TextOrNumber>,
    /// A new time to response's type.
    #[serde(default)]
    ttr_type: Option<TtrType>,
    /// A `CUSTOM` time to response, in seconds.
    #[serde(default)]
    value: Option<TextOrNumber>,
}

/// A number or its decimal text (bots write both).
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a number or its decimal text")]
pub enum TextOrNumber {
    /// As a JSON number.
    Number(serde_json::Number),
    /// As text.
    Text(String),
}

impl TextOrNumber {
    /// The value as text: a number as its decimal digits, text trimmed.
    fn text(&self) -> String {
        match self {
            TextOrNumber::Number(number) => number.to_string(),
            TextOrNumber::Text(text) => text.trim().to_owned(),
        }
    }

    /// A skill as an id or a name: text that is not empty, or a whole
    /// number (a skill id).
    pub fn skill(&self) -> Option<String> {
        match self {
            TextOrNumber::Number(number) => number.as_u64().map(|id| id.to_string()),
            TextOrNumber::Text(_) => Some(self.text()).filter(|skill| !skill.is_empty()),
        }
    }
}

/// Why an action was not carried out.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// A parameter it needs is missing or wrong.
    #[error("bot action {action}: {reason}")]
    Parameters {
        /// The action's name.
        action: String,
        /// What is wrong.
        reason: String,
    },
    /// switchboard has no counterpart for it.
    #[error("bot action {0} is not supported by switchboard: ignored")]
    Unsupported(String),
    /// It does not read as an action (`{"name": .., "parameters": {..}}`).
    #[error("the bot's action does not read: {0}")]
    Unreadable(String),
}

impl ActionRequest {
    /// The action to carry out.
    pub fn to_action(&self) -> Result<BotAction, ActionError> {
        let wrong = |reason: &str| ActionError::Parameters {
            action: self.name.clone(),
            reason: reason.to_owned(),
        };
        let parameters = self.parameters.as_ref();
        match self.name.as_str() {
            "TRANSFER" => match parameters.and_then(|p| p.skill.as_ref()) {
                Some(skill) => skill.skill().map(BotAction::Escalate).ok_or_else(|| {
                    wrong("parameters.skill must be a skill's name or a whole number id")
                }),
                None => Err(wrong("parameters.skill (a skill's name or id) is missing")),
            },
            "CLOSE_CONVERSATION" => Ok(BotAction::Close),
            "CHANGE_TTR" => {
                let Some(ttr_type) = parameters.and_then(|p| p.ttr_type.clone()) else {
                    return Err(wrong(
                        "parameters.ttrType (URGENT, NORMAL, PRIORITIZED or CUSTOM) is missing",
                    ));
                };
                let value = match parameters.and_then(|p| p.value.as_ref()) {
                    None => None,
                    Some(written) => {
                        let text = written.text();
                        Some(text.parse::<u64>().map_err(|_| {
                            wrong(&format!(
                                "parameters.value {text:?} is not a whole number of seconds"
                            ))
                        })?)
                    }
                };
                Ttr::new(ttr_type, value)
                    .map(BotAction::ChangeTtr)
                    .map_err(|e| wrong(&format!("parameters: {e}")))
            }
            other => Err(ActionError::Unsupported(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(json: &str) -> Result<BotAction, ActionError> {
        serde_json::from_str::<ActionRequest>(json)
            .unwrap()
            .to_action()
    }

    #[test]
    fn the_documented_actions_become_bot_actions() {
        assert_eq!(
            action(r#"{"name":"TRANSFER","parameters":{"skill":"human-expert"}}"#),
            Ok(BotAction::Escalate("human-expert".into()))
        );
        assert_eq!(
            action(r#"{"name":"CLOSE_CONVERSATION","parameters":{"withoutPcs":true}}"#),
            Ok(BotAction::Close)
        );
        assert_eq!(
            action(
                r#"{"name":"CHANGE_TTR","type":"client","parameters":{"ttrType":"URGENT","value":5}}"#
            ),
            Ok(BotAction::ChangeTtr(Ttr {
                ttr_type: TtrType::Urgent,
                value: None
            }))
        );
        assert_eq!(
            action(r#"{"name":"CHANGE_TTR","parameters":{"ttrType":"CUSTOM","value":"120"}}"#),
            Ok(BotAction::ChangeTtr(Ttr {
                ttr_type: TtrType::Custom,
                value: Some(120)
            }))
        );
    }

    #[test]
    fn a_skill_may_be_a_number_and_parameters_null() {
        assert_eq!(
            action(r#"{"name":"TRANSFER","parameters":{"skill":12}}"#),
            Ok(BotAction::Escalate("12".into()))
        );
        assert_eq!(
            action(r#"{"name":"CLOSE_CONVERSATION","parameters":null}"#),
            Ok(BotAction::Close)
        );
        for bad in ["-3", "12.5", "\"  \""] {
            let json = format!(r#"{{"name":"TRANSFER","parameters":{{"skill":{bad}}}}}"#);
            let refused = action(&json).unwrap_err();
            assert!(
                refused.to_string().contains("parameters.skill"),
                "{bad}: {refused}"
            );
        }
        let json = r#"{"name":"TRANSFER","parameters":{"skill":true}}"#;
        let unreadable =
            super::action(&serde_json::from_str(&format!(r#"{{"action":{json}}}"#)).unwrap());
        let Some(Err(ActionError::Unreadable(reason))) = unreadable else {
            panic!("{unreadable:?}")
        };
        assert!(reason.contains("a number or its decimal text"), "{reason}");
    }

    #[test]
    fn a_bad_action_never_loses_a_private_texts_audience() {
        let data = serde_json::json!({
            "messageAudience": "AGENTS_AND_MANAGERS",
            "action": {"name": "CHANGE_TTR", "parameters": {"ttrType": "CUSTOM", "value": -1}}
        });
        assert_eq!(audience(&data), Audience::AgentsAndManagers);
        assert!(matches!(
            super::action(&data),
            Some(Err(ActionError::Parameters { .. }))
        ));
        let unreadable =
            serde_json::json!({"messageAudience": "AGENTS_AND_MANAGERS", "action": "TRANSFER"});
        assert_eq!(audience(&unreadable), Audience::AgentsAndManagers);
        assert!(matches!(
            super::action(&unreadable),
            Some(Err(ActionError::Unreadable(_)))
        ));
        // An audience that does not read is nobody's, never everyone's.
        assert_eq!(
            audience(&serde_json::json!({"messageAudience": 7})),
            Audience::Unknown("7".into())
        );
        assert_eq!(
            audience(&serde_json::json!({"messageAudience": "MANAGERS_ONLY"})),
            Audience::Unknown("MANAGERS_ONLY".into())
        );
        assert_eq!(audience(&Value::Null), Audience::Everyone);
    }

    #[test]
    fn a_delay_and_a_multi_message_read_as_third_party_bots_writes_them() {
        let quiet = serde_json::json!({"delay": {"delay": "2", "typing": false}});
        assert_eq!(
            delay(&quiet),
            Some(Ok(vec![BotAction::Delay(Duration::from_secs(2))]))
        );
        let typing = serde_json::json!({"delay": {"delay": 1}});
        assert_eq!(
            delay(&typing),
            Some(Ok(vec![
                BotAction::Typing,
                BotAction::Delay(Duration::from_secs(1))
            ]))
        );
        let bad = serde_json::json!({"delay": {"delay": 1.5}});
        assert!(delay(&bad).unwrap().unwrap_err().contains("1.5"));

        let items = serde_json::json!([
            {"type": "text", "value": "one", "encodedMetadata": "b25l"},
            {"type": "private-message", "value": {"text": "note", "messageAudience": "AGENTS_AND_MANAGERS"}},
            {"type": "private-message", "value": {"text": "for whom?"}},
            {"type": "delay", "value": 3},
            {"type": "structured-content", "value": {"structuredContent": {"type": "vertical", "elements": []}}},
            {"type": "video", "value": "x"},
            {"type": "text", "value": 7}
        ]);
        let actions = multi_message(items.as_array().unwrap());
        assert_eq!(actions.len(), 4, "{actions:?}");
        let BotAction::Say(one) = &actions[0] else {
            panic!("{actions:?}")
        };
        assert_eq!(
            one.encoded_metadata.as_ref().map(|m| m.as_str()),
            Some("b25l")
        );
        assert_eq!(actions[1], BotAction::Private("note".into()));
        assert_eq!(actions[2], BotAction::Delay(Duration::from_secs(3)));
        assert!(matches!(&actions[3], BotAction::Say(m) if m.quick_replies.is_none()));
    }

    #[test]
    fn lp_sdes_has_an_entry_per_type_and_a_list_where_a_type_repeats() {
        let profile: UserProfile = serde_json::from_value(serde_json::json!([
            {"type": "ctmrinfo", "info": {"customerId": "C-1"}},
            {"type": "cart", "total": 1},
            {"type": "cart", "total": 2},
            {"type": "cart", "total": 3}
        ]))
        .unwrap();
        assert_eq!(
            lp_sdes(Some(&profile)),
            serde_json::json!({"ctmrinfo": {"info": {"customerId": "C-1"}},
                "cart": [{"total": 1}, {"total": 2}, {"total": 3}]})
        );
        assert_eq!(lp_sdes(None), serde_json::json!({}));
    }

    #[test]
    fn a_bad_or_unknown_action_says_what_is_wrong() {
        let missing = action(r#"{"name":"TRANSFER"}"#).unwrap_err();
        assert!(
            missing.to_string().contains("parameters.skill"),
            "{missing}"
        );
        let custom = action(r#"{"name":"CHANGE_TTR","parameters":{"ttrType":"CUSTOM"}}"#);
        assert!(custom.unwrap_err().to_string().contains("CUSTOM"));
        let text =
            action(r#"{"name":"CHANGE_TTR","parameters":{"ttrType":"CUSTOM","value":"soon"}}"#);
        assert!(text.unwrap_err().to_string().contains("\"soon\""));
        assert_eq!(
            action(r#"{"name":"INVOCATION","parameters":{"lambdaUuid":"x"}}"#),
            Err(ActionError::Unsupported("INVOCATION".into()))
        );
    }
}
