//! The plugin contract's versions, end to end: a gateway in this process
//! (hub and connector over real sockets), a consumer on the hub, and a
//! webhook bot on loopback.
//!
//! - Contract 0.2.0's hooks: `on-bot-error` chooses what the consumer sees
//!   when the bot failed, timed out or answered nothing;
//!   `on-conversation-end` hears that a conversation closed or was
//!   transferred away (fixture `failover`).
//! - Contract 0.1.0: a component built against it, before 0.2 existed,
//!   runs unchanged in the same chain as 0.2 plugins (fixture
//!   `contract-0-1`, which binds `wit/v0.1` directly).

use serde_json::json;

use crate::support::{
    ConfigDir, Consumer, RecordingBot, connector_file, conversation_change, gateway,
};

/// One connector `c` of bot `b` with the given `[[plugins]]` tables and custom fields.
fn connector(bot: &RecordingBot, bot_timeout_ms: u64, plugins: &str, custom: &str) -> ConfigDir {
    let config = ConfigDir::new(&["bot-user"]);
    config.write(
        "bots/b.toml",
        &bot.config("b").replace(
            "timeout_ms = 5000",
            &format!("timeout_ms = {bot_timeout_ms}"),
        ),
    );
    let file = connector_file("c", "b", "bot-user", "", custom);
    // `[[plugins]]` tables go before `[custom]`.
    let file = file.replace("\n[custom]\n", &format!("\n{plugins}\n[custom]\n"));
    config.write("connectors/c.toml", &file);
    config
}

const FAILOVER: &str =
    "[[plugins]]\nfile = \"fixture_failover.wasm\"\nsettings = { timeout_skill = \"2\" }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_bot_error_tells_the_consumer_when_the_bot_fails() {
    // An answer that is not a list is the bot's error.
    let bot = RecordingBot::start(|_| json!({"not": "a list"})).await;
    let config = connector(
        &bot,
        5000,
        FAILOVER,
        "messageDelay = 100\nmessageResendMaxRetries = 1\nretryMessageInterval = 500",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("where is my order").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "Sorry, our assistant failed on \"where is my order\"."
    );
    // The plugin's answer replaces the resend: the bot hears it once. A
    // second consumer message shows the connector went on past the
    // interval without asking again.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    consumer.say("hello?").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "Sorry, our assistant failed on \"hello?\"."
    );
    assert_eq!(bot.texts(), ["where is my order", "hello?"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_bot_error_keeps_the_default_resend_when_the_plugin_says_so() {
    // An empty answer: the fixture chooses the default behaviour.
    let bot = RecordingBot::start(|_| json!([])).await;
    let config = connector(
        &bot,
        5000,
        FAILOVER,
        "messageDelay = 100\nmessageResendMaxRetries = 1\nretryMessageInterval = 300",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("anyone there").await;
    let turns = bot.wait_for(2).await;
    assert_eq!(turns[0].text, "anyone there");
    assert_eq!(turns[1].text, "anyone there", "resent after the interval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_bot_error_escalates_a_timed_out_bot_and_on_conversation_end_hears_the_transfer() {
    let bot = RecordingBot::start_pacing(
        |text| {
            if text.starts_with("slow") {
                std::time::Duration::from_secs(3)
            } else {
                std::time::Duration::ZERO
            }
        },
        |text| json!([{"text": format!("bot heard: {text}")}]),
    )
    .await;
    let config = connector(
        &bot,
        300,
        FAILOVER,
        "messageDelay = 100\nmessageResendMaxRetries = 0",
    );
    let gateway = gateway(&config).await;
    let mut first = Consumer::of(&gateway).await;
    first.start_conversation().await;
    first.say("slow question").await;
    conversation_change(&mut first, |d| (d["skillId"] == "2").then_some(())).await;

    // The next conversation's greeting carries what on-conversation-end kept.
    let mut second = Consumer::of(&gateway).await;
    second.start_conversation().await;
    assert_eq!(
        second.next_agent_text().await,
        "bot heard: hi (ended before: 1, last: transferred)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_conversation_end_hears_a_close() {
    let bot = RecordingBot::echo().await;
    let config = connector(&bot, 5000, FAILOVER, "messageDelay = 100");
    let gateway = gateway(&config).await;
    let mut first = Consumer::of(&gateway).await;
    first.start_conversation().await;
    first.say("bye").await;
    assert_eq!(first.next_agent_text().await, "bot heard: bye");
    first.close().await;
    bot.wait_for(2).await;

    let mut second = Consumer::of(&gateway).await;
    second.start_conversation().await;
    assert_eq!(
        second.next_agent_text().await,
        "bot heard: hi (ended before: 1, last: closed)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_against_contract_0_1_runs_unchanged_beside_0_2_plugins() {
    let bot = RecordingBot::echo().await;
    // 0.1 first, then a 0.2 plugin that implements the same hooks (the
    // shipped greeting), then 0.2's failover: each sees the one before.
    let plugins = "[[plugins]]\nfile = \"fixture_contract_0_1.wasm\"\n\n\
                   [[plugins]]\nfile = \"fixture_failover.wasm\"\n";
    let config = connector(&bot, 5000, plugins, "messageDelay = 100");
    let gateway = gateway(&config).await;
    let contracts: Vec<(String, String)> = gateway
        .report("c")
        .unwrap()
        .details
        .plugins
        .into_iter()
        .map(|p| (p.name, p.contract))
        .collect();
    assert_eq!(
        contracts,
        [
            ("fixture_contract_0_1".to_owned(), "0.1.0".to_owned()),
            ("fixture_failover".to_owned(), "0.2.0".to_owned())
        ]
    );
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    // on-conversation-start through both: 0.1's prefix, then 0.2's suffix.
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: v0.1 greets: hi (ended before: 0, last: none) [v0.1]"
    );
    // on-consumer-message (0.1 rewrites) and on-bot-message (0.1 appends).
    consumer.say("hello").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: hello [v0.1] [v0.1]"
    );
}
