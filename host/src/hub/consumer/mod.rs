//! The consumer WebSocket (LivePerson's Messaging Window API): one
//! consumer's socket. Each frame is read once into an
//! `lp::ConsumerRequest` and answered by that kind's handler in
//! [`requests`].
//!
//! Besides the Messaging Window API's requests it serves `cqm.UnsubscribeExConversations`
//! `{"subscriptionId"}` (no more conversation notifications for that
//! subscription), and answers any frame that is not a request with a 400.

mod requests;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lp::error::GENERIC_RESPONSE;
use lp::{ConsumerServerFrame, ErrorResponse, Frame};
use tokio::time::Instant;

use super::Hub;
use super::clients::ClientKey;
use super::state::{self, Consumer, Outbox, Outgoing};
use crate::http::ServerSocket;

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
        state.add_consumer(
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

    // The writer runs in this task beside the reader, not in a task of its
    // own: a task per idle socket is memory the hub holds for every
    // conversation.
    let writer = state::write_frames(sink, outgoing);
    tokio::pin!(writer);
    let mut written = false;

    let reader = async {
        // A socket that has not authenticated by the end of its window is
        // closed with 4401. The window is a timer of this task, dropped once
        // the socket authenticates, rather than a task of its own.
        let mut window =
            (!authenticated(&hub, conn)).then(|| Box::pin(tokio::time::sleep(INIT_WINDOW)));
        loop {
            let next = match window.as_mut() {
                None => super::limits::next_text(&mut stream).await,
                Some(deadline) => tokio::select! {
                    next = super::limits::next_text(&mut stream) => next,
                    () = deadline => {
                        window = None;
                        if !authenticated(&hub, conn) {
                            let _ = outbox.send(Outgoing::Close(UNAUTHORIZED, "no valid JWT".into()));
                        }
                        continue;
                    }
                },
            };
            match next {
                Ok(text) => process(&hub, conn, &outbox, &text),
                Err(too_big) => break too_big,
            }
            if window.is_some() && authenticated(&hub, conn) {
                window = None;
            }
        }
    };
    tokio::pin!(reader);
    // The writer ends after a close frame or a failed write; reading goes
    // on until the peer ends the socket.
    let too_big = loop {
        tokio::select! {
            too_big = &mut reader => break too_big,
            () = &mut writer, if !written => written = true,
        }
    };

    if too_big && !written {
        super::limits::close_too_big(&outbox, writer).await;
    }
    {
        let mut state = hub.state();
        state.remove_consumer(conn);
        state.clients.socket_closed(client);
    }
}

/// Whether the consumer on `conn` has authenticated (by its JWT in the
/// upgrade request or in `InitConnection`).
fn authenticated(hub: &Hub, conn: u64) -> bool {
    hub.state()
        .consumers
        .get(&conn)
        .is_some_and(|c| c.consumer_id.is_some())
}

/// Reads one frame from the consumer on `conn` and answers it: every
/// request gets exactly one response, anything else a 400.
pub(super) fn process(hub: &Arc<Hub>, conn: u64, outbox: &Outbox, text: &str) {
    let frame = match ConsumerServerFrame::parse(text) {
        Ok(Frame::Request(incoming)) => {
            let ctx = requests::Ctx { hub, conn, outbox };
            return requests::answer(&ctx, incoming);
        }
        // The hub sends consumers no requests, so nothing a consumer
        // sends is a response or a notification to it.
        Ok(Frame::Response(_)) => ErrorResponse::new(
            400,
            "a consumer sends requests (kind \"req\"), not responses",
        )
        .to_frame(lp::envelope::salvage_id(text).as_deref(), GENERIC_RESPONSE),
        Ok(Frame::Notification(notification)) => ErrorResponse::new(
            400,
            format!(
                "a consumer sends requests (kind \"req\"), not notifications ({})",
                notification.kind
            ),
        )
        .to_frame(lp::envelope::salvage_id(text).as_deref(), GENERIC_RESPONSE),
        Err(error) => super::unreadable(text, &error),
    };
    let _ = outbox.send(Outgoing::Text(frame));
}
