//! Bot brains against real peers: Microsoft's official Bot Framework SDK
//! (installed from npm) and HTTP bots in Rasa's REST format, through the
//! hub to a consumer, with the tile-display and accessibility plugins on
//! the way.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::connector::Status;

use crate::support::{
    BotFrameworkPeer, ConfigDir, Consumer, RecordingBot, connector_file, gateway,
};

const RICH_PLUGINS: &str = "accessibility = true\n\n[[plugins]]\nfile = \"tile_display.wasm\"\n\n[[plugins]]\nfile = \"accessibility.wasm\"\n";

/// Every element of structured content that LivePerson lets carry a tooltip.
fn tooltips(element: &Value, out: &mut Vec<String>) {
    if ["text", "button", "image", "map", "carousel"]
        .contains(&element["type"].as_str().unwrap_or_default())
    {
        out.push(
            element["tooltip"]
                .as_str()
                .unwrap_or_else(|| panic!("no tooltip on {element}"))
                .to_owned(),
        );
    }
    for child in element["elements"].as_array().into_iter().flatten() {
        tooltips(child, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_bot_framework_sdk_answers_through_the_hub() {
    let peer = BotFrameworkPeer::start();
    let config = ConfigDir::new(&["bot-user"]);
    config.write(
        "bots/bf.toml",
        &format!(
            "id = \"bf\"\nkind = \"botframework\"\nurl = \"{}\"\ntimeout_ms = 10000\n",
            peer.url
        ),
    );
    config.write(
        "connectors/c.toml",
        &connector_file("c", "bf", "bot-user", RICH_PLUGINS, "messageDelay = 100"),
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::connect(&gateway.hub_url().unwrap(), "123").await;
    consumer.start_conversation().await;

    // A new conversation reaches the bot as conversationUpdate/membersAdded.
    assert_eq!(
        consumer.next_agent_text().await,
        format!("welcome, {}", consumer.consumer_id)
    );

    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "echo: hello");

    // A hero card becomes a structured-content card, with tooltips.
    consumer.say("card").await;
    assert_eq!(consumer.next_agent_text().await, "Here is a plan");
    let card = consumer.next_agent_message().await;
    assert_eq!(card["type"], "RichContentEvent");
    let content = &card["content"];
    switchboard::content::validate_structured(content)
        .expect("LivePerson's schema accepts the card");
    let mut found = Vec::new();
    tooltips(content, &mut found);
    assert_eq!(
        found,
        ["Plan A", "Plan A", "Ten gigabytes", "Choose A", "Details"]
    );
    let tap = content["elements"][3]["click"]["actions"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(
        content["elements"][4]["click"]["actions"][0]["uri"],
        "https://example.com/a"
    );
    // Tapping the button publishes its value, which goes back to the bot as text.
    consumer.say(tap).await;
    assert_eq!(consumer.next_agent_text().await, "echo: I choose A");

    // Suggested actions become quick replies.
    consumer.say("suggest").await;
    let question = consumer.next_agent_message().await;
    assert_eq!(question["message"], "Shall we?");
    let replies = &question["quickReplies"];
    switchboard::content::validate_quick_replies(replies).unwrap();
    assert_eq!(replies["replies"][1]["title"], "No");
    assert_eq!(replies["replies"][1]["tooltip"], "No");

    // Typing becomes a COMPOSING chat state before the answer.
    consumer.say("slow").await;
    let typing = consumer
        .wire
        .wait_for(|f| {
            f["body"]["changes"].as_array()?.iter().find_map(|c| {
                (c["event"]["type"] == "ChatStateEvent"
                    && c["originatorMetadata"]["role"] == "ASSIGNED_AGENT")
                    .then(|| c["event"]["chatState"].clone())
            })
        })
        .await;
    assert_eq!(typing, "COMPOSING");
    assert_eq!(consumer.next_agent_text().await, "done thinking");
    assert_eq!(gateway.report("c").unwrap().details.bot.up, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rasa_rest_channel_bot_is_reached_at_its_webhook_path() {
    // A test peer that follows Rasa's documented REST format (Rasa itself
    // needs Python <= 3.10 and TensorFlow, which this machine lacks).
    let rasa_format_test_peer = RecordingBot::start(|text| {
        json!([
            {"recipient_id": "c", "text": format!("rasa heard: {text}"), "buttons": [{"title": "Again", "payload": "/again"}]},
            {"recipient_id": "c", "image": "https://example.com/cat.png"}
        ])
    })
    .await;
    let base = rasa_format_test_peer
        .url
        .trim_end_matches("/bot")
        .to_owned();
    let config = ConfigDir::new(&["bot-user"]);
    config.write(
        "bots/r.toml",
        &format!("id = \"r\"\nkind = \"rasa\"\nurl = \"{base}\"\n"),
    );
    config.write(
        "connectors/c.toml",
        &connector_file("c", "r", "bot-user", RICH_PLUGINS, "messageDelay = 100"),
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::connect(&gateway.hub_url().unwrap(), "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    let text = consumer.next_agent_message().await;
    assert_eq!(text["message"], "rasa heard: hello");
    assert_eq!(
        text["quickReplies"]["replies"][0]["click"]["actions"][0]["text"],
        "/again"
    );
    let image = consumer.next_agent_message().await;
    assert_eq!(
        image["content"]["elements"][0]["url"],
        "https://example.com/cat.png"
    );
    assert_eq!(image["content"]["elements"][0]["tooltip"], "Image");
    let turn = &rasa_format_test_peer.turns()[0];
    assert_eq!(turn.path, "/webhooks/rest/webhook");
    assert_eq!(turn.text, "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_bot_times_out_is_resent_to_and_shows_down_in_details() {
    let slow =
        RecordingBot::start_slow(Duration::from_millis(1500), |t| json!([{"text": t}])).await;
    let config = ConfigDir::new(&["bot-user"]);
    config.write(
        "bots/b.toml",
        &slow
            .config("b")
            .replace("timeout_ms = 5000", "timeout_ms = 300"),
    );
    config.write(
        "connectors/c.toml",
        &connector_file(
            "c",
            "b",
            "bot-user",
            "",
            "messageDelay = 100\nmessageResendMaxRetries = 1\nretryMessageInterval = 500",
        ),
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::connect(&gateway.hub_url().unwrap(), "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    let turns = slow.wait_for(2).await;
    assert!(turns.iter().all(|t| t.text == "hello"), "{turns:?}");
    let report = gateway.report("c").unwrap();
    assert_eq!(report.status, Status::Offline);
    assert!(
        report
            .details
            .bot
            .detail
            .contains("no answer within 300 ms"),
        "{:?}",
        report.details.bot
    );
}

/// A connector with the scripted bot echoing every message (`custom`: its
/// custom fields) and a consumer in a conversation with it.
async fn scripted_echo(custom: &str) -> (ConfigDir, switchboard::app::Gateway, Consumer) {
    let config = ConfigDir::new(&["bot-user"]);
    config.write(
        "bots/echo.toml",
        "id = \"echo\"\nkind = \"scripted\"\n[[rules]]\nmatch = '.*'\nsay = [{ text = \"you said: {text}\" }]\n",
    );
    config.write(
        "connectors/c.toml",
        &connector_file("c", "echo", "bot-user", "", custom),
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::connect(&gateway.hub_url().unwrap(), "123").await;
    consumer.start_conversation().await;
    (config, gateway, consumer)
}

/// LivePerson numbers a dialog's events from 0, so a conversation's first
/// consumer message is sequence 0: the bot hears it (0 is not taken for
/// "nothing handled yet", which would drop it and send the greeting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_s_first_message_sequence_0_reaches_the_bot() {
    let (_config, _gateway, mut consumer) = scripted_echo("messageDelay = 0").await;
    assert_eq!(consumer.say("hello").await, 0);
    assert_eq!(consumer.next_agent_text().await, "you said: hello");
}

/// A bot in the gateway's process (the scripted one) hears a turn once it
/// is on disk, and the receipt for the consumer's message goes out then,
/// with the answer: on the wire the message is marked READ, and before
/// the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_bot_marks_the_message_read_before_it_answers() {
    let (_config, _gateway, mut consumer) = scripted_echo("messageDelay = 0").await;
    for text in ["hello", "and again"] {
        let sequence = consumer.say(text).await;
        let first = consumer
            .wire
            .wait_for(|f| {
                f["body"]["changes"].as_array()?.iter().find_map(|c| {
                    let event = &c["event"];
                    let read = event["type"] == "AcceptStatusEvent" && event["status"] == "READ";
                    let answer = event["type"] == "ContentEvent"
                        && c["originatorMetadata"]["role"] == "ASSIGNED_AGENT";
                    (read || answer).then(|| event.clone())
                })
            })
            .await;
        assert_eq!(
            first["type"], "AcceptStatusEvent",
            "the answer came first: {first}"
        );
        assert_eq!(first["sequenceList"], json!([sequence]));
        assert_eq!(
            consumer.next_agent_text().await,
            format!("you said: {text}")
        );
    }
}

/// Messages a consumer wrote before the connector accepted reach a bot in
/// the gateway's process one by one (no messageDelay), each turn behind the
/// first; every one of them is marked READ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_bot_marks_every_message_written_before_the_accept_read() {
    let (_config, _gateway, mut consumer) =
        scripted_echo("messageDelay = 0\nringAcceptWait = 1000").await;
    // Both are written while the ring waits for its accept.
    let first = consumer.say("one").await;
    let second = consumer.say("two").await;
    let mut read: Vec<u64> = Vec::new();
    while !(read.contains(&first) && read.contains(&second)) {
        let sequences = consumer
            .wire
            .wait_for(|f| {
                f["body"]["changes"].as_array()?.iter().find_map(|c| {
                    let event = &c["event"];
                    (event["type"] == "AcceptStatusEvent" && event["status"] == "READ")
                        .then(|| event["sequenceList"].clone())
                })
            })
            .await;
        read.extend(
            sequences
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_u64),
        );
    }
    assert_eq!(consumer.next_agent_text().await, "you said: one");
    assert_eq!(consumer.next_agent_text().await, "you said: two");
}
