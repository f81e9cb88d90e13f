//! The embedded hub as a peer, over real sockets: a test agent written from
//! PROTOCOL.md and a consumer written from CONSUMER.md.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::{ConsumerAuth, HubConfig, HubSkill, HubUser, LoginCredentials, UserKind};
use switchboard::hub::{Hub, HubHandle};

use crate::support::{Consumer, WireClient};

fn hub_config() -> HubConfig {
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
        }],
        ring_expiration: Duration::from_secs(30),
        engagements: Vec::new(),
        consumer_auth: ConsumerAuth::default(),
        agent_grace: Duration::from_secs(10),
        tls: None,
    }
}

/// A test agent: logs in over HTTP and opens the agent WebSocket.
async fn agent(hub: &HubHandle) -> (WireClient, String) {
    let base = hub.url();
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
        &json!({"username": "tester", "password": "pw"}),
    )
    .await
    .unwrap();
    let bearer = login["bearer"].as_str().unwrap();
    assert!(login["config"]["userId"].is_string() && login["config"]["userPid"].is_string());
    let ws = format!(
        "ws://{}/ws_api/account/123/messaging/brand/{bearer}?v=2.1",
        hub.addr()
    );
    (WireClient::connect(&ws).await, "123.tester".into())
}

#[tokio::test]
async fn wrong_password_is_refused_with_401() {
    let hub = Hub::start(hub_config(), std::path::Path::new("unused"))
        .await
        .unwrap();
    let error = switchboard::http::post_json(
        &format!("{}/api/account/123/login?v=1.3", hub.url()),
        &json!({"username": "tester", "password": "nope"}),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
}

#[tokio::test]
async fn malformed_frames_get_an_error_response_and_the_connection_stays_up() {
    let hub = Hub::start(hub_config(), std::path::Path::new("unused"))
        .await
        .unwrap();
    let (mut agent, _) = agent(&hub).await;
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    for client in [&mut agent, &mut consumer.wire] {
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
}

#[tokio::test]
async fn a_conversation_is_routed_rung_accepted_relayed_transferred_and_closed() {
    let hub = Hub::start(hub_config(), std::path::Path::new("unused"))
        .await
        .unwrap();
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
    let hub = Hub::start(hub_config(), std::path::Path::new("unused"))
        .await
        .unwrap();
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
