//! Hot reload of configuration and plugins and state
//! that survives `kill -9` (§7), on a real gateway with a real watcher,
//! real files and a real sled store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use switchboard::app::{Gateway, Watcher};
use switchboard::connector::Status;
use switchboard::plugin::PluginEngine;
use tokio::sync::Mutex;

use crate::support::proxy::{Way, WireProxy};
use crate::support::{
    ConfigDir, Consumer, GatewayProcess, PATIENCE, RecordingBot, built_plugin, connector_file,
    connectors_for, eventually, gateway, stamp_version,
};

/// The version the gateway shows for these bytes.
fn version_of(bytes: &[u8]) -> String {
    PluginEngine::digest(bytes)[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A configuration with plugins in `<config>/plugins`, a webhook bot `b`
/// and connector `c` (user `c-bot`) running `plugins` with `custom` fields.
fn config_with_plugins(bot: &RecordingBot, plugins: &[&str], custom: &str) -> ConfigDir {
    let config = ConfigDir::new(&["c-bot"]);
    config.append("switchboard.toml", "\n[plugins]\ndirs = [\"plugins\"]\n");
    config.write("bots/b.toml", &bot.config("b"));
    let entries: String = plugins
        .iter()
        .map(|p| format!("[[plugins]]\nfile = \"{p}\"\n"))
        .collect();
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "c-bot", "", custom)
            .replace("[custom]", &format!("{entries}\n[custom]")),
    );
    config
}

async fn online(gateway: &Arc<Mutex<Gateway>>, id: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gateway.lock().await.report(id).map(|r| r.status).ok() != Some(Status::Online) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never came online"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn reloads_past(gateway: &Arc<Mutex<Gateway>>, count: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gateway.lock().await.reload_count() <= count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher never reloaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The stamp in an answer "bot heard: mN [STAMP-00000k]".
fn stamp_in(answer: &str) -> usize {
    let at = answer
        .find("[STAMP-")
        .unwrap_or_else(|| panic!("no stamp in {answer:?}"));
    answer[at + 7..at + 13].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_replaced_twenty_times_under_a_steady_stream_answers_every_message_once_with_the_version_serving()
 {
    let bot = RecordingBot::echo().await;
    let config = config_with_plugins(&bot, &["stamp.wasm"], "messageDelay = 0");
    config.replace("plugins/stamp.wasm", &stamp_version(0));
    let gateway = Arc::new(Mutex::new(gateway(&config).await));
    let _watcher = Watcher::start(gateway.clone()).await.unwrap();
    online(&gateway, "c").await;
    let hub = gateway.lock().await.hub_url().unwrap();

    // Written: the newest version on disk; serving: the newest the
    // gateway's status confirmed. A message sent after version k was
    // confirmed must come back stamped k or later, and never with a
    // version not yet written.
    let written = Arc::new(AtomicUsize::new(0));
    let serving = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = tokio::spawn({
        let (written, serving, done) = (written.clone(), serving.clone(), done.clone());
        async move {
            let mut consumer = Consumer::connect(&hub, "123").await;
            consumer.start_conversation().await;
            let mut answers = Vec::new();
            let mut n = 0;
            let mut after_last = 0;
            loop {
                // Once the last version serves, three more messages, then stop.
                if done.load(Ordering::SeqCst) {
                    after_last += 1;
                    if after_last > 3 {
                        break;
                    }
                }
                let floor = serving.load(Ordering::SeqCst);
                consumer.say(&format!("m{n}")).await;
                let answer = consumer.next_agent_text().await;
                let ceiling = written.load(Ordering::SeqCst);
                answers.push((n, floor, ceiling, answer));
                n += 1;
            }
            answers
        }
    });

    let mut swap_times = Vec::new();
    for version in 1..=20 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let bytes = stamp_version(version);
        let expected = version_of(&bytes);
        let started = std::time::Instant::now();
        written.store(version, Ordering::SeqCst);
        config.replace("plugins/stamp.wasm", &bytes);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let report = gateway.lock().await.report("c").unwrap();
            if report.details.plugins[0].version == expected {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "version {version} never served"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        swap_times.push(started.elapsed());
        serving.store(version, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    let answers = stream.await.unwrap();

    let mut last_stamp = 0;
    for (n, floor, ceiling, answer) in &answers {
        assert!(
            answer.starts_with(&format!("bot heard: m{n} [")),
            "message m{n} got {answer:?}: every message is answered once, in order"
        );
        assert_eq!(answer.matches("[STAMP-").count(), 1, "{answer}");
        let stamp = stamp_in(answer);
        assert!(
            (*floor..=*ceiling).contains(&stamp),
            "m{n} was sent while version {floor} served and answered before {ceiling} was written, \
             yet stamped {stamp}"
        );
        assert!(
            stamp >= last_stamp,
            "an older version answered after a newer one: {answers:?}"
        );
        last_stamp = stamp;
    }
    assert_eq!(
        last_stamp, 20,
        "the last answers come from the last version"
    );
    let turns = bot.texts();
    let sent: Vec<String> = answers.iter().map(|(n, ..)| format!("m{n}")).collect();
    assert_eq!(turns, sent, "the bot got every message exactly once");
    let versions: std::collections::BTreeSet<usize> =
        answers.iter().map(|(.., a)| stamp_in(a)).collect();
    assert!(
        versions.len() >= 10,
        "the stream ran across the replacements: {versions:?}"
    );
    let report = gateway.lock().await.report("c").unwrap();
    assert_eq!(report.details.plugins[0].faults, 0);
    eprintln!("time from file replaced to new version serving: {swap_times:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_an_unchanged_plugin_compiles_nothing_and_a_restart_takes_the_compile_cache() {
    let bot = RecordingBot::echo().await;
    let config = config_with_plugins(&bot, &["stamp.wasm"], "");
    config.replace("plugins/stamp.wasm", &stamp_version(7));
    let mut gateway = gateway(&config).await;
    let first = gateway.compile_stats();
    assert_eq!(first.compiled + first.from_cache, 1);

    // The same bytes written again: a reload compiles nothing and changes nothing.
    config.replace("plugins/stamp.wasm", &stamp_version(7));
    let report = gateway.reload().await.clone();
    assert!(report.ok, "{report:?}");
    assert!(report.changes.is_empty(), "{report:?}");
    assert_eq!(gateway.compile_stats(), first, "no compile, no cache read");

    // A version seen before comes back from the disk cache after a restart.
    gateway.shutdown().await;
    crate::support::store_released(&config).await;
    let again = crate::support::gateway(&config).await;
    let stats = again.compile_stats();
    assert_eq!(stats.compiled, 0, "{stats:?}");
    assert_eq!(stats.from_cache, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_edit_leaves_the_running_connector_untouched_and_reports_the_location() {
    let bot = RecordingBot::echo().await;
    let config = config_with_plugins(&bot, &[], "messageDelay = 0");
    let gateway = Arc::new(Mutex::new(gateway(&config).await));
    let _watcher = Watcher::start(gateway.clone()).await.unwrap();
    online(&gateway, "c").await;
    let mut consumer = Consumer::connect(&gateway.lock().await.hub_url().unwrap(), "123").await;
    consumer.start_conversation().await;
    consumer.say("before").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: before");

    let reloads = gateway.lock().await.reload_count();
    let good = std::fs::read_to_string(config.path().join("connectors/c.toml")).unwrap();
    let bad = good.replace("messageDelay = 0", "messageDelay = \"soon\"");
    let line = 1 + bad
        .lines()
        .position(|l| l.starts_with("messageDelay"))
        .unwrap();
    config.replace("connectors/c.toml", bad.as_bytes());
    reloads_past(&gateway, reloads).await;
    let report = gateway.lock().await.last_reload().clone();
    assert!(!report.ok);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains(&format!("connectors/c.toml:{line}:16: error:"))),
        "{report:?}"
    );
    assert_eq!(
        gateway.lock().await.report("c").unwrap().status,
        Status::Online
    );
    consumer.say("during").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: during");

    // Fixed: the next save applies.
    let reloads = gateway.lock().await.reload_count();
    config.replace("connectors/c.toml", good.as_bytes());
    reloads_past(&gateway, reloads).await;
    assert!(gateway.lock().await.last_reload().ok);
    consumer.say("after").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaviour_applies_live_to_a_running_conversation_and_a_broken_plugin_is_refused() {
    let bot = RecordingBot::echo().await;
    let config = config_with_plugins(&bot, &["stamp.wasm"], "messageDelay = 0");
    config.replace("plugins/stamp.wasm", &stamp_version(1));
    let mut gateway = gateway(&config).await;
    let gateway_hub = gateway.hub_url().unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gateway.report("c").unwrap().status != Status::Online {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut consumer = Consumer::connect(&gateway_hub, "123").await;
    let conversation = consumer.start_conversation().await;
    consumer.say("one").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: one [STAMP-000001]"
    );

    // A plugin added and a plugin setting given, on the running connector.
    std::fs::copy(
        built_plugin("fixture_shout"),
        config.path().join("plugins/shout.wasm"),
    )
    .unwrap();
    config.edit(
        "connectors/c.toml",
        "[[plugins]]\nfile = \"stamp.wasm\"\n",
        "[[plugins]]\nfile = \"shout.wasm\"\n[[plugins]]\nfile = \"stamp.wasm\"\n",
    );
    let report = gateway.reload().await.clone();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.changes, ["connector c: updated"]);
    consumer.say("two").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: TWO [1] [STAMP-000001]",
        "the same conversation goes on with the new chain"
    );
    let turns = bot.turns();
    assert!(turns.iter().all(|t| t.conversation == conversation));
    assert_eq!(
        bot.texts(),
        ["one", "TWO"],
        "no greeting again, nothing dropped"
    );

    // A file that is not a component is refused, naming it; the old one serves.
    let before = gateway.report("c").unwrap().details.plugins[1]
        .version
        .clone();
    config.replace("plugins/stamp.wasm", b"\0asm but not really");
    let report = gateway.reload().await.clone();
    assert!(!report.ok);
    assert!(
        report.errors[0].contains("connectors/c.toml:")
            && report.errors[0]
                .contains("plugins/stamp.wasm: not a valid switchboard plugin component"),
        "{report:?}"
    );
    // A core module (not a component) is refused too, and so is a
    // component that traps before it serves.
    config.replace("plugins/stamp.wasm", b"\0asm\x01\0\0\0");
    assert!(!gateway.reload().await.ok);
    config.replace(
        "plugins/stamp.wasm",
        &std::fs::read(built_plugin("hostile_start_trap")).unwrap(),
    );
    let report = gateway.reload().await.clone();
    assert!(
        report.errors[0].contains("plugins/stamp.wasm: instantiation failed"),
        "{report:?}"
    );
    assert_eq!(
        gateway.report("c").unwrap().details.plugins[1].version,
        before
    );
    consumer.say("three").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: THREE [2] [STAMP-000001]"
    );

    // A custom field changed on the running connector: the open
    // conversation takes it at its next step (quick messages now join).
    config.replace("plugins/stamp.wasm", &stamp_version(1));
    config.edit(
        "connectors/c.toml",
        "messageDelay = 0\n",
        "messageDelay = 1500\n",
    );
    let report = gateway.reload().await.clone();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.changes, ["connector c: updated"]);
    consumer.say("four").await;
    consumer.say("five").await;
    consumer.next_agent_text().await;
    assert_eq!(bot.texts(), ["one", "TWO", "THREE", "FOUR FIVE"]);
}

/// Users a-bot and b-bot, an echo bot, and connector `a` (autostart).
async fn with_connector_a() -> (RecordingBot, ConfigDir) {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::new(&["a-bot", "b-bot"]);
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/a.toml",
        &connector_file("a", "b", "a-bot", "", ""),
    );
    (bot, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_change_waits_for_the_next_start_and_says_so() {
    let (_bot, config) = with_connector_a().await;
    let mut gateway = gateway(&config).await;
    eventually("a online", || {
        gateway.report("a").unwrap().status == Status::Online
    })
    .await;
    let history = gateway.history("a").unwrap().len();
    config.edit(
        "switchboard.toml",
        "agent_grace_ms = 1000",
        "agent_grace_ms = 2000",
    );
    let report = gateway.reload().await.clone();
    assert!(report.ok, "{report:?}");
    assert!(
        report.warnings.iter().any(|w| w.contains(
            "changes to [hub], [messaging], [store] and [cluster] take effect at the next start"
        )),
        "{report:?}"
    );
    assert!(report.changes.is_empty(), "{report:?}");
    // Nothing was restarted: the connector stayed Online throughout.
    assert_eq!(gateway.report("a").unwrap().status, Status::Online);
    assert_eq!(gateway.history("a").unwrap().len(), history);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connector_files_appear_and_a_deleted_running_connectors_file_is_refused() {
    let (_bot, config) = with_connector_a().await;
    let mut gateway = gateway(&config).await;

    config.write(
        "connectors/b.toml",
        &connector_file("b", "b", "b-bot", "", "").replace("autostart = true", "autostart = false"),
    );
    let report = gateway.reload().await.clone();
    assert_eq!(report.changes, ["connector b: added"], "{report:?}");
    assert_eq!(gateway.report("b").unwrap().status, Status::ReadyToStart);

    std::fs::remove_file(config.path().join("connectors/a.toml")).unwrap();
    let report = gateway.reload().await.clone();
    assert!(!report.ok);
    assert!(
        report.errors[0].contains("connector `a` is running: stop it before you remove its file"),
        "{report:?}"
    );
    assert!(gateway.report("a").is_ok());
    gateway.stop_connector("a").await.unwrap();
    let report = gateway.reload().await.clone();
    assert_eq!(report.changes, ["connector a: removed"], "{report:?}");
    assert!(gateway.report("a").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_a_stopped_connector_stopped_and_resumes_a_running_one() {
    let (_bot, config) = with_connector_a().await;
    config.write(
        "connectors/b.toml",
        &connector_file("b", "b", "b-bot", "", "").replace("autostart = true", "autostart = false"),
    );
    let mut gateway = gateway(&config).await;
    gateway.stop_connector("a").await.unwrap();
    gateway.start_connector("b").unwrap();
    gateway.shutdown().await;
    crate::support::store_released(&config).await;

    let gateway = crate::support::gateway(&config).await;
    assert_eq!(
        gateway.report("a").unwrap().status,
        Status::Stopped,
        "autostart does not undo a Stop"
    );
    eventually("b resumes", || {
        gateway.report("b").unwrap().status == Status::Online
    })
    .await;
}

/// The crash tests' set-up: a hub in a process of its own (`switchboard
/// hub`), as LivePerson's platform is (killing the gateway must not kill
/// the platform), with bot user `crash-bot` and a grace period longer than
/// a test, so a killed gateway's conversations wait for it; connector `c`
/// of bot `bot` with `custom`, reaching the hub through a recording proxy
/// (a test sees what was passed to the connector before it kills it).
struct Crash {
    hub: GatewayProcess,
    proxy: WireProxy,
    config: ConfigDir,
    _platform: ConfigDir,
}

impl Crash {
    async fn new(bot: &RecordingBot, custom: &str) -> Crash {
        let platform = ConfigDir::new(&["crash-bot"]);
        platform.edit(
            "switchboard.toml",
            "agent_grace_ms = 1000",
            "agent_grace_ms = 60000",
        );
        let hub = GatewayProcess::hub(platform.path());
        let proxy = WireProxy::start(&hub.hub_url).await;
        let file = connector_file("c", "b", "crash-bot", "", custom);
        let config = connectors_for(&proxy.url, bot, &[("c", file)]);
        Crash {
            hub,
            proxy,
            config,
            _platform: platform,
        }
    }

    /// Starts the gateway, as a process of its own.
    fn gateway(&self) -> GatewayProcess {
        GatewayProcess::start_until(self.config.path(), "switchboard: connector c:")
    }

    /// A consumer on the hub.
    async fn consumer(&self) -> Consumer {
        Consumer::connect(&self.hub.hub_url, "123").await
    }

    /// Waits until the consumer's `text` is passed on to the connector
    /// (whether the connector read it before a kill cannot be seen; either
    /// way it must reach the bot once).
    async fn delivered(&self, text: &str) {
        let message = format!("\"message\":\"{text}\"");
        self.proxy
            .wait_for(Way::ToConnector, |frame| {
                frame.contains("OnlineEventDistribution") && frame.contains(&message)
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_conversation_loses_no_message_and_sends_none_twice() {
    // "one" keeps the bot busy far longer than the test; the rest are quick.
    let bot = RecordingBot::start_pacing(
        |text| {
            if text == "one" {
                Duration::from_secs(120)
            } else {
                Duration::ZERO
            }
        },
        |text| json!([{"text": format!("bot heard: {text}")}]),
    )
    .await;
    let crash = Crash::new(&bot, "messageDelay = 1500").await;
    let gateway = crash.gateway();

    let mut consumer = crash.consumer().await;
    consumer.start_conversation().await;
    consumer.say("one").await;
    let turns = bot.wait_for(1).await;
    assert_eq!(
        turns[0].text, "one",
        "the bot is busy with the first message"
    );
    consumer.say("two").await;
    consumer.say("three").await;
    // Both are passed on to the connector (to wait in the 1.5 s
    // messageDelay window), and "one" is in flight.
    crash.delivered("three").await;
    gateway.kill();

    let _gateway = crash.gateway();
    assert_eq!(consumer.next_agent_text().await, "bot heard: two three");
    // Whatever else would come (a repeat of "one", a second "two three")
    // comes soon after a restart; the bot got each message once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts = bot.texts();
    assert_eq!(texts, ["one", "two three"], "{:?}", bot.turns());
}

/// A conversation that reaches a connector without a ring it accepted and
/// without saved state (here the gateway's state is lost with its machine:
/// killed, its data directory gone, started again) is not greeted, but what
/// the consumer said that nobody answered reaches the bot, once; what was
/// answered does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_arriving_without_its_state_hands_on_what_nobody_answered() {
    let bot = RecordingBot::echo().await;
    let crash = Crash::new(&bot, "messageDelay = 100").await;
    let gateway = crash.gateway();
    let mut consumer = crash.consumer().await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
    gateway.kill();
    std::fs::remove_dir_all(crash.config.path().join("data")).unwrap();
    consumer.say("while you were away").await;

    let _gateway = crash.gateway();
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: while you were away"
    );
    // No greeting, no second "hello": the bot got each message once.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        bot.texts(),
        ["hello", "while you were away"],
        "{:?}",
        bot.turns()
    );
}

/// A conversation killed before it ever asked the bot: the message in its
/// messageDelay window reaches the bot after the restart, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_before_a_conversations_first_bot_call_loses_no_message() {
    let bot = RecordingBot::echo().await;
    let crash = Crash::new(&bot, "messageDelay = 3000").await;
    let gateway = crash.gateway();

    let mut consumer = crash.consumer().await;
    let conversation = consumer.start_conversation().await;
    // Accepted and its history read (whether its first state is saved
    // by the kill cannot be seen; either way the message must come
    // through): then a message waits in its window.
    let asked = crash
        .proxy
        .wait_for(Way::ToPlatform, |frame| {
            frame.contains("QueryMessages") && frame.contains(&conversation)
        })
        .await;
    let request: serde_json::Value = serde_json::from_str(&crash.proxy.frames()[asked].1).unwrap();
    let answer = format!("\"reqId\":\"{}\"", request["id"].as_str().unwrap());
    crash
        .proxy
        .wait_for(Way::ToConnector, |frame| frame.contains(&answer))
        .await;
    consumer.say("early").await;
    crash.delivered("early").await;
    gateway.kill();
    assert!(bot.texts().is_empty(), "{:?}", bot.turns());

    let _gateway = crash.gateway();
    assert_eq!(consumer.next_agent_text().await, "bot heard: early");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(bot.texts(), ["early"], "{:?}", bot.turns());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_of_a_quarantined_plugins_file_lifts_the_quarantine() {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::new(&["c-bot"]);
    config.append("switchboard.toml", "\n[plugins]\ndirs = [\"plugins\"]\n");
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "c-bot", "", "messageDelay = 0").replace(
            "[custom]",
            "[[plugins]]\nfile = \"p.wasm\"\nlimits = { quarantine_after = 2 }\n\n[custom]",
        ),
    );
    config.replace(
        "plugins/p.wasm",
        &std::fs::read(built_plugin("hostile_unreachable")).unwrap(),
    );
    let mut gateway = gateway(&config).await;
    let hub = gateway.hub_url().unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gateway.report("c").unwrap().status == Status::Starting
        || gateway.report("c").unwrap().details.messaging.up != Some(true)
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut consumer = Consumer::connect(&hub, "123").await;
    consumer.start_conversation().await;
    for text in ["a", "b", "c"] {
        consumer.say(text).await;
        assert_eq!(
            consumer.next_agent_text().await,
            format!("bot heard: {text}")
        );
    }
    assert!(gateway.report("c").unwrap().details.plugins[0].quarantined);

    config.replace("plugins/p.wasm", &stamp_version(5));
    let report = gateway.reload().await.clone();
    assert!(report.ok, "{report:?}");
    let plugin = gateway.report("c").unwrap().details.plugins[0].clone();
    assert!(!plugin.quarantined, "{plugin:?}");
    assert_eq!(plugin.consecutive_faults, 0);
    consumer.say("d").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: d [STAMP-000005]"
    );
}
