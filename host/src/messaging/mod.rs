//! The LivePerson Messaging Agent API client: domain
//! lookup, login, the agent WebSocket, request/response matching, and the
//! translation of notifications into [`PlatformEvent`]s.
//!
//! Owns: the wire side of a connector's platform connection. Implements the
//! connector's [`Platform`] trait; knows nothing of conversations' logic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::config::LoginCredentials;
use crate::http::{self, HttpClient};
use crate::ports::{
    DialError, Dialed, Dialer, PastEvent, Platform, PlatformError, PlatformEvent, Session,
};
use crate::wire::{self, Frame};

/// Every request is answered within this time or counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a logout waits for the platform: a shutdown must not hang on it.
pub const LOGOUT_PATIENCE: Duration = Duration::from_secs(2);
/// The largest frame (and message) the connector reads from the platform.
/// What a platform sends it is small (events, pages of history); a larger
/// frame ends the session, which then reconnects.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

fn socket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// The most recent events of a conversation's history the connector keeps
/// when it reads it (older ones are read and dropped).
const HISTORY_KEPT: usize = 1000;
/// Events asked for per `QueryMessages` page (LivePerson's most).
const HISTORY_PAGE: usize = 100;
/// Application keep-alive (`GetClock`) interval.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Where and as whom to log in.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Base URL of the domain lookup (CSDS), e.g. `http://127.0.0.1:8080`.
    pub csds: String,
    /// Account number.
    pub account: String,
    /// Agent user login name.
    pub username: String,
    /// How it logs in.
    pub login: LoginCredentials,
    /// `external_webhook_url`: reach the platform over HTTP, with
    /// notifications posted to this URL, instead of the WebSocket.
    pub webhook: Option<String>,
    /// The roots trusted for `https://` and `wss://`.
    pub tls: Arc<rustls::ClientConfig>,
    /// The HTTP(S) client made with them.
    pub client: HttpClient,
    /// Login names of every agent user that serves the same bot in this
    /// account (this one among them): what they said in a conversation is
    /// the bot's own words (a failover, not a transfer).
    pub bot_users: Vec<String>,
}

impl Credentials {
    /// Credentials for `csds`, trusting `tls`'s roots.
    pub fn new(
        csds: &str,
        account: &str,
        username: &str,
        login: LoginCredentials,
        webhook: Option<String>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        Credentials {
            csds: csds.to_owned(),
            account: account.to_owned(),
            username: username.to_owned(),
            login,
            webhook,
            client: HttpClient::new(tls.clone()),
            tls,
            bot_users: vec![username.to_owned()],
        }
    }

    /// Names the agent users of every connector of the same bot (this
    /// one's is added if missing).
    pub fn with_bot_users(mut self, users: impl IntoIterator<Item = String>) -> Self {
        let mut all: Vec<String> = users.into_iter().collect();
        if !all.contains(&self.username) {
            all.push(self.username.clone());
        }
        self.bot_users = all;
        self
    }

    /// True for a platform on `https://`: every service is then reached over TLS.
    fn secure(&self) -> bool {
        self.csds.starts_with("https://")
    }

    fn http(&self) -> &'static str {
        if self.secure() { "https" } else { "http" }
    }
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Result<Value, PlatformError>>>>>;

/// How requests reach the platform.
enum Transport {
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

/// A live agent connection. Dropping it closes the socket.
pub struct AgentConnection {
    transport: Transport,
    pending: Pending,
    next_id: AtomicU64,
    agent_id: String,
    /// Account-qualified ids of the bot's agent users (see
    /// [`Credentials::bot_users`]).
    bot_agents: std::collections::HashSet<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for AgentConnection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl AgentConnection {
    /// Looks the account up, logs in, opens the WebSocket, goes ONLINE and
    /// subscribes to conversations and routing tasks. Events arrive on the
    /// returned receiver.
    pub async fn connect(
        credentials: &Credentials,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(Arc<AgentConnection>, mpsc::UnboundedReceiver<PlatformEvent>), DialError> {
        let account = &credentials.account;
        let (vep, messaging, bearer, agent_id) = login(credentials, progress).await?;
        progress("checking the bot user's prerequisites");
        let mut prerequisites = check_prerequisites(credentials, &vep, &bearer).await?;
        prerequisites.bot_agents.insert(agent_id.clone());

        let (events, receiver) = mpsc::unbounded_channel();
        let lost = events.clone();
        let pending: Pending = Arc::default();
        let (transport, tasks) = match &credentials.webhook {
            None => {
                open_socket(
                    credentials,
                    &messaging,
                    &bearer,
                    &agent_id,
                    &pending,
                    events,
                    progress,
                )
                .await?
            }
            Some(webhook) => {
                open_webhook(
                    credentials,
                    &messaging,
                    &bearer,
                    webhook,
                    &agent_id,
                    &pending,
                    events,
                    progress,
                )
                .await?
            }
        };
        let connection = Arc::new(AgentConnection {
            transport,
            pending,
            next_id: AtomicU64::new(1),
            agent_id: agent_id.clone(),
            bot_agents: prerequisites.bot_agents,
            tasks,
        });
        progress("subscribing");
        connection
            .request(
                ".ams.routing.SetAgentState",
                json!({"availability": "ONLINE", "channels": ["MESSAGING"], "agentUserId": agent_id}),
            )
            .await?;
        connection
            .request(
                ".ams.aam.SubscribeExConversations",
                json!({"convState": ["OPEN", "CLOSE"], "agentIds": [agent_id]}),
            )
            .await?;
        connection
            .request(
                ".ams.routing.SubscribeRoutingTasks",
                json!({"channelType": "MESSAGING", "agentId": agent_id, "brandId": account}),
            )
            .await?;

        // The keep-alive is also how an HTTP session notices the platform is gone.
        let keep_alive = Arc::downgrade(&connection);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEP_ALIVE).await;
                let Some(connection) = keep_alive.upgrade() else {
                    break;
                };
                if let Err(PlatformError::Unavailable { reason, .. }) =
                    connection.request(".GetClock", json!({})).await
                {
                    let _ = lost.send(PlatformEvent::Disconnected { reason });
                    break;
                }
            }
        });
        Ok((connection, receiver))
    }

    /// Goes OFFLINE (so the platform routes this agent's conversations to
    /// others at once) and closes the socket. A platform that does not
    /// answer within [`LOGOUT_PATIENCE`] is left as is: it treats the
    /// closed socket as a dropped agent.
    pub async fn log_out(&self) {
        let offline = self.request(
            ".ams.routing.SetAgentState",
            json!({"availability": "OFFLINE", "agentUserId": self.agent_id}),
        );
        if tokio::time::timeout(LOGOUT_PATIENCE, offline)
            .await
            .is_err()
        {
            tracing::warn!(agent = %self.agent_id, "the platform did not answer the logout in time");
        }
        match &self.transport {
            Transport::Socket(outbox) => {
                let _ = outbox.send(Message::Close(None));
            }
            Transport::Http {
                client, session, ..
            } => {
                let _ = client.delete(session).await;
            }
        }
    }

    /// Looks the account up, logs in and checks the user's prerequisites,
    /// without opening the messaging WebSocket. Answers who created the
    /// user, where the platform says (`createdBy`).
    pub async fn verify(credentials: &Credentials) -> Result<Option<String>, DialError> {
        let (vep, _, bearer, _) = login(credentials, &|_| {}).await?;
        Ok(check_prerequisites(credentials, &vep, &bearer)
            .await?
            .created_by)
    }

    /// This agent's account-qualified id.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// A `QueryMessages` answer as past events.
    fn past_events(&self, body: &Value) -> Vec<PastEvent> {
        body.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let from_consumer = e["originatorMetadata"]["role"] == "CONSUMER";
                let originator = e["originatorId"].as_str().unwrap_or_default();
                Some(PastEvent {
                    sequence: e["sequence"].as_u64()?,
                    from_consumer,
                    from_this_bot: !from_consumer && self.bot_agents.contains(originator),
                    event: e["event"].clone(),
                })
            })
            .collect()
    }

    /// Sends a request and waits for its response body.
    pub async fn request(&self, kind: &str, body: Value) -> Result<Value, PlatformError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let (done, answer) = oneshot::channel();
        self.pending
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), done);
        let unavailable = |reason: &str| PlatformError::Unavailable {
            request: kind.to_owned(),
            reason: reason.to_owned(),
        };
        let frame = wire::request(&id, kind, body);
        match &self.transport {
            Transport::Socket(outbox) => {
                if outbox.send(Message::text(frame)).is_err() {
                    self.pending.lock().expect("not poisoned").remove(&id);
                    return Err(unavailable("the connection is closed"));
                }
            }
            Transport::Http {
                client, requests, ..
            } => {
                // The answer is the response frame: hand it to the waiter.
                let answer =
                    tokio::time::timeout(REQUEST_TIMEOUT, client.post_text(requests, frame)).await;
                match answer {
                    Ok(Ok(text)) => dispatch_response(&text, &self.pending),
                    Ok(Err(error)) => {
                        self.pending.lock().expect("not poisoned").remove(&id);
                        return Err(unavailable(&error.to_string()));
                    }
                    Err(_) => {
                        self.pending.lock().expect("not poisoned").remove(&id);
                        return Err(unavailable("no response within 10 s"));
                    }
                }
            }
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
            Ok(Ok(result)) => result.map_err(|e| match e {
                PlatformError::Refused { code, message, .. } => PlatformError::Refused {
                    request: kind.to_owned(),
                    code,
                    message,
                },
                PlatformError::Unavailable { reason, .. } => unavailable(&reason),
            }),
            Ok(Err(_)) => Err(unavailable("the connection closed")),
            Err(_) => {
                self.pending.lock().expect("not poisoned").remove(&id);
                Err(unavailable("no response within 10 s"))
            }
        }
    }
}

/// Opens the agent WebSocket: a writer task sends frames, a reader task
/// dispatches what comes back.
async fn open_socket(
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
async fn open_webhook(
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
            match http::read_body(request, 1 << 20).await {
                Ok(body) => {
                    dispatch(&String::from_utf8_lossy(&body), &pending, &events, &my_id);
                    http::json(hyper::StatusCode::OK, &json!({}))
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
        .post_json(&session, &json!({"url": webhook}))
        .await
        .map_err(|e| DialError::Socket(format!("webhook session: {e}")))?;
    let transport = Transport::Http {
        client: credentials.client.clone(),
        requests: format!("{base}/request"),
        session,
    };
    Ok((transport, vec![server]))
}

/// Hands a response frame to the request waiting for it.
fn dispatch_response(text: &str, pending: &Pending) {
    if let Ok(Frame::Response {
        req_id,
        code,
        body,
        kind,
    }) = wire::parse(text)
    {
        answer(pending, req_id, code, kind, body);
    }
}

fn answer(pending: &Pending, req_id: String, code: u16, kind: String, body: Value) {
    let Some(waiter) = pending.lock().expect("not poisoned").remove(&req_id) else {
        return;
    };
    let result = if code > 399 {
        Err(PlatformError::Refused {
            request: kind,
            code,
            message: body
                .get("msg")
                .and_then(Value::as_str)
                .map_or_else(|| body.to_string(), str::to_owned),
        })
    } else {
        Ok(body)
    };
    let _ = waiter.send(result);
}

/// Domain lookup and login: the agentVep and messaging domains, the
/// bearer token and the agent's account-qualified id.
async fn login(
    credentials: &Credentials,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(String, String, String, String), DialError> {
    let account = &credentials.account;
    progress("looking up the account's domains");
    let lookup_url = format!(
        "{}/api/account/{account}/service/baseURI.json?version=1.0",
        credentials.csds
    );
    let domains = credentials
        .client
        .get_json(&lookup_url)
        .await
        .map_err(|e| DialError::Lookup(e.to_string()))?;
    let domain = |service: &str| {
        domains["baseURIs"]
            .as_array()
            .and_then(|list| list.iter().find(|d| d["service"] == service))
            .and_then(|d| d["baseURI"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| DialError::Lookup(format!("no {service} domain for account {account}")))
    };
    let (vep, messaging) = (domain("agentVep")?, domain("asyncMessagingEnt")?);

    progress("logging in");
    let login_url = format!(
        "{}://{vep}/api/account/{account}/login?v=1.3",
        credentials.http()
    );
    let body = match &credentials.login {
        LoginCredentials::Password(password) => {
            json!({"username": credentials.username, "password": password})
        }
        LoginCredentials::ApiKey {
            app_key,
            secret,
            access_token,
            access_token_secret,
        } => json!({
            "username": credentials.username, "appKey": app_key, "secret": secret,
            "accessToken": access_token, "accessTokenSecret": access_token_secret,
        }),
    };
    let login = credentials
        .client
        .post_json(&login_url, &body)
        .await
        .map_err(|e| DialError::Login {
            user: credentials.username.clone(),
            reason: e.to_string(),
        })?;
    let (Some(bearer), Some(user_id)) =
        (login["bearer"].as_str(), login["config"]["userId"].as_str())
    else {
        return Err(DialError::Login {
            user: credentials.username.clone(),
            reason: "the answer lacks bearer or config.userId".into(),
        });
    };
    let agent_id = format!("{account}.{user_id}");

    Ok((vep, messaging, bearer.to_owned(), agent_id))
}

/// What the account's configuration says about the bot user.
struct Prerequisites {
    /// Who created the user, where the platform says.
    created_by: Option<String>,
    /// Account-qualified ids of the bot's agent users.
    bot_agents: std::collections::HashSet<String>,
}

/// Checks, where the platform publishes its account configuration (the
/// hub does), that the user exists, is enabled, is a bot and has a skill,
/// and learns the ids of the bot's agent users. A platform without that
/// API is trusted, and its ids are taken to be the login names.
async fn check_prerequisites(
    credentials: &Credentials,
    vep: &str,
    bearer: &str,
) -> Result<Prerequisites, DialError> {
    let (account, username) = (credentials.account.as_str(), credentials.username.as_str());
    let get = |path: &str| {
        let url = format!(
            "{}://{vep}/api/account/{account}/configuration/{path}",
            credentials.http()
        );
        let bearer = bearer.to_owned();
        async move { credentials.client.get_json_with_bearer(&url, &bearer).await }
    };
    let users = match get("le-users/users").await {
        Ok(users) => users,
        // Without the users' ids only this agent's own words are known
        // (the caller adds its id).
        Err(http::ClientError::Status { status: 404, .. }) => {
            return Ok(Prerequisites {
                created_by: None,
                bot_agents: Default::default(),
            });
        }
        Err(error) => {
            return Err(DialError::Prerequisite(format!(
                "cannot read the account's users: {error}"
            )));
        }
    };
    let missing = |what: String| Err(DialError::Prerequisite(what));
    let Some(user) = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["loginName"] == username))
    else {
        return missing(format!(
            "user {username} does not exist in account {account}"
        ));
    };
    if user["isEnabled"] != true {
        return missing(format!("user {username} is disabled"));
    }
    if user["userTypeId"] != 2 {
        return missing(format!(
            "user {username} is not a bot user (connectors log in as bot users)"
        ));
    }
    let skill_ids: Vec<&Value> = user["skillIds"].as_array().into_iter().flatten().collect();
    let skills: Vec<&str> = skill_ids.iter().filter_map(|s| s.as_str()).collect();
    if skills.is_empty() {
        return missing(format!(
            "user {username} has no skill, so no conversation can be routed to it"
        ));
    }
    // A skill no engagement routes to is reached by transfers only: allowed, but worth a word.
    if let Ok(engagements) = get("le-campaigns/engagements").await {
        let routed: Vec<&str> = engagements
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["skillId"].as_str())
            .collect();
        if !skills.iter().any(|s| routed.contains(s)) {
            tracing::warn!(
                user = username,
                skills = skills.join(", "),
                "no engagement routes to this bot user's skills: it will get transferred conversations only"
            );
        }
    }
    // The bot's users that serve one of this user's skills: a conversation
    // one of them leaves comes here without changing skill (a failover).
    // One that serves other skills only hands over by a transfer.
    let shares_a_skill = |user: &Value| {
        user["skillIds"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|skill| skill_ids.contains(&skill))
    };
    // Ids are strings on the hub and numbers on LivePerson.
    let bot_agents = users
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| {
            u["loginName"]
                .as_str()
                .is_some_and(|login| credentials.bot_users.iter().any(|b| b == login))
                && shares_a_skill(u)
        })
        .filter_map(|u| match &u["id"] {
            Value::String(id) => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
        .map(|id| format!("{account}.{id}"))
        .collect();
    Ok(Prerequisites {
        created_by: user["createdBy"].as_str().map(str::to_owned),
        bot_agents,
    })
}

/// Routes one incoming frame: responses to their waiters, notifications to events.
fn dispatch(
    text: &str,
    pending: &Pending,
    events: &mpsc::UnboundedSender<PlatformEvent>,
    agent_id: &str,
) {
    let frame = match wire::parse(text) {
        Ok(frame) => frame,
        Err(error) => {
            tracing::warn!(%error, "unreadable frame from the platform");
            return;
        }
    };
    match frame {
        Frame::Response {
            req_id,
            code,
            body,
            kind,
        } => answer(pending, req_id, code, kind, body),
        Frame::Notification { kind, body } => {
            for event in translate(&kind, &body, agent_id) {
                let _ = events.send(event);
            }
        }
        Frame::Request(_) => {}
    }
}

/// The events one frame from the platform carries (none for responses
/// and for frames that do not parse).
pub fn notification_events(text: &str, agent_id: &str) -> Vec<PlatformEvent> {
    match wire::parse(text) {
        Ok(Frame::Notification { kind, body }) => translate(&kind, &body, agent_id),
        _ => Vec::new(),
    }
}

/// Turns a notification into the events a connector acts on.
fn translate(kind: &str, body: &Value, agent_id: &str) -> Vec<PlatformEvent> {
    let changes = || body["changes"].as_array().into_iter().flatten();
    let text = |v: &Value| v.as_str().map(str::to_owned);
    match kind {
        ".ams.routing.RoutingTaskNotification" => changes()
            .filter(|c| c["type"] == "UPSERT")
            .flat_map(|c| {
                let result = &c["result"];
                let conversation_id = text(&result["conversationId"]).unwrap_or_default();
                let skill_id = text(&result["skillId"]);
                result["ringsDetails"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["ringState"] == "WAITING")
                    .filter_map(move |r| {
                        Some(PlatformEvent::Ring {
                            ring_id: text(&r["ringId"])?,
                            conversation_id: conversation_id.clone(),
                            skill_id: skill_id.clone(),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        ".ams.aam.ExConversationChangeNotification" => changes()
            .filter_map(|c| {
                let result = &c["result"];
                let conversation_id = text(&result["convId"])?;
                if c["type"] == "DELETE" {
                    return Some(PlatformEvent::ConversationGone { conversation_id });
                }
                let details = &result["conversationDetails"];
                let assigned = details["participants"]["ASSIGNED_AGENT"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|id| id == agent_id));
                Some(PlatformEvent::ConversationUpsert {
                    conversation_id,
                    skill_id: text(&details["skillId"]),
                    consumer_id: details["participants"]["CONSUMER"][0]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    open: details["state"] == "OPEN",
                    assigned_to_me: assigned,
                })
            })
            .collect(),
        ".ams.ms.OnlineEventDistribution" => {
            let Some(conversation_id) =
                text(&body["dialogId"]).or_else(|| text(&body["conversationId"]))
            else {
                return Vec::new();
            };
            vec![PlatformEvent::ConversationEvent {
                conversation_id,
                sequence: body["sequence"].as_u64(),
                from_consumer: body["originatorMetadata"]["role"] == "CONSUMER",
                event: body["event"].clone(),
            }]
        }
        _ => Vec::new(),
    }
}

/// Dials the platform for one connector's bot user (the [`Dialer`] the
/// connector is given).
pub struct LivePersonDialer {
    credentials: Credentials,
}

impl LivePersonDialer {
    /// A dialer that logs in with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        LivePersonDialer { credentials }
    }
}

impl Dialer for LivePersonDialer {
    fn dial<'a>(
        &'a self,
        progress: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<Dialed, DialError>> {
        Box::pin(async move {
            let (connection, events) =
                AgentConnection::connect(&self.credentials, progress).await?;
            Ok((connection as Arc<dyn Session>, events))
        })
    }
}

impl Session for AgentConnection {
    fn agent_id(&self) -> &str {
        &self.agent_id
    }

    fn log_out(&self) -> BoxFuture<'_, ()> {
        Box::pin(AgentConnection::log_out(self))
    }
}

impl Platform for AgentConnection {
    fn reject_ring<'a>(&'a self, ring_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.request(
                ".ams.routing.UpdateRingState",
                json!({"ringId": ring_id, "ringState": "REJECTED"}),
            )
            .await
            .map(drop)
        })
    }

    fn accept_ring<'a>(&'a self, ring_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.request(
                ".ams.routing.UpdateRingState",
                json!({"ringId": ring_id, "ringState": "ACCEPTED"}),
            )
            .await
            .map(drop)
        })
    }

    fn publish<'a>(
        &'a self,
        conversation_id: &'a str,
        event: Value,
    ) -> BoxFuture<'a, Result<u64, PlatformError>> {
        Box::pin(async move {
            let body = self
                .request(
                    ".ams.ms.PublishEvent",
                    json!({"dialogId": conversation_id, "event": event}),
                )
                .await?;
            Ok(body["sequence"].as_u64().unwrap_or(0))
        })
    }

    fn history<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PastEvent>, PlatformError>> {
        Box::pin(async move {
            // Page by page (LivePerson's maxQuantity is at most 100): a
            // long conversation never comes as one frame over a limit.
            let mut past = Vec::new();
            let mut newer_than = 0;
            loop {
                let body = self
                    .request(
                        ".ams.ms.QueryMessages",
                        json!({"dialogId": conversation_id, "newerThanSequence": newer_than,
                               "maxQuantity": HISTORY_PAGE}),
                    )
                    .await?;
                let page = self.past_events(&body);
                let full = body.as_array().is_some_and(|a| a.len() >= HISTORY_PAGE);
                // A full page may have a next one; progress guards the loop.
                let next = page
                    .last()
                    .map(|e| e.sequence)
                    .filter(|&last| full && last > newer_than);
                past.extend(page);
                // Only the tail matters (the last utterances, what nobody
                // answered): a long conversation costs bounded memory.
                let excess = past.len().saturating_sub(HISTORY_KEPT);
                past.drain(..excess);
                match next {
                    Some(last) => newer_than = last,
                    None => return Ok(past),
                }
            }
        })
    }

    fn transfer<'a>(
        &'a self,
        conversation_id: &'a str,
        skill_id: &'a str,
    ) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.request(
                ".ams.cm.UpdateConversationField",
                json!({"conversationId": conversation_id, "conversationField": [
                    {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT", "userId": self.agent_id},
                    {"field": "Skill", "type": "UPDATE", "skill": skill_id}]}),
            )
            .await
            .map(drop)
        })
    }

    fn close<'a>(&'a self, conversation_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.request(
                ".ams.cm.UpdateConversationField",
                json!({"conversationId": conversation_id, "conversationField": [
                    {"field": "ConversationStateField", "conversationState": "CLOSE"}]}),
            )
            .await
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_rings_become_ring_events() {
        let body = json!({"subscriptionId": "s", "changes": [{"type": "UPSERT", "result": {
            "routingTaskId": "rt1", "conversationId": "c1", "consumerId": "cons-1", "skillId": "1",
            "ringsDetails": [{"ringId": "c1_456_1", "ringState": "WAITING"}, {"ringId": "old", "ringState": "EXPIRED"}]}}]});
        assert_eq!(
            translate(".ams.routing.RoutingTaskNotification", &body, "123.456"),
            vec![PlatformEvent::Ring {
                ring_id: "c1_456_1".into(),
                conversation_id: "c1".into(),
                skill_id: Some("1".into())
            }]
        );
    }

    #[test]
    fn conversation_changes_name_the_assigned_agent() {
        let body = json!({"changes": [
            {"type": "UPSERT", "result": {"convId": "c1", "conversationDetails": {"skillId": "1", "state": "OPEN",
                "participants": {"CONSUMER": ["cons-1"], "ASSIGNED_AGENT": ["123.456"]}}}},
            {"type": "DELETE", "result": {"convId": "c2"}}]});
        let events = translate(
            ".ams.aam.ExConversationChangeNotification",
            &body,
            "123.456",
        );
        assert_eq!(
            events[0],
            PlatformEvent::ConversationUpsert {
                conversation_id: "c1".into(),
                skill_id: Some("1".into()),
                consumer_id: "cons-1".into(),
                open: true,
                assigned_to_me: true,
            }
        );
        assert_eq!(
            events[1],
            PlatformEvent::ConversationGone {
                conversation_id: "c2".into()
            }
        );
    }
}
