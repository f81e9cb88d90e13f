//! The hub's WebSocket upgrade: the 101 answer, then the socket with
//! buffers sized for its side.
//!
//! The read buffer is sized by side: it is the largest part of an idle
//! consumer's memory in the hub (tungstenite allocates and zero-fills it
//! whole when the socket opens and keeps it for the socket's life). Consumers send a few small frames (a larger one
//! grows the buffer as far as it needs), so their sockets start at
//! [`CONSUMER_READ_BUFFER`]; the few agent sockets carry every
//! conversation's traffic and read [`AGENT_READ_BUFFER`] at a time.

use std::future::Future;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::http::{Body, ServerSocket};

/// The read buffer of an agent socket.
pub const AGENT_READ_BUFFER: usize = 4 << 10;

/// The read buffer a consumer socket starts with: room for its usual
/// frames (`InitConnection` with its JWT, a published text).
pub const CONSUMER_READ_BUFFER: usize = 512;

/// Frames written to a socket stay in its write buffer until this many
/// bytes wait or the writer flushes (after each burst).
const WRITE_BUFFER: usize = 64 << 10;

/// Answers a WebSocket upgrade request with 101 and yields the socket, with
/// a read buffer of `read_buffer` bytes, once hyper hands the connection
/// over. `None` if the request is no upgrade.
pub fn upgrade(
    request: &mut Request<Incoming>,
    read_buffer: usize,
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
            .read_buffer_size(read_buffer)
            // Frames are buffered until `write_frames` flushes a burst, so
            // frames queued together leave in one write. (The buffer grows
            // with what is written, it is not reserved ahead: an idle
            // socket keeps at most its last burst's capacity.)
            .write_buffer_size(WRITE_BUFFER)
            .max_message_size(Some(super::limits::MAX_FRAME_BYTES))
            .max_frame_size(Some(super::limits::MAX_FRAME_BYTES));
        Some(
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await,
        )
    };
    Some((response, socket))
}
