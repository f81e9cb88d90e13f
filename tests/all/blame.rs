//! Faults are charged to whoever caused them: content a bot sends that
//! LivePerson would refuse is the bot's (not published, counted against the
//! bot, never against the plugins that would have seen it), and a long
//! message a plugin passes on is not the plugin's fault.

use serde_json::json;
use switchboard::connector::Status;

use crate::support::{ConfigDir, Consumer, RecordingBot, connector_file, eventually, gateway};

/// The two shipped plugins that see every bot answer, with `limits`.
fn plugins(limits: &str) -> String {
    ["tile_display", "accessibility"]
        .iter()
        .map(|name| format!("[[plugins]]\nfile = \"{name}.wasm\"\nlimits = {{ {limits} }}\n\n"))
        .collect()
}

fn one_connector(bot: &RecordingBot, limits: &str, custom: &str) -> ConfigDir {
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", &plugins(limits), custom),
    );
    config
}

/// A connector that resends once after 0.5 s of no response, and a
/// consumer who said "hi" to it.
async fn said_hi_with_one_resend(bot: &RecordingBot) -> (ConfigDir, switchboard::app::Gateway) {
    let config = one_connector(
        bot,
        "quarantine_after = 1",
        "messageDelay = 100\nmessageResendMaxRetries = 1\nretryMessageInterval = 500",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("hi").await;
    (config, gateway)
}

/// A Slack-style payload from a Rasa-format bot: not structured content.
fn slack_blocks() -> serde_json::Value {
    json!({"custom": {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_refused_content_is_not_published_and_counted_against_the_bot_not_the_plugins() {
    let bot =
        RecordingBot::start(|_| json!([{"text": "before"}, slack_blocks(), {"text": "after"}]))
            .await;
    let config = one_connector(&bot, "quarantine_after = 1", "messageDelay = 100");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("hi").await;
    assert_eq!(consumer.next_agent_text().await, "before");
    assert_eq!(
        consumer.next_agent_text().await,
        "after",
        "the refused item is not published"
    );

    let report = gateway.report("c").unwrap();
    assert_eq!(report.status, Status::Online, "{report:?}");
    for plugin in &report.details.plugins {
        assert_eq!(plugin.faults, 0, "no plugin is blamed: {plugin:?}");
    }
    assert!(
        report.details.bot.detail.contains("would refuse"),
        "Details name the bot: {:?}",
        report.details.bot
    );
    let connector = gateway.connectors().next().unwrap();
    assert_eq!(connector.metrics().bot_messages_refused.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_answer_with_nothing_publishable_is_no_response() {
    let bot = RecordingBot::start(|_| json!([slack_blocks()])).await;
    let (_config, gateway) = said_hi_with_one_resend(&bot).await;
    let turns = bot.wait_for(2).await;
    assert_eq!(
        turns.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        ["hi", "hi"],
        "resent as after no response"
    );
    let connector = gateway.connectors().next().unwrap();
    eventually("both answers are refused, counted against the bot", || {
        connector.metrics().bot_messages_refused.get() == 2
    })
    .await;
    let report = gateway.report("c").unwrap();
    assert!(
        report.details.plugins.iter().all(|p| p.faults == 0),
        "{report:?}"
    );
}

/// An answer larger than an event may be (2 MiB here, under the 4 MiB an
/// answer may be) is the bot's fault: it is not published, so no frame
/// nears the platform's socket limit; the connector stays Online and the
/// next answer goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_larger_than_an_event_may_be_is_refused_not_published() {
    let huge = "x".repeat(2 << 20);
    let bot = RecordingBot::start(move |text| {
        let text = if text == "huge" {
            huge.clone()
        } else {
            format!("bot heard: {text}")
        };
        json!([{ "text": text }])
    })
    .await;
    let config = one_connector(&bot, "quarantine_after = 1", "messageDelay = 100");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("huge").await;
    bot.wait_for(1).await;
    consumer.say("small").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: small");
    let connector = gateway.connectors().next().unwrap();
    assert_eq!(connector.metrics().bot_messages_refused.get(), 1);
    let report = gateway.report("c").unwrap();
    assert_eq!(report.status, Status::Online, "{report:?}");
    assert!(report.details.plugins.iter().all(|p| p.faults == 0));
}

/// A consumer's long message, echoed by the bot, passes through plugins
/// whose output limit is far smaller: passing it on is no fault, so no
/// consumer can get a plugin quarantined that way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_message_a_plugin_passes_on_is_not_its_fault() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(
        &bot,
        "max_output_kib = 1, quarantine_after = 1",
        "messageDelay = 100",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    let long = "x".repeat(8 * 1024);
    for _ in 0..3 {
        consumer.say(&long).await;
        assert_eq!(
            consumer.next_agent_text().await,
            format!("bot heard: {long}")
        );
    }
    eventually("the report is up to date", || {
        gateway
            .report("c")
            .unwrap()
            .details
            .plugins
            .iter()
            .all(|p| p.calls >= 3)
    })
    .await;
    let report = gateway.report("c").unwrap();
    assert_eq!(report.status, Status::Online);
    for plugin in &report.details.plugins {
        assert_eq!(plugin.faults, 0, "{plugin:?}");
        assert!(!plugin.quarantined, "{plugin:?}");
    }
}

/// An answer larger than the clients read (4 MiB) is refused as soon as it
/// passes the limit: it is the bot's error (Details say so), the turn is
/// "no response", and the gateway's memory never holds it whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_answer_over_the_size_limit_is_the_bots_error() {
    let huge = "x".repeat(switchboard::http::RESPONSE_LIMIT + 1);
    let bot = RecordingBot::start(move |_| json!([{"text": huge}])).await;
    let (_config, gateway) = said_hi_with_one_resend(&bot).await;
    bot.wait_for(2).await;
    let report = gateway.report("c").unwrap();
    assert!(
        report.details.bot.detail.contains("larger than"),
        "{:?}",
        report.details.bot
    );
    assert!(report.details.plugins.iter().all(|p| p.faults == 0));
}
