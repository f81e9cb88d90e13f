//! The agent WebSocket (PROTOCOL.md §A2–A4): one logged-in agent session.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::Hub;
use super::state::{self, Agent, Outbox, Outgoing, Session};
use crate::http::ServerSocket;
use crate::wire::{self, Frame, Request};

/// Adds a logged-in agent session whose frames go to `outbox`.
pub(super) fn register(hub: &Arc<Hub>, session: &Session, outbox: Outbox) -> u64 {
    let mut state = hub.state();
    let conn = state.next_id();
    let user = state
        .config
        .users
        .iter()
        .find(|u| u.login == session.login)
        .cloned();
    let (skills, max) = user
        .map(|u| (u.skills, u.max_conversations))
        .unwrap_or_default();
    state.agent_back(&session.user_id, &session.pid);
    state.agents.insert(
        conn,
        Agent {
            outbox,
            login: session.login.clone(),
            user_id: session.user_id.clone(),
            pid: session.pid.clone(),
            availability: "OFFLINE".into(),
            routing_subscription: None,
            conversation_subscription: None,
            skills,
            max_conversations: max,
            last_assigned: 0,
        },
    );
    tracing::info!(agent = %session.user_id, conn, "agent connected to the hub");
    conn
}

/// The session ended: rings are withdrawn; conversations move at once
/// after a logout, after the grace period after a drop.
pub(super) fn gone(hub: &Arc<Hub>, conn: u64) {
    let dropped = hub.state().agent_gone(conn);
    hub.route();
    if let Some(user) = dropped {
        let (hub, grace) = (hub.clone(), hub.state().config.agent_grace);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            hub.state().release_user(&user);
            hub.route();
        });
    }
}

/// Reads one frame: the response to send (every request gets one), then
/// what has to follow it.
pub(super) fn process(
    hub: &Arc<Hub>,
    conn: u64,
    session: &Session,
    text: &str,
) -> (Option<String>, Option<String>) {
    match wire::parse(text) {
        Ok(Frame::Request(request)) => {
            let kind = request.kind.clone();
            (Some(handle(hub, conn, session, request)), Some(kind))
        }
        Ok(_) => (None, None),
        Err(error) => (
            Some(wire::response(
                wire::salvage_id(text).as_deref(),
                400,
                "GenericResponse",
                json!({"msg": error.to_string()}),
            )),
            None,
        ),
    }
}

/// What follows a request's response: a subscription's first snapshot,
/// routing for an agent that can now take conversations.
pub(super) fn after(hub: &Arc<Hub>, conn: u64, kind: Option<String>) {
    match kind.as_deref() {
        Some(".ams.aam.SubscribeExConversations") => hub.state().snapshot_for(conn),
        Some(
            ".ams.routing.SubscribeRoutingTasks"
            | ".ams.routing.SetAgentState"
            | ".ams.routing.UpdateRingState"
            | ".ams.cm.UpdateConversationField",
        ) => hub.route(),
        _ => {}
    }
}

pub(super) async fn serve(hub: Arc<Hub>, session: Session, socket: ServerSocket) {
    let (sink, mut stream) = socket.split();
    let (outbox, outgoing) = state::outbox();
    let conn = register(&hub, &session, outbox.clone());

    let writer = tokio::spawn(state::write_frames(sink, outgoing));

    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let (reply, kind) = process(&hub, conn, &session, &text);
        if let Some(reply) = reply {
            let _ = outbox.send(Outgoing::Text(reply));
        }
        after(&hub, conn, kind);
    }

    gone(&hub, conn);
    writer.abort();
    tracing::info!(agent = %session.user_id, conn, "agent disconnected from the hub");
}

/// How many failed deliveries in a row end a webhook session.
const WEBHOOK_FAILURES: u32 = 3;

/// An agent session over HTTP (the connector's `external_webhook_url`
/// mode): requests come as POSTs, notifications go as POSTs to `url`, in
/// order. Returns the session's connection id.
pub(super) fn serve_webhook(hub: &Arc<Hub>, session: &Session, url: String) -> u64 {
    let (outbox, mut outgoing) = state::outbox();
    let conn = register(hub, session, outbox);
    let hub = hub.clone();
    tokio::spawn(async move {
        let mut failures = 0;
        while let Some(frame) = outgoing.next().await {
            let Outgoing::Text(text) = frame else { break };
            let body: Value = serde_json::from_str(&text).expect("the hub writes JSON");
            match crate::http::post_json(&url, &body).await {
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%url, %error, "webhook delivery failed");
                    if failures >= WEBHOOK_FAILURES {
                        break;
                    }
                }
            }
        }
        gone(&hub, conn);
    });
    conn
}

/// Answers one request; every request gets exactly one response.
fn handle(hub: &Arc<Hub>, conn: u64, session: &Session, request: Request) -> String {
    let response_type = format!("{}$Response", request.kind);
    let ok = |code: u16, body: Value| wire::response(Some(&request.id), code, &response_type, body);
    let refused = |(code, msg): (u16, String)| ok(code, json!({"msg": msg}));
    let body = &request.body;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    match request.kind.as_str() {
        ".GetClock" | "GetClock" => ok(200, json!({"currentTime": wire::now_ms()})),
        ".ams.routing.SetAgentState" => {
            let Some(availability) = text("availability") else {
                return refused((400, "availability is required".into()));
            };
            if !["ONLINE", "OCCUPIED", "AWAY", "OFFLINE"].contains(&availability.as_str()) {
                return refused((400, format!("unknown availability {availability}")));
            }
            if let Some(agent) = hub.state().agents.get_mut(&conn) {
                agent.availability = availability;
            }
            ok(200, json!({}))
        }
        ".ams.aam.SubscribeExConversations" => {
            let subscription = uuid::Uuid::new_v4().to_string();
            let filter = body.get("agentIds").and_then(Value::as_array).map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            });
            let states = body
                .get("convState")
                .and_then(Value::as_array)
                .map(|s| {
                    s.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if let Some(agent) = hub.state().agents.get_mut(&conn) {
                agent.conversation_subscription = Some((subscription.clone(), filter, states));
            }
            ok(200, json!({"subscriptionId": subscription}))
        }
        ".ams.routing.SubscribeRoutingTasks" => {
            let subscription = uuid::Uuid::new_v4().to_string();
            if let Some(agent) = hub.state().agents.get_mut(&conn) {
                agent.routing_subscription = Some(subscription.clone());
            }
            ok(200, json!({"subscriptionId": subscription}))
        }
        ".ams.routing.UpdateRingState" => {
            let (Some(ring_id), Some(ring_state)) = (text("ringId"), text("ringState")) else {
                return refused((400, "ringId and ringState are required".into()));
            };
            match hub.state().update_ring(conn, &ring_id, &ring_state) {
                Ok(()) => ok(200, json!({})),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.ms.PublishEvent" => {
            let (Some(dialog), Some(event)) = (text("dialogId"), body.get("event").cloned()) else {
                return refused((400, "dialogId and event are required".into()));
            };
            if !event.is_object() || event.get("type").and_then(Value::as_str).is_none() {
                return refused((400, "event must be an object with a type".into()));
            }
            match hub.state().agent_publish(conn, &dialog, event) {
                Ok(sequence) => ok(200, json!({"sequence": sequence})),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.ms.QueryMessages" => {
            let Some(dialog) = text("dialogId") else {
                return refused((400, "dialogId is required".into()));
            };
            let newer_than = body.get("newerThanSequence").and_then(Value::as_u64);
            match hub.state().history(&dialog, newer_than) {
                Ok(events) => ok(200, events),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.cm.UpdateConversationField" => {
            let Some(conv) = text("conversationId") else {
                return refused((400, "conversationId is required".into()));
            };
            let fields = match body.get("conversationField") {
                Some(Value::Array(fields)) => fields.clone(),
                Some(field @ Value::Object(_)) => vec![field.clone()],
                _ => return refused((400, "conversationField is required".into())),
            };
            match hub.state().agent_update_fields(conn, &conv, &fields) {
                Ok(()) => ok(200, json!("OK")),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.userprofile.GetUserProfile" => ok(200, json!([])),
        other => {
            tracing::debug!(agent = %session.user_id, request = other, "unsupported agent request");
            refused((400, format!("unsupported request type {other}")))
        }
    }
}
