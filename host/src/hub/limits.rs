//! What the hub takes from its peers, so that one consumer's content
//! cannot hurt anybody else (LivePerson's platform has limits of its own;
//! where it publishes none we could confirm, these are the hub's).
//!
//! - A frame on either socket is at most [`MAX_FRAME_BYTES`]: a larger one
//!   cannot be a request the hub understands; that socket is closed with
//!   1009 (message too big) before the frame is held whole.
//! - One published event (its JSON: text, structured content, quick
//!   replies together) is at most [`MAX_EVENT_BYTES`]; a larger one is
//!   answered 413 and the socket carries on.
//! - History is served in pages of at most [`HISTORY_PAGE`] events, as
//!   LivePerson's `QueryMessages` does (`maxQuantity`, default and most
//!   100): no answer or notification holds a whole long conversation.
//! - Request bodies over HTTP are at most `BODY_LIMIT` (the hub's module).
//! - A conversation keeps its last [`KEPT_EVENTS`] events (older ones
//!   leave its history), and the hub remembers the last
//!   [`KEPT_CLOSED_CONVERSATIONS`] closed conversations: a long or endless
//!   stream of conversations cannot grow the hub's memory without end.
//!   LivePerson keeps every conversation; a connector needs only the
//!   recent events, to answer what its bot has not answered yet.
//! - What one client may take (signups, sockets, open conversations) is
//!   `[hub.clients]` (the `clients` module).

use super::state::Refusal;

/// The largest frame the hub reads on its agent and consumer sockets.
pub const MAX_FRAME_BYTES: usize = crate::http::MAX_SOCKET_MESSAGE;

/// The largest event (as JSON) a consumer or an agent may publish: the
/// same bound the connector keeps to.
pub const MAX_EVENT_BYTES: usize = crate::content::MAX_EVENT_BYTES;

/// The most events one history answer or notification carries.
pub const HISTORY_PAGE: usize = 100;

/// The most events a conversation keeps (its history's most recent).
pub const KEPT_EVENTS: usize = 1_000;

/// The most closed conversations the hub remembers (the most recently
/// closed).
pub const KEPT_CLOSED_CONVERSATIONS: usize = 10_000;

/// Refuses an event without a `type` with 400 (the hub passes on types it
/// does not know, but not untyped objects), encoded metadata LivePerson
/// refuses (not base64, over 5k; on other events than text and structured
/// content) with 400, and an event larger than [`MAX_EVENT_BYTES`] with 413.
pub fn check_event(
    event: &lp::messaging::Event,
    encoded_metadata: Option<&lp::messaging::EncodedMetadata>,
) -> Result<(), super::state::Refusal> {
    use lp::messaging::Event;
    if event.tag().is_empty() {
        return Err(Refusal::new(400, "event must be an object with a type"));
    }
    if let Some(metadata) = encoded_metadata {
        if !matches!(event, Event::Content(_) | Event::RichContent(_)) {
            return Err(Refusal::new(
                400,
                format!(
                    "encodedMetadata goes with text or structured content, not a {}",
                    event.tag()
                ),
            ));
        }
        metadata
            .check()
            .map_err(|error| Refusal::new(400, error.to_string()))?;
    }
    let size = serde_json::to_vec(event).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_EVENT_BYTES {
        return Err(Refusal::new(
            413,
            format!("the event is {size} bytes; the most an event may hold is {MAX_EVENT_BYTES}"),
        ));
    }
    Ok(())
}

/// Ends a socket whose peer sent a frame over [`MAX_FRAME_BYTES`]: a close
/// frame 1009 (message too big) goes out before the writer (its task, or
/// its future, not yet finished) is stopped.
pub async fn close_too_big(
    outbox: &super::state::Outbox,
    writer: impl std::future::Future + Unpin,
) {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);
    let reason = format!("frames are at most {MAX_FRAME_BYTES} bytes");
    let _ = outbox.send(super::state::Outgoing::Close(1009, reason));
    let _ = tokio::time::timeout(PATIENCE, writer).await;
}

/// The next text frame a peer sent on its socket; once the socket has
/// ended, `Err(too_big)`: true when it ended on a frame over
/// [`MAX_FRAME_BYTES`] (the caller then closes it with 1009).
pub async fn next_text(
    stream: &mut futures_util::stream::SplitStream<crate::http::ServerSocket>,
) -> Result<tokio_tungstenite::tungstenite::Utf8Bytes, bool> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    while let Some(message) = stream.next().await {
        match message {
            Ok(Message::Text(text)) => return Ok(text),
            // On a close frame tungstenite has queued the answering one
            // (same code); the next read sends it and ends the stream,
            // closing the TCP connection: the close handshake is complete.
            Ok(_) => continue,
            Err(error) => return Err(is_too_big(&error)),
        }
    }
    Err(false)
}

/// True for the read error of a frame over [`MAX_FRAME_BYTES`].
pub fn is_too_big(error: &tokio_tungstenite::tungstenite::Error) -> bool {
    matches!(error, tokio_tungstenite::tungstenite::Error::Capacity(_))
}
