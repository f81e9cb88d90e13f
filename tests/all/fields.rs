//! Each custom field of a connector, end to end: a gateway in this process
//! (hub and connector, over real sockets), a consumer on the hub's consumer
//! WebSocket, and a webhook bot on loopback that records what it hears.
//! Timing is checked with generous tolerances.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::hub::{accept_the_ring, agent_socket_url, online_agent};
use crate::support::{
    AgentWire, ConfigDir, Consumer, RecordingBot, connector_file, conversation_change, gateway,
};

/// How the connector reaches the hub: the scenarios run over both.
#[derive(Clone, Copy)]
enum Transport {
    WebSocket,
    /// `external_webhook_url`: requests over HTTP, notifications posted to the connector.
    Webhooks,
    /// The hub serves HTTPS and WSS (a self-signed certificate); the
    /// connector's rustls client trusts it.
    Tls,
}

fn one_connector(bot: &RecordingBot, extra: &str, custom: &str) -> ConfigDir {
    connector_over(Transport::WebSocket, bot, extra, custom)
}

fn connector_over(
    transport: Transport,
    bot: &RecordingBot,
    extra: &str,
    custom: &str,
) -> ConfigDir {
    let extra = match transport {
        Transport::WebSocket | Transport::Tls => extra.to_owned(),
        Transport::Webhooks => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            format!("external_webhook_url = \"http://127.0.0.1:{port}/lp-webhook\"\n{extra}")
        }
    };
    let config = ConfigDir::new(&["bot-user"]);
    if let Transport::Tls = transport {
        let toml = std::fs::read_to_string(config.path().join("switchboard.toml")).unwrap();
        config.write(
            "switchboard.toml",
            &toml.replace("[store]", "[hub.tls]\n\n[store]"),
        );
    }
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", &extra, custom),
    );
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_escalation_time_transfers_a_silent_bot_to_the_fallback_skill() {
    fallback_escalation_time_transfers_a_silent_bot_to_the_fallback_skill_over(
        Transport::WebSocket,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_escalation_time_transfers_a_silent_bot_to_the_fallback_skill_over_webhooks() {
    fallback_escalation_time_transfers_a_silent_bot_to_the_fallback_skill_over(Transport::Webhooks)
        .await;
}

async fn fallback_escalation_time_transfers_a_silent_bot_to_the_fallback_skill_over(
    transport: Transport,
) {
    let bot = RecordingBot::start(|_| json!([])).await;
    let config = connector_over(
        transport,
        &bot,
        "fallback_skill_id = \"2\"",
        "fallbackEscalationTime = 1500\nmessageResendMaxRetries = 0\nmessageDelay = 100",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("hello?").await;
    let sent = Instant::now();
    conversation_change(&mut consumer, |d| (d["skillId"] == "2").then_some(())).await;
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(1400),
        "transferred after {waited:?}, before the time"
    );
    assert!(
        waited < Duration::from_secs(10),
        "transferred after {waited:?}"
    );
    assert_eq!(bot.texts(), ["hello?"]);
}

/// Resends stop when the conversation moves: a silent bot's message is
/// resent until the fallback escalation transfers the conversation, and
/// never after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_stop_when_the_conversation_is_transferred() {
    let bot = RecordingBot::start(|_| json!([])).await;
    let config = connector_over(
        Transport::WebSocket,
        &bot,
        "fallback_skill_id = \"2\"",
        "fallbackEscalationTime = 1000\nmessageResendMaxRetries = 5\n\
         retryMessageInterval = 900\nmessageDelay = 100",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("hello?").await;
    conversation_change(&mut consumer, |d| (d["skillId"] == "2").then_some(())).await;
    // One resend was due 100 ms before the transfer (a resend and the
    // escalation due together go in that order), the next 800 ms after it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        bot.texts(),
        ["hello?", "hello?"],
        "the message, one resend, nothing after the transfer: {:?}",
        bot.turns()
    );
}

/// `fallbackEscalationTime = 0` turns the silence escalation off: a bot
/// that says nothing keeps the conversation (a zero taken as "at once"
/// would move it before the consumer's next message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_escalation_time_zero_never_transfers_a_silent_bot() {
    let bot = RecordingBot::start(|text| {
        if text == "hello?" {
            json!([])
        } else {
            json!([{"text": format!("bot heard: {text}")}])
        }
    })
    .await;
    let config = connector_over(
        Transport::WebSocket,
        &bot,
        "fallback_skill_id = \"2\"",
        "fallbackEscalationTime = 0\nmessageResendMaxRetries = 0\nmessageDelay = 100",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("hello?").await;
    bot.wait_for(1).await;
    consumer.say("still there?").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: still there?");
    assert_eq!(bot.texts(), ["hello?", "still there?"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_greeting_message_wakes_the_bot_after_three_silent_seconds() {
    default_greeting_message_wakes_the_bot_after_three_silent_seconds_over(Transport::WebSocket)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_greeting_message_wakes_the_bot_after_three_silent_seconds_over_tls() {
    default_greeting_message_wakes_the_bot_after_three_silent_seconds_over(Transport::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_greeting_message_wakes_the_bot_after_three_silent_seconds_over_webhooks() {
    default_greeting_message_wakes_the_bot_after_three_silent_seconds_over(Transport::Webhooks)
        .await;
}

async fn default_greeting_message_wakes_the_bot_after_three_silent_seconds_over(
    transport: Transport,
) {
    let bot = RecordingBot::echo().await;
    let config = connector_over(transport, &bot, "", "defaultGreetingMessage = \"wake up\"");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    let started = Instant::now();
    assert_eq!(consumer.next_agent_text().await, "bot heard: wake up");
    assert!(
        started.elapsed() >= Duration::from_millis(2900),
        "greeted after {:?}",
        started.elapsed()
    );
    assert_eq!(bot.turns()[0].kind, "greeting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_conversations_are_not_greeted_again_and_no_message_reaches_the_bot_twice() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(&bot, "", "");
    // The hub runs in one gateway, the connector in another, so the
    // connector can crash and come back while the platform stays up.
    let platform = ConfigDir::new(&["bot-user"]);
    let hub = gateway(&platform).await;
    let hub_url = hub.hub_url().unwrap();
    let switchboard_toml =
        format!("[messaging]\ncsds = \"{hub_url}\"\n[store]\ndata_dir = \"data\"\n");
    config.write("switchboard.toml", &switchboard_toml);

    let connector = gateway(&config).await;
    let mut consumer = Consumer::connect(&hub_url, "123").await;
    consumer.start_conversation().await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hi");
    consumer.say("one").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: one");

    // A crash: the connection drops without logging out; the hub keeps the
    // conversation assigned for its grace period, and the restarted
    // connector finds it replayed in its subscription.
    drop(connector);
    crate::support::store_released(&config).await;
    let connector = gateway(&config).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    consumer.say("two").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: two");
    assert_eq!(
        bot.texts(),
        ["hi", "one", "two"],
        "no second greeting, nothing twice"
    );
    drop(connector);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_stepup_message_reaches_the_bot_when_the_consumer_steps_up() {
    step_up_scenario("", "_STEPUP_").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_stepup_message_set_for_the_connector_is_what_the_bot_hears() {
    step_up_scenario("defaultStepupMessage = \"signed in\"", "signed in").await;
}

/// A consumer steps up mid-conversation (connector fields `custom`): the
/// bot hears `text` once, and a consumer who typed `text` before was not
/// heard.
async fn step_up_scenario(custom: &str, text: &str) {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::with_hub(
        "[hub.consumer_auth]\nhs256_secret = \"brand-secret\"\n\n\
         [[hub.users]]\nlogin = \"bot-user\"\npassword = \"pw-bot-user\"\nskills = [\"1\"]\n",
    );
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file(
            "c",
            "b",
            "bot-user",
            "",
            &format!("messageDelay = 100\n{custom}"),
        ),
    );
    let gateway = gateway(&config).await;
    let hub_url = gateway.hub_url().unwrap();
    let mut consumer = Consumer::connect(&hub_url, "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
    // Consumer text equal to the step-up message is ignored.
    consumer.say(text).await;

    // The brand signs a JWT for its customer; the hub exchanges it for an
    // authenticated consumer JWT; InitConnection with it is the step-up.
    // Brand JWTs must expire (README: consumer tokens and step-up).
    let exp = jsonwebtoken::get_current_timestamp() + 600;
    let brand_jwt =
        crate::support::signed_jwt(b"brand-secret", &json!({"sub": "customer-42", "exp": exp}));
    consumer.step_up(&hub_url, &brand_jwt).await;
    assert_eq!(
        consumer.next_agent_text().await,
        format!("bot heard: {text}")
    );
    let turns = bot.turns();
    assert_eq!(
        turns
            .iter()
            .map(|t| (t.kind.as_str(), t.text.as_str()))
            .collect::<Vec<_>>(),
        [("message", "hello"), ("step-up", text)]
    );

    // A brand JWT signed with another key is refused.
    let forged = crate::support::signed_jwt(b"wrong", &json!({"sub": "customer-42"}));
    let refused = switchboard::http::post_json(
        &format!("{hub_url}/api/account/123/authenticate"),
        &json!({"authCode": forged}),
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_delay_joins_messages_within_the_window_and_marks_them_read() {
    message_delay_joins_messages_within_the_window_and_marks_them_read_over(Transport::WebSocket)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_delay_joins_messages_within_the_window_and_marks_them_read_over_tls() {
    message_delay_joins_messages_within_the_window_and_marks_them_read_over(Transport::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_delay_joins_messages_within_the_window_and_marks_them_read_over_webhooks() {
    message_delay_joins_messages_within_the_window_and_marks_them_read_over(Transport::Webhooks)
        .await;
}

async fn message_delay_joins_messages_within_the_window_and_marks_them_read_over(
    transport: Transport,
) {
    let bot = RecordingBot::echo().await;
    let config = connector_over(transport, &bot, "", "messageDelay = 800");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    let first = consumer.say("hi").await;
    let second = consumer.say("how are you").await;
    // The messages handed to the bot are marked READ, on the wire.
    let read = consumer
        .wire
        .wait_for(|f| {
            f["body"]["changes"].as_array()?.iter().find_map(|c| {
                (c["event"]["type"] == "AcceptStatusEvent" && c["event"]["status"] == "READ")
                    .then(|| c["event"]["sequenceList"].clone())
            })
        })
        .await;
    assert_eq!(read, json!([first, second]));
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: hi how are you"
    );
    consumer.say("after the window").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: after the window"
    );
}

/// A hub with the users of `users_toml` (`[[hub.users]]` tables, on skill
/// 1), then the user `expert` on skill 2.
fn hub_with_users_then_expert(users_toml: &str) -> ConfigDir {
    ConfigDir::with_hub(&format!(
        "{users_toml}[[hub.users]]\nlogin = \"expert\"\npassword = \"pw-expert\"\nskills = [\"2\"]\n"
    ))
}

/// The bot `specialist` behind connector `expert` on skill 2, which
/// conversations are transferred to.
fn specialist_on_skill_two(
    config: &ConfigDir,
    specialist: &RecordingBot,
    skip_agent_message: bool,
) {
    config.write("bots/expert.toml", &specialist.config("expert"));
    let custom = format!("skipAgentMessage = {skip_agent_message}\nmessageDelay = 100");
    config.write(
        "connectors/expert.toml",
        &connector_file("expert", "expert", "expert", "", &custom),
    );
}

async fn transfer_scenario(skip_agent_message: bool) -> String {
    let specialist = RecordingBot::echo().await;
    let config = hub_with_users_then_expert(
        "[[hub.users]]\nlogin = \"router\"\npassword = \"pw-router\"\nskills = [\"1\"]\n\n",
    );
    config.write(
        "bots/router.toml",
        "id = \"router\"\nkind = \"scripted\"\n[[rules]]\nmatch = 'billing'\n\
         say = [{ text = \"Transferring you to billing\" }]\nescalate = \"2\"\n",
    );
    config.write(
        "connectors/router.toml",
        &connector_file("router", "router", "router", "", "messageDelay = 100"),
    );
    specialist_on_skill_two(&config, &specialist, skip_agent_message);
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("billing please").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "Transferring you to billing"
    );
    let answer = consumer.next_agent_text().await;
    assert_eq!(
        specialist.texts().len(),
        1,
        "one first turn: {:?}",
        specialist.texts()
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_agent_message_false_shows_the_transferred_bot_the_last_utterance() {
    assert_eq!(
        transfer_scenario(false).await,
        "bot heard: Transferring you to billing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_agent_message_true_shows_the_transferred_bot_the_last_consumer_message() {
    assert_eq!(transfer_scenario(true).await, "bot heard: billing please");
}

/// A human agent's private note (`messageAudience` `AGENTS_AND_MANAGERS`)
/// is no utterance: the consumer never saw it. A conversation transferred
/// in whose history ends with one shows the bot the consumer's message
/// before it, even without skipAgentMessage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_agent_message_false_never_shows_the_transferred_bot_a_private_note() {
    let specialist = RecordingBot::echo().await;
    let config = hub_with_users_then_expert(
        "[[hub.users]]\nlogin = \"human\"\ntype = \"human\"\npassword = \"pw-human\"\n\
         skills = [\"1\"]\n\n",
    );
    specialist_on_skill_two(&config, &specialist, false);
    let gateway = gateway(&config).await;
    let hub_url = gateway.hub_url().unwrap();
    let mut human =
        AgentWire::connect(&agent_socket_url(&hub_url, "human", "pw-human").await).await;
    online_agent(&mut human, "123.human").await;
    let mut consumer = Consumer::of(&gateway).await;
    let conversation = consumer.start_conversation().await;
    accept_the_ring(&mut human).await;
    consumer.say("billing please").await;
    let event = json!({"type": "ContentEvent", "contentType": "text/plain",
        "message": "third refund request, be firm"});
    let note = human
        .request(
            ".ams.ms.PublishEvent",
            json!({"dialogId": conversation, "messageAudience": "AGENTS_AND_MANAGERS", "event": event}),
        )
        .await;
    assert_eq!(note["code"], 200, "{note}");
    let transfer = human
        .request(
            ".ams.cm.UpdateConversationField",
            json!({"conversationId": conversation, "conversationField": [
                {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT", "userId": "123.human"},
                {"field": "Skill", "type": "UPDATE", "skill": "2"}]}),
        )
        .await;
    assert_eq!(transfer["code"], 200, "{transfer}");
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: billing please"
    );
    assert_eq!(specialist.texts(), ["billing please"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tile_display_vertical_publishes_stacked_cards() {
    let card = |t: &str| json!({"custom": {"type": "vertical", "elements": [{"type": "text", "text": t}]}});
    let bot = RecordingBot::start(move |_| json!([card("A"), card("B")])).await;
    let config = one_connector(
        &bot,
        "[[plugins]]\nfile = \"tile_display.wasm\"",
        "tileDisplay = \"vertical\"\nmessageDelay = 100",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("cards").await;
    for title in ["A", "B"] {
        let event = consumer.next_agent_message().await;
        assert_eq!(event["content"]["type"], "vertical");
        assert_eq!(event["content"]["elements"][0]["text"], title);
    }
}

/// A resend armed for a message the bot did not answer is dropped as soon
/// as the consumer writes again, even while the new message still waits
/// out a messageDelay longer than the resend interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_stop_when_the_consumer_writes_again_within_the_message_delay() {
    let bot = RecordingBot::start(|text| {
        if text == "one" {
            json!([])
        } else {
            json!([{"text": format!("bot heard: {text}")}])
        }
    })
    .await;
    let config = one_connector(
        &bot,
        "",
        "messageResendMaxRetries = 3\nretryMessageInterval = 1000\nmessageDelay = 3000",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("one").await;
    bot.wait_for(1).await;
    // The bot answered nothing: a resend is due 1 s from now. The consumer
    // writes at once; "two" waits 3 s in its messageDelay window.
    let wrote = Instant::now();
    consumer.say("two").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: two");
    assert!(
        wrote.elapsed() >= Duration::from_millis(2900),
        "two waited out its window"
    );
    assert_eq!(bot.texts(), ["one", "two"], "no resend of one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_resend_max_retries_resends_at_the_interval_then_stops() {
    message_resend_max_retries_resends_at_the_interval_then_stops_over(Transport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_resend_max_retries_resends_at_the_interval_then_stops_over_webhooks() {
    message_resend_max_retries_resends_at_the_interval_then_stops_over(Transport::Webhooks).await;
}

async fn message_resend_max_retries_resends_at_the_interval_then_stops_over(transport: Transport) {
    let bot = RecordingBot::start(|_| json!([])).await;
    let config = connector_over(
        transport,
        &bot,
        "",
        "messageResendMaxRetries = 2\nretryMessageInterval = 700\nmessageDelay = 100",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("anyone?").await;
    let turns = bot.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        bot.texts(),
        ["anyone?"; 3],
        "the message and two resends, then no more"
    );
    for pair in turns.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(650) && gap < Duration::from_secs(5),
            "resent after {gap:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_escalation_retries_bounds_escalation_failed_then_tells_the_consumer() {
    max_escalation_retries_bounds_escalation_failed_then_tells_the_consumer_over(
        Transport::WebSocket,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_escalation_retries_bounds_escalation_failed_then_tells_the_consumer_over_webhooks() {
    max_escalation_retries_bounds_escalation_failed_then_tells_the_consumer_over(
        Transport::Webhooks,
    )
    .await;
}

async fn max_escalation_retries_bounds_escalation_failed_then_tells_the_consumer_over(
    transport: Transport,
) {
    // A bot that always asks for a transfer to a skill the account lacks.
    let bot =
        RecordingBot::start(|_| json!([{"custom": {"action": "escalate", "skill": "99"}}])).await;
    let config = connector_over(
        transport,
        &bot,
        "",
        "maxEscalationRetries = 2\nmessageDelay = 100",
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("a person please").await;
    let told = consumer.next_agent_text().await;
    assert!(told.contains("transfer is not possible"), "{told}");
    // The bound is per conversation: the next escalation that fails tells
    // the consumer at once, and the bot hears no more notices.
    consumer.say("a person, really").await;
    let told = consumer.next_agent_text().await;
    assert!(told.contains("transfer is not possible"), "{told}");
    assert_eq!(
        bot.texts(),
        [
            "a person please",
            "__agent_escalation_failed__",
            "__agent_escalation_failed__",
            "a person, really"
        ]
    );
    let kinds: Vec<String> = bot.turns().into_iter().map(|t| t.kind).collect();
    assert_eq!(kinds, ["message", "event", "event", "message"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_accept_wait_delays_the_accept() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(&bot, "", "ringAcceptWait = 1200");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    // Let the connector log in, so the ring goes out at once.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    consumer.start_conversation().await;
    let requested = Instant::now();
    conversation_change(&mut consumer, |d| {
        d["participants"]
            .as_array()?
            .iter()
            .any(|p| p["role"] == "ASSIGNED_AGENT")
            .then_some(())
    })
    .await;
    let waited = requested.elapsed();
    assert!(
        waited >= Duration::from_millis(1150),
        "accepted after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "accepted after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_hears_lp_closeconversation_when_the_conversation_closes() {
    the_bot_hears_lp_closeconversation_when_the_conversation_closes_over(Transport::WebSocket)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_hears_lp_closeconversation_when_the_conversation_closes_over_tls() {
    the_bot_hears_lp_closeconversation_when_the_conversation_closes_over(Transport::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_hears_lp_closeconversation_when_the_conversation_closes_over_webhooks() {
    the_bot_hears_lp_closeconversation_when_the_conversation_closes_over(Transport::Webhooks).await;
}

async fn the_bot_hears_lp_closeconversation_when_the_conversation_closes_over(
    transport: Transport,
) {
    let bot = RecordingBot::echo().await;
    let config = connector_over(transport, &bot, "", "messageDelay = 100");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    let conversation = consumer.start_conversation().await;
    consumer.say("bye").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: bye");
    consumer.close().await;
    let turns = bot.wait_for(2).await;
    assert_eq!(turns[1].text, "LP_CLOSECONVERSATION");
    assert_eq!(turns[1].kind, "event");
    assert_eq!(turns[1].conversation, conversation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_connector_serves_conversations_without_the_messaging_only_behaviours() {
    let bot = RecordingBot::echo().await;
    // messageDelay is messaging-only: a chat connector ignores it (with a
    // warning at load), so quick messages are not joined.
    let config = one_connector(&bot, "conversation_type = \"chat\"", "messageDelay = 5000");
    let warnings = switchboard::config::load(config.path()).unwrap().warnings;
    assert!(warnings.iter().any(|w| {
        w.message
            .contains("applies to messaging conversations only")
    }));
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("one").await;
    consumer.say("two").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: one");
    assert_eq!(consumer.next_agent_text().await, "bot heard: two");
}
