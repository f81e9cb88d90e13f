//! Transfers and closes a bot asks for, as the platform and the bots see
//! them: the order of the agent side's requests (seen through a recording
//! proxy), and what the bot that let a conversation go hears of it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::proxy::{Way, WireProxy};
use crate::support::{
    ConfigDir, Consumer, RecordingBot, connector_file, connectors_for, conversation_change,
    eventually, gateway,
};

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

/// A hub with bot users `router` (skill 1) and `expert` (skill 2).
fn router_and_expert() -> ConfigDir {
    ConfigDir::with_hub(
        "[[hub.users]]\nlogin = \"router\"\npassword = \"pw-router\"\nskills = [\"1\"]\n\n\
         [[hub.users]]\nlogin = \"expert\"\npassword = \"pw-expert\"\nskills = [\"2\"]\n",
    )
}

/// The platform may run a socket's requests side by side (LivePerson
/// does): a bot's transfer or close must not go out before the platform
/// has answered the messages the bot said before it, or the consumer could
/// be moved (or the conversation closed) before the words that announce it
/// are in the conversation. The consumer says `said`; the bot answers
/// `announcement` then `action`, which reaches the platform as the frame
/// `is_action` picks out, and the consumer then sees the conversation
/// change as `done` says.
async fn action_waits_for_the_announcement(
    said: &'static str,
    announcement: &'static str,
    action: Value,
    is_action: impl Fn(&str) -> bool,
    done: impl Fn(&Value) -> bool,
) {
    let platform = gateway(&ConfigDir::new(&["router"])).await;
    let hub = platform.hub_url().unwrap();
    let proxy = WireProxy::start(&hub).await;
    let bot = RecordingBot::start(move |text| {
        if text == said {
            json!([{ "text": announcement }, action])
        } else {
            json!([])
        }
    })
    .await;
    let file = connector_file("router", "b", "router", "", "messageDelay = 100");
    let _gateway = gateway(&connectors_for(&proxy.url, &bot, &[("router", file)])).await;
    let mut consumer = Consumer::connect(&hub, "123").await;
    let conversation = consumer.start_conversation().await;
    let is_action = |frame: &str| frame.contains(&conversation) && is_action(frame);

    // From the first publish's answer on, the platform answers nothing.
    proxy.hold_from(|frame| frame.contains("PublishEvent$Response"));
    consumer.say(said).await;
    let announced = proxy
        .wait_for(Way::ToPlatform, |frame| {
            frame.contains("PublishEvent") && frame.contains(announcement)
        })
        .await;
    // The action would follow the announcement at once if it did not wait;
    // a second is generous.
    let early = tokio::time::timeout(
        Duration::from_secs(1),
        proxy.wait_for(Way::ToPlatform, is_action),
    )
    .await;
    assert!(
        early.is_err(),
        "the action went out before the platform answered the announcement: {:#?}",
        proxy.frames()
    );

    proxy.release();
    let acted = proxy.wait_for(Way::ToPlatform, is_action).await;
    let frames = proxy.frames();
    let request: Value = serde_json::from_str(&frames[announced].1).unwrap();
    let id = request["id"].as_str().unwrap().to_owned();
    let answered = frames
        .iter()
        .position(|(way, frame)| {
            *way == Way::ToConnector && frame.contains(&format!("\"reqId\":\"{id}\""))
        })
        .expect("the announcement was answered");
    assert!(
        answered < acted,
        "the action (frame {acted}) left before the announcement's answer came (frame {answered})"
    );
    assert_eq!(consumer.next_agent_text().await, announcement);
    // (The hub lives to here: its consumer's socket with it.)
    conversation_change(&mut consumer, |details| done(details).then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_transfer_waits_for_the_platform_to_answer_the_messages_before_it() {
    action_waits_for_the_announcement(
        "billing please",
        "Transferring you to billing",
        json!({"custom": {"action": "escalate", "skill": "2"}}),
        |frame| frame.contains("UpdateConversationField") && frame.contains("\"skill\":\"2\""),
        |details| details["skillId"] == "2",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_close_waits_for_the_platform_to_answer_the_messages_before_it() {
    action_waits_for_the_announcement(
        "bye",
        "Goodbye",
        json!({"custom": {"action": "close"}}),
        |frame| frame.contains("UpdateConversationField") && frame.contains("\"CLOSE\""),
        |details| details["state"] == "CLOSE",
    )
    .await;
}

/// A conversation a bot transferred away leaves its connector (the
/// platform's DELETE) without `LP_CLOSECONVERSATION` to that bot: the
/// conversation goes on with the agent it went to. The bot that has it is
/// not greeted (the conversation came with a history) and hears the close
/// when it comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_does_not_hear_lp_closeconversation_for_a_conversation_it_transferred() {
    let router = announcing_router().await;
    let specialist = RecordingBot::echo().await;
    let config = router_and_expert();
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
    // utterance), and the router's connector has dropped it (a wrong
    // notice to its bot would go out then, long before the close below
    // has gone round the specialist's connector and bot).
    specialist.wait_for(1).await;
    eventually("the router let the conversation go", || {
        gateway.report("router").unwrap().conversations == 0
    })
    .await;
    // A conversation that arrives with a history is not greeted: past the
    // greeting's 3 s, the specialist has heard nothing more.
    tokio::time::sleep(Duration::from_secs(4)).await;
    consumer.close().await;
    let heard = specialist.wait_for(2).await;
    assert_eq!(
        (heard[1].text.as_str(), heard[1].conversation.as_str()),
        ("LP_CLOSECONVERSATION", conversation.as_str()),
        "{heard:?}"
    );
    assert_eq!(router.texts(), ["billing please"]);
}

/// A bot that moves a conversation to a skill only another of its own
/// agent users serves has transferred it (not failed over): the bot, on
/// the connector it arrives at, hears the last utterance, as any bot
/// taking a transfer does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_move_to_a_skill_only_another_of_its_users_serves_is_a_transfer() {
    let bot = RecordingBot::start(|text| {
        if text == "billing please" {
            json!([
                {"text": "Transferring you to billing"},
                {"custom": {"action": "escalate", "skill": "2"}}
            ])
        } else {
            json!([{ "text": format!("bot heard: {text}") }])
        }
    })
    .await;
    let config = router_and_expert();
    config.write("bots/b.toml", &bot.config("b"));
    for id in ["router", "expert"] {
        config.write(
            &format!("connectors/{id}.toml"),
            &connector_file(id, "b", id, "", "messageDelay = 100"),
        );
    }
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("billing please").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "Transferring you to billing"
    );
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: Transferring you to billing"
    );
    assert_eq!(
        bot.texts(),
        ["billing please", "Transferring you to billing"]
    );
}
