//! The consumer WebSocket (LivePerson's Messaging Window API): one consumer's socket.
//!
//! Besides the Messaging Window API's requests it serves `cqm.UnsubscribeExConversations`
//! `{"subscriptionId"}` (no more conversation notifications for that
//! subscription), and answers any frame that is not a request with a 400.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::Hub;
use super::clients::ClientKey;
use super::state::{self, Consumer, Outbox, Outgoing, Refusal};
use crate::http::ServerSocket;
use crate::wire::{self, Frame, Request};

/// How long a socket opened without a JWT may wait for `InitConnection`.
const INIT_WINDOW: Duration = Duration::from_secs(5);
/// Close code for "no valid JWT".
const UNAUTHORIZED: u16 = 4401;

/// Serves one consumer socket from `client` (counted among its open
/// sockets by the caller; given back here when the socket ends).
pub(super) async fn serve(
    hub: Arc<Hub>,
    header_token: Option<String>,
    client: ClientKey,
    socket: ServerSocket,
) {
    let (sink, mut stream) = socket.split();
    let (outbox, outgoing) = state::outbox();
    let conn = {
        let mut state = hub.state();
        let conn = state.next_id();
        let consumer_id = header_token.and_then(|t| {
            let consumer = state.consumer_tokens.consumer(&t, Instant::now());
            consumer.map(str::to_owned)
        });
        state.consumers.insert(
            conn,
            Consumer {
                outbox: Some(outbox.clone()),
                client: Some(client),
                consumer_id,
                ..Consumer::default()
            },
        );
        conn
    };

    let mut writer = tokio::spawn(state::write_frames(sink, outgoing));
    let mut too_big = false;

    // A socket that never authenticates is closed with 4401.
    let guard_hub = hub.clone();
    let guard_outbox = outbox.clone();
    let init_guard = tokio::spawn(async move {
        tokio::time::sleep(INIT_WINDOW).await;
        let authenticated = guard_hub
            .state()
            .consumers
            .get(&conn)
            .is_some_and(|c| c.consumer_id.is_some());
        if !authenticated {
            let _ = guard_outbox.send(Outgoing::Close(UNAUTHORIZED, "no valid JWT".into()));
        }
    });

    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            // tungstenite has queued the answering close frame (same code);
            // the next read sends it and ends the stream, closing the TCP
            // connection: the close handshake is complete.
            Ok(Message::Close(_)) => continue,
            Err(error) => {
                too_big = super::limits::is_too_big(&error);
                break;
            }
            Ok(_) => continue,
        };
        let refusal = match wire::parse(&text) {
            Ok(Frame::Request(request)) => {
                handle(&hub, conn, &outbox, request);
                continue;
            }
            // The hub sends consumers no requests, so nothing a consumer
            // sends is a response or a notification to it.
            Ok(Frame::Response { .. }) => {
                "a consumer sends requests (kind \"req\"), not responses".to_owned()
            }
            Ok(Frame::Notification { kind, .. }) => {
                format!("a consumer sends requests (kind \"req\"), not notifications ({kind})")
            }
            Err(error) => error.to_string(),
        };
        let frame = wire::response(
            wire::salvage_id(&text).as_deref(),
            400,
            "GenericResponse",
            json!({"msg": refusal}),
        );
        let _ = outbox.send(Outgoing::Text(frame));
    }

    init_guard.abort();
    if too_big {
        super::limits::close_too_big(&outbox, &mut writer).await;
    }
    {
        let mut state = hub.state();
        state.consumers.remove(&conn);
        state.clients.socket_closed(client);
    }
    writer.abort();
}

/// Answers one request; every request gets exactly one response.
pub(super) fn handle(hub: &Arc<Hub>, conn: u64, outbox: &Outbox, request: Request) {
    let respond = |code: u16, kind: &str, body: Value| {
        let _ = outbox.send(Outgoing::Text(wire::response(
            Some(&request.id),
            code,
            kind,
            body,
        )));
    };
    let refuse = |(code, msg): (u16, String)| respond(code, "GenericResponse", json!({"msg": msg}));
    let body = &request.body;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);

    if request.kind == "InitConnection" {
        let jwt = request
            .headers
            .iter()
            .find(|h| {
                h.get("type").and_then(Value::as_str) == Some(".ams.headers.ConsumerAuthentication")
            })
            .and_then(|h| h.get("jwt"))
            .and_then(Value::as_str);
        let mut state = hub.state();
        let now = Instant::now();
        let consumer_id =
            jwt.and_then(|t| state.consumer_tokens.consumer(t, now).map(str::to_owned));
        match (consumer_id, jwt) {
            (Some(id), Some(jwt)) => {
                // A new identity on a socket that had one, or one linked by
                // /authenticate, is a step-up of that consumer's conversation.
                let current = state
                    .consumers
                    .get(&conn)
                    .and_then(|c| c.consumer_id.clone());
                let from = current
                    .filter(|c| *c != id)
                    .or_else(|| state.consumer_tokens.take_step_up(jwt, now));
                if let Some(from) = from {
                    state.step_up(&from, &id);
                }
                if let Some(consumer) = state.consumers.get_mut(&conn) {
                    consumer.consumer_id = Some(id);
                }
                drop(state);
                respond(200, ".ReqBody$StringResp", json!("OK"));
            }
            _ => {
                drop(state);
                respond(401, ".ReqBody$StringResp", json!({"msg": "no valid JWT"}));
                let _ = outbox.send(Outgoing::Close(UNAUTHORIZED, "no valid JWT".into()));
            }
        }
        return;
    }
    if request.kind == "GetClock" || request.kind == ".GetClock" {
        return respond(
            200,
            "GetClock$Response",
            json!({"currentTime": wire::now_ms()}),
        );
    }

    let mut state = hub.state();
    let Some(consumer_id) = state
        .consumers
        .get(&conn)
        .and_then(|c| c.consumer_id.clone())
    else {
        drop(state);
        return refuse((401, "send InitConnection with a valid JWT first".into()));
    };
    match request.kind.as_str() {
        "cm.ConsumerRequestConversation" => {
            let skill = match body.get("skillId") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let client = state.consumers.get(&conn).and_then(|c| c.client);
            let result = state.request_conversation(&consumer_id, client, skill);
            drop(state);
            match result {
                Ok(id) => {
                    respond(
                        200,
                        "cm.RequestConversationResponse",
                        json!({"conversationId": id}),
                    );
                    hub.route();
                }
                Err(refusal) => refuse(refusal),
            }
        }
        "ms.PublishEvent" => {
            let dialog = text("dialogId").or_else(|| text("conversationId"));
            let (Some(dialog), Some(event)) = (dialog, body.get("event").cloned()) else {
                drop(state);
                return refuse((400, "dialogId and event are required".into()));
            };
            if !event.is_object() || event.get("type").and_then(Value::as_str).is_none() {
                drop(state);
                return refuse((400, "event must be an object with a type".into()));
            }
            if let Err(refusal) = super::limits::check_event(&event) {
                drop(state);
                return refuse(refusal);
            }
            let result = state.consumer_publish(&consumer_id, &dialog, event);
            drop(state);
            match result {
                Ok(sequence) => respond(
                    200,
                    "ms.PublishEventResponse",
                    json!({"sequence": sequence}),
                ),
                Err(refusal) => refuse(refusal),
            }
        }
        "ms.SubscribeMessagingEvents" => {
            let Some(dialog) = text("dialogId") else {
                drop(state);
                return refuse((400, "dialogId is required".into()));
            };
            let from_seq = body.get("fromSeq").and_then(Value::as_u64).unwrap_or(0);
            match state.conversations.get(&dialog) {
                Some(conv) if conv.consumer_id == consumer_id => {
                    // Under the lock: the response precedes the past events.
                    respond(200, "GenericSubscribeResponse", json!({}));
                    if let Err(refusal) =
                        state.subscribe_dialog(conn, &consumer_id, &dialog, from_seq)
                    {
                        tracing::warn!(?refusal, "subscription failed after its checks");
                    }
                }
                Some(_) => refuse((403, format!("dialog {dialog} is not this consumer's"))),
                None => refuse((404, format!("no dialog {dialog}"))),
            }
        }
        "cqm.SubscribeExConversations" => {
            let subscription = uuid::Uuid::new_v4().to_string();
            if let Some(consumer) = state.consumers.get_mut(&conn) {
                consumer.conversation_subscription = Some(subscription.clone());
            }
            respond(
                200,
                "cqm.SubscribeExConversationsResponse",
                json!({"subscriptionId": subscription}),
            );
            state.consumer_snapshot(conn);
        }
        "cqm.UnsubscribeExConversations" => {
            let unsubscribe: Unsubscribe = match parse(body) {
                Ok(unsubscribe) => unsubscribe,
                Err(refusal) => {
                    drop(state);
                    return refuse(refusal);
                }
            };
            let consumer = state.consumers.get_mut(&conn);
            match consumer.and_then(|c| {
                c.conversation_subscription
                    .take_if(|s| *s == unsubscribe.subscription_id)
            }) {
                Some(_) => respond(200, "GenericResponse", json!({})),
                None => refuse((
                    404,
                    format!(
                        "no conversation subscription {} on this connection",
                        unsubscribe.subscription_id
                    ),
                )),
            }
        }
        "cm.UpdateConversationField" => {
            let Some(conv_id) = text("conversationId") else {
                drop(state);
                return refuse((400, "conversationId is required".into()));
            };
            let fields = match body.get("conversationField") {
                Some(Value::Array(fields)) => fields.clone(),
                Some(field @ Value::Object(_)) => vec![field.clone()],
                _ => Vec::new(),
            };
            let closes = fields.iter().any(|f| {
                f.get("field").and_then(Value::as_str) == Some("ConversationStateField")
                    && f.get("conversationState").and_then(Value::as_str) == Some("CLOSE")
            });
            match state.conversations.get(&conv_id) {
                Some(conv) if conv.consumer_id == consumer_id && closes => {
                    state.close(&conv_id, "CONSUMER");
                    respond(
                        200,
                        "StringResponse",
                        json!("OK Conversation resolved successfully"),
                    );
                    drop(state);
                    hub.route();
                }
                Some(conv) if conv.consumer_id == consumer_id => refuse((
                    400,
                    "a consumer may only close its conversation (ConversationStateField CLOSE)"
                        .into(),
                )),
                Some(_) => refuse((
                    403,
                    format!("conversation {conv_id} is not this consumer's"),
                )),
                None => refuse((404, format!("no conversation {conv_id}"))),
            }
        }
        other => refuse((400, format!("unsupported request type {other}"))),
    }
}

/// `cqm.UnsubscribeExConversations`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Unsubscribe {
    subscription_id: String,
}

/// Reads a request body into its type.
fn parse<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, Refusal> {
    T::deserialize(body).map_err(|e| (400, format!("invalid body: {e}")))
}
