//! LivePerson's Third-Party Bots conventions for what a bot asks of the
//! conversation besides its messages: bot actions (`TRANSFER`,
//! `CLOSE_CONVERSATION`, `CHANGE_TTR`) and private texts (`messageAudience`
//! `AGENTS_AND_MANAGERS`). A bot written for Third-Party Bots puts them in
//! its answers (a Bot Framework activity's `channelData`), so it works here
//! unchanged.
//!
//! What is read: `action.name` and its `parameters` (`skill` for a
//! transfer, a skill's name or id; `ttrType` and, for `CUSTOM`, `value` in
//! seconds as a number or a numeric string); `messageAudience`. A
//! transfer's `agentId`, a close's `withoutPcs` and the actions switchboard
//! has no counterpart for (`INVOCATION` of a LivePerson Function) are
//! ignored, with a warning naming them.

use lp::fields::{Ttr, TtrType};
use lp::messaging::MessageAudience;
use serde::Deserialize;

use crate::ports::BotAction;

/// The Third-Party Bots part of an answer (a Bot Framework activity's
/// `channelData`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelData {
    /// `AGENTS_AND_MANAGERS`: the answer's text is a private text.
    #[serde(default)]
    pub message_audience: Option<MessageAudience>,
    /// The bot action, if any.
    #[serde(default)]
    pub action: Option<ActionRequest>,
}

impl ChannelData {
    /// True when the answer's text is for agents and managers only.
    pub fn private(&self) -> bool {
        self.message_audience == Some(MessageAudience::AgentsAndManagers)
    }
}

/// A bot action as written: its name and parameters.
#[derive(Debug, Deserialize)]
pub struct ActionRequest {
    /// `TRANSFER`, `CLOSE_CONVERSATION`, `CHANGE_TTR`, ...
    pub name: String,
    /// What the action needs.
    #[serde(default)]
    pub parameters: Parameters,
}

/// The parameters the actions read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    /// A transfer's skill (name or id).
    #[serde(default)]
    skill: Option<String>,
    /// A new time to response's type.
    #[serde(default)]
    ttr_type: Option<TtrType>,
    /// A `CUSTOM` time to response, in seconds.
    #[serde(default)]
    value: Option<Seconds>,
}

/// Seconds as a number or as its decimal text (bots write both).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
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
}

impl ActionRequest {
    /// The action to carry out.
    pub fn to_action(&self) -> Result<BotAction, ActionError> {
        let wrong = |reason: &str| ActionError::Parameters {
            action: self.name.clone(),
            reason: reason.to_owned(),
        };
        match self.name.as_str() {
            "TRANSFER" => match self.parameters.skill.as_deref().map(str::trim) {
                Some(skill) if !skill.is_empty() => Ok(BotAction::Escalate(skill.to_owned())),
                _ => Err(wrong("parameters.skill (a skill's name or id) is missing")),
            },
            "CLOSE_CONVERSATION" => Ok(BotAction::Close),
            "CHANGE_TTR" => {
                let Some(ttr_type) = self.parameters.ttr_type.clone() else {
                    return Err(wrong(
                        "parameters.ttrType (URGENT, NORMAL, PRIORITIZED or CUSTOM) is missing",
                    ));
                };
                let value = match &self.parameters.value {
                    None => None,
                    Some(Seconds::Number(seconds)) => Some(*seconds),
                    Some(Seconds::Text(text)) => Some(text.trim().parse().map_err(|_| {
                        wrong(&format!(
                            "parameters.value {text:?} is not a number of seconds"
                        ))
                    })?),
                };
                match (&ttr_type, value) {
                    (TtrType::Other(other), _) => Err(wrong(&format!(
                        "ttrType {other}: expected URGENT, NORMAL, PRIORITIZED or CUSTOM"
                    ))),
                    (TtrType::Custom, None | Some(0)) => Err(wrong(
                        "a CUSTOM ttrType needs parameters.value, seconds above 0",
                    )),
                    (TtrType::Custom, value) => Ok(BotAction::ChangeTtr(Ttr { ttr_type, value })),
                    (_, _) => Ok(BotAction::ChangeTtr(Ttr {
                        ttr_type,
                        value: None,
                    })),
                }
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
