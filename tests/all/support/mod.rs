//! Test support: a consumer client written from LivePerson's Messaging
//! Window API, a test agent client written from its Messaging Agent API, the `switchboard` binary as a real
//! process, a recording proxy between connectors and their platform
//! ([`proxy`]), and configuration directories made on the fly. Everything
//! talks over real sockets on loopback.

#![allow(dead_code)]

pub mod etcd;
pub mod proxy;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lp::client::{ClientSide, Connection, Inbox, Options};
use serde_json::{Value, json};
use switchboard::consumer::ConsumerClient;
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long any single expected frame may take to arrive.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A test's view of a socket, raw: requests written as JSON (so a test
/// can send what no typed body makes), and every frame read as JSON. It
/// rides on `lp`'s client (which matches responses to requests by id) and
/// keeps every notification it reads for later.
pub struct WireClient<S: ClientSide = lp::kind::Consumer> {
    pub connection: Connection<S>,
    pub inbox: Option<Inbox<S>>,
    pub notifications: VecDeque<Value>,
}

/// The agent side's [`WireClient`].
pub type AgentWire = WireClient<lp::kind::Agent>;

impl<S: ClientSide> WireClient<S> {
    pub async fn connect(url: &str) -> Self {
        Self::connect_trusting(url, None).await
    }

    /// Connects, over TLS trusting `ca` for `wss://` URLs.
    pub async fn connect_trusting(url: &str, ca: Option<&Path>) -> Self {
        let options = Options {
            tls: Some(switchboard::tls::client_config(ca).expect("CA loads")),
            ..Options::default()
        };
        let (connection, inbox) = Connection::open(url, &options)
            .await
            .expect("WebSocket connects");
        Self::over(connection, inbox)
    }

    pub fn over(connection: Connection<S>, inbox: Inbox<S>) -> Self {
        WireClient {
            connection,
            inbox: Some(inbox),
            notifications: VecDeque::new(),
        }
    }

    pub async fn send_text(&mut self, text: String) {
        self.connection.send_text(text).expect("frame sent");
    }

    /// Reads the next frame (that no request waits for) as JSON.
    pub async fn read(&mut self) -> Value {
        let inbox = self.inbox.as_mut().expect("the socket is open");
        let arrived = timeout(PATIENCE, inbox.next())
            .await
            .expect("a frame arrives in time")
            .expect("socket open");
        serde_json::from_str(&arrived.text).expect("frames are JSON")
    }

    /// Reads until the server closes the socket: its close code, if it
    /// sent a close frame.
    pub async fn close_code(&mut self) -> Option<u16> {
        let mut inbox = self.inbox.take().expect("the socket is open");
        let closed = timeout(PATIENCE, async {
            while inbox.next().await.is_some() {}
            inbox.closed().await
        })
        .await
        .expect("the socket closes in time");
        closed.code
    }

    /// Sends a request with `headers` and returns its response frame.
    pub async fn request_with_headers(&mut self, kind: &str, body: Value, headers: Value) -> Value {
        self.request_in(kind, body, json!({"headers": headers}))
            .await
    }

    /// Sends a request whose envelope also holds `envelope`'s fields
    /// (`headers`, `metadata`, `encodedMetadata`) and returns its response
    /// frame; notifications that came before it are kept.
    pub async fn request_in(&mut self, kind: &str, body: Value, envelope: Value) -> Value {
        let id = self.connection.next_id();
        let mut frame = json!({"kind": "req", "id": id, "type": kind, "body": body});
        for (key, value) in envelope.as_object().expect("envelope fields") {
            frame[key] = value.clone();
        }
        let answered = timeout(
            PATIENCE,
            self.connection.exchange_raw(&id, frame.to_string()),
        )
        .await
        .expect("a response arrives in time")
        .expect("the socket is open");
        self.keep_arrived();
        serde_json::from_str(&answered.text).expect("frames are JSON")
    }

    pub async fn request(&mut self, kind: &str, body: Value) -> Value {
        self.request_with_headers(kind, body, json!([])).await
    }

    /// Keeps the notifications already read.
    pub fn keep_arrived(&mut self) {
        let Some(inbox) = self.inbox.as_mut() else {
            return;
        };
        while let Some(arrived) = inbox.try_next() {
            let frame: Value = serde_json::from_str(&arrived.text).expect("frames are JSON");
            if frame["kind"] == "notification" {
                self.notifications.push_back(frame);
            }
        }
    }

    /// Reads until the next response (to a frame sent as text), keeping
    /// notifications.
    pub async fn next_response(&mut self) -> Value {
        loop {
            let frame = self.read().await;
            if frame["kind"] == "resp" {
                return frame;
            }
            self.notifications.push_back(frame);
        }
    }

    /// The first notification (kept or new) that `pick` accepts, consuming
    /// it and everything kept before it that `pick` did not accept.
    pub async fn wait_for<T>(&mut self, mut pick: impl FnMut(&Value) -> Option<T>) -> T {
        while let Some(frame) = self.notifications.pop_front() {
            if let Some(found) = pick(&frame) {
                return found;
            }
        }
        loop {
            let frame = self.read().await;
            if let Some(found) = pick(&frame) {
                return found;
            }
        }
    }
}

/// A consumer on the hub's consumer WebSocket (LivePerson's Messaging Window API).
pub struct Consumer {
    pub wire: WireClient,
    pub conversation_id: String,
    pub consumer_id: String,
}

/// A client whose connections come from `source`, another loopback
/// address (all of 127.0.0.0/8 is loopback): to the hub, a client other
/// than the tests' usual 127.0.0.1. Plain HTTP and WS only.
pub struct LoopbackClient {
    pub source: std::net::IpAddr,
}

impl LoopbackClient {
    async fn connect(&self, url: &str) -> TcpStream {
        let authority = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("the URL names a host");
        let target: std::net::SocketAddr = authority.parse().expect("a loopback address and port");
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket
            .bind(std::net::SocketAddr::new(self.source, 0))
            .expect("any 127/8 address can be bound");
        socket.connect(target).await.expect("the hub accepts")
    }

    /// POSTs `{}` to `url`: the status, the `Retry-After` seconds if any,
    /// and the JSON body.
    pub async fn post(&self, url: &str) -> (u16, Option<u64>, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = self.connect(url).await;
        let path = url.splitn(4, '/').nth(3).expect("a path");
        let request = format!(
            "POST /{path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        timeout(PATIENCE, stream.read_to_string(&mut answer))
            .await
            .expect("answered in time")
            .expect("an HTTP answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status");
        let retry_after = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("retry-after")
                .then(|| value.trim().parse().ok())?
        });
        (
            code,
            retry_after,
            serde_json::from_str(body).expect("a JSON body"),
        )
    }

    /// Opens a WebSocket at `url`; a refused upgrade gives its status and body.
    pub async fn websocket(&self, url: &str) -> Result<WireClient, (u16, Value)> {
        let stream = self.connect(url).await;
        match Connection::open_over(url, stream).await {
            Ok((connection, inbox)) => Ok(WireClient::over(connection, inbox)),
            Err(lp::client::ClientError::Connect {
                status: Some(status),
                body,
                ..
            }) => {
                let body = body
                    .and_then(|body| serde_json::from_str(&body).ok())
                    .unwrap_or(Value::Null);
                Err((status, body))
            }
            Err(error) => panic!("WebSocket to {url}: {error}"),
        }
    }
}

impl Consumer {
    /// Signs up, connects, authenticates and subscribes to its conversations.
    pub async fn connect(base_url: &str, account: &str) -> Consumer {
        Self::connect_trusting(base_url, account, None).await
    }

    /// A consumer of the gateway's embedded hub (over TLS if it serves TLS).
    pub async fn of(gateway: &switchboard::app::Gateway) -> Consumer {
        Self::connect_trusting(
            &gateway.hub_url().unwrap(),
            "123",
            gateway.hub_certificate(),
        )
        .await
    }

    /// [`Consumer::connect`], trusting `ca` for `https://` and `wss://`.
    pub async fn connect_trusting(base_url: &str, account: &str, ca: Option<&Path>) -> Consumer {
        let tls = switchboard::tls::client_config(ca).expect("CA loads");
        let http = switchboard::http::HttpClient::new(tls.clone());
        let options = Options {
            tls: Some(tls),
            ..Options::default()
        };
        let client = ConsumerClient::connect(&http, base_url, account, &options)
            .await
            .expect("a consumer signs up, connects and authenticates");
        Self::of_client(client)
    }

    /// A consumer of another client: its connections come from `source`
    /// (a loopback address other than 127.0.0.1), over plain HTTP. A
    /// refused signup or socket gives its status and body.
    pub async fn connect_from(
        base_url: &str,
        account: &str,
        source: std::net::IpAddr,
    ) -> Result<Consumer, (u16, Value)> {
        let client = LoopbackClient { source };
        let (code, _, body) = client
            .post(&format!("{base_url}/api/account/{account}/signup"))
            .await;
        if code != 200 {
            return Err((code, body));
        }
        let jwt = body["jwt"]
            .as_str()
            .expect("signup returns a jwt")
            .to_owned();
        let wire = client
            .websocket(&switchboard::consumer::socket_url(base_url, account))
            .await?;
        let inbox = wire.inbox.expect("just opened");
        let client = ConsumerClient::authenticate(wire.connection, inbox, jwt)
            .await
            .expect("the consumer authenticates");
        Ok(Self::of_client(client))
    }

    fn of_client(client: ConsumerClient) -> Consumer {
        Consumer {
            consumer_id: jwt_subject(&client.jwt),
            wire: WireClient::over(client.connection, client.inbox),
            conversation_id: String::new(),
        }
    }

    /// Asks for a conversation and subscribes to its events.
    pub async fn start_conversation(&mut self) -> String {
        let started = switchboard::consumer::start_conversation(&self.wire.connection, "123");
        self.conversation_id = timeout(PATIENCE, started)
            .await
            .expect("answered in time")
            .expect("a conversation opens");
        self.wire.keep_arrived();
        self.conversation_id.clone()
    }

    /// Steps up with `brand_jwt` (the brand's token for its customer): the
    /// hub at `hub` exchanges it for an authenticated consumer JWT, and
    /// `InitConnection` with that on this socket is the step-up.
    pub async fn step_up(&mut self, hub: &str, brand_jwt: &str) {
        let authenticated = switchboard::http::post_json(
            &format!("{hub}/api/account/123/authenticate"),
            &json!({"authCode": brand_jwt}),
        )
        .await
        .unwrap();
        let jwt = authenticated["jwt"].as_str().unwrap();
        let init = self
            .wire
            .request_with_headers(
                "InitConnection",
                json!({}),
                json!([{"type": ".ams.headers.ConsumerAuthentication", "jwt": jwt}]),
            )
            .await;
        assert_eq!(init["code"], 200, "{init}");
    }

    /// Publishes a text message; returns its sequence.
    pub async fn say(&mut self, text: &str) -> u64 {
        let said = switchboard::consumer::say(&self.wire.connection, &self.conversation_id, text);
        let sequence = timeout(PATIENCE, said)
            .await
            .expect("answered in time")
            .expect("PublishEvent");
        self.wire.keep_arrived();
        sequence
    }

    /// The next message the agent side published (text or rich content),
    /// skipping receipts, chat states and the consumer's own echoes.
    pub async fn next_agent_message(&mut self) -> Value {
        self.next_agent_change().await["event"].take()
    }

    /// The next agent message's change: its event, and what comes with
    /// it (`encodedMetadata`).
    pub async fn next_agent_change(&mut self) -> Value {
        self.wire
            .wait_for(|frame| {
                if frame["type"] != "ms.MessagingEventNotification" {
                    return None;
                }
                frame["body"]["changes"]
                    .as_array()?
                    .iter()
                    .find_map(|change| {
                        let agent = change["originatorMetadata"]["role"] == "ASSIGNED_AGENT";
                        let kind = change["event"]["type"].as_str()?;
                        (agent && (kind == "ContentEvent" || kind == "RichContentEvent"))
                            .then(|| change.clone())
                    })
            })
            .await
    }

    /// Closes its conversation, as a consumer does (`cm.UpdateConversationField`, CLOSE).
    pub async fn close(&mut self) {
        let closed = self
            .wire
            .request(
                "cm.UpdateConversationField",
                json!({"conversationId": self.conversation_id, "conversationField": [{"field": "ConversationStateField", "conversationState": "CLOSE"}]}),
            )
            .await;
        assert_eq!(closed["code"], 200, "{closed}");
    }

    /// The next agent text message.
    pub async fn next_agent_text(&mut self) -> String {
        let event = self.next_agent_message().await;
        assert_eq!(event["type"], "ContentEvent", "expected text, got {event}");
        event["message"].as_str().unwrap().to_owned()
    }
}

/// Waits for a conversation change the consumer sees that `pick` accepts.
pub async fn conversation_change<T>(
    consumer: &mut Consumer,
    mut pick: impl FnMut(&Value) -> Option<T>,
) -> T {
    consumer
        .wire
        .wait_for(|f| {
            (f["type"] == "cqm.ExConversationChangeNotification").then_some(())?;
            f["body"]["changes"]
                .as_array()?
                .iter()
                .find_map(|c| pick(&c["result"]["conversationDetails"]))
        })
        .await
}

/// A scripted bot `b` that answers everything with "ok".
pub const SCRIPTED_BOT: &str =
    "id = \"b\"\nkind = \"scripted\"\n[[rules]]\nmatch = '.*'\nsay = [{ text = \"ok\" }]\n";

/// `switchboard validate DIR` as a real process: success, and what it
/// printed. `SWITCHBOARD_TEST_UNSET` is unset for it, whatever the caller's
/// environment holds.
pub fn validate(dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("validate")
        .arg(dir)
        .env_remove("SWITCHBOARD_TEST_UNSET")
        .output()
        .expect("switchboard runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// A brand JWT (HS256) with `claims`, signed with `secret`.
pub fn signed_jwt(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("claims serialize")
}

/// The `sub` claim of a JWT.
pub fn jwt_subject(jwt: &str) -> String {
    use base64::Engine as _;
    let claims = jwt.split('.').nth(1).expect("a JWT has claims");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .expect("base64url");
    let claims: Value = serde_json::from_slice(&bytes).expect("JSON claims");
    claims["sub"].as_str().expect("sub").to_owned()
}

/// The `switchboard` binary running as a real process. Killed on drop.
pub struct GatewayProcess {
    child: Child,
    pub hub_url: String,
    pub stdout_lines: Vec<String>,
    /// Lines it prints after the one waited for.
    lines: std::sync::mpsc::Receiver<String>,
}

impl GatewayProcess {
    /// Runs `switchboard run --config DIR` and waits until it prints the hub's address.
    pub fn start(config_dir: &Path) -> GatewayProcess {
        Self::start_until(config_dir, "switchboard: hub listening on ")
    }

    /// Runs `switchboard run --config DIR` and waits until it prints a
    /// line starting with `prefix` (a gateway without a hub prints none).
    pub fn start_until(config_dir: &Path, prefix: &str) -> GatewayProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(["run", "--config"]).arg(config_dir);
        Self::spawn_until(command, prefix)
    }

    /// Runs `switchboard hub --config DIR`: the hub alone, as the
    /// platform's own process.
    pub fn hub(config_dir: &Path) -> GatewayProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(["hub", "--config"]).arg(config_dir);
        Self::spawn_until(command, "switchboard: hub listening on ")
    }

    /// Starts `command` and waits until it prints a line starting with `prefix`.
    pub fn spawn_until(command: Command, prefix: &str) -> GatewayProcess {
        let mut process = Self::spawn(command);
        process.wait_for_line(prefix);
        process.hub_url = process
            .stdout_lines
            .iter()
            .find_map(|l| l.strip_prefix("switchboard: hub listening on "))
            .unwrap_or_default()
            .trim()
            .to_owned();
        process
    }

    /// Starts `command`, waiting for nothing it prints.
    pub fn spawn(mut command: Command) -> GatewayProcess {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the switchboard binary starts");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            // Its log goes to the test's output (which the test harness
            // shows when the test fails).
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        });
        let (lines_tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading for the life of the process: a closed pipe would
            // make the gateway's next line fail.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        GatewayProcess {
            child,
            hub_url: String::new(),
            stdout_lines: Vec::new(),
            lines,
        }
    }

    /// Waits (a minute at most) until the process prints a line starting with `prefix`.
    pub fn wait_for_line(&mut self, prefix: &str) {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!(
                        "switchboard prints `{prefix}` within a minute (it printed {:?})",
                        self.stdout_lines
                    )
                });
            self.stdout_lines.push(line.clone());
            if line.starts_with(prefix) {
                return;
            }
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends it `signal` (`TERM`, `INT`, `STOP`, `CONT`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}", self.child.id());
    }

    /// Waits up to `patience` for the process to end; its exit status, or
    /// `None` if it still runs.
    pub fn exit_within(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .expect("the process can be waited for")
            {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process at once (SIGKILL: no shutdown, no flush).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to [`PATIENCE`]) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits (at most [`PATIENCE`]) until the state store in `config`'s data
/// directory is free for another gateway: a gateway's last tasks let go
/// of their handles a moment after it is dropped or shut down.
pub async fn store_released(config: &ConfigDir) {
    let lock = std::fs::File::open(config.path().join("data/db")).expect("the store's lock file");
    eventually("the state store is released", || match lock.try_lock() {
        Ok(()) => lock.unlock().is_ok(),
        Err(_) => false,
    })
    .await;
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The built plugin (or fixture) file `name` (`greeting`, `fixture_trap`, ...).
/// The stamp fixture with its tag rewritten to `STAMP-{version:06}`.
pub fn stamp_version(version: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(built_plugin("fixture_stamp")).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"STAMP-000000")
        .expect("the stamp sits whole in a data segment");
    bytes[at..at + 12].copy_from_slice(format!("STAMP-{version:06}").as_bytes());
    bytes
}

pub fn built_plugin(name: &str) -> PathBuf {
    Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join(format!("{name}.wasm"))
}

/// A configuration directory with an embedded hub on a free loopback port,
/// one bot user per connector, and the given bot and connector files.
pub struct ConfigDir {
    pub dir: tempfile::TempDir,
}

impl ConfigDir {
    /// Bot users `users`, each with skill 1.
    pub fn new(users: &[&str]) -> ConfigDir {
        let users: String = users
            .iter()
            .map(|u| {
                format!(
                    "[[hub.users]]\nlogin = \"{u}\"\npassword = \"pw-{u}\"\nskills = [\"1\"]\n\n"
                )
            })
            .collect();
        Self::with_hub(&users)
    }

    /// A hub with skills 1 and 2, followed by `users` (users, consumer
    /// auth, any `hub.*` table).
    pub fn with_hub(users: &str) -> ConfigDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("connectors")).unwrap();
        std::fs::create_dir_all(dir.path().join("bots")).unwrap();
        std::fs::write(
            dir.path().join("switchboard.toml"),
            format!(
                "[hub]\nlisten = \"127.0.0.1:0\"\naccount = \"123\"\ndefault_skill = \"1\"\nagent_grace_ms = 1000\n\n\
                 [[hub.skills]]\nid = \"1\"\n\n[[hub.skills]]\nid = \"2\"\n\n{users}\
                 [store]\ndata_dir = \"data\"\n"
            ),
        )
        .unwrap();
        ConfigDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.dir.path().join(relative), text).unwrap();
    }

    /// Replaces `relative` whole (a temporary file, then a rename), as a
    /// deploy tool or the admin API does.
    pub fn replace(&self, relative: &str, bytes: &[u8]) {
        let target = self.dir.path().join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let temporary = target.with_extension("partial");
        std::fs::write(&temporary, bytes).unwrap();
        std::fs::rename(&temporary, &target).unwrap();
    }

    /// Replaces `from` by `to` in `relative`, which must contain it; the
    /// file is replaced whole, as [`Self::replace`] does.
    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.dir.path().join(relative)).unwrap();
        assert!(text.contains(from), "{relative} lacks {from:?}:\n{text}");
        self.replace(relative, text.replace(from, to).as_bytes());
    }

    /// Appends `text` to `relative`.
    pub fn append(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        let mut old = std::fs::read_to_string(&path).unwrap_or_default();
        old.push_str(text);
        std::fs::write(path, old).unwrap();
    }
}

/// Connectors alone (no hub), reaching the platform at `hub_url`, with
/// bot `b` and the connector files `files` (name, text).
pub fn connectors_for(hub_url: &str, bot: &RecordingBot, files: &[(&str, String)]) -> ConfigDir {
    let config = ConfigDir::new(&[]);
    config.write(
        "switchboard.toml",
        &format!("[messaging]\ncsds = \"{hub_url}\"\n[store]\ndata_dir = \"data\"\n"),
    );
    config.write("bots/b.toml", &bot.config("b"));
    for (name, text) in files {
        config.write(&format!("connectors/{name}.toml"), text);
    }
    config
}

/// A hub alone, as a process of its own (`switchboard hub`), with bot
/// users `users` and a grace period for a dropped agent (60 s) longer
/// than any test: a conversation moves in time only by a logout, and a
/// lost gateway's conversations wait for its bot users.
pub fn patient_hub(users: &[&str]) -> (ConfigDir, GatewayProcess) {
    let platform = ConfigDir::new(users);
    platform.edit(
        "switchboard.toml",
        "agent_grace_ms = 1000",
        "agent_grace_ms = 60000",
    );
    let hub = GatewayProcess::hub(platform.path());
    (platform, hub)
}

/// A gateway started in this process from a configuration directory.
pub async fn gateway(config: &ConfigDir) -> switchboard::app::Gateway {
    let loaded =
        switchboard::config::load(config.path()).unwrap_or_else(|e| panic!("config loads: {e}"));
    switchboard::app::Gateway::start(loaded.config, &Default::default())
        .await
        .expect("gateway starts")
}

/// One request a [`RecordingBot`] received.
#[derive(Clone, Debug)]
pub struct Turn {
    pub path: String,
    pub text: String,
    pub kind: String,
    pub conversation: String,
    /// The request's `metadata`, whole.
    pub metadata: Value,
    pub at: std::time::Instant,
}

/// A bot a brand might write: an HTTP server speaking the generic webhook
/// format (a generic webhook) on loopback, answering with `answer(text)` and
/// keeping every request it received.
pub struct RecordingBot {
    pub url: String,
    turns: std::sync::Arc<std::sync::Mutex<Vec<Turn>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RecordingBot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingBot {
    pub async fn start(answer: impl Fn(&str) -> Value + Send + Sync + 'static) -> RecordingBot {
        Self::start_slow(Duration::ZERO, answer).await
    }

    /// Like [`RecordingBot::start`], answering after `delay`.
    pub async fn start_slow(
        delay: Duration,
        answer: impl Fn(&str) -> Value + Send + Sync + 'static,
    ) -> RecordingBot {
        Self::start_pacing(move |_| delay, answer).await
    }

    /// Like [`RecordingBot::start`], answering each text after `delay(text)`.
    pub async fn start_pacing(
        delay: impl Fn(&str) -> Duration + Send + Sync + 'static,
        answer: impl Fn(&str) -> Value + Send + Sync + 'static,
    ) -> RecordingBot {
        let delay = std::sync::Arc::new(delay);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bot", listener.local_addr().unwrap());
        let turns: std::sync::Arc<std::sync::Mutex<Vec<Turn>>> = Default::default();
        let answer = std::sync::Arc::new(answer);
        let recorded = turns.clone();
        let task = tokio::spawn(switchboard::http::serve(listener, move |request, _| {
            let (recorded, answer, delay) = (recorded.clone(), answer.clone(), delay.clone());
            async move {
                let path = request.uri().path().to_owned();
                let body = switchboard::http::read_body(request, 1 << 20)
                    .await
                    .unwrap();
                let body: Value = serde_json::from_slice(&body).unwrap();
                let text = body["message"].as_str().unwrap_or_default().to_owned();
                recorded.lock().unwrap().push(Turn {
                    path,
                    text: text.clone(),
                    kind: body["metadata"]["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    conversation: body["metadata"]["conversationId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    metadata: body["metadata"].clone(),
                    at: std::time::Instant::now(),
                });
                tokio::time::sleep(delay(&text)).await;
                switchboard::http::json(hyper::StatusCode::OK, &answer(&text))
            }
        }));
        RecordingBot { url, turns, task }
    }

    /// A bot that echoes every message as "bot heard: TEXT".
    pub async fn echo() -> RecordingBot {
        RecordingBot::start(|text| json!([{"text": format!("bot heard: {text}")}])).await
    }

    pub fn turns(&self) -> Vec<Turn> {
        self.turns.lock().unwrap().clone()
    }

    pub fn texts(&self) -> Vec<String> {
        self.turns().into_iter().map(|t| t.text).collect()
    }

    /// Waits until at least `count` requests arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Turn> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let turns = self.turns();
            if turns.len() >= count {
                return turns;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot got {turns:?}, expected {count} turns"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The bot file for this bot, as bot `id`.
    pub fn config(&self, id: &str) -> String {
        format!(
            "id = \"{id}\"\nkind = \"webhook\"\nurl = \"{}\"\ntimeout_ms = 5000\n",
            self.url
        )
    }
}

/// A connector file: `extra` goes before any table, `custom` into `[custom]`.
pub fn connector_file(id: &str, bot: &str, user: &str, extra: &str, custom: &str) -> String {
    format!(
        "id = \"{id}\"\nbot = \"{bot}\"\naccount = \"123\"\nagent_user_id = \"{user}\"\npassword = \"pw-{user}\"\nautostart = true\n{extra}\n[custom]\n{custom}\n"
    )
}

/// Microsoft's official Bot Framework SDK (`botbuilder`, from npm) running
/// `tests/peers/botframework/echo-bot.js` on a free loopback port. npm
/// installs it once per machine into the target directory. Killed on drop.
pub struct BotFrameworkPeer {
    child: Child,
    pub url: String,
}

impl Drop for BotFrameworkPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A peer from `tests/peers/NAME` with its npm dependencies installed
/// (once per machine) into the target directory; returns that directory.
pub fn npm_peer(name: &str, files: &[&str]) -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/peers")
        .join(name);
    let dir = Path::new(switchboard::plugin::BUILT_PLUGIN_DIR)
        .join("../peers")
        .join(name);
    let _once = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::fs::create_dir_all(&dir).unwrap();
    for file in files.iter().chain(&["package.json"]) {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    if !dir.join("node_modules/.package-lock.json").exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm runs (Node.js is needed for the npm peers)");
        assert!(status.success(), "npm install failed for peer {name}");
    }
    dir
}

/// playwright-core (from npm) and Debian's Chromium, for the page tests.
/// Chromium is installed with apt when the machine lacks it.
pub fn browser_peer() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !Path::new("/usr/bin/chromium").exists() {
        let status = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium",
            ])
            .status()
            .expect("apt-get runs");
        assert!(status.success(), "installing Debian's chromium failed");
    }
    drop(_once);
    npm_peer("browser", &["dashboard.js"])
}

impl BotFrameworkPeer {
    pub fn start() -> BotFrameworkPeer {
        let dir = npm_peer("botframework", &["echo-bot.js"]);
        let mut child = Command::new("node")
            .arg("echo-bot.js")
            .arg("0")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("peer said {line:?}"));
        BotFrameworkPeer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// LivePerson's official node-agent-sdk (from npm) running
/// `tests/peers/node-agent-sdk/bot.js` against a hub over TLS. Killed on drop.
pub struct NodeAgentSdkPeer {
    child: Child,
}

impl Drop for NodeAgentSdkPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeAgentSdkPeer {
    /// Starts the bot as `user` against the hub at `hub_url` (https), trusting
    /// `certificate`; returns once it says it is connected.
    pub fn start(
        hub_url: &str,
        user: &str,
        password: &str,
        certificate: &Path,
    ) -> NodeAgentSdkPeer {
        let dir = npm_peer("node-agent-sdk", &["bot.js"]);
        let mut child = Command::new("node")
            .arg("bot.js")
            .current_dir(&dir)
            .env("LP_ACCOUNT", "123")
            .env("LP_USER", user)
            .env("LP_PASS", password)
            .env("LP_CSDS", hub_url.trim_start_matches("https://"))
            .env("NODE_EXTRA_CA_CERTS", certificate)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let peer = NodeAgentSdkPeer { child };
        loop {
            match lines_rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.starts_with("connected as ") => return peer,
                Ok(_) => {}
                // Dropping the peer kills and reaps the process.
                Err(_) => panic!("the SDK bot did not connect within 30 s"),
            }
        }
    }
}

/// The schemathesis release the tests run (from PyPI).
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// schemathesis's `st`, installed from PyPI into a virtual environment in
/// the target directory once per machine (`python3` with `venv` is
/// needed). A file lock keeps concurrent tests and test runs from
/// installing it twice; a half-done install is started over.
pub fn schemathesis() -> PathBuf {
    let venv = Path::new(switchboard::plugin::BUILT_PLUGIN_DIR)
        .join("../peers")
        .join(format!("schemathesis-{SCHEMATHESIS_VERSION}"));
    let st = venv.join("bin/st");
    let done = venv.join("installed");
    std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs (Python 3 with venv is needed for schemathesis)");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
            ])
            .status()
            .expect("pip runs");
        assert!(status.success(), "pip install schemathesis failed");
        std::fs::write(&done, SCHEMATHESIS_VERSION).unwrap();
    }
    st
}

/// A throwaway copy of the shipped configuration (`config/`), with the hub
/// and the admin API on free loopback ports and its data directory inside
/// the copy.
pub fn shipped_config_copy() -> ConfigDir {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let dir = tempfile::tempdir().expect("temp dir");
    for folder in ["bots", "connectors"] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        for entry in std::fs::read_dir(shipped.join(folder)).unwrap() {
            let file = entry.unwrap().path();
            std::fs::copy(
                &file,
                dir.path().join(folder).join(file.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    let gateway = std::fs::read_to_string(shipped.join("switchboard.toml")).unwrap();
    let mut copied = String::new();
    for line in gateway.lines() {
        let key = line.split('=').next().unwrap_or_default().trim();
        copied.push_str(match key {
            "listen" => "listen = \"127.0.0.1:0\"",
            "data_dir" => "data_dir = \"data\"",
            _ => line,
        });
        copied.push('\n');
    }
    std::fs::write(dir.path().join("switchboard.toml"), copied).unwrap();
    ConfigDir { dir }
}
