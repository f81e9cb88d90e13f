//! Bot Framework bots (the Activity protocol).
//!
//! A turn is an Activity POSTed to `{url}/api/messages`; a new
//! conversation's greeting is a `conversationUpdate` with `membersAdded`.
//! The bot answers by calling back **before** it answers the POST:
//! `POST {serviceUrl}/v3/conversations/{id}/activities[/{replyToId}]`. So
//! every Bot Framework bot gets a callback server on loopback (its
//! `serviceUrl`), and a turn's answer is what was called back for the
//! conversation by the time the POST returns.
//!
//! Mapping: text → text; hero cards → structured-content vertical cards
//! (images, bold title, subtitle, text, buttons: imBack/postBack publish
//! their value, openUrl opens it); suggestedActions → quick replies on the
//! last message; typing → a COMPOSING chat state. LivePerson's Third-Party
//! Bots conventions in `channelData` (structured content, bot actions,
//! private texts, `delay`, `multiMessage`) are read as
//! [`super::third_party`] says; its `encodedMetadata` rides on every
//! message the activity publishes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::third_party::{self, Audience, TextOrNumber};
use crate::content::OutMessage;
use crate::http;
use crate::ports::{Bot, BotAction, BotError, BotTurn, TurnKind};

/// Activities called back, by conversation id, for the turns in flight.
type Collected = Arc<Mutex<HashMap<String, Vec<Value>>>>;

/// A Bot Framework bot and its callback server.
pub struct BotFrameworkBot {
    id: String,
    endpoint: String,
    service_url: String,
    timeout: Duration,
    collected: Collected,
    server: JoinHandle<()>,
    engagement_attributes: bool,
}

impl Drop for BotFrameworkBot {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl BotFrameworkBot {
    /// A bot at `url` (`/api/messages` is added), with its callback server
    /// listening on `callback` (port 0: any free port). Must be called
    /// inside the tokio runtime.
    pub fn new(
        id: &str,
        url: &str,
        timeout: Duration,
        callback: SocketAddr,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(callback)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let collected: Collected = Arc::default();
        let serving = collected.clone();
        let server = tokio::spawn(http::serve(listener, move |request, _| {
            let collected = serving.clone();
            async move { callback_handler(request, collected).await }
        }));
        Ok(BotFrameworkBot {
            id: id.to_owned(),
            endpoint: format!("{}/api/messages", url.trim_end_matches('/')),
            service_url: format!("http://{address}/bf"),
            timeout,
            collected,
            server,
            engagement_attributes: false,
        })
    }

    /// With `on`, each activity carries the consumer's engagement
    /// attributes in `channelData.context.lpSdes`, as Third-Party Bots
    /// hands them to a Bot Framework bot.
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

    fn activity(&self, turn: &BotTurn) -> Value {
        let common = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "timestamp": now_rfc3339(),
            "channelId": "switchboard",
            "serviceUrl": self.service_url,
            "from": {"id": turn.consumer_id, "role": "user"},
            "conversation": {"id": turn.conversation_id},
            "recipient": {"id": self.id, "role": "bot"},
            "locale": "en-US",
        });
        let mut activity = common;
        if turn.kind == TurnKind::Greeting {
            activity["type"] = json!("conversationUpdate");
            activity["membersAdded"] = json!([{"id": turn.consumer_id, "role": "user"}]);
        } else {
            activity["type"] = json!("message");
            activity["text"] = json!(turn.text);
        }
        if self.engagement_attributes {
            let lp_sdes = third_party::lp_sdes(turn.engagement.as_deref());
            activity["channelData"] = json!({"context": {"lpEvent": {}, "lpSdes": lp_sdes}});
        }
        activity
    }
}

/// Takes a callback: `POST /bf/v3/conversations/{id}/activities[/{replyToId}]`.
async fn callback_handler(
    request: hyper::Request<hyper::body::Incoming>,
    collected: Collected,
) -> hyper::Response<http::Body> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let conversation = match (request.method(), segments.as_slice()) {
        (&Method::POST, ["bf", "v3", "conversations", id, "activities", ..]) => percent_decode(id),
        _ => return http::error(StatusCode::NOT_FOUND, format!("no route for {path}")),
    };
    let body = match http::read_body(request, 1 << 20).await {
        Ok(body) => body,
        Err(e) => return http::error(StatusCode::BAD_REQUEST, e),
    };
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
        return http::error(StatusCode::BAD_REQUEST, "the activity is not JSON");
    };
    collected
        .lock()
        .expect("not poisoned")
        .entry(conversation)
        .or_default()
        .push(activity);
    http::json(
        StatusCode::OK,
        &json!({"id": uuid::Uuid::new_v4().to_string()}),
    )
}

impl Bot for BotFrameworkBot {
    fn engagement_attributes(&self) -> bool {
        self.engagement_attributes
    }

    fn ask<'a>(&'a self, turn: &'a BotTurn) -> BoxFuture<'a, Result<Vec<BotAction>, BotError>> {
        Box::pin(async move {
            self.collected
                .lock()
                .expect("not poisoned")
                .remove(&turn.conversation_id);
            let activity = self.activity(turn);
            let posted = tokio::time::timeout(
                self.timeout,
                http::default_client().post_text(&self.endpoint, activity.to_string()),
            )
            .await;
            let taken = self
                .collected
                .lock()
                .expect("not poisoned")
                .remove(&turn.conversation_id)
                .unwrap_or_default();
            match posted {
                Err(_) => Err(self.timed_out()),
                Ok(Err(error)) => Err(self.error(error.to_string())),
                Ok(Ok(_)) => Ok(actions(&taken)),
            }
        })
    }
}

/// Maps called-back activities to actions, with LivePerson's Third-Party
/// Bots conventions in `channelData` (see [`third_party`]): structured
/// content (or quick replies) instead of the text, a private text, then a
/// bot action after the activity's messages; and a `handoff.initiate`
/// event (botbuilder's `EventFactory`) as a transfer to its `value.skill`.
pub fn actions(activities: &[Value]) -> Vec<BotAction> {
    let mut actions = Vec::new();
    for activity in activities {
        let channel_data = &activity["channelData"];
        let audience = third_party::audience(channel_data);
        let text = activity["text"].as_str().filter(|t| !t.is_empty());
        // A delay goes before the activity's messages and actions.
        match third_party::delay(channel_data) {
            // The consumer sees typing only for what the consumer will see.
            Some(Ok(pause)) => actions.extend(pause.into_iter().filter(|action| {
                audience == Audience::Everyone || !matches!(action, BotAction::Typing)
            })),
            Some(Err(error)) => {
                tracing::warn!(activity = %activity["id"], %error, "the bot's delay is not carried out");
            }
            None => {}
        }
        let multi = channel_data["multiMessage"].as_array();
        match activity["type"].as_str() {
            Some("typing") => actions.push(BotAction::Typing),
            Some("message") if audience == Audience::AgentsAndManagers => {
                actions.extend(text.map(|text| BotAction::Private(text.to_owned())));
                if activity.get("attachments").is_some()
                    || activity.get("suggestedActions").is_some()
                    || channel_data.get("structuredContent").is_some()
                {
                    tracing::warn!(activity = %activity["id"], "a private activity's cards and quick replies are not published: a private text is text");
                }
            }
            // Meant for someone in particular, whom switchboard cannot
            // tell: shown to no one rather than to the consumer.
            Some("message") if audience != Audience::Everyone => {
                tracing::warn!(activity = %activity["id"], ?audience, "an activity for an audience switchboard does not know: its messages are shown to no one");
            }
            // Several messages in one activity: they take its text's place.
            Some("message") if let Some(items) = multi => {
                if text.is_some()
                    || activity.get("attachments").is_some()
                    || activity.get("suggestedActions").is_some()
                    || channel_data.get("structuredContent").is_some()
                {
                    tracing::warn!(activity = %activity["id"], "an activity with multiMessage: its own text, cards and quick replies are not published");
                }
                actions.extend(third_party::multi_message(items));
            }
            Some("message") => {
                let mut messages = Vec::new();
                match third_party::structured_content(channel_data) {
                    Some(content) => messages.push(content),
                    None => messages.extend(text.map(OutMessage::text)),
                }
                for attachment in activity["attachments"].as_array().into_iter().flatten() {
                    if attachment["contentType"] == "application/vnd.microsoft.card.hero" {
                        messages.push(OutMessage::structured(hero_card(&attachment["content"])));
                    }
                }
                if let Some(replies) = suggested_actions(&activity["suggestedActions"]) {
                    if messages.is_empty() {
                        messages.push(OutMessage::text(""));
                    }
                    messages.last_mut().expect("one at least").quick_replies = Some(replies);
                }
                if let Some(metadata) = third_party::encoded_metadata(channel_data) {
                    for message in &mut messages {
                        message.encoded_metadata = Some(metadata.clone());
                    }
                }
                actions.extend(messages.into_iter().map(BotAction::Say));
            }
            Some("event") if activity["name"] == "handoff.initiate" => {
                match (&audience, text) {
                    (_, None) => {}
                    (Audience::Everyone, Some(text)) => {
                        actions.push(BotAction::Say(OutMessage::text(text)));
                    }
                    (Audience::AgentsAndManagers, Some(text)) => {
                        actions.push(BotAction::Private(text.to_owned()));
                    }
                    (Audience::Unknown(_), Some(_)) => {
                        tracing::warn!(activity = %activity["id"], ?audience, "a handoff's text for an audience switchboard does not know: shown to no one");
                    }
                }
                let skill = TextOrNumber::deserialize(&activity["value"]["skill"])
                    .ok()
                    .and_then(|skill| skill.skill());
                match skill {
                    Some(skill) => actions.push(BotAction::Escalate(skill)),
                    None => {
                        tracing::warn!(activity = %activity["id"], "a handoff.initiate event without a value.skill (a skill's name or id): no transfer");
                    }
                }
            }
            _ => {}
        }
        match third_party::action(channel_data) {
            Some(Ok(action)) => actions.push(action),
            Some(Err(error)) => {
                tracing::warn!(activity = %activity["id"], %error, "the bot's action is not carried out");
            }
            None => {}
        }
    }
    actions
}

fn card_action(action: &Value) -> Option<Value> {
    let value = action["value"]
        .as_str()
        .or_else(|| action["title"].as_str())?;
    Some(match action["type"].as_str() {
        Some("openUrl") => json!({"type": "link", "uri": value, "name": action["title"]}),
        _ => json!({"type": "publishText", "text": value}),
    })
}

/// A hero card as a LivePerson vertical card.
fn hero_card(card: &Value) -> Value {
    let mut elements = Vec::new();
    for image in card["images"].as_array().into_iter().flatten() {
        if let Some(url) = image["url"].as_str() {
            let mut element = json!({"type": "image", "url": url});
            if let Some(title) = card["title"].as_str() {
                element["caption"] = json!(title);
            }
            elements.push(element);
        }
    }
    if let Some(title) = card["title"].as_str() {
        elements.push(json!({"type": "text", "text": title, "style": {"bold": true}}));
    }
    for key in ["subtitle", "text"] {
        if let Some(text) = card[key].as_str() {
            elements.push(json!({"type": "text", "text": text}));
        }
    }
    for button in card["buttons"].as_array().into_iter().flatten() {
        if let (Some(title), Some(action)) = (button["title"].as_str(), card_action(button)) {
            elements
                .push(json!({"type": "button", "title": title, "click": {"actions": [action]}}));
        }
    }
    json!({"type": "vertical", "elements": elements})
}

fn suggested_actions(suggested: &Value) -> Option<Value> {
    let replies: Vec<Value> = suggested["actions"]
        .as_array()?
        .iter()
        .filter_map(|action| {
            let title = action["title"].as_str()?;
            Some(json!({"type": "button", "title": title, "click": {"actions": [card_action(action)?]}}))
        })
        .collect();
    (!replies.is_empty())
        .then(|| json!({"type": "quickReplies", "itemsPerRow": 8, "replies": replies}))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = hex {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The current time as RFC 3339 UTC, as Activities carry it.
fn now_rfc3339() -> String {
    let ms = crate::clock::now_ms();
    let (secs, millis) = (ms / 1000, ms % 1000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Body;

    #[test]
    fn a_text_for_agents_or_for_an_unknown_audience_never_reaches_the_consumer() {
        let private = json!({"messageAudience": "AGENTS_AND_MANAGERS"});
        let unknown = json!({"messageAudience": "agents_and_managers"});
        let activities = [
            json!({"type": "message", "text": "a note", "channelData": private,
                "suggestedActions": {"actions": [{"type": "imBack", "title": "Yes", "value": "yes"}]}}),
            json!({"type": "message", "text": "lost", "channelData": unknown}),
            json!({"type": "message", "text": "lost too", "channelData": "AGENTS_AND_MANAGERS"}),
            json!({"type": "event", "name": "handoff.initiate", "text": "a handoff note",
                "channelData": private, "value": {"skill": 2}}),
            json!({"type": "event", "name": "handoff.initiate", "text": "lost again",
                "channelData": unknown, "value": {"skill": "human-expert"}}),
        ];
        assert_eq!(
            actions(&activities),
            [
                BotAction::Private("a note".into()),
                BotAction::Private("a handoff note".into()),
                BotAction::Escalate("2".into()),
                BotAction::Escalate("human-expert".into()),
            ]
        );
    }

    #[test]
    fn hero_cards_and_suggested_actions_map_to_valid_content() {
        let activities = [
            json!({"type": "message", "text": "Here is a plan", "attachments": [{
            "contentType": "application/vnd.microsoft.card.hero",
            "content": {"title": "Plan A", "text": "Ten gigabytes", "images": [{"url": "https://example.com/a.png"}],
                "buttons": [{"type": "imBack", "title": "Choose A", "value": "I choose A"},
                            {"type": "openUrl", "title": "Details", "value": "https://example.com/a"}]}}],
            "suggestedActions": {"actions": [{"type": "imBack", "title": "Yes", "value": "yes"}]}}),
            json!({"type": "typing"}),
        ];
        let actions = actions(&activities);
        assert_eq!(actions.len(), 3);
        let BotAction::Say(card) = &actions[1] else {
            panic!()
        };
        card.validate().unwrap();
        let Body::Structured(content) = &card.body else {
            panic!()
        };
        assert_eq!(
            content["elements"][3]["click"]["actions"][0]["text"],
            "I choose A"
        );
        assert_eq!(
            content["elements"][4]["click"]["actions"][0]["uri"],
            "https://example.com/a"
        );
        assert_eq!(
            card.quick_replies.as_ref().unwrap()["replies"][0]["title"],
            "Yes"
        );
        assert_eq!(actions[2], BotAction::Typing);
    }

    #[test]
    fn an_activitys_encoded_metadata_rides_on_each_of_its_messages() {
        let activities = [
            json!({"type": "message", "text": "Two plans", "attachments": [
                {"contentType": "application/vnd.microsoft.card.hero", "content": {"title": "Plan A"}}],
                "channelData": {"encodedMetadata": "ewoiaWQiOiAidGV4dCIKfQ=="}}),
            json!({"type": "message", "text": "none"}),
        ];
        let metadata: Vec<Option<String>> = actions(&activities)
            .iter()
            .map(|action| match action {
                BotAction::Say(m) => m.encoded_metadata.as_ref().map(|m| m.as_str().to_owned()),
                other => panic!("{other:?}"),
            })
            .collect();
        let sent = Some("ewoiaWQiOiAidGV4dCIKfQ==".to_owned());
        assert_eq!(metadata, [sent.clone(), sent, None]);
    }

    #[test]
    fn ids_in_callback_paths_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b%3Ac"), "a b:c");
        assert_eq!(percent_decode("plain-id"), "plain-id");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let stamp = now_rfc3339();
        assert_eq!(stamp.len(), "2026-11-24T00:00:00.000Z".len(), "{stamp}");
        assert!(stamp.starts_with("20") && stamp.ends_with('Z'));
    }
}
