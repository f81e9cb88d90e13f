//! Connector lifecycle: statuses and Details, start and stop, edit and
//! delete rules, the status history in sled, the platform's prerequisites,
//! failover between connectors of one skill and per-connector capacity.

use std::time::Duration;

use serde_json::json;
use switchboard::app::LifecycleError;
use switchboard::connector::Status;

use crate::support::proxy::{Way, WireProxy};
use crate::support::{
    ConfigDir, Consumer, RecordingBot, connector_file, connectors_for, eventually, gateway,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_details_start_stop_edit_delete_and_history() {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", &bot.config("b"));
    let file = connector_file(
        "c",
        "b",
        "bot-user",
        "[[plugins]]\nfile = \"greeting.wasm\"",
        "messageDelay = 100",
    );
    config.write(
        "connectors/c.toml",
        &file.replace("autostart = true", "autostart = false"),
    );
    let mut gateway = gateway(&config).await;

    let report = gateway.report("c").unwrap();
    assert_eq!(report.status, Status::ReadyToStart);
    assert_eq!(report.details.plugins[0].name, "greeting");

    gateway.start_connector("c").unwrap();
    eventually("Online", || {
        gateway.report("c").unwrap().status == Status::Online
    })
    .await;
    let report = gateway.report("c").unwrap();
    assert_eq!(report.details.messaging.up, Some(true));
    assert_eq!(report.details.bot.up, None, "not asked yet");

    let mut consumer = Consumer::connect(&gateway.hub_url().unwrap(), "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
    let report = gateway.report("c").unwrap();
    assert_eq!(report.details.bot.up, Some(true));
    assert_eq!(report.conversations, 1);

    // Running: an identity change (another agent user) is refused, located
    // in the file, and delete is refused with a clear error.
    let loaded = switchboard::config::load(config.path()).unwrap().config;
    let mut other_user = loaded.connectors[0].clone();
    other_user.source = other_user
        .source
        .replace(
            "agent_user_id = \"bot-user\"",
            "agent_user_id = \"other-user\"",
        )
        .into();
    let edit = gateway.edit_connector(other_user).await.unwrap_err();
    assert!(matches!(edit, LifecycleError::Refused(_)), "{edit}");
    assert!(
        edit.to_string().contains(
            "c.toml:4:17: error: `agent_user_id` of connector `c` cannot change while it runs"
        ),
        "{edit}"
    );
    assert!(
        std::fs::read_to_string(config.path().join("connectors/c.toml"))
            .unwrap()
            .contains("\"bot-user\""),
        "the refused edit put the previous file back"
    );
    assert!(matches!(
        gateway.delete_connector("c").await,
        Err(LifecycleError::Running {
            action: "delete",
            ..
        })
    ));

    gateway.stop_connector("c").await.unwrap();
    assert_eq!(gateway.report("c").unwrap().status, Status::Stopped);
    gateway
        .edit_connector(loaded.connectors[0].clone())
        .await
        .unwrap();
    assert!(matches!(
        gateway.start_connector("nope"),
        Err(LifecycleError::Unknown(_))
    ));

    let history: Vec<Status> = gateway
        .history("c")
        .unwrap()
        .into_iter()
        .map(|h| h.status)
        .collect();
    assert_eq!(history.first(), Some(&Status::ReadyToStart));
    assert!(history.contains(&Status::Starting) && history.contains(&Status::Online));
    assert_eq!(
        history.last(),
        Some(&Status::Stopped),
        "an edit keeps it Stopped"
    );
    gateway.delete_connector("c").await.unwrap();
    assert!(gateway.report("c").is_err());
    assert!(!config.path().join("connectors/c.toml").exists());

    // The history survives a restart of the gateway (it lives in sled),
    // here with the connector added back by hand.
    gateway.shutdown().await;
    config.write("connectors/c.toml", &file);
    crate::support::store_released(&config).await;
    let again = crate::support::gateway(&config).await;
    let kept = again.history("c").unwrap();
    assert!(kept.iter().any(|h| h.status == Status::Online), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_is_down_shows_as_offline_with_the_bot_named_in_details() {
    let config = ConfigDir::new(&["bot-user"]);
    // Nothing listens on this port: the bot server connection is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config.write(
        "bots/b.toml",
        &format!("id = \"b\"\nkind = \"webhook\"\nurl = \"http://{closed}/bot\"\n"),
    );
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", "messageDelay = 100"),
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::connect(&gateway.hub_url().unwrap(), "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    eventually("Offline", || {
        gateway.report("c").unwrap().status == Status::Offline
    })
    .await;
    let report = gateway.report("c").unwrap();
    assert_eq!(report.details.bot.up, Some(false));
    assert_eq!(report.details.messaging.up, Some(true));
    let last = gateway.history("c").unwrap().pop().unwrap();
    assert!(last.reason.starts_with("bot: "), "{last:?}");
}

/// Starts connector `c` as `user` against a hub with these users; returns
/// its messaging Details once it settles Offline.
async fn refused(users: &str, user: &str, password: &str) -> String {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::with_hub(users);
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", user, "", "").replace(&format!("pw-{user}"), password),
    );
    let gateway = gateway(&config).await;
    eventually("Offline", || {
        gateway.report("c").unwrap().status == Status::Offline
    })
    .await;
    gateway.report("c").unwrap().details.messaging.detail
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platforms_prerequisites_are_checked_with_clear_errors() {
    let users = "[[hub.users]]\nlogin = \"off\"\npassword = \"p\"\nenabled = false\nskills = [\"1\"]\n\n\
                 [[hub.users]]\nlogin = \"person\"\npassword = \"p\"\ntype = \"human\"\nskills = [\"1\"]\n\n\
                 [[hub.users]]\nlogin = \"idle\"\npassword = \"p\"\n\n\
                 [[hub.users]]\nlogin = \"ok\"\npassword = \"p\"\nskills = [\"1\"]\n";
    let wrong_password = refused(users, "ok", "wrong").await;
    assert!(
        wrong_password.contains("401"),
        "a failed login shows its 401: {wrong_password}"
    );
    assert!(
        wrong_password.contains("retrying in"),
        "and the retry: {wrong_password}"
    );
    assert!(refused(users, "ghost", "p").await.contains("401"));
    assert!(refused(users, "off", "p").await.contains("disabled"));
    assert!(
        refused(users, "person", "p")
            .await
            .contains("is not a bot user")
    );
    assert!(refused(users, "idle", "p").await.contains("has no skill"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_connector_checks_its_user_on_the_platform() {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::with_hub(
        "[[hub.users]]\nlogin = \"person\"\npassword = \"pw-person\"\ntype = \"human\"\nskills = [\"1\"]\n",
    );
    config.write("bots/b.toml", &bot.config("b"));
    let mut gateway = gateway(&config).await;
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "person", "", ""),
    );
    let candidate = switchboard::config::load(config.path())
        .unwrap()
        .config
        .connectors[0]
        .clone();
    let error = gateway.add_connector(candidate).await.unwrap_err();
    assert!(error.to_string().contains("not a bot user"), "{error}");
    assert!(gateway.connector_ids().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connectors_share_a_skill_and_a_stopped_ones_conversations_move_with_history() {
    let bot = RecordingBot::echo().await;
    // ringAcceptWait gives the consumers' messages time to land before the
    // other connector reads the moved conversations' history.
    let (_config, mut gateway) = two_connectors_of_one_bot(&bot, 1000).await;
    let hub = gateway.hub_url().unwrap();

    let mut consumers = Vec::new();
    for n in 0..4 {
        let mut consumer = Consumer::connect(&hub, "123").await;
        consumer.start_conversation().await;
        consumer.say(&format!("first {n}")).await;
        assert_eq!(
            consumer.next_agent_text().await,
            format!("bot heard: first {n}")
        );
        consumers.push(consumer);
    }
    let load = |id: &str| gateway.report(id).unwrap().conversations;
    assert_eq!(
        (load("a"), load("b")),
        (2, 2),
        "new conversations are spread"
    );

    // Stop a: its conversations go to b, which sees their history; a
    // message sent during the move is not lost.
    gateway.stop_connector("a").await.unwrap();
    for (n, consumer) in consumers.iter_mut().enumerate() {
        consumer.say(&format!("second {n}")).await;
    }
    for (n, consumer) in consumers.iter_mut().enumerate() {
        assert_eq!(
            consumer.next_agent_text().await,
            format!("bot heard: second {n}")
        );
    }
    eventually("b has them all", || {
        gateway.report("b").unwrap().conversations == 4
    })
    .await;
    for n in 0..4 {
        let heard = bot
            .texts()
            .iter()
            .filter(|t| **t == format!("second {n}"))
            .count();
        assert_eq!(heard, 1, "second {n} reached the bot once");
    }
}

/// Two connectors of one bot, `a` and `b`, both online.
async fn two_connectors_of_one_bot(
    bot: &RecordingBot,
    ring_accept_wait_ms: u64,
) -> (ConfigDir, switchboard::app::Gateway) {
    let config = ConfigDir::new(&["bot-a", "bot-b"]);
    config.write("bots/b.toml", &bot.config("b"));
    let custom = format!("messageDelay = 100\nringAcceptWait = {ring_accept_wait_ms}");
    let custom = custom.as_str();
    config.write(
        "connectors/a.toml",
        &connector_file("a", "b", "bot-a", "", custom),
    );
    config.write(
        "connectors/b.toml",
        &connector_file("b", "b", "bot-b", "", custom),
    );
    let gateway = gateway(&config).await;
    eventually("both online", || {
        gateway
            .reports()
            .iter()
            .all(|(_, r)| r.status == Status::Online)
    })
    .await;
    (config, gateway)
}

/// A consumer whose "four" the bot answered; who has the conversation,
/// and the other connector.
async fn answered_four(
    gateway: &switchboard::app::Gateway,
) -> (Consumer, &'static str, &'static str) {
    let mut consumer = Consumer::of(gateway).await;
    consumer.start_conversation().await;
    consumer.say("four").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: four");
    let (holder, other) = match gateway.report("a").unwrap().conversations {
        1 => ("a", "b"),
        _ => ("b", "a"),
    };
    (consumer, holder, other)
}

/// A connector of the same bot leaving while the consumer is silent is a
/// failover, not a transfer: the other connector resumes the conversation
/// and the bot hears neither its own last answer nor a greeting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_with_the_consumer_silent_does_not_feed_the_bot_its_own_answer() {
    let bot = RecordingBot::echo().await;
    let (_config, mut gateway) = two_connectors_of_one_bot(&bot, 500).await;
    let (mut consumer, holder, other) = answered_four(&gateway).await;

    gateway.stop_connector(holder).await.unwrap();
    eventually("the other connector has the conversation", || {
        gateway.report(other).unwrap().conversations == 1
    })
    .await;
    // Longer than the greeting's 3 s: nothing reaches the bot by itself.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(bot.texts(), ["four"], "the bot was fed nothing new");

    consumer.say("five").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: five");
    assert_eq!(bot.texts(), ["four", "five"]);
}

/// A bot call in flight when its connector stops is answered and published
/// before the logout, so the connector that takes over does not ask again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_call_in_flight_at_a_stop_is_answered_before_the_failover() {
    let bot = RecordingBot::start_pacing(
        |text| {
            if text == "five" {
                Duration::from_millis(700)
            } else {
                Duration::ZERO
            }
        },
        |text| json!([{"text": format!("bot heard: {text}")}]),
    )
    .await;
    let (_config, mut gateway) = two_connectors_of_one_bot(&bot, 500).await;
    let (mut consumer, holder, other) = answered_four(&gateway).await;

    consumer.say("five").await;
    bot.wait_for(2).await;
    // "five" is with the bot for 0.7 s: the stop waits for its answer.
    gateway.stop_connector(holder).await.unwrap();
    assert_eq!(consumer.next_agent_text().await, "bot heard: five");
    eventually("the other connector has the conversation", || {
        gateway.report(other).unwrap().conversations == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(bot.texts(), ["four", "five"], "nobody asked again");
}

/// With messages in flight during the failover, the bot gets exactly the
/// consumer messages it has not answered, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_with_messages_in_flight_hands_on_only_the_unanswered_ones() {
    let bot = RecordingBot::echo().await;
    let (_config, mut gateway) = two_connectors_of_one_bot(&bot, 500).await;
    let (mut consumer, holder, other) = answered_four(&gateway).await;

    gateway.stop_connector(holder).await.unwrap();
    consumer.say("five").await;
    consumer.say("six").await;
    let answer = consumer.next_agent_text().await;
    assert!(
        answer == "bot heard: five six" || answer == "bot heard: five",
        "{answer}"
    );
    eventually("the other connector has the conversation", || {
        gateway.report(other).unwrap().conversations == 1
    })
    .await;
    let heard = bot.wait_for(2).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let texts = bot.texts();
    let after: Vec<&str> = texts[1..].iter().map(String::as_str).collect();
    assert!(
        after == ["five six"] || after == ["five", "six"],
        "the bot got the unanswered messages once, nothing of its own: {texts:?} ({heard:?})"
    );
}

/// A gateway whose connector `c` (bot `b`) has one slot, with these
/// custom fields.
async fn one_slot_connector(
    bot: &RecordingBot,
    custom: &str,
) -> (ConfigDir, switchboard::app::Gateway) {
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "max_conversations = 1", custom),
    );
    let gateway = gateway(&config).await;
    (config, gateway)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_connector_takes_no_more_conversations_than_its_maximum() {
    let bot = RecordingBot::echo().await;
    let (_config, gateway) = one_slot_connector(&bot, "messageDelay = 100").await;
    let hub = gateway.hub_url().unwrap();
    let mut first = Consumer::connect(&hub, "123").await;
    let conversation = first.start_conversation().await;
    first.say("one").await;
    assert_eq!(first.next_agent_text().await, "bot heard: one");

    let mut second = Consumer::connect(&hub, "123").await;
    second.start_conversation().await;
    second.say("two").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bot.texts(), ["one"], "the second conversation waits");

    // The first one closes: the slot frees and the second is served.
    first
        .wire
        .request(
            "cm.UpdateConversationField",
            json!({"conversationId": conversation, "conversationField": [{"field": "ConversationStateField", "conversationState": "CLOSE"}]}),
        )
        .await;
    assert_eq!(second.next_agent_text().await, "bot heard: two");
}

/// A conversation closed while the connector waits to accept its ring
/// (`ringAcceptWait`) takes no slot with it: the platform withdraws the
/// ring (CANCELLED) and the connector forgets it, so a connector of one
/// slot serves the next conversation. Before, every such ring kept a slot
/// until the connection restarted: any consumer could fill a connector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_withdrawn_before_the_accept_frees_its_slot() {
    let bot = RecordingBot::echo().await;
    let (_config, gateway) =
        one_slot_connector(&bot, "messageDelay = 100\nringAcceptWait = 1500").await;
    let hub = gateway.hub_url().unwrap();
    for _ in 0..3 {
        let mut gone = Consumer::connect(&hub, "123").await;
        gone.start_conversation().await;
        gone.close().await;
    }
    let mut next = Consumer::connect(&hub, "123").await;
    next.start_conversation().await;
    next.say("anyone?").await;
    assert_eq!(next.next_agent_text().await, "bot heard: anyone?");
}

/// A ring withdrawn (the consumer left) while the connector waits to accept
/// it (`ringAcceptWait`) is not accepted when the wait is over (nor
/// answered at all): the platform would refuse it, and the connector would
/// warn of a consumer who only left. The agent side's frames are seen
/// through a recording proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_withdrawn_before_the_accept_is_not_accepted() {
    let platform = gateway(&ConfigDir::new(&["bot-c"])).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let bot = RecordingBot::echo().await;
    let file = connector_file(
        "c",
        "b",
        "bot-c",
        "",
        "messageDelay = 100\nringAcceptWait = 1500",
    );
    let _gateway = gateway(&connectors_for(&proxy.url, &bot, &[("c", file)])).await;
    let rung = |conversation: &str| {
        let conversation = format!("\"conversationId\":\"{conversation}\"");
        move |frame: &str| {
            frame.contains("RoutingTaskNotification")
                && frame.contains(&conversation)
                && frame.contains("\"ringState\":\"WAITING\"")
        }
    };

    let mut gone = Consumer::connect(&hub, "123").await;
    let withdrawn = gone.start_conversation().await;
    proxy.wait_for(Way::ToConnector, rung(&withdrawn)).await;
    gone.close().await;

    // The next ring's wait began after the withdrawn one's: once its
    // conversation is answered, the withdrawn ring's accept would have
    // gone out.
    let mut next = Consumer::connect(&hub, "123").await;
    let answered = next.start_conversation().await;
    next.say("anyone?").await;
    assert_eq!(next.next_agent_text().await, "bot heard: anyone?");
    let accepts = |conversation: &str| -> Vec<String> {
        proxy
            .frames()
            .into_iter()
            .filter(|(way, frame)| {
                *way == Way::ToPlatform
                    && frame.contains("UpdateRingState")
                    && frame.contains(&format!("\"ringId\":\"{conversation}_"))
            })
            .map(|(_, frame)| frame)
            .collect()
    };
    assert_eq!(accepts(&answered).len(), 1, "{:#?}", proxy.frames());
    assert_eq!(accepts(&withdrawn), Vec::<String>::new());
}

/// A free loopback port, for a hub that must come back at the same address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A hub alone on `port`, with bot users `users` (skill 1).
fn platform_on(port: u16, users: &[&str]) -> ConfigDir {
    let platform = ConfigDir::new(users);
    let toml = std::fs::read_to_string(platform.path().join("switchboard.toml")).unwrap();
    platform.write(
        "switchboard.toml",
        &toml.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
    );
    platform
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connectors_conversations_move_to_the_other_after_the_grace_period() {
    let bot = RecordingBot::echo().await;
    let port = free_port();
    let platform = gateway(&platform_on(port, &["bot-a", "bot-b"])).await;
    let hub = platform.hub_url().unwrap();
    let custom = "messageDelay = 100\nringAcceptWait = 1000";
    let a_config = connectors_for(
        &hub,
        &bot,
        &[("a", connector_file("a", "b", "bot-a", "", custom))],
    );
    let a = gateway(&a_config).await;
    eventually("a online", || {
        a.report("a").unwrap().status == Status::Online
    })
    .await;

    let mut consumer = Consumer::connect(&hub, "123").await;
    consumer.start_conversation().await;
    consumer.say("before").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: before");

    let b_config = connectors_for(
        &hub,
        &bot,
        &[("b", connector_file("b", "b", "bot-b", "", custom))],
    );
    let b = gateway(&b_config).await;
    eventually("b online", || {
        b.report("b").unwrap().status == Status::Online
    })
    .await;
    // Killed: no log-out. The hub waits out its grace period (1 s here),
    // then routes the conversation, history and all, to b.
    drop(a);
    consumer.say("after").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: after");
    assert_eq!(b.report("b").unwrap().conversations, 1);
    assert_eq!(bot.texts().iter().filter(|t| *t == "after").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_shown_and_retried_until_the_platform_is_back() {
    let bot = RecordingBot::echo().await;
    let port = free_port();
    let platform_config = platform_on(port, &["bot-user"]);
    let platform = gateway(&platform_config).await;
    let hub = platform.hub_url().unwrap();
    let config = connectors_for(
        &hub,
        &bot,
        &[("c", connector_file("c", "b", "bot-user", "", ""))],
    );
    let connectors = gateway(&config).await;
    eventually("online", || {
        connectors.report("c").unwrap().status == Status::Online
    })
    .await;

    platform.shutdown().await;
    eventually("offline", || {
        connectors.report("c").unwrap().status == Status::Offline
    })
    .await;
    let detail = connectors.report("c").unwrap().details.messaging.detail;
    assert!(
        detail.contains("reconnecting") || detail.contains("retrying"),
        "{detail}"
    );

    crate::support::store_released(&platform_config).await;
    let _platform = gateway(&platform_config).await;
    eventually("back online", || {
        connectors.report("c").unwrap().status == Status::Online
    })
    .await;
    let history = connectors.history("c").unwrap();
    let statuses: Vec<Status> = history.iter().map(|h| h.status).collect();
    assert!(statuses.windows(2).any(
        |w| w == [Status::Offline, Status::Starting] || w == [Status::Offline, Status::Online]
    ));
    assert!(
        history
            .iter()
            .any(|h| h.status == Status::Starting && h.reason == "logging in"),
        "progress: {history:?}"
    );
}
