//! A client of either socket (feature `client`): one WebSocket, requests
//! written from typed bodies and matched to their responses by id, and
//! everything else the server sends delivered in order on an [`Inbox`].
//!
//! It is the one client of the project: the gateway's connectors speak the
//! agent side through it, and the load generator's and the tests'
//! consumers the consumer side. Requests may be sent from many tasks at
//! once (`&self`); each waits for its own response. Frames the reader
//! cannot parse are delivered too, with their text, so a test can look at
//! the wire and a client can log what it could not read.
//!
//! A request may also be sent without waiting ([`Connection::send_then`]):
//! its response is handed to a function on the reader, which spares the
//! sender a wake-up per request (the connector publishes this way).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
// tokio's clock, so that a test can pause it and let the waiters grow overdue.
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::agent::AgentNotification;
use crate::consumer::ConsumerNotification;
use crate::envelope::{Extras, Frame, ResponseFrame, Untyped};
use crate::error::{ErrorResponse, FrameError};
use crate::kind::{Agent, Consumer, NotificationSet, Request, Side};

/// A side a client speaks, with the notifications it reads.
pub trait ClientSide: Side + Send + Sync + 'static {
    /// What its server notifies.
    type Notification: NotificationSet + Send + 'static;
}

impl ClientSide for Agent {
    type Notification = AgentNotification;
}

impl ClientSide for Consumer {
    type Notification = ConsumerNotification;
}

/// Why a request got no answer, or the socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket could not be opened (its HTTP status, when the
    /// server answered the upgrade with one).
    #[error("cannot open {url}: {reason}")]
    Connect {
        /// Where.
        url: String,
        /// The HTTP status of a refused upgrade.
        status: Option<u16>,
        /// The body of a refused upgrade.
        body: Option<String>,
        /// What happened.
        reason: String,
    },
    /// The socket closed before the answer came.
    #[error("the connection is closed")]
    Closed,
    /// No answer came within [`UNANSWERED_AFTER`] (requests sent with
    /// [`Connection::send_then`]; others time out where they are awaited).
    #[error("no answer within {} s", UNANSWERED_AFTER.as_secs())]
    Unanswered,
    /// The server refused the request (code above 399).
    #[error("{kind} refused with {}: {}", .refusal.code, .refusal.message)]
    Refused {
        /// The request type.
        kind: String,
        /// Its code and message.
        refusal: ErrorResponse,
    },
    /// The answer's body is not the request's response type.
    #[error(transparent)]
    Unreadable(#[from] FrameError),
}

/// What arrives on a socket besides the responses to requests waiting.
#[derive(Debug)]
pub struct Arrived<N> {
    /// The frame's text, as it came.
    pub text: String,
    /// The frame, read.
    pub frame: Result<Received<N>, FrameError>,
}

/// A frame read, that no request was waiting for.
#[derive(Debug)]
pub enum Received<N> {
    /// A notification.
    Notification(N),
    /// A response nobody waits for (its request was sent as text).
    Response(ResponseFrame),
    /// A request from the server (neither side's server sends any).
    Request(String),
}

/// The end of a socket, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The close frame's code, if one came.
    pub code: Option<u16>,
    /// Its reason, or what ended the connection.
    pub reason: String,
}

/// Frames that no request waited for, in order, then how the socket ended.
pub struct Inbox<S: ClientSide> {
    frames: mpsc::UnboundedReceiver<Arrived<S::Notification>>,
    closed: oneshot::Receiver<Closed>,
}

impl<S: ClientSide> Inbox<S> {
    /// The next frame; `None` once the socket has ended.
    pub async fn next(&mut self) -> Option<Arrived<S::Notification>> {
        self.frames.recv().await
    }

    /// The next frame if one is already here, without waiting. Frames
    /// that came before a response are here by the time its request
    /// returns: the reader hands them on first.
    pub fn try_next(&mut self) -> Option<Arrived<S::Notification>> {
        self.frames.try_recv().ok()
    }

    /// How the socket ended (after [`Inbox::next`] gave `None`).
    pub async fn closed(self) -> Closed {
        self.closed.await.unwrap_or(Closed {
            code: None,
            reason: "the reader stopped".into(),
        })
    }
}

/// The requests waiting for their responses, by id; `None` once the
/// socket has ended (so a request sent after cannot wait for ever).
type Waiters = Arc<Mutex<Option<HashMap<String, Waiter>>>>;

/// What a request sent with [`Connection::send_then`] does with its answer.
pub type Then = Box<dyn FnOnce(Result<Answered, ClientError>) + Send>;

/// A request sent with [`Connection::send_then`] that has no answer after
/// this long is told [`ClientError::Unanswered`] (LivePerson's clients give
/// up after 10 s too).
pub const UNANSWERED_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// At most this often, a request sent with [`Connection::send_then`] first
/// tells those waiting for longer than [`UNANSWERED_AFTER`] that no answer
/// came: a server that stops answering cannot make the waiters grow without
/// end, and their senders hear of it (the walk over the waiters is paid once
/// a second, not per request).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Who waits for a response.
enum Waiter {
    /// A task, awaiting it.
    Task(oneshot::Sender<Answered>),
    /// A function the reader runs with it, and when the request went out.
    Then(Then, Instant),
}

impl Waiter {
    /// Hands the answer over, or tells why none comes.
    fn answer(self, answered: Result<Answered, ClientError>) {
        match (self, answered) {
            (Waiter::Task(task), Ok(answered)) => {
                let _ = task.send(answered);
            }
            // The task learns it from its dropped sender.
            (Waiter::Task(_), Err(_)) => {}
            (Waiter::Then(then, _), answered) => then(answered),
        }
    }
}

/// A response as it came on the wire, and read.
#[derive(Clone, Debug)]
pub struct Answered {
    /// The frame's text.
    pub text: String,
    /// The frame, read.
    pub response: ResponseFrame,
}

/// One socket of side `S`. Dropping it ends both of its tasks.
pub struct Connection<S: ClientSide> {
    outbox: mpsc::UnboundedSender<Message>,
    waiters: Waiters,
    /// When overdue waiters were last looked for.
    last_sweep: Mutex<Instant>,
    next_id: AtomicU64,
    tasks: [JoinHandle<()>; 2],
    side: PhantomData<S>,
}

impl<S: ClientSide> Drop for Connection<S> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// How to open a socket: TLS roots for `wss://`, the largest frame read.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Roots trusted for `wss://` (the platform's default when `None`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The largest frame and message read; a larger one ends the socket.
    pub max_frame_bytes: Option<usize>,
    /// Send each frame at once (TCP_NODELAY): without it, Nagle's
    /// algorithm and delayed ACKs can hold a small frame back for 40 ms.
    pub nodelay: bool,
}

impl<S: ClientSide> Connection<S> {
    /// Opens the socket at `url`.
    pub async fn open(url: &str, options: &Options) -> Result<(Self, Inbox<S>), ClientError> {
        let config = options.max_frame_bytes.map(|max| {
            WebSocketConfig::default()
                .max_message_size(Some(max))
                .max_frame_size(Some(max))
        });
        let connector = options
            .tls
            .clone()
            .map(tokio_tungstenite::Connector::Rustls);
        let opened = tokio_tungstenite::connect_async_tls_with_config(
            url,
            config,
            options.nodelay,
            connector,
        )
        .await;
        let (socket, _) = opened.map_err(|error| connect_error(url, error))?;
        Ok(Self::over(socket))
    }

    /// Opens the socket at `url` over `stream`, a connection already made
    /// (e.g. from a chosen local address).
    pub async fn open_over(url: &str, stream: TcpStream) -> Result<(Self, Inbox<S>), ClientError> {
        let opened = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await;
        let (socket, _) = opened.map_err(|error| connect_error(url, error))?;
        Ok(Self::over(socket))
    }

    fn over(socket: WebSocketStream<MaybeTlsStream<TcpStream>>) -> (Self, Inbox<S>) {
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
        let waiters: Waiters = Arc::new(Mutex::new(Some(HashMap::new())));
        let (frames, inbox) = mpsc::unbounded_channel();
        let (ended, closed) = oneshot::channel();
        let reader_waiters = waiters.clone();
        let reader = tokio::spawn(async move {
            let end = loop {
                let text = match stream.next().await {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Close(frame))) => {
                        break Closed {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map_or_else(String::new, |f| f.reason.to_string()),
                        };
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => {
                        break Closed {
                            code: None,
                            reason: error.to_string(),
                        };
                    }
                    None => {
                        break Closed {
                            code: None,
                            reason: "the connection ended".into(),
                        };
                    }
                };
                let frame = match Frame::<Untyped, S::Notification>::parse(&text) {
                    Ok(Frame::Response(response)) => {
                        let waiter = response.req_id.as_ref().and_then(|id| {
                            let mut waiters = reader_waiters.lock().expect("not poisoned");
                            waiters.as_mut().and_then(|waiters| waiters.remove(id))
                        });
                        match waiter {
                            Some(waiter) => {
                                waiter.answer(Ok(Answered { text, response }));
                                continue;
                            }
                            None => Ok(Received::Response(response)),
                        }
                    }
                    Ok(Frame::Notification(notification)) => {
                        Ok(Received::Notification(notification))
                    }
                    Ok(Frame::Request(request)) => Ok(Received::Request(request.kind)),
                    Err(error) => Err(error),
                };
                // An inbox nobody reads any more is no reason to stop
                // answering the requests still waiting.
                let _ = frames.send(Arrived { text, frame });
            };
            // Requests still waiting fail now.
            let waiting = reader_waiters.lock().expect("not poisoned").take();
            for (_, waiter) in waiting.into_iter().flatten() {
                waiter.answer(Err(ClientError::Closed));
            }
            let _ = ended.send(end);
        });
        let connection = Connection {
            outbox,
            waiters,
            last_sweep: Mutex::new(Instant::now()),
            next_id: AtomicU64::new(1),
            tasks: [writer, reader],
            side: PhantomData,
        };
        (
            connection,
            Inbox {
                frames: inbox,
                closed,
            },
        )
    }

    /// Sends `body` and waits for its success response, typed.
    pub async fn request<R: Request<S>>(&self, body: &R) -> Result<R::Response, ClientError> {
        self.request_with(body, Extras::default()).await
    }

    /// [`Connection::request`] with `extras` (headers, metadata, encoded metadata).
    pub async fn request_with<R: Request<S>>(
        &self,
        body: &R,
        extras: Extras<'_>,
    ) -> Result<R::Response, ClientError> {
        let response = self.exchange(body, extras).await?;
        match response.error() {
            Some(refusal) => Err(ClientError::Refused {
                kind: R::KIND.to_owned(),
                refusal,
            }),
            None => Ok(response.decode()?),
        }
    }

    /// Sends `body` with `extras` and waits for the response, whatever
    /// its code.
    pub async fn exchange<R: Request<S>>(
        &self,
        body: &R,
        extras: Extras<'_>,
    ) -> Result<ResponseFrame, ClientError> {
        let id = self.next_id();
        let frame = crate::envelope::request_frame(&id, R::KIND, body, extras);
        self.exchange_text(&id, frame).await
    }

    /// Sends a frame written by hand, whose request id is `id`, and waits
    /// for the response to it: for frames no typed body makes (a test's
    /// malformed ones).
    pub async fn exchange_text(
        &self,
        id: &str,
        text: String,
    ) -> Result<ResponseFrame, ClientError> {
        Ok(self.exchange_raw(id, text).await?.response)
    }

    /// [`Connection::exchange_text`], with the response's text as it came.
    pub async fn exchange_raw(&self, id: &str, text: String) -> Result<Answered, ClientError> {
        let (done, answer) = oneshot::channel();
        match self.waiters.lock().expect("not poisoned").as_mut() {
            Some(waiters) => waiters.insert(id.to_owned(), Waiter::Task(done)),
            None => return Err(ClientError::Closed),
        };
        // Whoever stops waiting (a timeout around this call) forgets it.
        let forget = Forget {
            waiters: &self.waiters,
            id,
        };
        if self.outbox.send(Message::text(text)).is_err() {
            return Err(ClientError::Closed);
        }
        let answered = answer.await.map_err(|_| ClientError::Closed);
        drop(forget);
        answered
    }

    /// Sends `body` without waiting for its response: `then` gets it (see
    /// [`Connection::send_then`]).
    pub fn request_then<R: Request<S>>(&self, body: &R, then: Then) {
        self.request_then_with(body, Extras::default(), then);
    }

    /// [`Connection::request_then`] with `extras`.
    pub fn request_then_with<R: Request<S>>(&self, body: &R, extras: Extras<'_>, then: Then) {
        let id = self.next_id();
        let frame = crate::envelope::request_frame(&id, R::KIND, body, extras);
        self.send_then(id, frame, then);
    }

    /// Sends a frame whose request id is `id` without waiting: the reader
    /// runs `then` with its response when it comes (keep `then` short: the
    /// reader reads nothing else meanwhile), with [`ClientError::Closed`]
    /// if the socket ends first, or [`ClientError::Unanswered`] once it is
    /// overdue. Frames go out in the order they are sent, whichever way.
    pub fn send_then(&self, id: String, text: String, then: Then) {
        let now = Instant::now();
        let mut overdue = Vec::new();
        {
            let mut waiters = self.waiters.lock().expect("not poisoned");
            let Some(waiters) = waiters.as_mut() else {
                drop(waiters);
                return then(Err(ClientError::Closed));
            };
            let sweep = {
                let mut last = self.last_sweep.lock().expect("not poisoned");
                let due = now.duration_since(*last) >= SWEEP_EVERY;
                if due {
                    *last = now;
                }
                due
            };
            if sweep {
                let late: Vec<String> = waiters
                    .iter()
                    .filter(|(_, waiter)| {
                        matches!(waiter, Waiter::Then(_, sent) if now.saturating_duration_since(*sent) > UNANSWERED_AFTER)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                overdue.extend(late.iter().filter_map(|id| waiters.remove(id)));
            }
            waiters.insert(id.clone(), Waiter::Then(then, now));
        }
        for waiter in overdue {
            waiter.answer(Err(ClientError::Unanswered));
        }
        if self.outbox.send(Message::text(text)).is_err() {
            let waiter = self
                .waiters
                .lock()
                .expect("not poisoned")
                .as_mut()
                .and_then(|waiters| waiters.remove(&id));
            if let Some(waiter) = waiter {
                waiter.answer(Err(ClientError::Closed));
            }
        }
    }

    /// Sends a frame and waits for nothing.
    pub fn send_text(&self, text: String) -> Result<(), ClientError> {
        self.outbox
            .send(Message::text(text))
            .map_err(|_| ClientError::Closed)
    }

    /// Sends a close frame (1000 when `code` is `None`); the server's
    /// answer ends the inbox.
    pub fn close(&self, code: Option<u16>) {
        let frame = code.map(|code| CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        });
        let _ = self.outbox.send(Message::Close(frame));
    }

    /// A request id no other request of this connection has.
    pub fn next_id(&self) -> String {
        self.next_id.fetch_add(1, Ordering::Relaxed).to_string()
    }
}

/// Removes a request's waiter when its caller stops waiting.
struct Forget<'a> {
    waiters: &'a Waiters,
    id: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Some(waiters) = self.waiters.lock().expect("not poisoned").as_mut() {
            waiters.remove(self.id);
        }
    }
}

fn connect_error(url: &str, error: tokio_tungstenite::tungstenite::Error) -> ClientError {
    let (status, body) = match &error {
        tokio_tungstenite::tungstenite::Error::Http(response) => (
            Some(response.status().as_u16()),
            response
                .body()
                .as_deref()
                .map(|body| String::from_utf8_lossy(body).into_owned()),
        ),
        _ => (None, None),
    };
    ClientError::Connect {
        url: url.to_owned(),
        status,
        body,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests;
