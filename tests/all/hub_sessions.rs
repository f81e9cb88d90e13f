//! The hub's login sessions and domains as LivePerson documents them, over
//! real HTTP and WebSocket on loopback: the domain lookup, login (cookie,
//! CSRF, the login rate), refresh, logout, expiry, the account
//! configuration API, and what an OPEN-only conversation subscription is told.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::{AgentSessions, HubConfig, HubUser, LoginCredentials, UserKind};
use switchboard::hub::{Hub, HubHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::hub::{accept_the_ring, hub_config, online_agent};
use crate::support::{AgentWire, Consumer, LoopbackClient, PATIENCE};

/// An HTTP answer: status, headers (names lower-case) and JSON body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request to the hub and reads the whole answer.
async fn call(
    hub: &HubHandle,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let mut stream = tokio::net::TcpStream::connect(hub.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    timeout(PATIENCE, stream.read_to_string(&mut answer))
        .await
        .expect("answered in time")
        .expect("an HTTP answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).expect("a JSON body")
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A logged-in session as a client holds it.
struct LoggedIn {
    bearer: String,
    csrf: String,
    /// `Session_id=...`, as a `Cookie` header sends it back.
    cookie: String,
}

async fn login(hub: &HubHandle, body: Value) -> Answer {
    call(hub, "POST", "/api/account/123/login?v=1.3", &[], Some(body)).await
}

async fn login_tester(hub: &HubHandle) -> LoggedIn {
    let answer = login(hub, json!({"username": "tester", "password": "pw"})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let set_cookie = answer.header("set-cookie").expect("a Set-Cookie header");
    LoggedIn {
        bearer: answer.body["bearer"].as_str().unwrap().to_owned(),
        csrf: answer.body["csrf"].as_str().unwrap().to_owned(),
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
    }
}

async fn refresh(hub: &HubHandle, cookie: &str, csrf: &str) -> Answer {
    let headers = [("Cookie", cookie)];
    let body = json!({ "csrf": csrf });
    call(
        hub,
        "POST",
        "/api/account/123/refresh?v=1.3",
        &headers,
        Some(body),
    )
    .await
}

/// GETs an account configuration path (after `.../configuration/`) with
/// the session's bearer.
async fn configuration(hub: &HubHandle, bearer: &str, path: &str) -> Answer {
    let auth = format!("Bearer {bearer}");
    let path = format!("/api/account/123/configuration/{path}");
    call(hub, "GET", &path, &[("Authorization", &auth)], None).await
}

fn socket_url(hub: &HubHandle, bearer: &str) -> String {
    format!(
        "ws://{}/ws_api/account/123/messaging/brand/{bearer}?v=2.1",
        hub.addr()
    )
}

/// The status of an agent socket open with `bearer` that the hub refuses.
async fn refused_socket(hub: &HubHandle, bearer: &str) -> u16 {
    let client = LoopbackClient {
        source: [127, 0, 0, 1].into(),
    };
    match client.websocket(&socket_url(hub, bearer)).await {
        Ok(_) => panic!("the hub opened the agent socket"),
        Err((status, _)) => status,
    }
}

async fn hub_of(config: HubConfig) -> HubHandle {
    Hub::start(config, std::path::Path::new("unused"))
        .await
        .unwrap()
}

/// [`hub_config`] with `sessions` and `users` added to its tester.
fn config_with(sessions: AgentSessions, users: Vec<HubUser>) -> HubConfig {
    let mut config = hub_config();
    config.sessions = sessions;
    config.users.extend(users);
    config
}

fn user(login: &str, credentials: LoginCredentials) -> HubUser {
    HubUser {
        login: login.into(),
        kind: UserKind::Bot,
        enabled: true,
        credentials,
        skills: vec!["1".into()],
        max_conversations: 10,
        created_by: None,
        can_read_account_config: true,
    }
}

/// A LivePerson-shaped 401: the stable JSON error of the hub.
fn assert_unauthorized(answer: &Answer) {
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], 401, "{}", answer.body);
    assert!(
        answer.body["error"]["message"].is_string(),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_domain_lookup_names_liveperson_s_services_and_answers_each_alone() {
    let hub = hub_of(hub_config()).await;
    let all = call(
        &hub,
        "GET",
        "/api/account/123/service/baseURI.json?version=1.0",
        &[],
        None,
    )
    .await;
    assert_eq!(all.status, 200);
    let base = hub.addr().to_string();
    for service in [
        "agentVep",
        "asyncMessagingEnt",
        "facadeMsg",
        "accountConfigReadOnly",
        "accountConfigReadWrite",
        "idp",
    ] {
        let listed = json!({"service": service, "account": "123", "baseURI": base});
        let list = all.body["baseURIs"].as_array().unwrap();
        assert!(list.contains(&listed), "{service} in {}", all.body);
        let path = format!("/api/account/123/service/{service}/baseURI.json?version=1.0");
        let one = call(&hub, "GET", &path, &[], None).await;
        assert_eq!((one.status, &one.body), (200, &listed));
    }
    let path = "/api/account/123/service/noSuchService/baseURI.json?version=1.0";
    assert_eq!(call(&hub, "GET", path, &[], None).await.status, 404);
}

#[tokio::test]
async fn login_needs_v_and_sets_the_session_cookie_and_a_csrf_token() {
    let hub = hub_of(hub_config()).await;
    let body = json!({"username": "tester", "password": "pw"});
    let without_v = call(
        &hub,
        "POST",
        "/api/account/123/login",
        &[],
        Some(body.clone()),
    )
    .await;
    assert_eq!(without_v.status, 400);
    let message = without_v.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`v`"), "{message}");

    let answer = login(&hub, body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cookie = answer.header("set-cookie").unwrap();
    let (id, attributes) = cookie.split_once(';').unwrap();
    assert!(id.starts_with("Session_id=") && id.len() > "Session_id=".len());
    assert_eq!(attributes.trim(), "Path=/; HttpOnly");
    assert!(!answer.body["csrf"].as_str().unwrap().is_empty());
    assert!(!answer.body["bearer"].as_str().unwrap().is_empty());
    let config = &answer.body["config"];
    assert_eq!(config["userId"], "tester");
    assert_eq!(config["loginName"], "tester");
    assert!(config["userPid"].is_string());
}

#[tokio::test]
async fn refresh_with_the_session_cookie_and_its_csrf_is_200_and_otherwise_401() {
    let hub = hub_of(hub_config()).await;
    let session = login_tester(&hub).await;
    let refreshed = refresh(&hub, &session.cookie, &session.csrf).await;
    assert_eq!((refreshed.status, refreshed.body), (200, json!({})));
    assert_unauthorized(&refresh(&hub, &session.cookie, "not-the-csrf").await);
    assert_unauthorized(&refresh(&hub, "Session_id=unknown", &session.csrf).await);
    let no_cookie = call(
        &hub,
        "POST",
        "/api/account/123/refresh",
        &[],
        Some(json!({"csrf": session.csrf})),
    )
    .await;
    assert_unauthorized(&no_cookie);
}

#[tokio::test]
async fn an_expired_session_is_refused_everywhere_and_its_open_socket_is_closed_4401() {
    let sessions = AgentSessions {
        lifetime: Duration::from_secs(1),
        ..AgentSessions::default()
    };
    let hub = hub_of(config_with(sessions, Vec::new())).await;
    let session = login_tester(&hub).await;
    let mut socket = AgentWire::connect(&socket_url(&hub, &session.bearer)).await;
    // No refresh: the hub closes the socket when the lifetime is up.
    assert_eq!(socket.close_code().await, Some(4401));

    assert_eq!(refused_socket(&hub, &session.bearer).await, 401);
    assert_unauthorized(&configuration(&hub, &session.bearer, "le-users/users?v=4.0").await);
    let webhook = call(
        &hub,
        "POST",
        &format!(
            "/api/account/123/messaging/agent/{}/webhook-session",
            session.bearer
        ),
        &[],
        Some(json!({"url": "http://127.0.0.1:9/unused"})),
    )
    .await;
    assert_unauthorized(&webhook);
    assert_unauthorized(&refresh(&hub, &session.cookie, &session.csrf).await);
}

#[tokio::test]
async fn each_refresh_extends_the_session_by_its_lifetime() {
    const LIFETIME: Duration = Duration::from_secs(3);
    let sessions = AgentSessions {
        lifetime: LIFETIME,
        ..AgentSessions::default()
    };
    let hub = hub_of(config_with(sessions, Vec::new())).await;
    let session = login_tester(&hub).await;
    // Refreshed every half second (a lifetime leaves 2.5 s of slack), the
    // session outlives its first lifetime by far.
    let started = tokio::time::Instant::now();
    while started.elapsed() < 2 * LIFETIME {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let refreshed = refresh(&hub, &session.cookie, &session.csrf).await;
        assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    }
    let users = configuration(&hub, &session.bearer, "le-users/users?v=4.0").await;
    assert_eq!(users.status, 200, "{}", users.body);
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let hub = hub_of(hub_config()).await;
    let session = login_tester(&hub).await;
    let mut socket = AgentWire::connect(&socket_url(&hub, &session.bearer)).await;
    let auth = format!("Bearer {}", session.bearer);
    let logout = call(
        &hub,
        "POST",
        "/api/account/123/logout?v=1.3",
        &[("Authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(logout.status, 200, "{}", logout.body);
    assert_eq!(socket.close_code().await, Some(4401));
    assert_eq!(refused_socket(&hub, &session.bearer).await, 401);
    assert_unauthorized(&configuration(&hub, &session.bearer, "le-users/skills?v=2.0").await);
    assert_unauthorized(&refresh(&hub, &session.cookie, &session.csrf).await);

    // The Session_id cookie alone names the session too.
    let session = login_tester(&hub).await;
    let headers = [("Cookie", session.cookie.as_str())];
    let logout = call(&hub, "POST", "/api/account/123/logout", &headers, None).await;
    assert_eq!(logout.status, 200, "{}", logout.body);
    assert_eq!(refused_socket(&hub, &session.bearer).await, 401);
    let again = call(&hub, "POST", "/api/account/123/logout", &headers, None).await;
    assert_unauthorized(&again);
}

/// One active session per agent user: logging in again ends the old
/// session, whose sockets close with 4407 (LivePerson's "log in again").
#[tokio::test]
async fn a_second_login_of_a_user_ends_its_first_session_and_closes_its_sockets_4407() {
    let hub = hub_of(hub_config()).await;
    let first = login_tester(&hub).await;
    let mut socket = AgentWire::connect(&socket_url(&hub, &first.bearer)).await;
    // Answered: the hub knows the socket before the second login.
    let clock = socket.request(".GetClock", json!({})).await;
    assert_eq!(clock["code"], 200, "{clock}");
    let second = login_tester(&hub).await;
    assert_eq!(socket.close_code().await, Some(4407));
    assert_eq!(refused_socket(&hub, &first.bearer).await, 401);
    assert_unauthorized(&refresh(&hub, &first.cookie, &first.csrf).await);
    let users = configuration(&hub, &second.bearer, "le-users/users?v=4.0").await;
    assert_eq!(users.status, 200, "{}", users.body);
}

#[tokio::test]
async fn a_burst_of_logins_of_one_user_is_answered_429_retry_after_5() {
    let sessions = AgentSessions {
        login_limit: 3,
        login_window: Duration::from_secs(60),
        ..AgentSessions::default()
    };
    let other = user("other", LoginCredentials::Password("pw2".into()));
    let hub = hub_of(config_with(sessions, vec![other])).await;
    for _ in 0..3 {
        login_tester(&hub).await;
    }
    let refused = login(&hub, json!({"username": "tester", "password": "pw"})).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("5"));
    // The limit is per user.
    let other = login(&hub, json!({"username": "other", "password": "pw2"})).await;
    assert_eq!(other.status, 200, "{}", other.body);
}

#[tokio::test]
async fn the_users_api_needs_a_bearer_and_v_and_answers_numeric_skill_ids() {
    let hub = hub_of(hub_config()).await;
    let unauthenticated = call(
        &hub,
        "GET",
        "/api/account/123/configuration/le-users/users?v=4.0",
        &[],
        None,
    )
    .await;
    assert_unauthorized(&unauthenticated);
    let session = login_tester(&hub).await;
    let without_v = configuration(&hub, &session.bearer, "le-users/users").await;
    assert_eq!(without_v.status, 400);
    let message = without_v.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`v`"), "{message}");

    let users = configuration(&hub, &session.bearer, "le-users/users?v=4.0").await;
    assert_eq!(users.status, 200, "{}", users.body);
    let tester = &users.body[0];
    // The hub's user ids are login names (its agent ids are `123.tester`).
    assert_eq!(tester["id"], "tester");
    assert_eq!(tester["loginName"], "tester");
    assert_eq!(tester["skillIds"], json!([1]));
    assert_eq!(tester["userTypeId"], 2);
    assert_eq!(tester["isEnabled"], true);

    let skills = configuration(&hub, &session.bearer, "le-users/skills?v=2.0").await;
    assert_eq!(skills.status, 200, "{}", skills.body);
    let ids: Vec<&Value> = skills
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert_eq!(ids, [&json!(1), &json!(2)]);
}

#[tokio::test]
async fn the_campaign_and_its_engagements_are_served_with_numeric_ids() {
    let mut config = hub_config();
    config.engagements = vec![switchboard::config::HubEngagement {
        id: "web".into(),
        skill: "2".into(),
    }];
    let hub = hub_of(config).await;
    let session = login_tester(&hub).await;
    let campaigns = configuration(&hub, &session.bearer, "le-campaigns/campaigns?v=3.4").await;
    assert_eq!(campaigns.status, 200, "{}", campaigns.body);
    let campaign = &campaigns.body[0];
    assert_eq!(campaigns.body.as_array().unwrap().len(), 1);
    assert_eq!(campaign["engagementIds"], json!([1, 2]));
    let path = format!(
        "le-campaigns/campaigns/{}/engagements?v=3.4",
        campaign["id"]
    );
    let engagements = configuration(&hub, &session.bearer, &path).await;
    assert_eq!(engagements.status, 200, "{}", engagements.body);
    let listed: Vec<(&Value, &Value, &Value)> = engagements
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["id"], &e["name"], &e["skillId"]))
        .collect();
    assert_eq!(
        listed,
        [
            (&json!(1), &json!("web"), &json!(2)),
            (&json!(2), &json!("default"), &json!(1))
        ]
    );
    let unknown = "le-campaigns/campaigns/99/engagements?v=3.4";
    assert_eq!(
        configuration(&hub, &session.bearer, unknown).await.status,
        404
    );
    let without_v = configuration(&hub, &session.bearer, "le-campaigns/campaigns").await;
    assert_eq!(without_v.status, 400);
}

#[tokio::test]
async fn a_user_without_permission_to_read_the_account_configuration_gets_403() {
    let mut blind = user("blind", LoginCredentials::Password("pw".into()));
    blind.can_read_account_config = false;
    let hub = hub_of(config_with(AgentSessions::default(), vec![blind])).await;
    let answer = login(&hub, json!({"username": "blind", "password": "pw"})).await;
    let bearer = answer.body["bearer"].as_str().unwrap();
    for path in [
        "le-users/users?v=4.0",
        "le-users/skills?v=2.0",
        "le-campaigns/campaigns?v=3.4",
        "le-campaigns/campaigns/1/engagements?v=3.4",
    ] {
        let refused = configuration(&hub, bearer, path).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
    }
}

#[tokio::test]
async fn an_oauth2_login_with_tokens_other_than_dummy_is_refused_401() {
    let credentials = LoginCredentials::OAuth2 {
        client_id: "client".into(),
        client_secret: "secret".into(),
    };
    let hub = hub_of(config_with(
        AgentSessions::default(),
        vec![user("oauth", credentials)],
    ))
    .await;
    let body = |token: &str| {
        json!({"username": "oauth", "appKey": "client", "secret": "secret",
               "accessToken": token, "accessTokenSecret": token})
    };
    assert_eq!(login(&hub, body("dummy")).await.status, 200);
    assert_unauthorized(&login(&hub, body("a-real-oauth1-token")).await);
}

/// Opens a conversation the test agent accepts, then closes it from the
/// agent side; returns the conversation's id.
async fn accepted_then_closed(hub: &HubHandle, agent: &mut AgentWire) -> String {
    let mut consumer = Consumer::connect(&hub.url(), "123").await;
    let conversation = consumer.start_conversation().await;
    accept_the_ring(agent).await;
    change_of(agent, &conversation, "UPSERT").await;
    let closed = agent
        .request(
            ".ams.cm.UpdateConversationField",
            json!({"conversationId": conversation, "conversationField": [
                {"field": "ConversationStateField", "conversationState": "CLOSE"}]}),
        )
        .await;
    assert_eq!(closed["code"], 200, "{closed}");
    conversation
}

/// The next conversation change of `conv` of type `kind` the agent gets.
async fn change_of(agent: &mut AgentWire, conv: &str, kind: &str) -> Value {
    agent
        .wait_for(|f| {
            (f["type"] == ".ams.aam.ExConversationChangeNotification").then_some(())?;
            f["body"]["changes"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == kind && c["result"]["convId"] == conv)
                .cloned()
        })
        .await
}

async fn logged_in_agent(hub: &HubHandle) -> AgentWire {
    let session = login_tester(hub).await;
    AgentWire::connect(&socket_url(hub, &session.bearer)).await
}

#[tokio::test]
async fn an_open_only_subscription_gets_a_delete_when_its_conversation_closes() {
    let hub = hub_of(hub_config()).await;
    let mut agent = logged_in_agent(&hub).await;
    online_agent(&mut agent, "123.tester").await;
    let conversation = accepted_then_closed(&hub, &mut agent).await;
    let deleted = change_of(&mut agent, &conversation, "DELETE").await;
    assert_eq!(deleted["result"]["convId"], conversation);
}

#[tokio::test]
async fn a_subscription_to_open_and_closed_conversations_gets_an_upsert_with_the_close() {
    let hub = hub_of(hub_config()).await;
    let mut agent = logged_in_agent(&hub).await;
    online_agent(&mut agent, "123.tester").await;
    let both = agent
        .request(
            ".ams.aam.SubscribeExConversations",
            json!({"convState": ["OPEN", "CLOSE"], "agentIds": ["123.tester"]}),
        )
        .await;
    assert_eq!(both["code"], 200, "{both}");
    let conversation = accepted_then_closed(&hub, &mut agent).await;
    let closed = agent
        .wait_for(|f| {
            let change = &f["body"]["changes"][0];
            (change["result"]["convId"] == conversation.as_str()
                && change["result"]["conversationDetails"]["state"] == "CLOSE")
                .then(|| change.clone())
        })
        .await;
    assert_eq!(closed["type"], "UPSERT");
}

#[test]
fn session_settings_and_the_permission_are_read_from_the_hub_table() {
    let config = crate::support::ConfigDir::with_hub(
        "[[hub.users]]\nlogin = \"blind\"\npassword = \"pw\"\ncan_read_account_config = false\n\n",
    );
    let toml = std::fs::read_to_string(config.path().join("switchboard.toml")).unwrap();
    let toml = toml.replacen(
        "[hub]\n",
        "[hub]\nsession_lifetime_ms = 60000\nlogin_limit = 4\nlogin_window_ms = 5000\n",
        1,
    );
    config.write("switchboard.toml", &toml);
    let loaded = switchboard::config::load(config.path()).unwrap();
    let hub = loaded.config.gateway.hub.unwrap();
    assert_eq!(
        hub.sessions,
        AgentSessions {
            lifetime: Duration::from_secs(60),
            login_limit: 4,
            login_window: Duration::from_secs(5),
        }
    );
    let blind = hub.users.iter().find(|u| u.login == "blind").unwrap();
    assert!(!blind.can_read_account_config);

    let defaults = crate::support::ConfigDir::new(&["bot"]);
    let loaded = switchboard::config::load(defaults.path()).unwrap();
    let hub = loaded.config.gateway.hub.unwrap();
    assert_eq!(hub.sessions, AgentSessions::default());
    assert_eq!(hub.sessions.lifetime, Duration::from_secs(30 * 60));
    assert!(hub.users.iter().all(|u| u.can_read_account_config));
}
