//! Bots written for LivePerson's Third-Party Bots run unchanged: a Bot
//! Framework bot made with Microsoft's official SDK (botbuilder, from npm)
//! answers with `channelData` bot actions and private texts the way
//! LivePerson documents them for Third-Party Bots, and with botbuilder's
//! own handoff event. A scripted bot's rules ask for the same actions
//! (`note`, `ttr`). Bots that take them get the consumer's engagement
//! attributes (`lpSdes`). What reaches the platform is seen through a
//! recording proxy; what the consumer sees, on the consumer's socket.

use serde_json::Value;

use crate::support::proxy::{Way, WireProxy};
use crate::support::{
    BotFrameworkPeer, ConfigDir, Consumer, RecordingBot, connector_file, conversation_change,
    gateway,
};

/// A platform (an embedded hub) whose skill 2 is named `human-expert`, with
/// bot user `tpb` on skill 1.
fn platform() -> ConfigDir {
    let config = ConfigDir::new(&["tpb"]);
    config.edit(
        "switchboard.toml",
        "[[hub.skills]]\nid = \"2\"\n",
        "[[hub.skills]]\nid = \"2\"\nname = \"human-expert\"\n",
    );
    config
}

/// A gateway whose connector `tpb` serves bot `bot` (its file `bot_file`),
/// reaching the platform through `proxy`.
fn behind(proxy: &WireProxy, bot: &str, bot_file: &str) -> ConfigDir {
    let config = ConfigDir::new(&[]);
    config.write(
        "switchboard.toml",
        &format!(
            "[messaging]\ncsds = \"{}\"\n[store]\ndata_dir = \"data\"\n",
            proxy.url
        ),
    );
    config.write(&format!("bots/{bot}.toml"), bot_file);
    config.write(
        "connectors/tpb.toml",
        &connector_file("tpb", bot, "tpb", "", "messageDelay = 0"),
    );
    config
}

/// The Bot Framework peer, the platform, the proxy before it and the
/// gateway behind it, running.
struct Running {
    // Dropped in this order: the gateway before its platform and bot.
    _gateway: switchboard::app::Gateway,
    _platform: switchboard::app::Gateway,
    _peer: BotFrameworkPeer,
    hub: String,
    proxy: WireProxy,
}

async fn running() -> Running {
    running_with("").await
}

/// [`running`], with `extra` lines in the bot's file.
async fn running_with(extra: &str) -> Running {
    let peer = BotFrameworkPeer::start();
    let platform = gateway(&platform()).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let bot_file = format!(
        "id = \"bf\"\nkind = \"botframework\"\nurl = \"{}\"\ntimeout_ms = 10000\n{extra}",
        peer.url
    );
    let gateway = gateway(&behind(&proxy, "bf", &bot_file)).await;
    Running {
        _peer: peer,
        _platform: platform,
        _gateway: gateway,
        hub,
        proxy,
    }
}

impl Running {
    /// A consumer in a new conversation the bot has greeted; its id.
    async fn greeted_consumer(&self) -> (Consumer, String) {
        let mut consumer = Consumer::connect(&self.hub, "123").await;
        let conversation = consumer.start_conversation().await;
        assert!(consumer.next_agent_text().await.starts_with("welcome, "));
        (consumer, conversation)
    }
}

/// The `UpdateConversationField` requests the connector made for
/// `conversation`, as sent.
fn field_updates(proxy: &WireProxy, conversation: &str) -> Vec<Value> {
    proxy
        .frames()
        .into_iter()
        .filter(|(way, frame)| {
            *way == Way::ToPlatform
                && frame.contains("UpdateConversationField")
                && frame.contains(conversation)
        })
        .map(|(_, frame)| serde_json::from_str::<Value>(&frame).unwrap()["body"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_bots_private_text_reaches_agents_only_and_its_ttr_changes_apply() {
    let running = running().await;
    let proxy = &running.proxy;
    let (mut consumer, conversation) = running.greeted_consumer().await;

    // The private text goes out first, to agents and managers only: the
    // consumer's next agent text is the public one after it.
    consumer.say("tpb note").await;
    assert_eq!(consumer.next_agent_text().await, "noted");
    let private = proxy
        .wait_for(Way::ToPlatform, |frame| {
            frame.contains("PublishEvent") && frame.contains("note: the consumer asked")
        })
        .await;
    let public = proxy
        .wait_for(Way::ToPlatform, |frame| {
            frame.contains("PublishEvent") && frame.contains("\"noted\"")
        })
        .await;
    assert!(private < public, "the private text keeps its place");
    let request: Value = serde_json::from_str(&proxy.frames()[private].1).unwrap();
    assert_eq!(request["body"]["messageAudience"], "AGENTS_AND_MANAGERS");
    assert_eq!(request["body"]["dialogId"], conversation.as_str());

    // CHANGE_TTR URGENT: the message, then the conversation's new urgency,
    // which the consumer's side sees too.
    consumer.say("tpb urgent").await;
    assert_eq!(consumer.next_agent_text().await, "marked urgent");
    let ttr = conversation_change(&mut consumer, |details| {
        (details["ttr"]["ttrType"] == "URGENT").then(|| details["ttr"].clone())
    })
    .await;
    assert_eq!(ttr.get("value"), None, "only a CUSTOM time has a value");

    // CHANGE_TTR CUSTOM with its seconds as text, and no message.
    consumer.say("tpb custom").await;
    let ttr = conversation_change(&mut consumer, |details| {
        (details["ttr"]["ttrType"] == "CUSTOM").then(|| details["ttr"].clone())
    })
    .await;
    assert_eq!(ttr["value"], 120);
    let updates = field_updates(proxy, &conversation);
    assert_eq!(
        updates
            .iter()
            .map(|body| body["conversationField"].clone())
            .collect::<Vec<_>>(),
        [
            serde_json::json!([{"field": "TTRField", "ttrType": "URGENT"}]),
            serde_json::json!([{"field": "TTRField", "ttrType": "CUSTOM", "value": 120}]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_bots_transfer_names_its_skill_and_a_handoff_event_and_a_close_apply() {
    let running = running().await;

    // TRANSFER to a skill named as the bot names it: the connector sends
    // the skill's id, after the announcement.
    let (mut transferred, conversation) = running.greeted_consumer().await;
    transferred.say("tpb transfer").await;
    assert_eq!(
        transferred.next_agent_text().await,
        "I'll transfer you to a human agent"
    );
    conversation_change(&mut transferred, |details| {
        (details["skillId"] == "2").then_some(())
    })
    .await;
    let updates = field_updates(&running.proxy, &conversation);
    assert_eq!(updates.len(), 1, "{updates:#?}");
    assert!(
        updates[0]["conversationField"]
            .as_array()
            .unwrap()
            .iter()
            .any(|field| field["field"] == "Skill" && field["skill"] == "2"),
        "{updates:#?}"
    );

    // botbuilder's EventFactory.createHandoffInitiation, as Third-Party
    // Bots documents it: the text, then a transfer to `value.skill`.
    let (mut handed_off, _) = running.greeted_consumer().await;
    handed_off.say("tpb handoff").await;
    assert_eq!(handed_off.next_agent_text().await, "handing off");
    conversation_change(&mut handed_off, |details| {
        (details["skillId"] == "2").then_some(())
    })
    .await;

    // CLOSE_CONVERSATION: the goodbye, then the close.
    let (mut closed, _) = running.greeted_consumer().await;
    closed.say("tpb close").await;
    assert_eq!(closed.next_agent_text().await, "bye");
    conversation_change(&mut closed, |details| {
        (details["state"] == "CLOSE").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_bots_structured_content_and_quick_replies_reach_the_consumer() {
    let running = running().await;
    let (mut consumer, _) = running.greeted_consumer().await;

    // channelData.structuredContent is the message (the empty text is not).
    consumer.say("tpb card").await;
    let card = consumer.next_agent_message().await;
    assert_eq!(card["type"], "RichContentEvent", "{card}");
    assert_eq!(card["content"]["type"], "vertical");
    assert_eq!(
        card["content"]["elements"][0]["click"]["actions"][0]["text"],
        "Recommend me a movie"
    );

    // With quickReplies, its message is the text and they ride with it.
    consumer.say("tpb quick").await;
    let question = consumer.next_agent_message().await;
    assert_eq!(question["message"], "Do you like Bots?", "{question}");
    let replies = &question["quickReplies"];
    switchboard::content::validate_quick_replies(replies).unwrap();
    assert_eq!(replies["replies"][0]["title"], "yes");
    assert_eq!(replies["replies"][1]["click"]["actions"][0]["text"], "No!");
}

/// `channelData.encodedMetadata` goes out with the activity's message,
/// text or structured content (in the request, beside the event), and the
/// consumer receives it with the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_bots_encoded_metadata_reaches_the_consumer_with_its_message() {
    let running = running().await;
    let (mut consumer, _) = running.greeted_consumer().await;

    consumer.say("tpb metadata").await;
    let text = consumer.next_agent_change().await;
    assert_eq!(text["event"]["message"], "with metadata", "{text}");
    assert_eq!(
        text["encodedMetadata"],
        "ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ=="
    );
    let card = consumer.next_agent_change().await;
    assert_eq!(card["event"]["type"], "RichContentEvent", "{card}");
    assert_eq!(
        card["encodedMetadata"],
        "ZGlmZmVyZW50IGVuY29kZWQgbWV0YWRhdGE="
    );

    // On the platform's wire it rides in the request, beside the event.
    let published = running
        .proxy
        .wait_for(Way::ToPlatform, |frame| frame.contains("\"with metadata\""))
        .await;
    let request: Value = serde_json::from_str(&running.proxy.frames()[published].1).unwrap();
    assert_eq!(
        request["encodedMetadata"],
        "ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ=="
    );
    assert_eq!(request["body"]["event"].get("encodedMetadata"), None);
}

/// `multiMessage` publishes its items in order: a text (with its own
/// encoded metadata), a private text for agents only, a pause, then
/// structured content. A `delay` shows typing, then waits, then the
/// activity's message goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_bots_multi_message_and_delay_keep_their_order_and_pause() {
    let running = running().await;
    let (mut consumer, conversation) = running.greeted_consumer().await;

    // Lower bounds only: a pause cannot end early, however slow the machine.
    let pause = std::time::Duration::from_millis(900);
    let said = std::time::Instant::now();
    consumer.say("tpb multi").await;
    let first = consumer.next_agent_change().await;
    assert_eq!(first["event"]["message"], "first of several", "{first}");
    assert_eq!(first["encodedMetadata"], "Zmlyc3Q=");
    let card = consumer.next_agent_change().await;
    assert!(
        said.elapsed() >= pause,
        "the 1 s pause comes before the card"
    );
    assert_eq!(
        card["event"]["content"]["elements"][0]["text"],
        "after the pause"
    );
    // On the platform's wire: the text, the note, then the card.
    let proxy = &running.proxy;
    let published = |text: &'static str| {
        proxy.wait_for(Way::ToPlatform, move |frame| {
            frame.contains("PublishEvent") && frame.contains(text)
        })
    };
    let text_at = published("first of several").await;
    let note = published("a note among several").await;
    let card_at = published("after the pause").await;
    assert!(text_at < note && note < card_at, "in the answer's order");
    let request: Value = serde_json::from_str(&proxy.frames()[note].1).unwrap();
    assert_eq!(request["body"]["messageAudience"], "AGENTS_AND_MANAGERS");
    assert_eq!(request["body"]["dialogId"], conversation.as_str());

    let said = std::time::Instant::now();
    consumer.say("tpb pause").await;
    let typing = consumer
        .wire
        .wait_for(|frame| {
            frame["body"]["changes"]
                .as_array()?
                .iter()
                .find_map(|change| (change["event"]["chatState"] == "COMPOSING").then_some(()))
        })
        .await;
    let () = typing;
    assert_eq!(consumer.next_agent_text().await, "after a pause");
    assert!(
        said.elapsed() >= pause,
        "typing shows for the pause, then the message"
    );
}

/// Plugins do not see encoded metadata, and it keeps to its message through
/// them (the accessibility plugin rewrites the card here). Metadata
/// LivePerson would drop its message for is the bot's fault: that message
/// is not published, the bot is blamed, the rest of the answer goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_bots_encoded_metadata_keeps_to_its_message_through_the_plugins() {
    let card =
        serde_json::json!({"type": "vertical", "elements": [{"type": "text", "text": "A card"}]});
    let bot = RecordingBot::start(move |_| {
        serde_json::json!([
            {"custom": {"textResponse": "plain", "encodedMetadata": "QQ=="}},
            {"custom": {"structuredContent": card, "encodedMetadata": "Qg=="}},
            {"custom": {"textResponse": "dropped", "encodedMetadata": "not base64!"}},
            {"text": "after"}
        ])
    })
    .await;
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", &bot.config("b"));
    let plugins = "accessibility = true

[[plugins]]
file = \"tile_display.wasm\"

\
                   [[plugins]]
file = \"accessibility.wasm\"
";
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", plugins, "messageDelay = 0"),
    );
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("hi").await;

    let plain = consumer.next_agent_change().await;
    assert_eq!(
        (&plain["event"]["message"], &plain["encodedMetadata"]),
        (&"plain".into(), &"QQ==".into()),
        "{plain}"
    );
    let card = consumer.next_agent_change().await;
    assert!(
        card["event"]["content"]["elements"][0]["tooltip"].is_string(),
        "the accessibility plugin rewrote the card: {card}"
    );
    assert_eq!(card["encodedMetadata"], "Qg==", "{card}");
    let after = consumer.next_agent_change().await;
    assert_eq!(
        after["event"]["message"], "after",
        "the bad one is not published"
    );
    assert_eq!(after.get("encodedMetadata"), None);

    let report = gateway.report("c").unwrap();
    assert!(
        report
            .details
            .bot
            .detail
            .contains("encodedMetadata is not base64"),
        "Details name the bot: {:?}",
        report.details.bot
    );
    assert!(report.details.plugins.iter().all(|p| p.faults == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_rule_leaves_a_note_and_sets_the_time_to_response_before_it_transfers() {
    let platform = gateway(&platform()).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let rules = "id = \"s\"\nkind = \"scripted\"\n\n[[rules]]\nmatch = \"refund\"\n\
         say = [{ text = \"Let me get someone\" }]\nnote = \"asked: {text}\"\n\
         ttr = 120\nescalate = \"human-expert\"\n";
    let _gateway = gateway(&behind(&proxy, "s", rules)).await;
    let mut consumer = Consumer::connect(&hub, "123").await;
    let conversation = consumer.start_conversation().await;

    consumer.say("a refund please").await;
    assert_eq!(consumer.next_agent_text().await, "Let me get someone");
    let details = conversation_change(&mut consumer, |details| {
        (details["skillId"] == "2").then(|| details.clone())
    })
    .await;
    assert_eq!(
        details["ttr"],
        serde_json::json!({"ttrType": "CUSTOM", "value": 120})
    );

    let note = proxy
        .wait_for(Way::ToPlatform, |frame| {
            frame.contains("PublishEvent") && frame.contains("asked: a refund please")
        })
        .await;
    let request: Value = serde_json::from_str(&proxy.frames()[note].1).unwrap();
    assert_eq!(request["body"]["messageAudience"], "AGENTS_AND_MANAGERS");
    let fields: Vec<Value> = field_updates(&proxy, &conversation)
        .iter()
        .map(|body| body["conversationField"][0]["field"].clone())
        .collect();
    assert_eq!(
        fields,
        ["TTRField", "ParticipantsChange"],
        "the new time first"
    );
}

/// An HTTP bot's Third-Party Bots custom payloads: a private text, and a
/// transfer written before a time-to-response change, which still goes
/// first (after the transfer the conversation is no longer the bot's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_bots_custom_payloads_change_the_time_to_response_before_the_transfer() {
    let platform = gateway(&platform()).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let bot = RecordingBot::start(|text| {
        if text != "urgent please" {
            return serde_json::json!([]);
        }
        serde_json::json!([
            {"text": "Passing you on"},
            {"custom": {"messageAudience": "AGENTS_AND_MANAGERS", "text": "in a hurry"}},
            {"custom": {"action": {"name": "TRANSFER", "parameters": {"skill": "human-expert"}}}},
            {"custom": {"action": {"name": "CHANGE_TTR", "parameters": {"ttrType": "URGENT"}}}}
        ])
    })
    .await;
    let _gateway = gateway(&behind(&proxy, "b", &bot.config("b"))).await;
    let mut consumer = Consumer::connect(&hub, "123").await;
    let conversation = consumer.start_conversation().await;

    consumer.say("urgent please").await;
    assert_eq!(consumer.next_agent_text().await, "Passing you on");
    let details = conversation_change(&mut consumer, |details| {
        (details["skillId"] == "2").then(|| details.clone())
    })
    .await;
    assert_eq!(details["ttr"]["ttrType"], "URGENT");
    let fields: Vec<Value> = field_updates(&proxy, &conversation)
        .iter()
        .map(|body| body["conversationField"][0]["field"].clone())
        .collect();
    assert_eq!(fields, ["TTRField", "ParticipantsChange"]);
    let note = proxy
        .wait_for(Way::ToPlatform, |frame| frame.contains("in a hurry"))
        .await;
    let request: Value = serde_json::from_str(&proxy.frames()[note].1).unwrap();
    assert_eq!(request["body"]["messageAudience"], "AGENTS_AND_MANAGERS");
}

/// A profile request setting `customer_id` as the consumer's customer info.
fn profile_with(customer_id: &str) -> Value {
    serde_json::json!({"firstName": "Ada", "authenticatedData": {"lp_sdes": [
        {"type": "ctmrinfo", "info": {"customerId": customer_id, "ctype": "vip"}}]}})
}

/// A bot with `engagement_attributes` gets the consumer's engagement
/// attributes with each turn, as Third-Party Bots hands them to a Bot
/// Framework bot: `channelData.context.lpSdes`, by type. A consumer who set
/// none gives the bot an empty object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_framework_bot_gets_the_consumers_engagement_attributes_in_its_context() {
    let running = running_with("engagement_attributes = true\n").await;
    let mut consumer = Consumer::connect(&running.hub, "123").await;
    let set = consumer
        .wire
        .request("userprofile.SetUserProfile", profile_with("C-42"))
        .await;
    assert_eq!(set["code"], 200, "{set}");
    consumer.start_conversation().await;
    assert!(consumer.next_agent_text().await.starts_with("welcome, "));
    consumer.say("tpb sdes").await;
    assert_eq!(consumer.next_agent_text().await, "customer C-42");

    let (mut anonymous, _) = running.greeted_consumer().await;
    anonymous.say("tpb sdes").await;
    assert_eq!(
        anonymous.next_agent_text().await,
        "no engagement attributes"
    );
}

/// An HTTP bot gets them in its request's `metadata.lpSdes`. After a
/// step-up they are read again: the authenticated consumer's, from the
/// brand JWT's `lp_sdes`. A profile larger than the hub takes is refused
/// with 413 and the one set before stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_bot_gets_the_engagement_attributes_and_a_step_up_reads_them_again() {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::with_hub(
        "[hub.consumer_auth]\nhs256_secret = \"brand-secret\"\n\n\
         [[hub.users]]\nlogin = \"bot-user\"\npassword = \"pw-bot-user\"\nskills = [\"1\"]\n",
    );
    config.write(
        "bots/b.toml",
        &format!("{}engagement_attributes = true\n", bot.config("b")),
    );
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", "messageDelay = 0"),
    );
    let gateway = gateway(&config).await;
    let hub = gateway.hub_url().unwrap();
    let mut consumer = Consumer::connect(&hub, "123").await;
    consumer
        .wire
        .request("userprofile.SetUserProfile", profile_with("anon-1"))
        .await;
    let huge = profile_with(&"x".repeat(switchboard::hub::profiles::MAX_PROFILE_BYTES));
    let refused = consumer
        .wire
        .request("userprofile.SetUserProfile", huge)
        .await;
    assert_eq!(refused["code"], 413, "{refused}");
    consumer.start_conversation().await;
    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
    let turns = bot.turns();
    let sdes = &turns.last().unwrap().metadata["lpSdes"];
    assert_eq!(sdes["ctmrinfo"]["info"]["customerId"], "anon-1", "{sdes}");
    assert_eq!(sdes["personal"]["personal"]["firstname"], "Ada", "{sdes}");

    let exp = jsonwebtoken::get_current_timestamp() + 600;
    let claims = serde_json::json!({"sub": "customer-42", "exp": exp,
        "lp_sdes": [{"type": "ctmrinfo", "info": {"customerId": "C-42"}}]});
    let brand_jwt = crate::support::signed_jwt(b"brand-secret", &claims);
    consumer.step_up(&hub, &brand_jwt).await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: _STEPUP_");
    let turns = bot.turns();
    let step_up = turns.last().unwrap();
    assert_eq!(step_up.kind, "step-up");
    assert_eq!(
        step_up.metadata["lpSdes"],
        serde_json::json!({"ctmrinfo": {"info": {"customerId": "C-42"}}})
    );
}
