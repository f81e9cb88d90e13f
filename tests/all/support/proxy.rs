//! A recording proxy between connectors and their platform, for tests that
//! must see (or hold back) the agent side's frames on the wire.
//!
//! Connectors reach it as their platform (`[messaging] csds` = its URL).
//! Its domain lookup answers the platform's, with the proxy's address in
//! place of the platform's, so every later request comes through it too:
//! plain HTTP (login, refresh) is passed on byte for byte, and each agent
//! WebSocket is joined to one of its own to the platform, with every text
//! frame kept in order of passage. A test may hold the frames going to
//! the connectors from the first one that matches until it releases them,
//! as a platform slow to answer would.
//!
//! Plain HTTP is passed on a connection at a time, unread: a connector
//! that looks its domains up again (it does at each connect) on a kept-alive
//! connection its login opened reaches the platform itself from then on.
//! The first connect's lookup comes before any login, so a test sees all of
//! a connector's first session; one that tests a reconnect should not rely
//! on the proxy past it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use super::PATIENCE;

/// Which way a frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// From a connector to the platform (requests).
    ToPlatform,
    /// From the platform to a connector (responses, notifications).
    ToConnector,
}

type Matcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Default)]
struct Shared {
    /// Every text frame passed on, in order.
    frames: Mutex<Vec<(Way, String)>>,
    /// Woken when a frame is kept.
    kept: Notify,
    /// Frames to the connectors from the first one this matches are held.
    hold: Mutex<Option<Matcher>>,
}

/// The proxy; it serves until dropped.
pub struct WireProxy {
    /// What connectors are given as their platform.
    pub url: String,
    shared: Arc<Shared>,
    /// `true` while held frames may go.
    open: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WireProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WireProxy {
    /// A proxy on a free loopback port in front of the platform at
    /// `platform_url` (`http://127.0.0.1:PORT`).
    pub async fn start(platform_url: &str) -> WireProxy {
        let platform: SocketAddr = platform_url
            .trim_start_matches("http://")
            .parse()
            .expect("a loopback platform address");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let own = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (open, gate) = watch::channel(true);
        let task = tokio::spawn({
            let shared = shared.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (shared, gate) = (shared.clone(), gate.clone());
                    tokio::spawn(serve(stream, platform, own, shared, gate));
                }
            }
        });
        WireProxy {
            url: format!("http://{own}"),
            shared,
            open,
            task,
        }
    }

    /// Holds every frame to the connectors from the first that `matches`
    /// on, until [`WireProxy::release`].
    pub fn hold_from(&self, matches: impl Fn(&str) -> bool + Send + Sync + 'static) {
        // The gate first: a frame that matches as soon as the matcher is
        // in place finds it closed.
        self.open.send_replace(false);
        *self.shared.hold.lock().unwrap() = Some(Box::new(matches));
    }

    /// Lets the held frames go, in order, and holds no more.
    pub fn release(&self) {
        self.shared.hold.lock().unwrap().take();
        self.open.send_replace(true);
    }

    /// Every text frame passed on so far, in order.
    pub fn frames(&self) -> Vec<(Way, String)> {
        self.shared.frames.lock().unwrap().clone()
    }

    /// Waits (at most [`PATIENCE`]) for a frame going `way` that `matches`;
    /// answers its place in [`WireProxy::frames`].
    pub async fn wait_for(&self, way: Way, matches: impl Fn(&str) -> bool) -> usize {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let kept = self.shared.kept.notified();
                let found = self
                    .frames()
                    .iter()
                    .position(|(w, text)| *w == way && matches(text));
                if let Some(at) = found {
                    return at;
                }
                kept.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no frame {way:?} as expected: {:#?}", self.frames()))
    }
}

/// One connection from a connector: a WebSocket, the domain lookup, or
/// plain HTTP passed on.
async fn serve(
    mut stream: TcpStream,
    platform: SocketAddr,
    own: SocketAddr,
    shared: Arc<Shared>,
    gate: watch::Receiver<bool>,
) {
    let mut head = [0u8; 1024];
    let seen = loop {
        let Ok(n) = stream.peek(&mut head).await else {
            return;
        };
        let seen = String::from_utf8_lossy(&head[..n]).into_owned();
        if n == 0 || seen.contains("\r\n") || n == head.len() {
            break seen;
        }
        // The request line is still arriving.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    };
    if seen.starts_with("GET /ws_api/") {
        websocket(stream, platform, shared, gate).await;
    } else if seen.starts_with("GET ") && seen.contains("/baseURI.json") {
        // The request has no body: its head is all there is to read.
        let mut request = Vec::new();
        while !request.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if stream.read_exact(&mut byte).await.is_err() {
                return;
            }
            request.push(byte[0]);
        }
        let path = seen.split(' ').nth(1).unwrap_or_default();
        let answer = switchboard::http::get_json(&format!("http://{platform}{path}"))
            .await
            .expect("the platform answers the proxy's domain lookup");
        let body = answer
            .to_string()
            .replace(&platform.to_string(), &own.to_string());
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
    } else if let Ok(mut upstream) = TcpStream::connect(platform).await {
        let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
    }
}

/// Joins a connector's WebSocket to one of the proxy's to the platform.
// The handshake's callback returns tungstenite's error response by value.
#[allow(clippy::result_large_err)]
async fn websocket(
    stream: TcpStream,
    platform: SocketAddr,
    shared: Arc<Shared>,
    mut gate: watch::Receiver<bool>,
) {
    let mut path = String::new();
    let Ok(downstream) =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
            path = request.uri().to_string();
            Ok(response)
        })
        .await
    else {
        return;
    };
    let Ok((upstream, _)) =
        tokio_tungstenite::connect_async(format!("ws://{platform}{path}")).await
    else {
        return;
    };
    let (mut to_connector, mut from_connector) = downstream.split();
    let (mut to_platform, mut from_platform) = upstream.split();
    let keep = |way: Way, message: &Message| {
        if let Message::Text(text) = message {
            shared
                .frames
                .lock()
                .unwrap()
                .push((way, text.as_str().to_owned()));
            shared.kept.notify_waiters();
        }
    };
    // A request is kept once it is written on to the platform; a frame to
    // the connector just before it is written on, so that an answer is
    // always kept before whatever the connector does on reading it.
    let up = async {
        while let Some(Ok(message)) = from_connector.next().await {
            if to_platform.send(message.clone()).await.is_err() {
                break;
            }
            keep(Way::ToPlatform, &message);
        }
    };
    let down = async {
        while let Some(Ok(message)) = from_platform.next().await {
            let held = match (&message, shared.hold.lock().unwrap().as_ref()) {
                (Message::Text(text), Some(matches)) => matches(text.as_str()),
                _ => false,
            };
            if held {
                // This frame and every one after it wait for the release.
                let _ = gate.wait_for(|open| *open).await;
            }
            keep(Way::ToConnector, &message);
            if to_connector.send(message).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
