//! The scripted bot: the first rule whose pattern matches the received text
//! answers with its texts and cards (cards become structured-content
//! vertical cards), quick replies on the last answer, then a private note
//! for agents, a new time to response, and a transfer or a close, as the
//! rule says. A text answer or a note may quote the received text as
//! `{text}`. No rule matching means no answer.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::config::{CardConfig, ScriptedAnswer, ScriptedRule};
use crate::content::OutMessage;
use crate::ports::{Bot, BotAction, BotError, BotTurn};

/// A bot that answers from rules.
pub struct ScriptedBot {
    id: String,
    rules: Vec<ScriptedRule>,
}

impl ScriptedBot {
    /// A bot with these rules.
    pub fn new(id: &str, rules: Vec<ScriptedRule>) -> Self {
        ScriptedBot {
            id: id.to_owned(),
            rules,
        }
    }

    /// The answer to `text`.
    pub fn answer(&self, text: &str) -> Vec<BotAction> {
        let Some(rule) = self.rules.iter().find(|r| r.pattern.is_match(text)) else {
            return Vec::new();
        };
        let mut messages: Vec<OutMessage> = rule
            .say
            .iter()
            .map(|answer| match answer {
                ScriptedAnswer::Text(template) => {
                    OutMessage::text(template.replace("{text}", text))
                }
                ScriptedAnswer::Card(card) => OutMessage::structured(card_json(card)),
            })
            .collect();
        if let (Some(last), false) = (messages.last_mut(), rule.quick_replies.is_empty()) {
            last.quick_replies = Some(quick_replies(&rule.quick_replies));
        }
        let mut actions: Vec<BotAction> = messages.into_iter().map(BotAction::Say).collect();
        if let Some(note) = &rule.note {
            actions.push(BotAction::Private(note.replace("{text}", text)));
        }
        if let Some(ttr) = &rule.ttr {
            actions.push(BotAction::ChangeTtr(ttr.clone()));
        }
        if let Some(skill) = &rule.escalate {
            actions.push(BotAction::Escalate(skill.clone()));
        }
        if rule.close {
            actions.push(BotAction::Close);
        }
        actions
    }
}

impl Bot for ScriptedBot {
    fn ask<'a>(&'a self, turn: &'a BotTurn) -> BoxFuture<'a, Result<Vec<BotAction>, BotError>> {
        Box::pin(async move {
            let actions = self.answer(&turn.text);
            if actions.is_empty() {
                tracing::debug!(bot = %self.id, text = %turn.text, "no rule matches: no answer");
            }
            Ok(actions)
        })
    }

    fn answers_in_process(&self) -> bool {
        true
    }
}

/// A card as a LivePerson vertical card: title, image, text, buttons.
fn card_json(card: &CardConfig) -> Value {
    let mut elements = Vec::new();
    if let Some(url) = &card.image {
        elements.push(json!({"type": "image", "url": url, "caption": card.title}));
    }
    elements.push(json!({"type": "text", "text": card.title, "style": {"bold": true}}));
    if let Some(text) = &card.text {
        elements.push(json!({"type": "text", "text": text}));
    }
    for button in &card.buttons {
        let action = match (&button.text, &button.url) {
            (_, Some(url)) => json!({"type": "link", "uri": url, "name": button.title}),
            (Some(text), None) => json!({"type": "publishText", "text": text}),
            (None, None) => json!({"type": "publishText", "text": button.title}),
        };
        elements
            .push(json!({"type": "button", "title": button.title, "click": {"actions": [action]}}));
    }
    json!({"type": "vertical", "elements": elements})
}

fn quick_replies(replies: &[(String, String)]) -> Value {
    let buttons: Vec<Value> = replies
        .iter()
        .map(|(title, text)| {
            json!({"type": "button", "title": title, "click": {"actions": [{"type": "publishText", "text": text}]}})
        })
        .collect();
    json!({"type": "quickReplies", "itemsPerRow": 8, "replies": buttons})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CardButton;
    use crate::content::Body;
    use regex::Regex;

    fn rule(pattern: &str, say: Vec<ScriptedAnswer>) -> ScriptedRule {
        ScriptedRule {
            pattern: Regex::new(&format!("(?i){pattern}")).unwrap(),
            say,
            quick_replies: vec![("Yes".into(), "yes".into())],
            note: None,
            ttr: None,
            escalate: None,
            close: false,
        }
    }

    #[test]
    fn first_matching_rule_answers_and_quotes_the_text() {
        let bot = ScriptedBot::new(
            "b",
            vec![
                rule("^hi$", vec![ScriptedAnswer::Text("hello".into())]),
                rule(".*", vec![ScriptedAnswer::Text("you said: {text}".into())]),
            ],
        );
        let first = bot.answer("HI");
        assert!(
            matches!(&first[..], [BotAction::Say(m)] if m.body == Body::Text("hello".into())),
            "{first:?}"
        );
        let echo = bot.answer("plans?");
        let expected = Body::Text("you said: plans?".into());
        assert!(
            matches!(&echo[..], [BotAction::Say(m)] if m.body == expected),
            "{echo:?}"
        );
    }

    #[test]
    fn cards_are_valid_structured_content_with_quick_replies_last() {
        let card = CardConfig {
            title: "Plan A".into(),
            text: Some("10 GB".into()),
            image: Some("https://example.com/a.png".into()),
            buttons: vec![CardButton {
                title: "Choose".into(),
                text: Some("plan a".into()),
                url: None,
            }],
        };
        let bot = ScriptedBot::new(
            "b",
            vec![rule(
                "plans",
                vec![
                    ScriptedAnswer::Card(card.clone()),
                    ScriptedAnswer::Card(card),
                ],
            )],
        );
        let actions = bot.answer("plans");
        assert_eq!(actions.len(), 2);
        for (index, action) in actions.iter().enumerate() {
            let BotAction::Say(message) = action else {
                panic!()
            };
            message.validate().unwrap();
            assert_eq!(message.quick_replies.is_some(), index == 1);
        }
    }
}
