//! A connector's login session against a hub that keeps sessions as
//! LivePerson's Login Service does: refreshed before it expires, logged in
//! again when it is over, logged out at stop; a login answered 429 waited
//! out; a prerequisite that cannot be read shown as a warning in Details.
//! The hub runs apart from the gateway (as LivePerson does), so the tests
//! can ask it which sessions are live.

use std::time::{Duration, Instant};

use switchboard::config::{AgentSessions, HubUser, LoginCredentials, UserKind};
use switchboard::connector::Status;
use switchboard::hub::{Hub, HubHandle};

use crate::hub::hub_config;
use crate::support::{ConfigDir, Consumer, PATIENCE, RecordingBot, connector_file, gateway};

/// A hub with the bot user `bot-user` (password `pw-bot-user`), whose
/// sessions follow `sessions`, and who may read the account's
/// configuration when `can_read` is.
async fn session_hub(sessions: AgentSessions, can_read: bool) -> HubHandle {
    let mut config = hub_config();
    config.users.push(HubUser {
        login: "bot-user".into(),
        kind: UserKind::Bot,
        enabled: true,
        credentials: LoginCredentials::Password("pw-bot-user".into()),
        skills: vec!["1".into()],
        max_conversations: 50,
        created_by: None,
        can_read_account_config: can_read,
    });
    config.sessions = sessions;
    Hub::start(config, std::path::Path::new("unused"))
        .await
        .unwrap()
}

/// A gateway for `hub` with one connector `c` of bot `b`, refreshing its
/// session every `refresh`.
fn gateway_config(hub: &HubHandle, bot: &RecordingBot, refresh: Duration) -> ConfigDir {
    let config = ConfigDir::new(&[]);
    config.write(
        "switchboard.toml",
        &format!(
            "[messaging]\ncsds = \"{}\"\nsession_refresh_ms = {}\n[store]\ndata_dir = \"data\"\n",
            hub.url(),
            refresh.as_millis()
        ),
    );
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", ""),
    );
    config
}

/// Waits until the connector `c` is Online.
async fn online(gateway: &switchboard::app::Gateway) {
    let deadline = Instant::now() + PATIENCE;
    while gateway.report("c").unwrap().status != Status::Online {
        assert!(
            Instant::now() < deadline,
            "c never came online: {:?}",
            gateway.report("c").unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A consumer of `hub` who is answered by the bot.
async fn answered(hub: &HubHandle, text: &str) {
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    consumer.start_conversation().await;
    consumer.say(text).await;
    assert_eq!(
        consumer.next_agent_text().await,
        format!("bot heard: {text}")
    );
}

/// How many times the status history of `c` went Offline.
fn times_offline(gateway: &switchboard::app::Gateway) -> usize {
    gateway
        .history("c")
        .unwrap()
        .iter()
        .filter(|change| change.status == Status::Offline)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_session_outlives_its_lifetime_without_a_reconnect() {
    let sessions = AgentSessions {
        lifetime: Duration::from_secs(4),
        ..AgentSessions::default()
    };
    let hub = session_hub(sessions, true).await;
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&hub, &bot, Duration::from_millis(1_000));
    let gateway = gateway(&config).await;
    online(&gateway).await;
    // Two and a half lifetimes: without refreshes the hub would have
    // closed the socket (4401) twice. Refreshes every second leave 3 s of slack.
    tokio::time::sleep(Duration::from_secs(10)).await;
    answered(&hub, "still here").await;
    assert_eq!(hub.hub.live_sessions("bot-user"), 1);
    assert_eq!(times_offline(&gateway), 0, "{:?}", gateway.history("c"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_expires_is_logged_in_again_and_serves_on() {
    let sessions = AgentSessions {
        lifetime: Duration::from_millis(1_500),
        ..AgentSessions::default()
    };
    let hub = session_hub(sessions, true).await;
    let bot = RecordingBot::echo().await;
    // Refreshed far too late: the session expires under the connector.
    let config = gateway_config(&hub, &bot, Duration::from_secs(600));
    let gateway = gateway(&config).await;
    online(&gateway).await;
    let deadline = Instant::now() + PATIENCE;
    while times_offline(&gateway) == 0 {
        assert!(Instant::now() < deadline, "the expiry was never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    online(&gateway).await;
    answered(&hub, "after a new login").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_connector_logs_its_session_out() {
    let hub = session_hub(AgentSessions::default(), true).await;
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&hub, &bot, Duration::from_secs(240));
    let mut gateway = gateway(&config).await;
    online(&gateway).await;
    assert_eq!(hub.hub.live_sessions("bot-user"), 1);
    gateway.stop_connector("c").await.unwrap();
    assert_eq!(
        hub.hub.live_sessions("bot-user"),
        0,
        "the bearer is no good after a stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_answered_429_is_tried_again_after_five_seconds() {
    // One login per 3 s: a restart within it is throttled once.
    let sessions = AgentSessions {
        login_limit: 1,
        login_window: Duration::from_secs(3),
        ..AgentSessions::default()
    };
    let hub = session_hub(sessions, true).await;
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&hub, &bot, Duration::from_secs(240));
    let mut gateway = gateway(&config).await;
    online(&gateway).await;
    gateway.stop_connector("c").await.unwrap();
    let restarted = Instant::now();
    gateway.start_connector("c").unwrap();
    let mut throttled = false;
    let deadline = restarted + Duration::from_secs(30);
    while gateway.report("c").unwrap().status != Status::Online {
        let progress = gateway.report("c").unwrap().progress.unwrap_or_default();
        throttled |= progress.contains("login answered 429: trying again in 5 s");
        assert!(Instant::now() < deadline, "never came back: {progress}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(throttled, "the 429 was shown while starting");
    assert!(
        restarted.elapsed() >= Duration::from_secs(5),
        "LivePerson asks for 5 s after a 429; came back after {:?}",
        restarted.elapsed()
    );
    answered(&hub, "back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prerequisites_that_cannot_be_read_are_a_warning_in_details_not_a_refusal() {
    let hub = session_hub(AgentSessions::default(), false).await;
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&hub, &bot, Duration::from_secs(240));
    let gateway = gateway(&config).await;
    online(&gateway).await;
    let detail = gateway.report("c").unwrap().details.messaging.detail;
    assert!(
        detail.starts_with("connected; warning: the account's users cannot be read (HTTP 403)"),
        "{detail}"
    );
    answered(&hub, "trusted").await;
}

/// An agentVep that answers the first `failures` logins 503 and passes
/// everything else to the hub (each request on a connection of its own);
/// its domain lookup names it for agentVep and the hub for the rest. It
/// stands in for a LivePerson login service having a bad moment, which the
/// hub has no reason to play. Answers the address and the logins seen.
async fn flaky_login_service(
    hub: std::net::SocketAddr,
    failures: usize,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let me = listener.local_addr().unwrap();
    let logins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = logins.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                // One request: its head, then as many body bytes as it says.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let n = client.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while request.len() < head_end + length {
                    let n = client.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                if path.contains("/service/baseURI.json") {
                    let body = format!(
                        r#"{{"baseURIs":[{{"service":"agentVep","account":"123","baseURI":"{me}"}},{{"service":"asyncMessagingEnt","account":"123","baseURI":"{hub}"}},{{"service":"accountConfigReadOnly","account":"123","baseURI":"{hub}"}}]}}"#
                    );
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(answer.as_bytes()).await;
                    return;
                }
                if path.contains("/login") && seen.fetch_add(1, Ordering::SeqCst) < failures {
                    let _ = client
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                // Anything else goes to the hub, which closes after answering.
                let head = head.replacen("\r\n", "\r\nConnection: close\r\n", 1);
                let mut upstream = tokio::net::TcpStream::connect(hub).await.unwrap();
                upstream.write_all(head.as_bytes()).await.unwrap();
                upstream.write_all(&request[head_end..]).await.unwrap();
                let mut answer = Vec::new();
                let _ = upstream.read_to_end(&mut answer).await;
                let _ = client.write_all(&answer).await;
            });
        }
    });
    (me, logins)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_answered_5xx_is_tried_again_after_five_seconds() {
    let hub = session_hub(AgentSessions::default(), true).await;
    let (vep, logins) = flaky_login_service(hub.addr(), 1).await;
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&hub, &bot, Duration::from_secs(240));
    config.write(
        "switchboard.toml",
        &format!("[messaging]\ncsds = \"http://{vep}\"\n[store]\ndata_dir = \"data\"\n"),
    );
    let started = Instant::now();
    let gateway = gateway(&config).await;
    let mut retried = false;
    let deadline = started + Duration::from_secs(30);
    while gateway.report("c").unwrap().status != Status::Online {
        let progress = gateway.report("c").unwrap().progress.unwrap_or_default();
        retried |= progress.contains("login answered 503: trying again in 5 s");
        assert!(Instant::now() < deadline, "never came online: {progress}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(retried, "the 503 was shown while starting");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "LivePerson asks for 5 s after the first 5xx; online after {:?}",
        started.elapsed()
    );
    assert_eq!(logins.load(std::sync::atomic::Ordering::SeqCst), 2);
    answered(&hub, "through").await;
}
