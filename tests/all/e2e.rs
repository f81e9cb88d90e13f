//! End to end: the `switchboard` binary as a real process, a consumer on
//! the hub's consumer WebSocket, the scripted bot and real plugin
//! components in between. Everything is asserted on the wire.

use serde_json::Value;

use crate::support::{ConfigDir, Consumer, GatewayProcess};

const ECHO_BOT: &str = r#"
id = "echo"
kind = "scripted"

[[rules]]
match = '^plans$'
say = [
    { text = "Our plans:" },
    { card = { title = "Basic", text = "5 GB", image = "https://example.com/basic.png", buttons = [{ title = "Choose Basic", text = "basic" }] } },
    { card = { title = "Plus", text = "50 GB", image = "https://example.com/plus.png", buttons = [{ title = "Choose Plus", text = "plus" }] } },
    { card = { title = "Unlimited", text = "No limits", buttons = [{ title = "Details", url = "https://example.com/u" }] } },
]
quick_replies = [{ title = "Bye", text = "bye" }]

[[rules]]
match = '.*'
say = [{ text = "bot heard: {text}" }]
"#;

fn connector(message_delay_ms: u64) -> String {
    format!(
        r#"
id = "edge"
bot = "echo"
account = "123"
agent_user_id = "edge-bot"
password = "pw-edge-bot"
accessibility = true
autostart = true

[[plugins]]
file = "greeting.wasm"
settings = {{ text = "wake up" }}

[[plugins]]
file = "tile_display.wasm"

[[plugins]]
file = "accessibility.wasm"

[custom]
messageDelay = {message_delay_ms}
tileDisplay = "horizontal"
ringAcceptWait = 100
"#
    )
}

/// Every element of structured content that LivePerson lets carry a tooltip.
fn tooltip_holders(element: &Value, out: &mut Vec<Value>) {
    let kind = element["type"].as_str().unwrap_or_default();
    if ["text", "button", "image", "map", "carousel"].contains(&kind) {
        out.push(element.clone());
    }
    for child in element["elements"].as_array().into_iter().flatten() {
        tooltip_holders(child, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_chats_with_the_bot_through_a_connector_and_its_plugins() {
    let config = ConfigDir::new(&["edge-bot"]);
    config.write("bots/echo.toml", ECHO_BOT);
    config.write("connectors/edge.toml", &connector(600));
    let gateway = GatewayProcess::start(config.path());

    let mut consumer = Consumer::connect(&gateway.hub_url, "123").await;
    consumer.start_conversation().await;

    // No consumer message for 3 s: the greeting (chosen by the greeting
    // plugin from its settings) reaches the bot, whose echo comes back.
    assert_eq!(consumer.next_agent_text().await, "bot heard: wake up");

    // Two messages within messageDelay reach the bot as one joined text.
    consumer.say("first").await;
    consumer.say("second").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: first second");

    // A bot answer with several cards arrives as one horizontal layout
    // (carousel) with a tooltip on every element that can carry one.
    consumer.say("plans").await;
    assert_eq!(consumer.next_agent_text().await, "Our plans:");
    let rich = consumer.next_agent_message().await;
    assert_eq!(
        rich["type"], "RichContentEvent",
        "expected rich content, got {rich}"
    );
    let content = &rich["content"];
    assert_eq!(content["type"], "carousel");
    assert_eq!(content["elements"].as_array().unwrap().len(), 3);
    switchboard::content::validate_structured(content)
        .expect("LivePerson's schema accepts the carousel");
    let mut holders = Vec::new();
    tooltip_holders(content, &mut holders);
    assert!(
        holders.len() >= 10,
        "cards hold images, texts and buttons: {holders:?}"
    );
    for element in &holders {
        let tooltip = element["tooltip"]
            .as_str()
            .unwrap_or_else(|| panic!("no tooltip on {element}"));
        assert!(!tooltip.is_empty() && tooltip.chars().count() <= 256);
    }
    let replies = &rich["quickReplies"];
    assert_eq!(
        replies["replies"][0]["tooltip"], "Bye",
        "quick replies get tooltips too: {replies}"
    );
    switchboard::content::validate_quick_replies(replies).expect("quick replies are valid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_after_the_window_goes_alone() {
    let config = ConfigDir::new(&["edge-bot"]);
    config.write("bots/echo.toml", ECHO_BOT);
    config.write("connectors/edge.toml", &connector(300));
    let gateway = GatewayProcess::start(config.path());
    let mut consumer = Consumer::connect(&gateway.hub_url, "123").await;
    consumer.start_conversation().await;
    consumer.say("one").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: one");
    consumer.say("two").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: two");
}

#[test]
fn a_plugin_of_another_world_stops_the_start_with_an_error_naming_the_file() {
    let config = ConfigDir::new(&["edge-bot"]);
    config.write("bots/echo.toml", ECHO_BOT);
    config.write(
        "connectors/edge.toml",
        &connector(300).replace("greeting.wasm", "fixture_no_hooks.wasm"),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(config.path())
        .output()
        .expect("switchboard runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connectors/edge.toml:11:8: error: plugin ")
            && stderr.contains("fixture_no_hooks.wasm: not a valid switchboard plugin component"),
        "{stderr}"
    );
}
