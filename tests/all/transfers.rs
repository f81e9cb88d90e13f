//! Transfers a bot asks for, as the platform and the bots see them: the
//! order of the agent side's requests (seen through a recording proxy),
//! and what the bot that let the conversation go hears of it.

use std::time::Duration;

use serde_json::json;

use crate::support::proxy::{Way, WireProxy};
use crate::support::{ConfigDir, Consumer, RecordingBot, connector_file, connectors_for, gateway};

/// A bot that announces a transfer to skill 2 and asks for it; it says
/// nothing to anything else.
async fn announcing_router() -> RecordingBot {
    RecordingBot::start(|text| {
        if text == "billing please" {
            json!([
                {"text": "Transferring you to billing"},
                {"custom": {"action": "escalate", "skill": "2"}}
            ])
        } else {
            json!([])
        }
    })
    .await
}

/// The platform may run a socket's requests side by side (LivePerson
/// does): a bot's transfer must not go out before the platform has
/// answered the messages the bot said before it, or the consumer could
/// be moved before the words that announce it are in the conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_transfer_waits_for_the_platform_to_answer_the_messages_before_it() {
    let platform = gateway(&ConfigDir::new(&["router"])).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let bot = announcing_router().await;
    let file = connector_file("router", "b", "router", "", "messageDelay = 100");
    let _gateway = gateway(&connectors_for(&proxy.url, &bot, &[("router", file)])).await;
    let mut consumer = Consumer::connect(&hub, "123").await;
    let conversation = consumer.start_conversation().await;

    // From the first publish's answer on, the platform answers nothing.
    proxy.hold_from(|frame| frame.contains("PublishEvent$Response"));
    consumer.say("billing please").await;
    let announced = proxy
        .wait_for(Way::ToPlatform, |frame| {
            frame.contains("PublishEvent") && frame.contains("Transferring you to billing")
        })
        .await;
    let transfer = |frame: &str| {
        frame.contains("UpdateConversationField")
            && frame.contains(&conversation)
            && frame.contains("\"skill\":\"2\"")
    };
    // The transfer would follow the announcement at once if it did not
    // wait; a second is generous.
    let early = tokio::time::timeout(
        Duration::from_secs(1),
        proxy.wait_for(Way::ToPlatform, transfer),
    )
    .await;
    assert!(
        early.is_err(),
        "the transfer went out before the platform answered the announcement: {:#?}",
        proxy.frames()
    );

    proxy.release();
    let transferred = proxy.wait_for(Way::ToPlatform, transfer).await;
    let frames = proxy.frames();
    let request: serde_json::Value = serde_json::from_str(&frames[announced].1).unwrap();
    let id = request["id"].as_str().unwrap().to_owned();
    let answered = frames
        .iter()
        .position(|(way, frame)| {
            *way == Way::ToConnector && frame.contains(&format!("\"reqId\":\"{id}\""))
        })
        .expect("the announcement was answered");
    assert!(
        answered < transferred,
        "the transfer (frame {transferred}) left before the announcement's answer came (frame {answered})"
    );
    assert_eq!(
        consumer.next_agent_text().await,
        "Transferring you to billing"
    );
}

/// A conversation a bot transferred away leaves its connector (the
/// platform's DELETE) without `LP_CLOSECONVERSATION` to that bot: the
/// conversation goes on with the agent it went to. The bot that has it
/// hears the close when it comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_does_not_hear_lp_closeconversation_for_a_conversation_it_transferred() {
    let router = announcing_router().await;
    let specialist = RecordingBot::echo().await;
    let config = ConfigDir::with_hub(
        "[[hub.users]]\nlogin = \"router\"\npassword = \"pw-router\"\nskills = [\"1\"]\n\n\
         [[hub.users]]\nlogin = \"expert\"\npassword = \"pw-expert\"\nskills = [\"2\"]\n",
    );
    config.write("bots/router.toml", &router.config("router"));
    config.write("bots/expert.toml", &specialist.config("expert"));
    for (id, bot) in [("router", "router"), ("expert", "expert")] {
        config.write(
            &format!("connectors/{id}.toml"),
            &connector_file(id, bot, id, "", "messageDelay = 100"),
        );
    }
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    let conversation = consumer.start_conversation().await;
    consumer.say("billing please").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "Transferring you to billing"
    );
    // The specialist has the conversation (its first turn is the last
    // utterance), and then it is closed.
    specialist.wait_for(1).await;
    consumer.close().await;
    let heard = specialist.wait_for(2).await;
    assert_eq!(
        (heard[1].text.as_str(), heard[1].conversation.as_str()),
        ("LP_CLOSECONVERSATION", conversation.as_str())
    );
    assert_eq!(router.texts(), ["billing please"]);
}
