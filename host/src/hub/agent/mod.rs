//! The agent WebSocket (LivePerson's Messaging Agent API): one logged-in
//! agent session, over a socket or over HTTP (webhook mode). Each frame is
//! read once into an `lp::AgentRequest` and answered by that kind's
//! handler in [`requests`].
//!
//! Besides the requests a bot connector uses (§A3), it serves the rest of
//! what LivePerson's node-agent-sdk sends:
//! - `.ams.aam.UnsubscribeExConversations` `{"subscriptionId"}` ends that
//!   conversation subscription (404 for one this connection does not hold).
//! - `.ams.routing.SubscribeAgentsState` `{"agentId"?}` → `{"subscriptionId"}`;
//!   then a `.ams.routing.AgentStateNotification`
//!   `{"subscriptionId","changes":[{"type":"UPSERT","result":{"agentUserId","channels","availability","description"}}]}`
//!   whenever that agent user's state is set.
//! - `.ams.ms.SubscribeMessagingEvents` `{"dialogId","fromSeq"}` →
//!   `GenericSubscribeResponse`, then the dialog's past events from `fromSeq`
//!   as one `ms.MessagingEventNotification`. As on LivePerson (UMS v2), an
//!   agent needs no subscription for live events: participants receive them
//!   as `.ams.ms.OnlineEventDistribution`.
//! - `.ams.cm.AgentRequestConversation` `{"consumerId","skillId"?,"channelType":"MESSAGING"}`
//!   → `{"conversationId"}`: an outbound conversation with a consumer the
//!   hub knows, assigned to the requesting agent at once (no ring); both
//!   sides get the UPSERT. `conversationContext` (proactive context) is
//!   accepted and not kept.

mod requests;

use std::sync::Arc;

use futures_util::StreamExt;
use lp::{AgentServerFrame, Frame};
use serde_json::Value;

use super::Hub;
use super::state::{self, Agent, Availability, Outbox, Outgoing, Session};
use crate::http::ServerSocket;

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
            bearer: session.bearer.clone(),
            login: session.login.clone(),
            user_id: session.user_id.clone(),
            pid: session.pid.clone(),
            availability: Availability::Offline,
            routing_subscription: None,
            conversation_subscription: None,
            agent_state_subscription: None,
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

/// What has to follow a request's response, once that is sent.
pub(super) enum Then {
    Nothing,
    /// The first notification of a new conversation subscription.
    ConversationSnapshot,
    /// Routing: the agent may take conversations now, or a slot is free.
    Route,
    /// A dialog's past events (`SubscribeMessagingEvents`).
    History {
        dialog_id: String,
        from_seq: u64,
    },
    /// A conversation the agent opened, to both sides.
    Announce(String),
}

/// Reads one frame: the response to send (every request gets one), then
/// what has to follow it.
pub(super) fn process(
    hub: &Arc<Hub>,
    conn: u64,
    session: &Session,
    text: &str,
) -> (Option<String>, Then) {
    match AgentServerFrame::parse(text) {
        Ok(Frame::Request(incoming)) => {
            let ctx = requests::Ctx { hub, conn, session };
            let (answer, then) = requests::answer(&ctx, incoming);
            (Some(answer), then)
        }
        Ok(_) => (None, Then::Nothing),
        Err(error) => {
            tracing::debug!(agent = %session.user_id, %error, "unreadable agent frame");
            (Some(super::unreadable(text, &error)), Then::Nothing)
        }
    }
}

/// Does what follows a request's response.
pub(super) fn after(hub: &Arc<Hub>, conn: u64, then: Then) {
    match then {
        Then::Nothing => {}
        Then::ConversationSnapshot => hub.state().snapshot_for(conn),
        Then::Route => hub.route(),
        Then::History {
            dialog_id,
            from_seq,
        } => hub.state().send_history(conn, &dialog_id, from_seq),
        Then::Announce(conv_id) => hub.state().announce(&conv_id),
    }
}

pub(super) async fn serve(hub: Arc<Hub>, session: Session, socket: ServerSocket) {
    let (sink, mut stream) = socket.split();
    let (outbox, outgoing) = state::outbox();
    let conn = register(&hub, &session, outbox.clone());
    hub.watch_session(conn, session.bearer.clone());

    let mut writer = tokio::spawn(state::write_frames(sink, outgoing));

    let too_big = loop {
        let text = match super::limits::next_text(&mut stream).await {
            Ok(text) => text,
            Err(too_big) => break too_big,
        };
        let (reply, then) = process(&hub, conn, &session, &text);
        if let Some(reply) = reply {
            let _ = outbox.send(Outgoing::Text(reply));
        }
        after(&hub, conn, then);
    };

    if too_big {
        super::limits::close_too_big(&outbox, &mut writer).await;
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
    hub.watch_session(conn, session.bearer.clone());
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
