//! Bots written for LivePerson's Third-Party Bots run unchanged: a Bot
//! Framework bot made with Microsoft's official SDK (botbuilder, from npm)
//! answers with `channelData` bot actions and private texts the way
//! LivePerson documents them for Third-Party Bots, and with botbuilder's
//! own handoff event. What reaches the platform is seen through a
//! recording proxy; what the consumer sees, on the consumer's socket.

use serde_json::Value;

use crate::support::proxy::{Way, WireProxy};
use crate::support::{
    BotFrameworkPeer, ConfigDir, Consumer, connector_file, conversation_change, gateway,
};

/// A platform (an embedded hub) whose skill 2 is named `human-expert`, with
/// bot user `tpb` on skill 1.
fn platform() -> ConfigDir {
    let config = ConfigDir::new(&["tpb"]);
    let path = config.path().join("switchboard.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let named = text.replace(
        "[[hub.skills]]\nid = \"2\"\n",
        "[[hub.skills]]\nid = \"2\"\nname = \"human-expert\"\n",
    );
    assert_ne!(named, text, "the test hub's skills changed shape");
    std::fs::write(path, named).unwrap();
    config
}

/// A gateway whose connector `tpb` serves the Bot Framework peer at
/// `peer`, reaching the platform through `proxy`.
fn gateway_config(proxy: &WireProxy, peer: &BotFrameworkPeer) -> ConfigDir {
    let config = ConfigDir::new(&[]);
    config.write(
        "switchboard.toml",
        &format!(
            "[messaging]\ncsds = \"{}\"\n[store]\ndata_dir = \"data\"\n",
            proxy.url
        ),
    );
    config.write(
        "bots/bf.toml",
        &format!(
            "id = \"bf\"\nkind = \"botframework\"\nurl = \"{}\"\ntimeout_ms = 10000\n",
            peer.url
        ),
    );
    config.write(
        "connectors/tpb.toml",
        &connector_file("tpb", "bf", "tpb", "", "messageDelay = 0"),
    );
    config
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
    let peer = BotFrameworkPeer::start();
    let platform = gateway(&platform()).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let _gateway = gateway(&gateway_config(&proxy, &peer)).await;
    let mut consumer = Consumer::connect(&hub, "123").await;
    let conversation = consumer.start_conversation().await;
    assert!(consumer.next_agent_text().await.starts_with("welcome, "));

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
    let updates = field_updates(&proxy, &conversation);
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
    let peer = BotFrameworkPeer::start();
    let platform = gateway(&platform()).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let _gateway = gateway(&gateway_config(&proxy, &peer)).await;

    // TRANSFER to a skill named as the bot names it: the connector sends
    // the skill's id, after the announcement.
    let mut transferred = Consumer::connect(&hub, "123").await;
    let conversation = transferred.start_conversation().await;
    assert!(transferred.next_agent_text().await.starts_with("welcome, "));
    transferred.say("tpb transfer").await;
    assert_eq!(
        transferred.next_agent_text().await,
        "I'll transfer you to a human agent"
    );
    conversation_change(&mut transferred, |details| {
        (details["skillId"] == "2").then_some(())
    })
    .await;
    let updates = field_updates(&proxy, &conversation);
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
    let mut handed_off = Consumer::connect(&hub, "123").await;
    handed_off.start_conversation().await;
    assert!(handed_off.next_agent_text().await.starts_with("welcome, "));
    handed_off.say("tpb handoff").await;
    assert_eq!(handed_off.next_agent_text().await, "handing off");
    conversation_change(&mut handed_off, |details| {
        (details["skillId"] == "2").then_some(())
    })
    .await;

    // CLOSE_CONVERSATION: the goodbye, then the close.
    let mut closed = Consumer::connect(&hub, "123").await;
    closed.start_conversation().await;
    assert!(closed.next_agent_text().await.starts_with("welcome, "));
    closed.say("tpb close").await;
    assert_eq!(closed.next_agent_text().await, "bye");
    conversation_change(&mut closed, |details| {
        (details["state"] == "CLOSE").then_some(())
    })
    .await;
}
