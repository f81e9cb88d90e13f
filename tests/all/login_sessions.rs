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
