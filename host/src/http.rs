//! Small hyper helpers shared by the servers (hub, admin) and the HTTP
//! clients (messaging login, bots): bodies, JSON responses, the
//! server-side WebSocket type and its frame limit (the hub's `socket`
//! module makes the upgrade), and a minimal JSON client.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;

/// The body type of every response switchboard serves.
pub type Body = Full<Bytes>;

/// A JSON response.
pub fn json(status: StatusCode, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("static response parts are valid")
}

/// A JSON error response with the stable shape `{"error":{"code","message"}}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json(
        status,
        &serde_json::json!({"error": {"code": status.as_u16(), "message": message.into()}}),
    )
}

/// A response with a fixed body and content type.
pub fn content(content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .header(CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

/// Reads a request body of at most `limit` bytes; a larger one is refused
/// as soon as it passes the limit, never read whole.
pub async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, String> {
    read_limited(request.into_body(), limit).await
}

/// The most bytes of an answer the clients read (a bot's answer, the
/// platform's): a larger one is the sender's error, refused as soon as it
/// passes this, never read whole.
pub const RESPONSE_LIMIT: usize = 4 << 20;

/// Collects `body` up to `limit` bytes.
async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, String>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(format!("body larger than {limit} bytes"))
        }
        Err(error) => Err(error.to_string()),
    }
}

/// The largest frame (and message) a server-side WebSocket reads: a larger
/// one closes that socket with 1009 before it is held whole.
pub const MAX_SOCKET_MESSAGE: usize = 1 << 20;

/// A server-side WebSocket connection on an upgraded hyper connection.
pub type ServerSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Serves `handler` on `listener` (HTTP/1.1 with upgrades, over TLS when
/// `tls` is given) until the future is dropped, which also ends every
/// connection it accepted (a stopped server answers nothing more on
/// kept-alive connections).
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    serve_tls(listener, None, handler).await
}

/// [`serve`], with TLS when `tls` is given.
pub async fn serve_tls<H, F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: H,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        // Frames are small and answered at once: without this, Nagle's
        // algorithm and delayed ACKs hold a reply back for up to 40 ms.
        let _ = stream.set_nodelay(true);
        let (handler, acceptor) = (handler.clone(), acceptor.clone());
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(request, peer).await) }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            let result = match acceptor {
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await
                }
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await
                    }
                    Err(error) => {
                        tracing::debug!(%error, %peer, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "HTTP connection ended with an error");
            }
        });
    }
}

/// Errors of [`post_json`] and [`get_json`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL could not be used.
    #[error("bad URL {0}")]
    Url(String),
    /// Connecting or sending failed.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The body, for the log.
        body: String,
    },
    /// The answer was not JSON.
    #[error("{url}: the answer is not JSON: {reason}")]
    NotJson {
        /// The URL.
        url: String,
        /// The parse error.
        reason: String,
    },
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// An HTTP(S) client: plain HTTP, and HTTPS trusting the roots it was made with.
#[derive(Clone)]
pub struct HttpClient {
    inner: hyper_util::client::legacy::Client<Connector, Body>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// A client whose HTTPS trusts `tls`'s roots.
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        HttpClient {
            inner:
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(connector),
        }
    }

    /// POSTs `body` as JSON to `url` and reads the JSON answer.
    pub async fn post_json(&self, url: &str, body: &Value) -> Result<Value, ClientError> {
        let request = Request::post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|_| ClientError::Url(url.to_owned()))?;
        self.send(url, request).await
    }

    /// GETs `url` and reads the JSON answer.
    pub async fn get_json(&self, url: &str) -> Result<Value, ClientError> {
        let request = Request::get(url)
            .body(Body::default())
            .map_err(|_| ClientError::Url(url.to_owned()))?;
        self.send(url, request).await
    }

    /// POSTs a text body and returns the answer's text.
    pub async fn post_text(&self, url: &str, body: String) -> Result<String, ClientError> {
        let request = Request::post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| ClientError::Url(url.to_owned()))?;
        let bytes = self.checked(url, request).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// DELETEs `url`.
    pub async fn delete(&self, url: &str) -> Result<Value, ClientError> {
        let request = Request::delete(url)
            .body(Body::default())
            .map_err(|_| ClientError::Url(url.to_owned()))?;
        self.send(url, request).await
    }

    /// GETs `url` with `Authorization: Bearer TOKEN` and reads the JSON answer.
    pub async fn get_json_with_bearer(
        &self,
        url: &str,
        bearer: &str,
    ) -> Result<Value, ClientError> {
        let request = Request::get(url)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {bearer}"))
            .body(Body::default())
            .map_err(|_| ClientError::Url(url.to_owned()))?;
        self.send(url, request).await
    }

    /// Sends `method url` with a bearer token and an optional JSON body;
    /// answers the status and the JSON body (`null` when empty or not JSON),
    /// error statuses included.
    pub async fn call(
        &self,
        method: &str,
        url: &str,
        bearer: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let request = Request::builder()
            .method(method)
            .uri(url)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {bearer}"))
            .header(CONTENT_TYPE, "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
            .map_err(|_| ClientError::Url(url.to_owned()))?;
        let (status, bytes) = self.exchange(request).await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status.as_u16(), value))
    }

    /// Like [`HttpClient::call`] without a body, answering the body as text.
    pub async fn call_text(
        &self,
        method: &str,
        url: &str,
        bearer: &str,
    ) -> Result<(u16, String), ClientError> {
        let request = Request::builder()
            .method(method)
            .uri(url)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {bearer}"))
            .body(Body::default())
            .map_err(|_| ClientError::Url(url.to_owned()))?;
        let (status, bytes) = self.exchange(request).await?;
        Ok((
            status.as_u16(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }

    async fn exchange(&self, request: Request<Body>) -> Result<(StatusCode, Bytes), ClientError> {
        let answer = self.request(request).await?;
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
        Ok((status, answer.body))
    }

    /// Sends `request`; an error status is an error.
    async fn checked(&self, url: &str, request: Request<Body>) -> Result<Bytes, ClientError> {
        let (status, bytes) = self.exchange(request).await?;
        if !status.is_success() {
            return Err(ClientError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            });
        }
        Ok(bytes)
    }

    async fn send(&self, url: &str, request: Request<Body>) -> Result<Value, ClientError> {
        let bytes = self.checked(url, request).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::NotJson {
            url: url.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// An error and its sources, so that "client error (Connect)" says why
/// (refused, certificate unknown, ...).
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An answer of [`HttpClient::request`], whatever its status.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body (at most [`RESPONSE_LIMIT`] bytes).
    pub body: Bytes,
}

impl HttpClient {
    /// Sends `request` and answers whatever came back: the caller reads
    /// the status, headers (cookies, `Retry-After`) and body itself.
    pub async fn request(&self, request: Request<Body>) -> Result<Answer, ClientError> {
        let url = request.uri().to_string();
        let transport = |reason: String| ClientError::Transport {
            url: url.clone(),
            reason,
        };
        let response = self
            .inner
            .request(request)
            .await
            .map_err(|e| transport(with_sources(&e)))?;
        let (parts, body) = response.into_parts();
        let body = read_limited(body, RESPONSE_LIMIT)
            .await
            .map_err(transport)?;
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

/// The client of the free functions below: HTTPS trusts the public web PKI.
pub fn default_client() -> &'static HttpClient {
    static CLIENT: std::sync::OnceLock<HttpClient> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        HttpClient::new(crate::tls::client_config(None).expect("the web PKI roots load"))
    })
}

/// POSTs `body` as JSON to `url` with the default client.
pub async fn post_json(url: &str, body: &Value) -> Result<Value, ClientError> {
    default_client().post_json(url, body).await
}

/// GETs JSON from `url` with the default client.
pub async fn get_json(url: &str) -> Result<Value, ClientError> {
    default_client().get_json(url).await
}
