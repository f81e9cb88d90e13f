//! HTTP bots that speak Rasa's REST channel format (PROTOCOL.md §D2): Rasa
//! itself (`POST {url}/webhooks/rest/webhook`) and the generic webhook, the
//! same JSON at a URL a brand chooses (§D3).
//!
//! Request: `{"sender": consumer id, "message": text, "metadata": {...}}`.
//! Answer: a list, one item per message: `text`, `image` (a card with the
//! image), `buttons` (quick replies on that message), `custom` (structured
//! content; or `{"action": "escalate", "skill": "2"}` / `{"action": "close"}`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::connector::{Bot, BotAction, BotError, BotTurn, TurnKind};
use crate::content::{Body, OutMessage};
use crate::http;

/// A Rasa-format HTTP bot.
pub struct WebhookBot {
    id: String,
    endpoint: String,
    timeout: Duration,
}

impl WebhookBot {
    /// A Rasa REST channel bot at `base` (`/webhooks/rest/webhook` is added).
    pub fn rasa(id: &str, base: &str, timeout: Duration) -> Self {
        WebhookBot {
            id: id.to_owned(),
            endpoint: format!("{}/webhooks/rest/webhook", base.trim_end_matches('/')),
            timeout,
        }
    }

    /// A generic webhook bot at exactly `url`.
    pub fn webhook(id: &str, url: &str, timeout: Duration) -> Self {
        WebhookBot {
            id: id.to_owned(),
            endpoint: url.to_owned(),
            timeout,
        }
    }

    fn error(&self, reason: impl Into<String>) -> BotError {
        BotError {
            bot: self.id.clone(),
            reason: reason.into(),
        }
    }
}

impl Bot for WebhookBot {
    fn ask<'a>(&'a self, turn: &'a BotTurn) -> BoxFuture<'a, Result<Vec<BotAction>, BotError>> {
        Box::pin(async move {
            let kind = match turn.kind {
                TurnKind::Message => "message",
                TurnKind::Greeting => "greeting",
                TurnKind::StepUp => "step-up",
                TurnKind::Event => "event",
            };
            let request = json!({
                "sender": turn.consumer_id, "message": turn.text,
                "metadata": {"conversationId": turn.conversation_id, "kind": kind},
            });
            let answer =
                tokio::time::timeout(self.timeout, http::post_json(&self.endpoint, &request))
                    .await
                    .map_err(|_| {
                        self.error(format!("no answer within {} ms", self.timeout.as_millis()))
                    })?
                    .map_err(|e| self.error(e.to_string()))?;
            match answer {
                Value::Array(items) => Ok(actions(&items)),
                Value::Null => Ok(Vec::new()),
                other => Err(self.error(format!("the answer must be a list, not {other}"))),
            }
        })
    }
}

/// Maps Rasa-format items to actions.
pub fn actions(items: &[Value]) -> Vec<BotAction> {
    let mut actions = Vec::new();
    let mut messages: Vec<OutMessage> = Vec::new();
    for item in items {
        if let Some(text) = item["text"].as_str() {
            messages.push(OutMessage::text(text));
        }
        if let Some(url) = item["image"].as_str() {
            messages.push(OutMessage {
                body: Body::Structured(
                    json!({"type": "vertical", "elements": [{"type": "image", "url": url}]}),
                ),
                quick_replies: None,
            });
        }
        if let Some(buttons) = item["buttons"].as_array() {
            let replies: Vec<Value> = buttons
                .iter()
                .filter_map(|b| {
                    let title = b["title"].as_str()?;
                    let payload = b["payload"].as_str().unwrap_or(title);
                    Some(json!({"type": "button", "title": title,
                        "click": {"actions": [{"type": "publishText", "text": payload}]}}))
                })
                .collect();
            if !replies.is_empty() {
                if messages.is_empty() {
                    messages.push(OutMessage::text(""));
                }
                let last = messages.last_mut().expect("one at least");
                last.quick_replies =
                    Some(json!({"type": "quickReplies", "itemsPerRow": 8, "replies": replies}));
            }
        }
        let custom = &item["custom"];
        match custom["action"].as_str() {
            Some("escalate") => {
                if let Some(skill) = custom["skill"].as_str() {
                    actions.push(BotAction::Escalate(skill.to_owned()));
                }
            }
            Some("close") => actions.push(BotAction::Close),
            _ if custom.is_object() => messages.push(OutMessage {
                body: Body::Structured(custom.clone()),
                quick_replies: None,
            }),
            _ => {}
        }
    }
    let mut all: Vec<BotAction> = messages.into_iter().map(BotAction::Say).collect();
    all.extend(actions);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rasa_items_become_messages_quick_replies_and_actions() {
        let items = json!([
            {"recipient_id": "c", "text": "Pick one", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
            {"recipient_id": "c", "image": "https://example.com/a.png"},
            {"recipient_id": "c", "custom": {"action": "escalate", "skill": "2"}}
        ]);
        let actions = actions(items.as_array().unwrap());
        assert_eq!(actions.len(), 3);
        let BotAction::Say(first) = &actions[0] else {
            panic!()
        };
        assert_eq!(
            first.quick_replies.as_ref().unwrap()["replies"][0]["click"]["actions"][0]["text"],
            "/affirm"
        );
        first.validate().unwrap();
        let BotAction::Say(image) = &actions[1] else {
            panic!()
        };
        image.validate().unwrap();
        assert_eq!(actions[2], BotAction::Escalate("2".into()));
    }
}
