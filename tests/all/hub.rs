//! The embedded hub as a peer, over real sockets: a test agent written from
//! LivePerson's Messaging Agent API and a consumer written from its
//! Messaging Window API.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::{
    AgentSessions, ClientLimits, ConsumerAuth, HubConfig, HubSkill, HubUser, LoginCredentials,
    UserKind,
};
use switchboard::hub::{Hub, HubHandle};

use crate::support::{AgentWire, Consumer, PATIENCE, conversation_change, jwt_subject};

pub(crate) fn hub_config() -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        account: "123".into(),
        default_skill: "1".into(),
        skills: vec![
            HubSkill {
                id: "1".into(),
                name: "bots".into(),
            },
            HubSkill {
                id: "2".into(),
                name: "people".into(),
            },
        ],
        users: vec![HubUser {
            login: "tester".into(),
            kind: UserKind::Bot,
            enabled: true,
            credentials: LoginCredentials::Password("pw".into()),
            skills: vec!["1".into()],
            max_conversations: 50,
            created_by: None,
            can_read_account_config: true,
        }],
        ring_expiration: Duration::from_secs(30),
        engagements: Vec::new(),
        consumer_auth: ConsumerAuth::default(),
        clients: ClientLimits::default(),
        agent_grace: Duration::from_secs(10),
        sessions: AgentSessions::default(),
        tls: None,
    }
}

/// A test agent: logs in over HTTP and opens the agent WebSocket.
/// Waits for the agent's next waiting ring and accepts it.
pub(crate) async fn accept_the_ring(agent: &mut AgentWire) {
    let ring_id = agent
        .wait_for(|f| {
            let ring = &f["body"]["changes"][0]["result"]["ringsDetails"][0];
            (f["type"] == ".ams.routing.RoutingTaskNotification" && ring["ringState"] == "WAITING")
                .then(|| ring["ringId"].as_str().unwrap().to_owned())
        })
        .await;
    let accepted = agent
        .request(
            ".ams.routing.UpdateRingState",
            json!({"ringId": ring_id, "ringState": "ACCEPTED"}),
        )
        .await;
    assert_eq!(accepted["code"], 200);
}

/// A hub of [`hub_config`] on a free port.
async fn test_hub() -> HubHandle {
    Hub::start(hub_config(), std::path::Path::new("unused"))
        .await
        .unwrap()
}

async fn agent(hub: &HubHandle) -> (AgentWire, String) {
    (
        AgentWire::connect(&agent_url(hub).await).await,
        "123.tester".into(),
    )
}

/// Logs the test agent in; returns the agent WebSocket's URL.
async fn agent_url(hub: &HubHandle) -> String {
    agent_socket_url(&hub.url(), "tester", "pw").await
}

/// Logs agent user `login` in at the hub serving plain HTTP at `base`,
/// after checking its domain lookup; returns the agent WebSocket's URL.
pub(crate) async fn agent_socket_url(base: &str, login: &str, password: &str) -> String {
    let domains = switchboard::http::get_json(&format!(
        "{base}/api/account/123/service/baseURI.json?version=1.0"
    ))
    .await
    .unwrap();
    let services: Vec<&str> = domains["baseURIs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["service"].as_str().unwrap())
        .collect();
    for needed in ["agentVep", "asyncMessagingEnt", "facadeMsg", "idp"] {
        assert!(services.contains(&needed), "{needed} in {services:?}");
    }
    let login = switchboard::http::post_json(
        &format!("{base}/api/account/123/login?v=1.3"),
        &json!({"username": login, "password": password}),
    )
    .await
    .unwrap();
    let bearer = login["bearer"].as_str().unwrap();
    assert!(login["config"]["userId"].is_string() && login["config"]["userPid"].is_string());
    let host = base.strip_prefix("http://").expect("a plain HTTP hub");
    format!("ws://{host}/ws_api/account/123/messaging/brand/{bearer}?v=2.1")
}

#[tokio::test]
async fn wrong_password_is_refused_with_401() {
    let hub = test_hub().await;
    let error = switchboard::http::post_json(
        &format!("{}/api/account/123/login?v=1.3", hub.url()),
        &json!({"username": "tester", "password": "nope"}),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    // So is a body with no secret, or only part of an API key.
    for body in [
        json!({"username": "tester"}),
        json!({"username": "tester", "appKey": "k", "secret": "s"}),
    ] {
        let error = switchboard::http::post_json(
            &format!("{}/api/account/123/login?v=1.3", hub.url()),
            &body,
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("401"), "{body}: {error}");
    }
    // What is no JSON object at all is a bad request.
    for body in [json!("tester"), json!([])] {
        let error = switchboard::http::post_json(
            &format!("{}/api/account/123/login?v=1.3", hub.url()),
            &body,
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("400"), "{body}: {error}");
    }
}

#[tokio::test]
async fn malformed_frames_get_an_error_response_and_the_connection_stays_up() {
    let hub = test_hub().await;
    let (mut agent, _) = agent(&hub).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    answers_and_stays_up(&mut agent).await;
    answers_and_stays_up(&mut consumer.wire).await;
}

/// Malformed frames on `client`'s socket get error responses, and the
/// socket still answers a keep-alive.
async fn answers_and_stays_up<S: lp::client::ClientSide>(
    client: &mut crate::support::WireClient<S>,
) {
    client.send_text("{this is not json".into()).await;
    let answer = client.next_response().await;
    assert_eq!(answer["kind"], "resp");
    assert!(answer["code"].as_u64().unwrap() >= 400, "{answer}");
    client
        .send_text(json!({"kind": "req", "id": "x7", "body": {}}).to_string())
        .await;
    let answer = client.next_response().await;
    assert_eq!(answer["reqId"], "x7", "the id is salvaged: {answer}");
    assert!(answer["code"].as_u64().unwrap() >= 400);
    let unknown = client.request("no.such.Request", json!({})).await;
    assert!(unknown["code"].as_u64().unwrap() >= 400, "{unknown}");
    // Still up: a keep-alive is answered.
    let clock = client.request("GetClock", json!({})).await;
    assert_eq!(clock["code"], 200);
    assert!(clock["body"]["currentTime"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_conversation_is_routed_rung_accepted_relayed_transferred_and_closed() {
    let hub = test_hub().await;
    let (mut agent, agent_id) = agent(&hub).await;
    for (kind, body) in [
        (
            ".ams.routing.SetAgentState",
            json!({"availability": "ONLINE", "channels": ["MESSAGING"], "agentUserId": agent_id}),
        ),
        (
            ".ams.aam.SubscribeExConversations",
            json!({"convState": ["OPEN"], "agentIds": [agent_id]}),
        ),
        (
            ".ams.routing.SubscribeRoutingTasks",
            json!({"channelType": "MESSAGING", "agentId": agent_id, "brandId": "123"}),
        ),
    ] {
        let response = agent.request(kind, body).await;
        assert_eq!(response["code"], 200, "{kind}: {response}");
        assert_eq!(response["type"], format!("{kind}$Response"));
    }

    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let conversation = consumer.start_conversation().await;
    let early = consumer.say("hello before anyone answers").await;
    assert_eq!(
        early, 0,
        "a dialog's events are numbered from 0, as LivePerson's are"
    );

    // The hub rings the agent with the conversation's skill.
    let ring = agent
        .wait_for(|f| {
            (f["type"] == ".ams.routing.RoutingTaskNotification")
                .then(|| f["body"]["changes"][0]["result"].clone())
        })
        .await;
    assert_eq!(ring["conversationId"], conversation);
    assert_eq!(ring["skillId"], "1");
    assert_eq!(ring["ringsDetails"][0]["ringState"], "WAITING");
    let ring_id = ring["ringsDetails"][0]["ringId"].as_str().unwrap();
    let accepted = agent
        .request(
            ".ams.routing.UpdateRingState",
            json!({"ringId": ring_id, "ringState": "ACCEPTED"}),
        )
        .await;
    assert_eq!(accepted["code"], 200);

    // The agent sees the conversation, with the fields the official SDK needs.
    let details = agent
        .wait_for(|f| {
            let change = &f["body"]["changes"][0];
            (f["type"] == ".ams.aam.ExConversationChangeNotification" && change["type"] == "UPSERT")
                .then(|| change["result"]["conversationDetails"].clone())
        })
        .await;
    assert_eq!(details["participants"]["ASSIGNED_AGENT"][0], agent_id);
    assert!(details["participantsPId"]["ASSIGNED_AGENT"][0].is_string());
    assert!(details["dialogs"][0]["participantsDetails"].is_array());

    // History holds the early message.
    let history = agent
        .request(
            ".ams.ms.QueryMessages",
            json!({"dialogId": conversation, "newerThanSequence": 0}),
        )
        .await;
    assert_eq!(history["type"], ".ams.ms.QueryMessages$Response");
    let events = history["body"].as_array().unwrap();
    assert_eq!(events[0]["sequence"], early);
    assert_eq!(events[0]["event"]["message"], "hello before anyone answers");

    // Consumer → agent, live.
    let sequence = consumer.say("are you there?").await;
    let live = agent
        .wait_for(|f| {
            (f["type"] == ".ams.ms.OnlineEventDistribution" && f["body"]["sequence"] == sequence)
                .then(|| f["body"].clone())
        })
        .await;
    assert_eq!(live["event"]["message"], "are you there?");
    assert_eq!(live["originatorMetadata"]["role"], "CONSUMER");
    assert!(live["originatorPId"].is_string());

    // Agent → consumer.
    let published = agent
        .request(
            ".ams.ms.PublishEvent",
            json!({"dialogId": conversation, "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "yes"}}),
        )
        .await;
    assert_eq!(published["code"], 200);
    assert!(published["body"]["sequence"].as_u64().unwrap() > sequence);
    assert_eq!(consumer.next_agent_text().await, "yes");

    // Transfer: the consumer sees the skill change and the agent leave.
    let transfer = agent
        .request(
            ".ams.cm.UpdateConversationField",
            json!({"conversationId": conversation, "conversationField": [
                {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT", "userId": agent_id},
                {"field": "Skill", "type": "UPDATE", "skill": "2"}]}),
        )
        .await;
    assert_eq!(transfer["code"], 200, "{transfer}");
    let moved = consumer
        .wire
        .wait_for(|f| {
            let details = &f["body"]["changes"][0]["result"]["conversationDetails"];
            (f["type"] == "cqm.ExConversationChangeNotification" && details["skillId"] == "2")
                .then(|| details.clone())
        })
        .await;
    let roles: Vec<&Value> = moved["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["role"])
        .collect();
    assert_eq!(roles, [&json!("CONSUMER")]);
    let gone = agent
        .wait_for(|f| (f["body"]["changes"][0]["type"] == "DELETE").then_some(()))
        .await;
    assert_eq!(gone, ());

    // A second transfer fails: there is no assigned agent to remove.
    let again = agent
        .request(
            ".ams.cm.UpdateConversationField",
            json!({"conversationId": conversation, "conversationField": [
                {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT", "userId": agent_id},
                {"field": "Skill", "type": "UPDATE", "skill": "1"}]}),
        )
        .await;
    assert!(again["code"].as_u64().unwrap() >= 400);

    // The consumer closes.
    let closed = consumer
        .wire
        .request(
            "cm.UpdateConversationField",
            json!({"conversationId": conversation, "conversationField": {"field": "ConversationStateField", "conversationState": "CLOSE"}}),
        )
        .await;
    assert_eq!(closed["body"], "OK Conversation resolved successfully");
    let state = consumer
        .wire
        .wait_for(|f| {
            let details = &f["body"]["changes"][0]["result"]["conversationDetails"];
            (details["state"] == "CLOSE").then(|| details["closeReason"].clone())
        })
        .await;
    assert_eq!(state, "CONSUMER");
}

#[tokio::test]
async fn the_web_chat_page_is_served_at_the_root() {
    let hub = test_hub().await;
    let (mut socket, _) = (
        tokio::net::TcpStream::connect(hub.addr()).await.unwrap(),
        (),
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    socket.read_to_string(&mut page).await.unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{}", &page[..40]);
    assert!(page.contains("/messaging/consumer?v=3") && page.contains("InitConnection"));
}

/// Sends Close(1000) on a raw socket and expects the RFC 6455 answer: a
/// close frame with the same code, then the end of the TCP connection.
async fn close_handshake_completes(url: &str) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    let answer = loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the hub answers the close frame in time")
            .expect("the socket is still open for the answer")
            .expect("the answer is readable");
        match frame {
            Message::Close(answer) => break answer,
            Message::Text(_) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(answer.map(|f| f.code), Some(CloseCode::Normal));
    let end = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("the hub closes the connection in time");
    assert!(
        end.is_none(),
        "the stream ends after the handshake: {end:?}"
    );
}

#[tokio::test]
async fn the_agent_socket_answers_a_close_frame_with_the_same_code_and_closes() {
    let hub = test_hub().await;
    close_handshake_completes(&agent_url(&hub).await).await;
}

#[tokio::test]
async fn the_consumer_socket_answers_a_close_frame_with_the_same_code_and_closes() {
    let hub = test_hub().await;
    let url = format!(
        "ws://{}/ws_api/account/123/messaging/consumer?v=3",
        hub.addr()
    );
    close_handshake_completes(&url).await;
}

/// Sets the test agent ONLINE and subscribes it to its conversations and
/// rings; returns the conversation subscription's id.
pub(crate) async fn online_agent(agent: &mut AgentWire, agent_id: &str) -> String {
    let online = agent
        .request(
            ".ams.routing.SetAgentState",
            json!({"availability": "ONLINE", "channels": ["MESSAGING"], "agentUserId": agent_id}),
        )
        .await;
    assert_eq!(online["code"], 200, "{online}");
    let rings = agent
        .request(
            ".ams.routing.SubscribeRoutingTasks",
            json!({"channelType": "MESSAGING", "agentId": agent_id, "brandId": "123"}),
        )
        .await;
    assert_eq!(rings["code"], 200, "{rings}");
    let conversations = agent
        .request(
            ".ams.aam.SubscribeExConversations",
            json!({"convState": ["OPEN"], "agentIds": [agent_id]}),
        )
        .await;
    assert_eq!(conversations["code"], 200, "{conversations}");
    conversations["body"]["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A private message (`messageAudience` `AGENTS_AND_MANAGERS`) is for agents
/// and managers, as on LivePerson: the consumer never sees it, neither live
/// nor in the history a subscription from `fromSeq` 0 replays; the agent
/// side sees it live and in `QueryMessages`, marked with its audience.
#[tokio::test]
async fn a_private_message_reaches_agents_and_never_the_consumer() {
    let hub = test_hub().await;
    let (mut agent, agent_id) = agent(&hub).await;
    online_agent(&mut agent, &agent_id).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let conversation = consumer.start_conversation().await;
    accept_the_ring(&mut agent).await;
    let text = |message: &str| json!({"type": "ContentEvent", "contentType": "text/plain", "message": message});
    let private = json!({"dialogId": conversation, "messageAudience": "AGENTS_AND_MANAGERS",
        "event": text("angry customer, careful")});
    let note = agent.request(".ams.ms.PublishEvent", private).await;
    assert_eq!(note["code"], 200, "{note}");
    let public = json!({"dialogId": conversation, "event": text("how can I help?")});
    let public = agent.request(".ams.ms.PublishEvent", public).await;
    assert_eq!(public["code"], 200, "{public}");
    let public_sequence = public["body"]["sequence"].clone();

    assert_eq!(consumer.next_agent_text().await, "how can I help?");
    let resubscribed = consumer
        .wire
        .request(
            "ms.SubscribeMessagingEvents",
            json!({"dialogId": conversation, "fromSeq": 0}),
        )
        .await;
    assert_eq!(resubscribed["code"], 200, "{resubscribed}");
    let replayed = consumer
        .wire
        .wait_for(|f| {
            let changes = f["body"]["changes"].as_array()?;
            (f["type"] == "ms.MessagingEventNotification"
                && changes.iter().any(|c| c["sequence"] == public_sequence))
            .then(|| {
                changes
                    .iter()
                    .map(|c| c["event"]["message"].clone())
                    .collect::<Vec<_>>()
            })
        })
        .await;
    assert_eq!(replayed, [json!("how can I help?")]);

    let note_sequence = note["body"]["sequence"].clone();
    let live = agent
        .wait_for(|f| {
            (f["type"] == ".ams.ms.OnlineEventDistribution"
                && f["body"]["sequence"] == note_sequence)
                .then(|| f["body"]["messageAudience"].clone())
        })
        .await;
    assert_eq!(live, "AGENTS_AND_MANAGERS");
    let history = agent
        .request(
            ".ams.ms.QueryMessages",
            json!({"dialogId": conversation, "newerThanSequence": 0}),
        )
        .await;
    let seen: Vec<(Value, Value)> = history["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"]["message"].clone(), e["messageAudience"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                json!("angry customer, careful"),
                json!("AGENTS_AND_MANAGERS")
            ),
            (json!("how can I help?"), Value::Null),
        ]
    );

    // An audience the hub does not know is refused, not taken as everyone.
    let unknown = json!({"dialogId": conversation, "messageAudience": "MANAGERS_ONLY",
        "event": text("for whom?")});
    let unknown = agent.request(".ams.ms.PublishEvent", unknown).await;
    assert_eq!(unknown["code"], 400, "{unknown}");
}

/// A conversation's time to response (`TTRField`), as LivePerson's own
/// tests show it: its assigned agent sets it, and the consumer's side sees
/// it as the conversation's `ttr`. A CUSTOM type without its seconds, a
/// type the hub does not know, a TTRField beside other fields and a closed
/// conversation's are refused (the close itself is not).
#[tokio::test]
async fn the_assigned_agent_sets_a_conversations_time_to_response() {
    let hub = test_hub().await;
    let (mut agent, agent_id) = agent(&hub).await;
    online_agent(&mut agent, &agent_id).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let conversation = consumer.start_conversation().await;
    accept_the_ring(&mut agent).await;
    let ttr = |field: Value| json!({"conversationId": conversation, "conversationField": field});

    let custom = ttr(json!({"field": "TTRField", "ttrType": "CUSTOM", "value": 1800}));
    let set = agent
        .request(".ams.cm.UpdateConversationField", custom)
        .await;
    assert_eq!(set["code"], 200, "{set}");
    let seen =
        crate::support::conversation_change(&mut consumer, |details| details.get("ttr").cloned())
            .await;
    assert_eq!(seen, json!({"ttrType": "CUSTOM", "value": 1800}));

    let ttr_field = |ttr_type: &str| json!({"field": "TTRField", "ttrType": ttr_type});
    let close = json!({"field": "ConversationStateField", "conversationState": "CLOSE"});
    for (fields, code) in [
        (json!([ttr_field("CUSTOM")]), 400),
        (json!([ttr_field("SOONISH")]), 400),
        (json!([ttr_field("URGENT"), close.clone()]), 400),
        (json!([close]), 200),
        (json!([ttr_field("URGENT")]), 400),
    ] {
        let answer = agent
            .request(".ams.cm.UpdateConversationField", ttr(fields.clone()))
            .await;
        assert_eq!(answer["code"], code, "{fields} -> {answer}");
    }
}

/// A consumer's engagement attributes are shown to the agent assigned to
/// its open conversation, and to no agent before that.
#[tokio::test]
async fn only_the_assigned_agent_reads_a_consumers_engagement_attributes() {
    let mut config = hub_config();
    let other = HubUser {
        login: "other".into(),
        ..config.users[0].clone()
    };
    config.users.push(other);
    let hub = Hub::start(config, std::path::Path::new("unused"))
        .await
        .unwrap();
    let (mut agent, agent_id) = agent(&hub).await;
    online_agent(&mut agent, &agent_id).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let sdes = json!([{"type": "ctmrinfo", "info": {"customerId": "C-1"}}]);
    let set = consumer
        .wire
        .request(
            "userprofile.SetUserProfile",
            json!({"authenticatedData": {"lp_sdes": sdes}}),
        )
        .await;
    assert_eq!(set["code"], 200, "{set}");
    let read = |user: Option<&str>| {
        let body = user.map_or(json!({}), |user| json!({"userId": user}));
        (".ams.userprofile.GetUserProfile", body)
    };
    let (kind, body) = read(Some(&consumer.consumer_id));
    let early = agent.request(kind, body.clone()).await;
    assert_eq!(early["code"], 403, "not assigned yet: {early}");

    consumer.start_conversation().await;
    accept_the_ring(&mut agent).await;
    let profile = agent.request(kind, body.clone()).await;
    assert_eq!(profile["code"], 200, "{profile}");
    assert_eq!(profile["body"], sdes);
    let (kind, nobody) = read(None);
    assert_eq!(agent.request(kind, nobody).await["code"], 400);

    // Another agent of the account is not shown them.
    let mut other = AgentWire::connect(&agent_socket_url(&hub.url(), "other", "pw").await).await;
    let refused = other.request(kind, body.clone()).await;
    assert_eq!(refused["code"], 403, "{refused}");
    // Nor is the assigned agent, once the conversation closed.
    consumer.close().await;
    let closed = agent.request(kind, body).await;
    assert_eq!(closed["code"], 403, "{closed}");
}

#[tokio::test]
async fn an_agent_unsubscribed_from_conversations_gets_no_more_conversation_notifications() {
    let hub = test_hub().await;
    let (mut agent, agent_id) = agent(&hub).await;
    let subscription = online_agent(&mut agent, &agent_id).await;

    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    consumer.start_conversation().await;
    accept_the_ring(&mut agent).await;
    let seen = agent
        .wait_for(|f| {
            (f["type"] == ".ams.aam.ExConversationChangeNotification")
                .then(|| f["body"]["subscriptionId"].clone())
        })
        .await;
    assert_eq!(seen, subscription.as_str());

    let unsubscribed = agent
        .request(
            ".ams.aam.UnsubscribeExConversations",
            json!({"subscriptionId": subscription}),
        )
        .await;
    assert_eq!(unsubscribed["code"], 200, "{unsubscribed}");
    assert_eq!(
        unsubscribed["type"],
        ".ams.aam.UnsubscribeExConversations$Response"
    );
    agent.notifications.clear();

    // Closing the conversation would DELETE it from a live subscription;
    // the hub queues that before it answers the consumer, so it would
    // arrive before the answer to a request the agent sends afterwards.
    consumer.close().await;
    let clock = agent.request(".GetClock", json!({})).await;
    assert_eq!(clock["code"], 200);
    let changes: Vec<&Value> = agent
        .notifications
        .iter()
        .filter(|f| f["type"] == ".ams.aam.ExConversationChangeNotification")
        .collect();
    assert!(
        changes.is_empty(),
        "notified after unsubscribing: {changes:?}"
    );

    let again = agent
        .request(
            ".ams.aam.UnsubscribeExConversations",
            json!({"subscriptionId": subscription}),
        )
        .await;
    assert_eq!(again["code"], 404, "{again}");
}

#[tokio::test]
async fn a_consumer_unsubscribed_from_conversations_gets_no_more_conversation_notifications() {
    let hub = test_hub().await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let subscribed = consumer
        .wire
        .request(
            "cqm.SubscribeExConversations",
            json!({"convState": ["OPEN"]}),
        )
        .await;
    let subscription = subscribed["body"]["subscriptionId"].as_str().unwrap();
    let unsubscribed = consumer
        .wire
        .request(
            "cqm.UnsubscribeExConversations",
            json!({"subscriptionId": subscription}),
        )
        .await;
    assert_eq!(unsubscribed["code"], 200, "{unsubscribed}");
    consumer.wire.notifications.clear();

    // A new conversation is announced before the answer to its request.
    let requested = consumer
        .wire
        .request("cm.ConsumerRequestConversation", json!({"brandId": "123"}))
        .await;
    assert_eq!(requested["code"], 200, "{requested}");
    let changes: Vec<&Value> = consumer
        .wire
        .notifications
        .iter()
        .filter(|f| f["type"] == "cqm.ExConversationChangeNotification")
        .collect();
    assert!(
        changes.is_empty(),
        "notified after unsubscribing: {changes:?}"
    );
}

#[tokio::test]
async fn an_agent_subscribed_to_agent_state_hears_each_state_it_sets() {
    let hub = test_hub().await;
    let (mut agent, agent_id) = agent(&hub).await;
    // As the SDK sends it: brandId and its own agentId filled in.
    let subscribed = agent
        .request(
            ".ams.routing.SubscribeAgentsState",
            json!({"brandId": "123", "agentId": agent_id}),
        )
        .await;
    assert_eq!(subscribed["code"], 200, "{subscribed}");
    assert_eq!(
        subscribed["type"],
        ".ams.routing.SubscribeAgentsState$Response"
    );
    let subscription = subscribed["body"]["subscriptionId"].as_str().unwrap();

    for availability in ["ONLINE", "AWAY"] {
        let set = agent
            .request(
                ".ams.routing.SetAgentState",
                json!({"availability": availability, "channels": ["MESSAGING"], "agentUserId": agent_id}),
            )
            .await;
        assert_eq!(set["code"], 200, "{set}");
        let change = agent
            .wait_for(|f| {
                (f["type"] == ".ams.routing.AgentStateNotification").then(|| f["body"].clone())
            })
            .await;
        assert_eq!(change["subscriptionId"], subscription);
        assert_eq!(change["changes"][0]["type"], "UPSERT");
        let result = &change["changes"][0]["result"];
        assert_eq!(result["availability"], availability);
        assert_eq!(result["agentUserId"], agent_id);
        assert_eq!(result["channels"], json!(["MESSAGING"]));
    }

    let unknown = agent
        .request(
            ".ams.routing.SubscribeAgentsState",
            json!({"brandId": "123", "agentId": "123.nobody"}),
        )
        .await;
    assert_eq!(unknown["code"], 404, "{unknown}");
    let bad = agent
        .request(
            ".ams.routing.SetAgentState",
            json!({"availability": "SLEEPING"}),
        )
        .await;
    assert_eq!(bad["code"], 400, "{bad}");
}

#[tokio::test]
async fn an_agent_subscribing_to_messaging_events_gets_the_dialog_s_events_from_its_sequence() {
    let hub = test_hub().await;
    let (mut agent, _) = agent(&hub).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let conversation = consumer.start_conversation().await;
    consumer.say("first").await;
    let second = consumer.say("second").await;

    for kind in [
        ".ams.ms.SubscribeMessagingEvents",
        "ms.SubscribeMessagingEvents",
    ] {
        let subscribed = agent
            .request(kind, json!({"dialogId": conversation, "fromSeq": second}))
            .await;
        assert_eq!(subscribed["code"], 200, "{kind}: {subscribed}");
        assert_eq!(subscribed["type"], "GenericSubscribeResponse");
        let events = agent
            .wait_for(|f| (f["type"] == "ms.MessagingEventNotification").then(|| f["body"].clone()))
            .await;
        assert_eq!(events["dialogId"], conversation);
        let changes = events["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 1, "only events from fromSeq on: {events}");
        assert_eq!(changes[0]["sequence"], second);
        assert_eq!(changes[0]["event"]["message"], "second");
        assert_eq!(changes[0]["originatorMetadata"]["role"], "CONSUMER");
    }

    let unknown = agent
        .request(
            ".ams.ms.SubscribeMessagingEvents",
            json!({"dialogId": "no-such-dialog"}),
        )
        .await;
    assert_eq!(unknown["code"], 404, "{unknown}");
}

#[tokio::test]
async fn an_agent_opens_an_outbound_conversation_assigned_to_itself() {
    let hub = test_hub().await;
    let (mut agent, agent_id) = agent(&hub).await;
    let subscription = online_agent(&mut agent, &agent_id).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;

    // As the SDK's README shows it.
    let opened = agent
        .request(
            ".ams.cm.AgentRequestConversation",
            json!({"channelType": "MESSAGING", "consumerId": consumer.consumer_id,
                   "conversationContext": {"type": "ProactiveContext"}}),
        )
        .await;
    assert_eq!(opened["code"], 200, "{opened}");
    assert_eq!(opened["type"], ".ams.cm.AgentRequestConversation$Response");
    let conversation = opened["body"]["conversationId"]
        .as_str()
        .unwrap()
        .to_owned();

    // The agent side sees it assigned to the agent, with no ring.
    let details = agent
        .wait_for(|f| {
            let change = &f["body"]["changes"][0];
            (f["type"] == ".ams.aam.ExConversationChangeNotification"
                && change["result"]["convId"] == conversation.as_str())
            .then(|| (f["body"]["subscriptionId"].clone(), change.clone()))
        })
        .await;
    assert_eq!(details.0, subscription.as_str());
    assert_eq!(details.1["type"], "UPSERT");
    let details = &details.1["result"]["conversationDetails"];
    assert_eq!(details["state"], "OPEN");
    assert_eq!(details["skillId"], "1", "the account's default skill");
    assert_eq!(details["participants"]["CONSUMER"][0], consumer.consumer_id);
    assert_eq!(details["participants"]["ASSIGNED_AGENT"][0], agent_id);
    assert!(
        !agent
            .notifications
            .iter()
            .any(|f| f["type"] == ".ams.routing.RoutingTaskNotification"),
        "an outbound conversation is not rung"
    );

    // The consumer sees it with the agent in it, and hears the agent.
    let roles = crate::support::conversation_change(&mut consumer, |d| {
        d["participants"].as_array().map(|p| {
            p.iter()
                .map(|p| p["role"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
    })
    .await;
    assert_eq!(roles, ["CONSUMER", "ASSIGNED_AGENT"]);
    let subscribed = consumer
        .wire
        .request(
            "ms.SubscribeMessagingEvents",
            json!({"dialogId": conversation, "fromSeq": 0}),
        )
        .await;
    assert_eq!(subscribed["code"], 200);
    let published = agent
        .request(
            ".ams.ms.PublishEvent",
            json!({"dialogId": conversation, "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "we have news for you"}}),
        )
        .await;
    assert_eq!(published["code"], 200, "{published}");
    assert_eq!(consumer.next_agent_text().await, "we have news for you");

    // One open conversation per consumer; only consumers the hub knows.
    let again = agent
        .request(
            ".ams.cm.AgentRequestConversation",
            json!({"channelType": "MESSAGING", "consumerId": consumer.consumer_id}),
        )
        .await;
    assert_eq!(again["code"], 400, "{again}");
    let stranger = agent
        .request(
            ".ams.cm.AgentRequestConversation",
            json!({"channelType": "MESSAGING", "consumerId": "nobody-we-know"}),
        )
        .await;
    assert_eq!(stranger["code"], 404, "{stranger}");
}

#[tokio::test]
async fn a_consumer_frame_that_is_not_a_request_gets_an_error_response() {
    let hub = test_hub().await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    for frame in [
        json!({"kind": "notification", "type": "ms.MessagingEventNotification", "body": {"changes": []}}),
        json!({"kind": "resp", "reqId": "9", "code": 200, "type": "GenericResponse", "body": {}}),
    ] {
        consumer.wire.send_text(frame.to_string()).await;
        let answer = consumer.wire.next_response().await;
        assert_eq!(answer["code"], 400, "{frame} → {answer}");
        assert!(
            answer["body"]["msg"].as_str().unwrap().contains("requests"),
            "{answer}"
        );
    }
    let clock = consumer.wire.request("GetClock", json!({})).await;
    assert_eq!(clock["code"], 200, "the socket stays up");
}

// Consumer authentication (README "Consumer tokens and step-up"): brand JWTs
// are checked for exp, nbf, issuer and audience; the hub's own consumer
// JWTs expire and are kept in a bounded store.

const BRAND_SECRET: &[u8] = b"brand-secret";

/// A hub of [`hub_config`] whose brand JWTs are signed with [`BRAND_SECRET`],
/// with `auth`'s other settings.
async fn hub_with(auth: ConsumerAuth) -> HubHandle {
    let config = HubConfig {
        consumer_auth: ConsumerAuth {
            hs256_secret: Some(String::from_utf8(BRAND_SECRET.to_vec()).unwrap()),
            ..auth
        },
        ..hub_config()
    };
    Hub::start(config, std::path::Path::new("unused"))
        .await
        .unwrap()
}

/// A brand JWT with `claims`, signed with [`BRAND_SECRET`].
fn brand_jwt(claims: Value) -> String {
    crate::support::signed_jwt(BRAND_SECRET, &claims)
}

/// Seconds since the epoch, as JWTs count time.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Exchanges a brand JWT at `/authenticate`: the consumer JWT, or the
/// refusal's status and message.
async fn authenticate(hub: &HubHandle, brand_jwt: &str) -> Result<String, (u16, String)> {
    let answer = switchboard::http::post_json(
        &format!("{}/api/account/123/authenticate", hub.url()),
        &json!({"authCode": brand_jwt}),
    )
    .await;
    match answer {
        Ok(answer) => Ok(answer["jwt"].as_str().unwrap().to_owned()),
        Err(switchboard::http::ClientError::Status { status, body, .. }) => Err((status, body)),
        Err(other) => panic!("authenticate: {other}"),
    }
}

/// Asserts that `brand_jwt` is refused as a bad signature is (401), for
/// a reason that mentions `why`.
async fn assert_refused(hub: &HubHandle, brand_jwt: &str, why: &str) {
    let (status, message) = authenticate(hub, brand_jwt)
        .await
        .expect_err("the brand JWT is refused");
    assert_eq!(status, 401, "{message}");
    assert!(
        message.contains("the brand JWT is not valid") && message.contains(why),
        "{message}"
    );
}

/// A consumer JWT from `/signup`.
async fn signup(hub: &HubHandle) -> String {
    let signup =
        switchboard::http::post_json(&format!("{}/api/account/123/signup", hub.url()), &json!({}))
            .await
            .unwrap();
    signup["jwt"].as_str().unwrap().to_owned()
}

/// The claims of a JWT, unverified.
fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let claims = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Opens a consumer socket and sends `InitConnection` with `jwt`: the
/// response, and the close code if the hub then closes the socket.
async fn init_connection(hub: &HubHandle, jwt: &str) -> (Value, Option<u16>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let url = format!(
        "ws://{}/ws_api/account/123/messaging/consumer?v=3",
        hub.addr()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let init = json!({"kind": "req", "id": "0", "type": "InitConnection", "body": {},
        "headers": [{"type": ".ams.headers.ConsumerAuthentication", "jwt": jwt}]});
    socket.send(Message::text(init.to_string())).await.unwrap();
    let mut response = Value::Null;
    loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the hub answers in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["reqId"] == "0" {
                    response = frame;
                    if response["code"] == 200 {
                        return (response, None);
                    }
                }
            }
            Some(Ok(Message::Close(close))) => return (response, close.map(|c| c.code.into())),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_brand_jwt_expired_beyond_the_leeway_is_refused_with_401() {
    let hub = hub_with(ConsumerAuth::default()).await;
    let expired = brand_jwt(json!({"sub": "customer-1", "exp": unix_now() - 120}));
    assert_refused(&hub, &expired, "expired").await;
}

#[tokio::test]
async fn a_brand_jwt_not_yet_valid_beyond_the_leeway_is_refused_with_401() {
    let hub = hub_with(ConsumerAuth::default()).await;
    let early =
        brand_jwt(json!({"sub": "customer-1", "exp": unix_now() + 600, "nbf": unix_now() + 120}));
    assert_refused(&hub, &early, "not valid yet").await;
}

#[tokio::test]
async fn a_brand_jwt_without_exp_is_refused_with_401() {
    let hub = hub_with(ConsumerAuth::default()).await;
    let endless = brand_jwt(json!({"sub": "customer-1"}));
    assert_refused(&hub, &endless, "no exp").await;
}

#[tokio::test]
async fn a_brand_jwt_within_the_leeway_steps_the_consumer_up() {
    let hub = hub_with(ConsumerAuth::default()).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    consumer.start_conversation().await;

    // Just expired and not quite valid yet, both within the 60 s leeway.
    let skewed =
        brand_jwt(json!({"sub": "customer-1", "exp": unix_now() - 30, "nbf": unix_now() + 30}));
    let jwt = authenticate(&hub, &skewed).await.unwrap();
    let init = consumer
        .wire
        .request_with_headers(
            "InitConnection",
            json!({}),
            json!([{"type": ".ams.headers.ConsumerAuthentication", "jwt": jwt}]),
        )
        .await;
    assert_eq!(init["code"], 200, "{init}");
    let authenticated = jwt_subject(&jwt);
    conversation_change(&mut consumer, |details| {
        let participants = details["participants"].as_array()?;
        participants
            .iter()
            .any(|p| p["role"] == "CONSUMER" && p["id"] == authenticated.as_str())
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_brand_jwt_of_another_issuer_or_audience_is_refused_when_they_are_configured() {
    let hub = hub_with(ConsumerAuth {
        issuer: Some("https://brand.example".into()),
        audience: Some("switchboard-hub".into()),
        ..ConsumerAuth::default()
    })
    .await;
    let exp = unix_now() + 600;
    let claims = |iss: &str, aud: &str| json!({"sub": "c", "exp": exp, "iss": iss, "aud": aud});
    assert_refused(
        &hub,
        &brand_jwt(claims("https://other.example", "switchboard-hub")),
        "issuer",
    )
    .await;
    assert_refused(
        &hub,
        &brand_jwt(claims("https://brand.example", "another-service")),
        "audience",
    )
    .await;
    assert_refused(
        &hub,
        &brand_jwt(json!({"sub": "c", "exp": exp, "aud": "switchboard-hub"})),
        "no iss",
    )
    .await;
    let right = brand_jwt(claims("https://brand.example", "switchboard-hub"));
    assert!(authenticate(&hub, &right).await.is_ok());
}

#[tokio::test]
async fn consumer_jwts_carry_an_exp_one_lifetime_after_they_are_issued() {
    let hub = hub_with(ConsumerAuth::default()).await;
    let anonymous = claims(&signup(&hub).await);
    let lifetime = ConsumerAuth::DEFAULT_TOKEN_LIFETIME.as_secs();
    assert_eq!(
        anonymous["exp"].as_u64(),
        anonymous["iat"].as_u64().map(|iat| iat + lifetime)
    );
    let brand = brand_jwt(json!({"sub": "customer-1", "exp": unix_now() + 600}));
    let authenticated = claims(&authenticate(&hub, &brand).await.unwrap());
    assert_eq!(
        authenticated["exp"].as_u64(),
        authenticated["iat"].as_u64().map(|iat| iat + lifetime)
    );
}

#[tokio::test]
async fn a_consumer_jwt_past_its_lifetime_is_refused_at_init_connection_with_4401() {
    // Tokens that live no time at all are past their lifetime as soon as
    // they are issued: no waiting.
    let hub = hub_with(ConsumerAuth {
        token_lifetime: Duration::ZERO,
        ..ConsumerAuth::default()
    })
    .await;
    let jwt = signup(&hub).await;
    let (response, close) = init_connection(&hub, &jwt).await;
    assert_eq!(response["code"], 401, "{response}");
    assert_eq!(close, Some(4401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_signups_keeps_the_token_store_bounded_and_a_chatting_consumer_answered() {
    const BOUND: usize = 100;
    const FLOOD: usize = 3_000;
    // The flood stands for many clients: the per-client signup limit
    // (which would stop one client after 60) is lifted.
    let config = HubConfig {
        consumer_auth: ConsumerAuth {
            max_tokens: BOUND,
            ..ConsumerAuth::default()
        },
        clients: ClientLimits {
            signups_per_minute: ClientLimits::MAX,
            ..ClientLimits::default()
        },
        ..hub_config()
    };
    let hub = Hub::start(config, std::path::Path::new("unused"))
        .await
        .unwrap();
    let (mut agent, agent_id) = agent(&hub).await;
    online_agent(&mut agent, &agent_id).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let conversation = consumer.start_conversation().await;
    accept_the_ring(&mut agent).await;

    // Signups again and again, four requests at a time.
    let flooders: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{}/api/account/123/signup", hub.url());
            tokio::spawn(async move {
                let mut tokens = Vec::new();
                for _ in 0..FLOOD / 4 {
                    let signup = switchboard::http::post_json(&url, &json!({})).await;
                    tokens.push(signup.expect("every signup is answered")["jwt"].clone());
                }
                tokens
            })
        })
        .collect();
    let mut first_tokens = Vec::new();
    for flooder in flooders {
        let tokens = flooder.await.unwrap();
        first_tokens.push(tokens[0].as_str().unwrap().to_owned());
    }
    assert_eq!(hub.hub.consumer_tokens(), BOUND);

    // The oldest tokens were forgotten; a new consumer is still let in.
    let (response, close) = init_connection(&hub, &first_tokens[0]).await;
    assert_eq!((response["code"].as_u64(), close), (Some(401), Some(4401)));
    let mut newcomer = Consumer::connect(&hub.url(), "123").await;
    newcomer.start_conversation().await;
    assert!(hub.hub.consumer_tokens() <= BOUND);

    // The consumer that was chatting all along is still heard and answered.
    let sequence = consumer.say("still there?").await;
    let heard = agent
        .wait_for(|f| {
            (f["type"] == ".ams.ms.OnlineEventDistribution" && f["body"]["sequence"] == sequence)
                .then(|| f["body"]["event"]["message"].clone())
        })
        .await;
    assert_eq!(heard, "still there?");
    let published = agent
        .request(
            ".ams.ms.PublishEvent",
            json!({"dialogId": conversation, "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "yes"}}),
        )
        .await;
    assert_eq!(published["code"], 200);
    assert_eq!(consumer.next_agent_text().await, "yes");
}

#[test]
fn consumer_auth_and_client_limits_are_read_from_the_hub_table() {
    let config = crate::support::ConfigDir::with_hub(
        "[hub.consumer_auth]\nhs256_secret = \"s\"\nissuer = \"https://brand.example\"\n\
         audience = \"switchboard-hub\"\ntoken_lifetime_ms = 600000\nmax_tokens = 500\n\n\
         [hub.clients]\nsignups_per_minute = 7\nopen_conversations = 8\nopen_sockets = 9\n\n",
    );
    let loaded = switchboard::config::load(config.path()).unwrap();
    let hub = loaded.config.gateway.hub.unwrap();
    assert_eq!(
        hub.clients,
        ClientLimits {
            signups_per_minute: 7,
            open_conversations: 8,
            open_sockets: 9
        }
    );
    let auth = hub.consumer_auth;
    assert_eq!(auth.issuer.as_deref(), Some("https://brand.example"));
    assert_eq!(auth.audience.as_deref(), Some("switchboard-hub"));
    assert_eq!(auth.token_lifetime, Duration::from_secs(600));
    assert_eq!(auth.max_tokens, 500);

    let defaults = crate::support::ConfigDir::new(&[]);
    let loaded = switchboard::config::load(defaults.path()).unwrap();
    let hub = loaded.config.gateway.hub.unwrap();
    assert_eq!(hub.consumer_auth, ConsumerAuth::default());
    assert_eq!(hub.clients, ClientLimits::default());
}

#[test]
fn an_empty_issuer_and_consumer_token_and_client_limits_out_of_range_are_located() {
    use switchboard::config::{FileKind, check_source};
    let source = "[hub]\n[hub.consumer_auth]\nissuer = \"\"\naudience = \"hub\"\n\
                  token_lifetime_ms = 10\nmax_tokens = 0\n\
                  [hub.clients]\nsignups_per_minute = 0\nopen_sockets = 1000001\n";
    let found: Vec<String> = check_source(FileKind::Gateway, source)
        .iter()
        .map(ToString::to_string)
        .collect();
    for expected in [
        "switchboard.toml:3:10: error: [hub.consumer_auth] `issuer` must not be empty",
        "switchboard.toml:5:21: error: [hub.consumer_auth] `token_lifetime_ms` must be 1000 to 86400000",
        "switchboard.toml:6:14: error: [hub.consumer_auth] `max_tokens` must be 1 to 10000000",
        "switchboard.toml:8:22: error: [hub.clients] `signups_per_minute` must be 1 to 1000000",
        "switchboard.toml:9:16: error: [hub.clients] `open_sockets` must be 1 to 1000000",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "{expected} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 5, "{found:#?}");
}

/// QueryMessages answers a page of at most 100 events (LivePerson's
/// `maxQuantity`, 100 by default and at most), from `newerThanSequence` on
/// (that one included, as LivePerson's agent SDK uses it).
#[tokio::test]
async fn history_is_served_in_pages_of_at_most_a_hundred() {
    let hub = test_hub().await;
    let (mut agent, _) = agent(&hub).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let conversation = consumer.start_conversation().await;
    for n in 0..120 {
        consumer.say(&format!("m{n}")).await;
    }
    let page = |newer_than: u64, max: Option<u64>| {
        let mut body = json!({"dialogId": conversation, "newerThanSequence": newer_than});
        if let Some(max) = max {
            body["maxQuantity"] = json!(max);
        }
        body
    };
    let first = agent.request(".ams.ms.QueryMessages", page(0, None)).await;
    let first = first["body"].as_array().unwrap().clone();
    assert_eq!(first.len(), 100, "100 by default");
    let last = first.last().unwrap()["sequence"].as_u64().unwrap();
    let rest = agent
        .request(".ams.ms.QueryMessages", page(last, Some(1000)))
        .await;
    let rest = rest["body"].as_array().unwrap().clone();
    assert_eq!(rest.len(), 21, "100 at most, from the last one on");
    assert_eq!(rest[0]["sequence"], last);
    assert_eq!(rest.last().unwrap()["event"]["message"], "m119");
    let small = agent
        .request(".ams.ms.QueryMessages", page(0, Some(7)))
        .await;
    assert_eq!(small["body"].as_array().unwrap().len(), 7);
}
