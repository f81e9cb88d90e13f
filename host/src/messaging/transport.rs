//! How frames reach the platform and come back: the agent WebSocket (`lp`'s
//! client, which matches each response to its request), or the
//! `external_webhook_url` mode (each request a POST whose answer is its
//! response, notifications POSTed to the webhook).

use lp::client::{Connection, Options, Received};
use lp::kind::Agent;
use lp::{AgentClientFrame, Frame};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Credentials;
use super::translate::translate;
use crate::http::{self, HttpClient};
use crate::ports::{DialError, PlatformEvent};

/// The largest frame (and message) the connector reads from the platform.
/// What a platform sends it is small (events, pages of history); a larger
/// frame ends the session, which then reconnects.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// The most bytes of one webhook notification the connector reads.
const WEBHOOK_BODY_LIMIT: usize = 1 << 20;

/// How requests reach the platform.
pub(super) enum Transport {
    /// Frames on the agent WebSocket; responses come back on it.
    Socket(Connection<Agent>),
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

/// Opens the agent WebSocket; a task hands what the platform notifies to
/// the connector, and tells it when the socket ends.
pub(super) async fn open_socket(
    credentials: &Credentials,
    messaging: &str,
    bearer: &str,
    agent_id: &str,
    events: mpsc::UnboundedSender<PlatformEvent>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(Transport, Vec<JoinHandle<()>>), DialError> {
    progress("opening the messaging WebSocket");
    let account = &credentials.account;
    let scheme = if credentials.secure() { "wss" } else { "ws" };
    let ws_url =
        format!("{scheme}://{messaging}/ws_api/account/{account}/messaging/brand/{bearer}?v=2.1");
    let options = Options {
        tls: Some(credentials.tls.clone()),
        max_frame_bytes: Some(MAX_FRAME_BYTES),
        nodelay: true,
    };
    let (connection, mut inbox) = Connection::<Agent>::open(&ws_url, &options)
        .await
        .map_err(|e| DialError::Socket(e.to_string()))?;
    let my_id = agent_id.to_owned();
    let reader = tokio::spawn(async move {
        while let Some(arrived) = inbox.next().await {
            match arrived.frame {
                Ok(Received::Notification(notification)) => {
                    for event in translate(notification, &my_id) {
                        let _ = events.send(event);
                    }
                }
                Ok(Received::Response(response)) => {
                    tracing::debug!(req_id = ?response.req_id, "a response nobody waits for");
                }
                Ok(Received::Request(kind)) => {
                    tracing::debug!(%kind, "the platform sent a request; agents answer none");
                }
                Err(error) => tracing::warn!(%error, "unreadable frame from the platform"),
            }
        }
        let closed = inbox.closed().await;
        let reason = match closed.code {
            Some(code) => format!("closed by the platform: {code} {}", closed.reason),
            None => closed.reason,
        };
        let _ = events.send(PlatformEvent::Disconnected { reason });
    });
    Ok((Transport::Socket(connection), vec![reader]))
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
    let my_id = agent_id.to_owned();
    let server = tokio::spawn(http::serve(listener, move |request, _| {
        let (events, my_id, path) = (events.clone(), my_id.clone(), path.clone());
        async move {
            if request.uri().path() != path || request.method() != hyper::Method::POST {
                return http::error(hyper::StatusCode::NOT_FOUND, "not the webhook");
            }
            match http::read_body(request, WEBHOOK_BODY_LIMIT).await {
                Ok(body) => {
                    notify(&String::from_utf8_lossy(&body), &events, &my_id);
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

/// Hands the events of one notification POSTed to the webhook to the
/// connector.
fn notify(text: &str, events: &mpsc::UnboundedSender<PlatformEvent>, agent_id: &str) {
    match AgentClientFrame::parse(text) {
        Ok(Frame::Notification(notification)) => {
            for event in translate(notification, agent_id) {
                let _ = events.send(event);
            }
        }
        Ok(_) => tracing::debug!("the webhook got a frame that is not a notification"),
        Err(error) => tracing::warn!(%error, "unreadable frame from the platform"),
    }
}
