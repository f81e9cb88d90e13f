//! Hostile consumers hurt no one else: oversized messages and frames, long
//! histories, floods of signups, sockets and conversations from one client.
//! Each test keeps a well-behaved consumer on the same connector and
//! asserts it is still answered and the connector stays Online.

use serde_json::json;
use switchboard::connector::Status;
use switchboard::hub::limits::{MAX_EVENT_BYTES, MAX_FRAME_BYTES};

use crate::support::{ConfigDir, Consumer, LoopbackClient, RecordingBot, connector_file, gateway};

/// The hostile client's address: another loopback address than the
/// well-behaved consumers' 127.0.0.1, so the hub sees two clients.
const HOSTILE_CLIENT: std::net::IpAddr =
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

fn one_connector(bot: &RecordingBot) -> ConfigDir {
    one_connector_with(bot, "", "")
}

/// One connector `c` of `bot` for the hub user `bot-user`, with `hub_tables`
/// (`[hub.*]` tables) before the user and `user_keys` in its entry.
fn one_connector_with(bot: &RecordingBot, hub_tables: &str, user_keys: &str) -> ConfigDir {
    let config = ConfigDir::with_hub(&format!(
        "{hub_tables}[[hub.users]]\nlogin = \"bot-user\"\npassword = \"pw-bot-user\"\n\
         skills = [\"1\"]\n{user_keys}\n"
    ));
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", "messageDelay = 100"),
    );
    config
}

/// A hostile and a polite consumer, each in a conversation.
async fn two_consumers(gateway: &switchboard::app::Gateway) -> (Consumer, Consumer) {
    let mut hostile = Consumer::of(gateway).await;
    hostile.start_conversation().await;
    let mut polite = Consumer::of(gateway).await;
    polite.start_conversation().await;
    (hostile, polite)
}

/// A consumer that says something and is answered.
async fn answered(consumer: &mut Consumer, text: &str) {
    consumer.say(text).await;
    assert_eq!(
        consumer.next_agent_text().await,
        format!("bot heard: {text}")
    );
}

async fn publish(consumer: &mut Consumer, text: &str) -> serde_json::Value {
    let id = consumer.conversation_id.clone();
    consumer
        .wire
        .request(
            "ms.PublishEvent",
            json!({"dialogId": id, "conversationId": id,
                   "event": {"type": "ContentEvent", "contentType": "text/plain", "message": text}}),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_413_and_the_socket_and_others_carry_on() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(&bot);
    let gateway = gateway(&config).await;
    let (mut hostile, mut polite) = two_consumers(&gateway).await;

    for _ in 0..2 {
        let refused = publish(&mut hostile, &"x".repeat(MAX_EVENT_BYTES + 1)).await;
        assert_eq!(refused["code"], 413, "{refused}");
    }
    answered(&mut polite, "hello").await;
    // The refusal cost the hostile consumer nothing but that request.
    answered(&mut hostile, "small now").await;
    assert!(bot.texts().iter().all(|t| t.len() < MAX_EVENT_BYTES));
    assert_eq!(gateway.report("c").unwrap().status, Status::Online);
}

/// `encodedMetadata` LivePerson refuses (not base64, over 5k, on a chat
/// state) is refused with 400 saying why; the message reaches no one, and
/// good metadata goes with its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_encoded_metadata_breaks_the_rules_is_refused_400() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(&bot);
    let gateway = gateway(&config).await;
    let (mut hostile, mut polite) = two_consumers(&gateway).await;
    let id = hostile.conversation_id.clone();
    let too_long = "A".repeat(lp::messaging::EncodedMetadata::MAX_LEN + 4);
    let text = |code: u16| {
        json!({"type": "ContentEvent", "contentType": "text/plain",
        "message": format!("code {code}")})
    };
    for (event, metadata, code, why) in [
        (text(400), json!("not base64!"), 400, "not base64"),
        (text(400), json!(too_long), 400, "characters long"),
        (text(400), json!(7), 400, "encodedMetadata"),
        (
            json!({"type": "ChatStateEvent", "chatState": "COMPOSING"}),
            json!("SGk="),
            400,
            "ChatStateEvent",
        ),
        (text(200), json!("SGk="), 200, ""),
    ] {
        let answer = hostile
            .wire
            .request_in(
                "ms.PublishEvent",
                json!({"dialogId": id, "conversationId": id, "event": event}),
                json!({"encodedMetadata": metadata}),
            )
            .await;
        assert_eq!(answer["code"], code, "{answer}");
        assert!(answer.to_string().contains(why), "{answer}");
    }
    // The consumer's own message comes back live with its metadata.
    let echoed = hostile
        .wire
        .wait_for(|frame| {
            frame["body"]["changes"]
                .as_array()?
                .iter()
                .find_map(|change| {
                    (change["event"]["message"] == "code 200")
                        .then(|| change["encodedMetadata"].clone())
                })
        })
        .await;
    assert_eq!(echoed, "SGk=");
    assert_eq!(hostile.next_agent_text().await, "bot heard: code 200");
    answered(&mut polite, "hello").await;
    assert!(!bot.texts().contains(&"code 400".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_closes_only_that_socket() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(&bot);
    let gateway = gateway(&config).await;
    let (mut hostile, mut polite) = two_consumers(&gateway).await;
    answered(&mut polite, "before").await;

    hostile
        .wire
        .send_text("x".repeat(MAX_FRAME_BYTES + 1))
        .await;
    assert_eq!(
        hostile.wire.close_code().await,
        Some(1009),
        "message too big"
    );
    answered(&mut polite, "after").await;
    assert_eq!(gateway.report("c").unwrap().status, Status::Online);
}

/// 150 messages wait while the connector is stopped; when it starts and
/// takes the conversation, it reads the history page by page (100 at most
/// each) and the bot gets every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_is_read_in_pages() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(&bot);
    let mut gateway = gateway(&config).await;
    gateway.stop_connector("c").await.unwrap();
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    for n in 0..150 {
        consumer.say(&format!("m{n}")).await;
    }
    gateway.start_connector("c").unwrap();
    let answer = consumer.next_agent_text().await;
    let expected: Vec<String> = (0..150).map(|n| format!("m{n}")).collect();
    assert_eq!(answer, format!("bot heard: {}", expected.join(" ")));
}

/// A consumer cannot write into, or read, another consumer's conversation,
/// nor open more than one conversation at a time however often it asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_for_other_consumers_conversations_and_conversation_floods_are_refused() {
    let bot = RecordingBot::echo().await;
    let config = one_connector(&bot);
    let gateway = gateway(&config).await;
    let mut polite = Consumer::of(&gateway).await;
    polite.start_conversation().await;
    answered(&mut polite, "hello").await;
    let mut hostile = Consumer::of(&gateway).await;
    hostile.start_conversation().await;

    let theirs = polite.conversation_id.clone();
    let intrusion = hostile
        .wire
        .request(
            "ms.PublishEvent",
            json!({"dialogId": theirs, "conversationId": theirs,
                   "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "boo"}}),
        )
        .await;
    assert_eq!(intrusion["code"], 403, "{intrusion}");
    let peek = hostile
        .wire
        .request(
            "ms.SubscribeMessagingEvents",
            json!({"dialogId": theirs, "fromSeq": 0}),
        )
        .await;
    assert_eq!(peek["code"], 403, "{peek}");
    for _ in 0..50 {
        let another = hostile
            .wire
            .request("cm.ConsumerRequestConversation", json!({}))
            .await;
        assert_eq!(another["code"], 400, "one open conversation: {another}");
    }

    answered(&mut polite, "still here").await;
    assert!(!bot.texts().iter().any(|t| t.contains("boo")));
    let report = gateway.report("c").unwrap();
    assert_eq!(report.status, Status::Online);
    assert_eq!(report.conversations, 2, "the flood opened nothing");
}

/// A flood of signups from one client and tokens that expired or were
/// never valid cost the hostile client only refusals (429 with
/// `Retry-After` past its 60 signups a minute): the connector stays Online
/// and a well-behaved consumer is answered throughout, and can still sign up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_floods_and_expired_tokens_leave_the_connector_serving_others() {
    const FLOOD: usize = 300;
    let bot = RecordingBot::echo().await;
    let config = one_connector_with(
        &bot,
        "[hub.consumer_auth]\nhs256_secret = \"brand-secret\"\nmax_tokens = 100\n\n",
        "",
    );
    let gateway = gateway(&config).await;
    let hub = gateway.hub_url().unwrap();
    let mut polite = Consumer::of(&gateway).await;
    polite.start_conversation().await;
    answered(&mut polite, "before").await;

    let flooder = LoopbackClient {
        source: HOSTILE_CLIENT,
    };
    let signup = format!("{hub}/api/account/123/signup");
    let started = std::time::Instant::now();
    let mut admitted = 0;
    for _ in 0..FLOOD {
        match flooder.post(&signup).await {
            (200, _, _) => admitted += 1,
            (429, Some(retry_after), body) => {
                assert!(retry_after >= 1, "{body}");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains(&HOSTILE_CLIENT.to_string()),
                    "the refusal names the client: {body}"
                );
            }
            other => panic!("a signup is admitted or refused with 429: {other:?}"),
        }
    }
    // The bucket holds 60 and refills one a second.
    let refilled = started.elapsed().as_secs() as usize + 1;
    assert!(
        (60..=60 + refilled).contains(&admitted),
        "{admitted} of {FLOOD} signups admitted"
    );
    let expired = crate::support::signed_jwt(
        b"brand-secret",
        &json!({"sub": "mallory", "exp": jsonwebtoken::get_current_timestamp() - 3600}),
    );
    let refused = switchboard::http::post_json(
        &format!("{hub}/api/account/123/authenticate"),
        &json!({"authCode": expired}),
    )
    .await;
    assert!(
        refused.is_err(),
        "an expired brand JWT is refused: {refused:?}"
    );

    answered(&mut polite, "after").await;
    let mut newcomer = Consumer::of(&gateway).await;
    newcomer.start_conversation().await;
    answered(&mut newcomer, "me too").await;
    assert_eq!(gateway.report("c").unwrap().status, Status::Online);
}

/// One client cannot fill a connector's slots: past its open
/// conversations (here 2) a request is answered 429, past its open sockets
/// (here 3) the upgrade is; a well-behaved client takes the slot left, and
/// a closed conversation gives the hostile client its turn back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_slot_of_a_connector() {
    let bot = RecordingBot::echo().await;
    let config = one_connector_with(
        &bot,
        "[hub.clients]\nopen_conversations = 2\nopen_sockets = 3\n\n",
        "max_conversations = 3\n",
    );
    let gateway = gateway(&config).await;
    let hub = gateway.hub_url().unwrap();
    let hostile = || Consumer::connect_from(&hub, "123", HOSTILE_CLIENT);
    let (mut first, mut second, mut third) = (
        hostile().await.unwrap(),
        hostile().await.unwrap(),
        hostile().await.unwrap(),
    );
    let (code, body) = hostile().await.err().expect("a fourth socket is refused");
    assert_eq!(code, 429, "{body}");
    first.start_conversation().await;
    second.start_conversation().await;
    let refused = third
        .wire
        .request("cm.ConsumerRequestConversation", json!({"brandId": "123"}))
        .await;
    assert_eq!(refused["code"], 429, "{refused}");

    let mut polite = Consumer::of(&gateway).await;
    polite.start_conversation().await;
    answered(&mut polite, "a slot for me").await;
    answered(&mut first, "and for the first").await;

    let closed = first
        .wire
        .request(
            "cm.UpdateConversationField",
            json!({"conversationId": first.conversation_id,
                   "conversationField": [{"field": "ConversationStateField", "conversationState": "CLOSE"}]}),
        )
        .await;
    assert_eq!(closed["code"], 200, "{closed}");
    third.start_conversation().await;
    answered(&mut third, "my turn").await;
    let report = gateway.report("c").unwrap();
    assert_eq!(report.status, Status::Online);
}
