//! The hub's WebSocket upgrade: the 101 answer, then the socket with
//! buffers sized for its side.
//!
//! Buffers are sized by side ([`Buffers`]). The read buffer is the largest
//! part of an idle consumer's memory in the hub (tungstenite allocates and
//! zero-fills it whole when the socket opens and keeps it for the socket's
//! life). Consumers send a few small frames (a larger one grows the buffer
//! as far as it needs), so their sockets start at 512 bytes; the few agent
//! sockets carry every conversation's traffic and read 4 KiB at a time.
//!
//! Frames written wait in the write buffer until the writer flushes a
//! burst (`write_frames`), or until more than the side's write threshold
//! waits, so frames queued together leave in one write. That buffer is
//! not reserved ahead but never shrinks: a socket keeps the capacity of
//! its largest burst, at most the threshold plus one frame. Consumers'
//! bursts are a few frames, so their threshold is small; an agent socket's
//! bursts carry many conversations.

use std::future::Future;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::http::{Body, ServerSocket};

/// A side's socket buffers, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Buffers {
    /// The read buffer the socket starts with.
    read: usize,
    /// Frames written are sent at the writer's flush or once more than
    /// this waits.
    write: usize,
}

/// An agent socket's buffers.
pub const AGENT: Buffers = Buffers {
    read: 4 << 10,
    write: 64 << 10,
};

/// A consumer socket's buffers: room to read its usual frames
/// (`InitConnection` with its JWT, a published text), and a burst of them
/// to write.
pub const CONSUMER: Buffers = Buffers {
    read: 512,
    write: 4 << 10,
};

/// Answers a WebSocket upgrade request with 101 and yields the socket, with
/// `buffers`, once hyper hands the connection over. `None` if the request
/// is no upgrade.
pub fn upgrade(
    request: &mut Request<Incoming>,
    buffers: Buffers,
) -> Option<(
    Response<Body>,
    impl Future<Output = Option<ServerSocket>> + use<>,
)> {
    let is_upgrade = request
        .headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = request.headers().get(SEC_WEBSOCKET_KEY)?.clone();
    if !is_upgrade {
        return None;
    }
    let on_upgrade = hyper::upgrade::on(request);
    let response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, HeaderValue::from_static("Upgrade"))
        .header(UPGRADE, HeaderValue::from_static("websocket"))
        .header(SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
        .body(Body::default())
        .expect("static response parts are valid");
    let socket = async move {
        let upgraded = on_upgrade.await.ok()?;
        let config = WebSocketConfig::default()
            .read_buffer_size(buffers.read)
            .write_buffer_size(buffers.write)
            .max_message_size(Some(super::limits::MAX_FRAME_BYTES))
            .max_frame_size(Some(super::limits::MAX_FRAME_BYTES));
        Some(
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await,
        )
    };
    Some((response, socket))
}
