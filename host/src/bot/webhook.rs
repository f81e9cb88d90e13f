//! HTTP bots that speak Rasa's REST channel format: Rasa
//! itself (`POST {url}/webhooks/rest/webhook`) and the generic webhook, the
//! same JSON at a URL a brand chooses (§D3).
//!
//! Request: `{"sender": consumer id, "message": text, "metadata": {...}}`;
//! with `engagement_attributes`, `metadata.lpSdes` holds the consumer's
//! engagement attributes (see [`third_party::lp_sdes`]).
//! Answer: a list, one item per message: `text`, `image` (a card with the
//! image), `buttons` (quick replies on that item's text; an item with
//! buttons and no text becomes a card of buttons, since quick replies need a
//! message to ride on), `attachment` (an image attachment becomes an image
//! card; any other with a URL, a card with a link button "Open attachment";
//! the URL is a string, or `payload.src` / `payload.url`), `custom`
//! (structured content; or `{"action": "escalate", "skill": "2"}` /
//! `{"action": "close"}`; or as LivePerson's Third-Party Bots writes custom
//! payloads, a private text `{"messageAudience": "AGENTS_AND_MANAGERS",
//! "text": ..}` or a bot action `{"action": {"name": "CHANGE_TTR",
//! "parameters": {..}}}`, read as [`third_party`] says; these go after
//! the answer's messages; or a message with the metadata it carries for the
//! consumer's window, `{"textResponse": .., "encodedMetadata": ..}` or
//! `{"structuredContent": {..}, "encodedMetadata": ..}`). What is not LivePerson structured content (a
//! Slack-style `custom`, an attachment without a URL) is handed on as it is
//! and refused by the connector's schema check, counted against the bot.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::third_party::{self, Audience};
use crate::content::OutMessage;
use crate::http;
use crate::ports::{Bot, BotAction, BotError, BotTurn, TurnKind};

/// A Rasa-format HTTP bot.
pub struct WebhookBot {
    id: String,
    endpoint: String,
    timeout: Duration,
    engagement_attributes: bool,
}

impl WebhookBot {
    /// A Rasa REST channel bot at `base` (`/webhooks/rest/webhook` is added).
    pub fn rasa(id: &str, base: &str, timeout: Duration) -> Self {
        WebhookBot {
            id: id.to_owned(),
            endpoint: format!("{}/webhooks/rest/webhook", base.trim_end_matches('/')),
            timeout,
            engagement_attributes: false,
        }
    }

    /// A generic webhook bot at exactly `url`.
    pub fn webhook(id: &str, url: &str, timeout: Duration) -> Self {
        WebhookBot {
            id: id.to_owned(),
            endpoint: url.to_owned(),
            timeout,
            engagement_attributes: false,
        }
    }

    /// With `on`, each request's `metadata` carries the consumer's
    /// engagement attributes as `lpSdes`.
    pub fn with_engagement_attributes(mut self, on: bool) -> Self {
        self.engagement_attributes = on;
        self
    }

    fn error(&self, reason: impl Into<String>) -> BotError {
        BotError {
            bot: self.id.clone(),
            reason: reason.into(),
            timed_out: false,
        }
    }

    fn timed_out(&self) -> BotError {
        BotError {
            timed_out: true,
            ..self.error(format!("no answer within {} ms", self.timeout.as_millis()))
        }
    }
}

impl Bot for WebhookBot {
    fn engagement_attributes(&self) -> bool {
        self.engagement_attributes
    }

    fn ask<'a>(&'a self, turn: &'a BotTurn) -> BoxFuture<'a, Result<Vec<BotAction>, BotError>> {
        Box::pin(async move {
            let kind = match turn.kind {
                TurnKind::Message => "message",
                TurnKind::Greeting => "greeting",
                TurnKind::StepUp => "step-up",
                TurnKind::Event => "event",
            };
            let mut request = json!({
                "sender": turn.consumer_id, "message": turn.text,
                "metadata": {"conversationId": turn.conversation_id, "kind": kind},
            });
            if self.engagement_attributes {
                request["metadata"]["lpSdes"] = third_party::lp_sdes(turn.engagement.as_deref());
            }
            let answer =
                tokio::time::timeout(self.timeout, http::post_json(&self.endpoint, &request))
                    .await
                    .map_err(|_| self.timed_out())?
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
        // Where this item's text is: its buttons ride on it as quick replies.
        let text_at = item["text"].as_str().map(|text| {
            messages.push(OutMessage::text(text));
            messages.len() - 1
        });
        if let Some(url) = item["image"].as_str() {
            messages.push(OutMessage::structured(
                json!({"type": "vertical", "elements": [{"type": "image", "url": url}]}),
            ));
        }
        if let Some(attachment) = item.get("attachment") {
            messages.push(attachment_message(attachment));
        }
        if let Some(buttons) = item["buttons"].as_array() {
            let buttons: Vec<Value> = buttons
                .iter()
                .filter_map(|b| {
                    let title = b["title"].as_str()?;
                    let payload = b["payload"].as_str().unwrap_or(title);
                    Some(json!({"type": "button", "title": title,
                        "click": {"actions": [{"type": "publishText", "text": payload}]}}))
                })
                .collect();
            match (text_at, buttons.is_empty()) {
                (_, true) => {}
                (Some(at), false) => {
                    messages[at].quick_replies =
                        Some(json!({"type": "quickReplies", "itemsPerRow": 8, "replies": buttons}));
                }
                (None, false) => messages.push(OutMessage::structured(
                    json!({"type": "vertical", "elements": buttons}),
                )),
            }
        }
        let custom = &item["custom"];
        // Third-Party Bots' custom payloads: a private text, a bot action.
        let audience = third_party::audience(custom);
        match audience {
            Audience::Everyone => {}
            Audience::AgentsAndManagers => {
                actions.extend(
                    custom["text"]
                        .as_str()
                        .map(|t| BotAction::Private(t.to_owned())),
                );
                continue;
            }
            Audience::Unknown(_) => {
                tracing::warn!(
                    ?audience,
                    "a custom item for an audience switchboard does not know: shown to no one"
                );
                continue;
            }
        }
        if custom["action"].is_object() {
            match third_party::action(custom) {
                Some(Ok(action)) => actions.push(action),
                Some(Err(error)) => tracing::warn!(%error, "the bot's action is not carried out"),
                None => {}
            }
            continue;
        }
        if let Some(message) = third_party_message(custom) {
            messages.push(message);
            continue;
        }
        match custom["action"].as_str() {
            Some("escalate") => {
                if let Some(skill) = custom["skill"].as_str() {
                    actions.push(BotAction::Escalate(skill.to_owned()));
                }
            }
            Some("close") => actions.push(BotAction::Close),
            _ if custom.is_object() => messages.push(OutMessage::structured(custom.clone())),
            _ => {}
        }
    }
    let mut all: Vec<BotAction> = messages.into_iter().map(BotAction::Say).collect();
    all.extend(actions);
    all
}

/// A custom payload as Third-Party Bots writes a message that carries
/// `encodedMetadata`: a text (`textResponse`) or structured content
/// (`structuredContent`, quick replies included), with the metadata beside it.
fn third_party_message(custom: &Value) -> Option<OutMessage> {
    let message = match custom["textResponse"].as_str() {
        Some(text) => OutMessage::text(text),
        None => third_party::structured_content(custom)?,
    };
    Some(OutMessage {
        encoded_metadata: third_party::encoded_metadata(custom),
        ..message
    })
}

/// A Rasa `attachment` as a message (see the module doc).
fn attachment_message(attachment: &Value) -> OutMessage {
    let url = attachment.as_str().or_else(|| {
        let payload = &attachment["payload"];
        payload["src"].as_str().or_else(|| payload["url"].as_str())
    });
    let content = match (attachment["type"].as_str(), url) {
        (Some("image"), Some(url)) => {
            json!({"type": "vertical", "elements": [{"type": "image", "url": url}]})
        }
        (_, Some(url)) => json!({"type": "vertical", "elements": [{
            "type": "button", "title": "Open attachment",
            "click": {"actions": [{"type": "link", "name": "Open attachment", "uri": url}]},
        }]}),
        (_, None) => attachment.clone(),
    };
    OutMessage::structured(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Body;

    #[test]
    fn third_party_bots_custom_payloads_are_private_texts_and_actions() {
        let items = json!([
            {"text": "Let me get someone"},
            {"custom": {"messageAudience": "AGENTS_AND_MANAGERS", "text": "wants a refund"}},
            {"custom": {"action": {"name": "CHANGE_TTR", "parameters": {"ttrType": "URGENT"}}}},
            {"custom": {"action": {"name": "TRANSFER", "parameters": {"skill": "human-expert"}}}},
            {"custom": {"messageAudience": "MANAGERS_ONLY", "text": "for nobody"}},
            {"custom": {"action": {"name": "INVOCATION", "parameters": {}}}}
        ]);
        let urgent = lp::fields::Ttr {
            ttr_type: lp::fields::TtrType::Urgent,
            value: None,
        };
        assert_eq!(
            actions(items.as_array().unwrap()),
            [
                BotAction::Say(OutMessage::text("Let me get someone")),
                BotAction::Private("wants a refund".into()),
                BotAction::ChangeTtr(urgent),
                BotAction::Escalate("human-expert".into()),
            ]
        );
    }

    #[test]
    fn third_party_bots_custom_payloads_carry_encoded_metadata_and_bad_metadata_is_refused() {
        let card = json!({"type": "vertical", "elements": [{"type": "text", "text": "A card"}]});
        let items = json!([
            {"custom": {"textResponse": "with metadata", "encodedMetadata": "SGVsbG8gV29ybGQh"}},
            {"custom": {"structuredContent": card, "encodedMetadata": "ZGlmZmVyZW50"}},
            {"custom": {"textResponse": "bad metadata", "encodedMetadata": "not base64!"}},
            {"custom": {"textResponse": "a number", "encodedMetadata": 1234}}
        ]);
        let says: Vec<OutMessage> = actions(items.as_array().unwrap())
            .into_iter()
            .map(|a| match a {
                BotAction::Say(m) => m,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(says[0].body, Body::Text("with metadata".into()));
        let metadata = |m: &OutMessage| m.encoded_metadata.as_ref().map(|m| m.as_str().to_owned());
        assert_eq!(metadata(&says[0]).as_deref(), Some("SGVsbG8gV29ybGQh"));
        assert_eq!(says[1].body, Body::Structured(card));
        assert_eq!(metadata(&says[1]).as_deref(), Some("ZGlmZmVyZW50"));
        says[0].validate().unwrap();
        says[1].validate().unwrap();
        for bad in &says[2..] {
            let refused = bad.validate().unwrap_err().to_string();
            assert!(refused.contains("encodedMetadata"), "{refused}");
        }
    }

    #[test]
    fn an_items_buttons_ride_on_its_text_even_beside_an_image() {
        let items = json!([{"text": "Look", "image": "https://example.com/a.png",
                            "buttons": [{"title": "Nice", "payload": "/nice"}]}]);
        let actions = actions(items.as_array().unwrap());
        let BotAction::Say(text) = &actions[0] else {
            panic!()
        };
        assert_eq!(text.body, Body::Text("Look".into()));
        assert!(text.quick_replies.is_some(), "{text:?}");
        let BotAction::Say(image) = &actions[1] else {
            panic!()
        };
        assert!(image.quick_replies.is_none(), "{image:?}");
    }

    #[test]
    fn buttons_without_text_become_a_card_and_attachments_cards_or_links() {
        let items = json!([
            {"buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No"}]},
            {"attachment": {"type": "image", "payload": {"src": "https://example.com/a.png"}}},
            {"attachment": {"type": "video", "payload": {"src": "https://example.com/v.mp4"}}},
            {"attachment": "https://example.com/file.pdf"},
            {"attachment": {"type": "file"}},
            {"custom": {"blocks": [{"type": "section"}]}}
        ]);
        let actions = actions(items.as_array().unwrap());
        let says: Vec<&OutMessage> = actions
            .iter()
            .map(|a| match a {
                BotAction::Say(m) => m,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(says.len(), 6);
        let Body::Structured(card) = &says[0].body else {
            panic!()
        };
        assert_eq!(card["elements"][1]["click"]["actions"][0]["text"], "No");
        let Body::Structured(image) = &says[1].body else {
            panic!()
        };
        assert_eq!(image["elements"][0]["type"], "image");
        for link in &says[2..4] {
            let Body::Structured(link) = &link.body else {
                panic!()
            };
            assert_eq!(link["elements"][0]["click"]["actions"][0]["type"], "link");
        }
        for publishable in &says[..4] {
            publishable.validate().unwrap();
        }
        // Not LivePerson content: handed on, and refused by the schema check.
        assert!(says[4].validate().is_err());
        assert!(says[5].validate().is_err());
    }

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
