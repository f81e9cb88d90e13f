//! How frames reach the platform and come back: the agent WebSocket (a
//! writer task and a reader task), or the `external_webhook_url` mode (each
//! request a POST whose answer is its response, notifications POSTed to
//! the webhook); and matching each response to the request waiting for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use lp::{AgentClientFrame, Frame, ResponseFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::Credentials;
use super::translate::translate;
use crate::http::{self, HttpClient};
use crate::ports::{DialError, PlatformError, PlatformEvent};

/// The largest frame (and message) the connector reads from the platform.
/// What a platform sends it is small (events, pages of history); a larger
/// frame ends the session, which then reconnects.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// The most bytes of one webhook notification the connector reads.
const WEBHOOK_BODY_LIMIT: usize = 1 << 20;

fn socket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// The requests waiting for their responses, by request id.
pub(super) type Pending =
    Arc<Mutex<HashMap<String, oneshot::Sender<Result<ResponseFrame, PlatformError>>>>>;

/// How requests reach the platform.
pub(super) enum Transport {
    /// Frames on the agent WebSocket; responses come back on it.
    Socket(mpsc::UnboundedSender<Message>),
    /// `external_webhook_url` mode: each request is a POST whose answer is
    /// its response; notifications arrive as POSTs to the webhook.
    Http {
        /// The client that sends them.
        client: HttpClient,
        /// Where requests go.
        requests: String,
        /// The session, deleted at log-out.
        session: String,
    },
}

/// Opens the agent WebSocket: a writer task sends frames, a reader task
/// dispatches what comes back.
pub(super) async fn open_socket(
    credentials: &Credentials,
    messaging: &str,
    bearer: &str,
    agent_id: &str,
    pending: &Pending,
    events: mpsc::UnboundedSender<PlatformEvent>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(Transport, Vec<JoinHandle<()>>), DialError> {
    progress("opening the messaging WebSocket");
    let account = &credentials.account;
    let scheme = if credentials.secure() { "wss" } else { "ws" };
    let ws_url =
        format!("{scheme}://{messaging}/ws_api/account/{account}/messaging/brand/{bearer}?v=2.1");
    let connector = tokio_tungstenite::Connector::Rustls(credentials.tls.clone());
    let (socket, _) = tokio_tungstenite::connect_async_tls_with_config(
        &ws_url,
        Some(socket_config()),
        true,
        Some(connector),
    )
    .await
    .map_err(|e| DialError::Socket(e.to_string()))?;
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut outgoing) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        // Frames already waiting go out in one write.
        while let Some(mut message) = outgoing.recv().await {
            loop {
                if sink.feed(message).await.is_err() {
                    return;
                }
                match outgoing.try_recv() {
                    Ok(next) => message = next,
                    Err(_) => break,
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let (reader_pending, my_id) = (pending.clone(), agent_id.to_owned());
    let reader = tokio::spawn(async move {
        let reason = loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => dispatch(&text, &reader_pending, &events, &my_id),
                Some(Ok(Message::Close(frame))) => {
                    break format!("closed by the platform: {frame:?}");
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => break error.to_string(),
                None => break "connection ended".into(),
            }
        };
        // Fail every request still waiting, then tell the connector.
        for (_, waiter) in reader_pending.lock().expect("not poisoned").drain() {
            let _ = waiter.send(Err(PlatformError::Unavailable {
                request: "request".into(),
                reason: reason.clone(),
            }));
        }
        let _ = events.send(PlatformEvent::Disconnected { reason });
    });
    Ok((Transport::Socket(outbox), vec![writer, reader]))
}

/// `external_webhook_url` mode: listens where the URL says for the
/// platform's notifications, then opens an HTTP session pointing at it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn open_webhook(
    credentials: &Credentials,
    messaging: &str,
    bearer: &str,
    webhook: &str,
    agent_id: &str,
    pending: &Pending,
    events: mpsc::UnboundedSender<PlatformEvent>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(Transport, Vec<JoinHandle<()>>), DialError> {
    progress("listening for the platform's webhook calls");
    let uri: hyper::Uri = webhook
        .parse()
        .map_err(|e| DialError::Socket(format!("external_webhook_url {webhook}: {e}")))?;
    let host = uri.host().unwrap_or("127.0.0.1").to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| {
            DialError::Socket(format!(
                "cannot listen on {host}:{port} for external_webhook_url: {e}"
            ))
        })?;
    let path = uri.path().to_owned();
    let (reader_pending, my_id) = (pending.clone(), agent_id.to_owned());
    let server = tokio::spawn(http::serve(listener, move |request, _| {
        let (pending, events, my_id, path) = (
            reader_pending.clone(),
            events.clone(),
            my_id.clone(),
            path.clone(),
        );
        async move {
            if request.uri().path() != path || request.method() != hyper::Method::POST {
                return http::error(hyper::StatusCode::NOT_FOUND, "not the webhook");
            }
            match http::read_body(request, WEBHOOK_BODY_LIMIT).await {
                Ok(body) => {
                    dispatch(&String::from_utf8_lossy(&body), &pending, &events, &my_id);
                    http::json(hyper::StatusCode::OK, &serde_json::json!({}))
                }
                Err(e) => http::error(hyper::StatusCode::BAD_REQUEST, e),
            }
        }
    }));
    progress("opening the webhook session");
    let account = &credentials.account;
    let base = format!(
        "{}://{messaging}/api/account/{account}/messaging/agent/{bearer}",
        credentials.http()
    );
    let session = format!("{base}/webhook-session");
    credentials
        .client
        .post_json(&session, &serde_json::json!({"url": webhook}))
        .await
        .map_err(|e| DialError::Socket(format!("webhook session: {e}")))?;
    let transport = Transport::Http {
        client: credentials.client.clone(),
        requests: format!("{base}/request"),
        session,
    };
    Ok((transport, vec![server]))
}

/// Routes one frame from the platform: a response to its waiter, a
/// notification's events to the connector.
pub(super) fn dispatch(
    text: &str,
    pending: &Pending,
    events: &mpsc::UnboundedSender<PlatformEvent>,
    agent_id: &str,
) {
    match AgentClientFrame::parse(text) {
        Ok(Frame::Response(response)) => answer(pending, response),
        Ok(Frame::Notification(notification)) => {
            for event in translate(notification, agent_id) {
                let _ = events.send(event);
            }
        }
        Ok(Frame::Request(request)) => {
            tracing::debug!(kind = %request.kind, "the platform sent a request; agents answer none");
        }
        Err(error) => tracing::warn!(%error, "unreadable frame from the platform"),
    }
}

/// Hands a response to the request waiting for it.
pub(super) fn answer(pending: &Pending, response: ResponseFrame) {
    let Some(id) = &response.req_id else {
        tracing::warn!(code = response.code, "a response without a request id");
        return;
    };
    let waiter = pending.lock().expect("not poisoned").remove(id);
    if let Some(waiter) = waiter {
        let _ = waiter.send(Ok(response));
    }
}
