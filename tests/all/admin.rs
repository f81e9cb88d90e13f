//! The admin API, `/metrics`, the Agent Connectors page and the
//! `switchboard connectors` command, over real HTTP on loopback.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard::admin::{OPENAPI, ROUTES};
use switchboard::app::Gateway;
use switchboard::connector::Status;
use switchboard::http::HttpClient;
use tokio::sync::Mutex;

use crate::support::{
    ConfigDir, Consumer, GatewayProcess, PATIENCE, RecordingBot, connector_file, schemathesis,
};

const VIEWER: &str = "viewer-token-0123456789";
const DEVELOPER: &str = "developer-token-0123456789";
const STATUS_ACCESS: &str = "status-token-0123456789";
const ADMINISTRATOR: &str = "admin-token-0123456789";
const BOBS: &str = "bob-developer-token-0123456789";

/// A hub whose bot users were created by alice (`demo-bot`, `prod-bot`,
/// `spare-bot`) and bob (`bobs-bot`), an admin API on a free port with a
/// token per role (all alice's) and one of bob's, a demo connector and a
/// production connector.
struct Admin {
    config: ConfigDir,
    gateway: Arc<Mutex<Gateway>>,
    base: String,
    http: HttpClient,
    _bot: Option<RecordingBot>,
    _server: tokio::task::JoinHandle<()>,
}

impl Admin {
    async fn start(plugins: &str) -> Admin {
        let users: String = [("demo-bot", "alice"), ("prod-bot", "alice"), ("spare-bot", "alice"), ("bobs-bot", "bob")]
            .iter()
            .map(|(u, owner)| {
                format!("[[hub.users]]\nlogin = \"{u}\"\npassword = \"pw-{u}\"\nskills = [\"1\"]\ncreated_by = \"{owner}\"\n\n")
            })
            .collect();
        let config = ConfigDir::with_hub(&users);
        let tokens: String = [
            ("alice", "viewer", VIEWER),
            ("alice", "bot_developer", DEVELOPER),
            ("alice", "bot_status_access", STATUS_ACCESS),
            ("alice", "administrator", ADMINISTRATOR),
            ("bob", "bot_developer", BOBS),
        ]
        .iter()
        .map(|(owner, role, token)| {
            format!(
                "[[admin.tokens]]\nowner = \"{owner}\"\nrole = \"{role}\"\ntoken = \"{token}\"\n\n"
            )
        })
        .collect();
        config.append(
            "switchboard.toml",
            &format!("\n[admin]\nlisten = \"127.0.0.1:0\"\n\n{tokens}"),
        );
        let bot = RecordingBot::echo().await;
        config.write("bots/b.toml", &bot.config("b"));
        config.write(
            "connectors/demo.toml",
            &connector_file("demo", "b", "demo-bot", plugins, "messageDelay = 0"),
        );
        config.write(
            "connectors/prod.toml",
            &connector_file(
                "prod",
                "b",
                "prod-bot",
                "deploy_to = \"production\"",
                "messageDelay = 0",
            ),
        );
        let admin = Admin::serve(config, Some(bot)).await;
        for id in ["demo", "prod"] {
            admin
                .until(&format!("{id} Online"), |s| s[id] == "Online")
                .await;
        }
        admin
    }

    /// A gateway on `config` with its admin API on the configured address.
    async fn serve(config: ConfigDir, bot: Option<RecordingBot>) -> Admin {
        let gateway = crate::support::gateway(&config).await;
        let admin = gateway
            .admin_config()
            .cloned()
            .expect("[admin] is configured");
        let listener = tokio::net::TcpListener::bind(admin.listen).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let gateway = Arc::new(Mutex::new(gateway));
        let server = tokio::spawn(switchboard::admin::serve(listener, gateway.clone(), admin));
        let http = HttpClient::new(switchboard::tls::client_config(None).unwrap());
        Admin {
            config,
            gateway,
            base,
            http,
            _bot: bot,
            _server: server,
        }
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.http
            .call(
                method,
                &format!("{}{path}", self.base),
                token,
                body.as_ref(),
            )
            .await
            .unwrap()
    }

    /// A request with a raw body (any bytes, of any size) over a plain
    /// socket: its status and its body as JSON.
    async fn raw(&self, token: &str, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        // The server may answer before it reads the body, and then stop
        // reading: the rest need not be sent.
        let writer = tokio::spawn(async move {
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(&body).await;
            write
        });
        let mut answer = Vec::new();
        let _ = read.read_to_end(&mut answer).await;
        drop(writer.await);
        let answer = String::from_utf8_lossy(&answer);
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    async fn statuses(&self) -> Value {
        let (_, list) = self.call(VIEWER, "GET", "/api/connectors", None).await;
        let mut out = json!({});
        for c in list["connectors"].as_array().unwrap() {
            out[c["id"].as_str().unwrap()] = c["status"].clone();
        }
        out
    }

    async fn until(&self, what: &str, check: impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if check(&self.statuses().await) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The document's (method, path) pairs.
fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let mut pairs = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            pairs.insert((method.to_uppercase(), path.clone()));
        }
    }
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_routes_and_every_route_answers() {
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented(),
        routes,
        "openapi.json and the router list the same routes"
    );

    let admin = Admin::start("").await;
    let (status, served) = admin.call("", "GET", "/api/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(served, serde_json::from_str::<Value>(OPENAPI).unwrap());
    // Every documented route is served: none answers 404 or 405 when
    // called as documented by an administrator.
    for (method, path) in routes {
        let concrete = path.replace("{id}", "demo").replace("{name}", "missing");
        let body = matches!(method.as_str(), "POST" | "PUT")
            .then(|| json!({"id": "demo", "bot": "b", "account": "123", "agent_user_id": "demo-bot", "password": "pw-demo-bot", "custom": {"messageDelay": 0}}));
        let (status, _) = match (method.as_str(), path.as_str()) {
            // Exercised elsewhere; here they would change the fixture.
            ("DELETE", _) | ("POST", "/api/connectors") => continue,
            _ => admin.call(ADMINISTRATOR, &method, &concrete, body).await,
        };
        let expected_missing = concrete.ends_with("/plugins/missing/reset");
        assert!(
            (status != 404 || expected_missing) && status != 405,
            "{method} {concrete} answered {status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_exactly_its_endpoints() {
    let admin = Admin::start("[[plugins]]\nfile = \"greeting.wasm\"").await;
    // (method, path, body) → expected status for viewer, developer, status access, administrator.
    let edit_demo = json!({"bot": "b", "account": "123", "agent_user_id": "demo-bot", "password": "pw-demo-bot", "autostart": true, "plugins": [{"file": "greeting.wasm"}], "custom": {"messageDelay": 0}});
    let edit_prod = json!({"bot": "b", "account": "123", "agent_user_id": "prod-bot", "password": "pw-prod-bot", "deploy_to": "production", "autostart": true, "custom": {"messageDelay": 0}});
    let matrix: Vec<(&str, &str, Option<Value>, [u16; 4])> = vec![
        ("GET", "/api/connectors", None, [200, 200, 200, 200]),
        ("GET", "/api/connectors/prod", None, [200, 200, 200, 200]),
        (
            "GET",
            "/api/connectors/prod/history",
            None,
            [200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/connectors/demo/plugins",
            None,
            [200, 200, 200, 200],
        ),
        ("GET", "/api/reload", None, [200, 200, 200, 200]),
        ("GET", "/metrics", None, [200, 200, 200, 200]),
        (
            "PUT",
            "/api/connectors/demo",
            Some(edit_demo),
            [403, 200, 200, 200],
        ),
        (
            "PUT",
            "/api/connectors/prod",
            Some(edit_prod),
            [403, 403, 200, 200],
        ),
        (
            "POST",
            "/api/connectors/demo/stop",
            None,
            [403, 200, 200, 200],
        ),
        (
            "POST",
            "/api/connectors/demo/start",
            None,
            [403, 200, 200, 200],
        ),
        (
            "POST",
            "/api/connectors/prod/stop",
            None,
            [403, 403, 200, 200],
        ),
        (
            "POST",
            "/api/connectors/prod/start",
            None,
            [403, 403, 200, 200],
        ),
        (
            "POST",
            "/api/connectors/demo/plugins/greeting/reset",
            None,
            [403, 403, 200, 200],
        ),
        ("POST", "/api/reload", None, [403, 403, 403, 200]),
    ];
    for (method, path, body, expected) in &matrix {
        for (token, want) in [VIEWER, DEVELOPER, STATUS_ACCESS, ADMINISTRATOR]
            .iter()
            .zip(expected)
        {
            let (status, answer) = admin.call(token, method, path, body.clone()).await;
            assert_eq!(status, *want, "{method} {path} with {token}: {answer}");
            if status == 403 {
                assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
            }
        }
    }
    // Without a token, or with a wrong one: 401 everywhere but the page and the document.
    for (method, path, ..) in &matrix {
        for token in ["", "not-a-token-at-all-0123"] {
            let (status, answer) = admin.call(token, method, path, None).await;
            assert_eq!(status, 401, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "unauthenticated");
        }
    }
    let (status, text) = admin
        .http
        .call_text("GET", &format!("{}/", admin.base), "")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("<h1>Agent Connectors</h1>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_is_checked_before_the_body_is_read() {
    let admin = Admin::start("").await;
    let huge = format!(
        "{{\"id\": \"demo\", \"padding\": \"{}\"}}",
        "x".repeat(300 << 10)
    );
    let bodies: [(&str, Vec<u8>); 5] = [
        ("not JSON", b"{not json".to_vec()),
        ("not an object", b"[1, 2]".to_vec()),
        (
            "a bad document",
            br#"{"id": "demo", "max_conversations": "many"}"#.to_vec(),
        ),
        ("a bad id in the body", br#"{"id": "../evil"}"#.to_vec()),
        ("over 256 KiB", huge.into_bytes()),
    ];
    for (method, path) in [
        ("POST", "/api/connectors"),
        ("PUT", "/api/connectors/demo"),
        ("PUT", "/api/connectors/prod"),
    ] {
        for (what, body) in &bodies {
            let (status, answer) = admin.raw(VIEWER, method, path, body.clone()).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "a viewer's {method} {path} with {what}: {answer}"
            );
        }
    }
    // A production connector's stricter role is known from the body's
    // `deploy_to` alone: the rest of a bot developer's body is not checked.
    let (status, answer) = admin
        .raw(
            DEVELOPER,
            "POST",
            "/api/connectors",
            br#"{"id": "new", "deploy_to": "production", "max_conversations": "many"}"#.to_vec(),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    // The body is read for those who may change: a bad one answers 400, 413 or 422.
    for (body, want, code) in [
        (b"{not json".to_vec(), 400, "bad_json"),
        (
            br#"{"max_conversations": "many"}"#.to_vec(),
            422,
            "invalid_configuration",
        ),
        (bodies[4].1.clone(), 413, "body_too_large"),
    ] {
        let (status, answer) = admin
            .raw(DEVELOPER, "PUT", "/api/connectors/demo", body)
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (want, Some(code)),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_id_outside_the_rule_answers_400_on_every_id_route_and_no_answer_names_a_server_path()
 {
    let admin = Admin::start("").await;
    let server_path = admin.config.path().display().to_string();
    let document = json!({"bot": "b", "account": "123", "agent_user_id": "demo-bot", "password": "pw-demo-bot", "custom": {"messageDelay": 0}});
    let long = "a".repeat(300);
    let longer = "a".repeat(5000);
    // `../evil` as a client sends it in a path segment.
    for id in [long.as_str(), longer.as_str(), "..%2Fevil", &"b".repeat(65)] {
        for (method, pattern) in ROUTES.iter().filter(|(_, p)| p.contains("{id}")) {
            let path = pattern.replace("{id}", id).replace("{name}", "greeting");
            let body = (*method == "PUT").then(|| document.clone());
            // The id is checked before the role: even a viewer hears why.
            for token in [ADMINISTRATOR, VIEWER] {
                let (status, answer) = admin.call(token, method, &path, body.clone()).await;
                assert_eq!(status, 400, "{method} {pattern} with {id:.20}: {answer}");
                assert_eq!(answer["error"]["code"], "bad_id");
                let message = answer["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains(
                        "1 to 64 characters, each a letter A-Z or a-z, a digit, `-` or `_`"
                    ),
                    "{message}"
                );
                assert!(
                    message.len() < 300,
                    "the id is not repeated whole: {message}"
                );
                assert!(!answer.to_string().contains(&server_path), "{answer}");
            }
        }
    }
    // In a new connector's body, the same rule.
    for id in [
        long.as_str(),
        longer.as_str(),
        "../evil",
        "demo/../../x",
        "",
    ] {
        let mut body = document.clone();
        body["id"] = json!(id);
        let (status, answer) = admin
            .call(ADMINISTRATOR, "POST", "/api/connectors", Some(body))
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("bad_id")),
            "{answer}"
        );
        assert!(!answer.to_string().contains(&server_path), "{answer}");
    }
    let mut files: Vec<String> = std::fs::read_dir(admin.config.path().join("connectors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["demo.toml", "prod.toml"], "nothing was written");

    // A change the reload refuses is located relative to the configuration
    // directory, in the answer and in the reload's outcome.
    let mut refused = json!({"bot": "b", "account": "123", "agent_user_id": "prod-bot", "password": "pw-prod-bot", "deploy_to": "production", "autostart": true, "custom": {"messageDelay": 500}});
    refused["plugins"] = json!([{"file": "nowhere.wasm"}]);
    let (status, answer) = admin
        .call(ADMINISTRATOR, "PUT", "/api/connectors/prod", Some(refused))
        .await;
    assert_eq!(status, 422, "{answer}");
    let text = answer.to_string();
    assert!(text.contains("connectors/prod.toml:"), "{text}");
    assert!(
        text.contains("unknown plugin file `nowhere.wasm`"),
        "{text}"
    );
    let built = std::path::Path::new(switchboard::plugin::BUILT_PLUGIN_DIR);
    for path in [built.to_owned(), built.canonicalize().unwrap()] {
        assert!(!text.contains(&*path.to_string_lossy()), "{text}");
    }
    assert!(!text.contains(&server_path), "{text}");
    let (_, reload) = admin.call(VIEWER, "GET", "/api/reload", None).await;
    assert_eq!(reload["last"]["ok"], false, "{reload}");
    assert!(!reload.to_string().contains(&server_path), "{reload}");
}

/// Tells schemathesis that a schema-valid connector document may still be
/// refused (422) by the gateway's state: its bots, the platform's users,
/// the connectors running; and so may a start, once an edit gave the
/// connector a user the platform refuses. Only for an administrator, who
/// gets that far.
const SCHEMATHESIS_STATE_DEPENDENT: &str = r#"
[[operations]]
include-name = ["POST /api/connectors", "PUT /api/connectors/{id}", "POST /api/connectors/{id}/start"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"#;

/// The shipped configuration's tokens.
const SHIPPED_ADMINISTRATOR: &str = "demo-admin-token-change-me";
const SHIPPED_VIEWER: &str = "demo-viewer-token-change-me";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_for_an_administrator_or_a_viewer() {
    let st = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let settings = scratch.path().join("schemathesis.toml");
    std::fs::write(&settings, SCHEMATHESIS_STATE_DEPENDENT).unwrap();
    // A viewer's run takes schemathesis's defaults: every change is
    // refused with 403 before its body or the gateway's state matters.
    for (who, token, settings) in [
        ("administrator", SHIPPED_ADMINISTRATOR, Some(&settings)),
        ("viewer", SHIPPED_VIEWER, None),
    ] {
        // Each run on its own copy: the administrator's changes it.
        let admin = Admin::serve(crate::support::shipped_config_copy(), None).await;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while admin.gateway.lock().await.report("demo-1").unwrap().status != Status::Online {
            assert!(
                tokio::time::Instant::now() < deadline,
                "demo-1 never Online"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut command = std::process::Command::new(&st);
        if let Some(settings) = settings {
            command.arg("--config-file").arg(settings);
        }
        command
            .args(["run", &format!("{}/api/openapi.json", admin.base)])
            .args(["--url", &admin.base])
            .args(["--checks", "all", "--seed", "14", "--max-examples", "30"])
            .args([
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--no-color",
            ])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .current_dir(scratch.path());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("st runs");
        let report = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "schemathesis found something as {who}:\n{report}"
        );
        assert!(report.contains("Tested: 14"), "{report}");
        admin.gateway.lock().await.wind_down().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_connector_for_another_owners_bot_user_answers_401_and_an_own_one_is_written_to_its_file()
 {
    let admin = Admin::start("").await;
    let new = |user: &str| json!({"id": "fresh", "bot": "b", "account": "123", "agent_user_id": user, "password": format!("pw-{user}"), "custom": {"messageDelay": 0}});
    let (status, answer) = admin
        .call(BOBS, "POST", "/api/connectors", Some(new("spare-bot")))
        .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "not_owner");
    assert!(!admin.config.path().join("connectors/fresh.toml").exists());

    // Editing alice's demo connector is refused to bob as well.
    let edit = json!({"bot": "b", "account": "123", "agent_user_id": "demo-bot", "password": "pw-demo-bot", "custom": {"messageDelay": 0}});
    let (status, _) = admin
        .call(BOBS, "PUT", "/api/connectors/demo", Some(edit))
        .await;
    assert_eq!(status, 401);

    let (status, answer) = admin
        .call(BOBS, "POST", "/api/connectors", Some(new("bobs-bot")))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["status"], "Ready to Start");
    let file = std::fs::read_to_string(admin.config.path().join("connectors/fresh.toml")).unwrap();
    assert!(file.contains("agent_user_id = \"bobs-bot\""), "{file}");
    let (status, answer) = admin
        .call(BOBS, "POST", "/api/connectors", Some(new("bobs-bot")))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "connector_exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_edits_take_the_reload_path_and_errors_have_one_shape() {
    let admin = Admin::start("").await;
    let hub = admin.gateway.lock().await.hub_url().unwrap();
    let mut consumer = Consumer::connect(&hub, "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    let first = consumer.next_agent_text().await;
    assert_eq!(first, "bot heard: hello");

    let document = |custom: Value, user: &str, fallback: &str| json!({"bot": "b", "account": "123", "agent_user_id": user, "password": format!("pw-{user}"), "autostart": true, "fallback_skill_id": fallback, "custom": custom});
    // A behaviour change on a running connector: written to the file, applied live.
    let (status, answer) = admin
        .call(
            DEVELOPER,
            "PUT",
            "/api/connectors/demo",
            Some(document(json!({"messageDelay": 0}), "demo-bot", "2")),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let file = std::fs::read_to_string(admin.config.path().join("connectors/demo.toml")).unwrap();
    assert!(file.contains("fallback_skill_id = \"2\""), "{file}");
    assert_eq!(
        admin
            .gateway
            .lock()
            .await
            .connectors()
            .find(|c| c.id() == "demo")
            .unwrap()
            .settings()
            .fallback_skill_id
            .as_deref(),
        Some("2"),
        "the running connector took it"
    );
    let (_, reload) = admin.call(VIEWER, "GET", "/api/reload", None).await;
    assert_eq!(reload["last"]["ok"], true, "{reload}");
    assert_eq!(
        reload["last"]["changes"],
        json!(["connector demo: updated"])
    );

    // An identity change of a running connector: refused, located, nothing applied.
    let (status, answer) = admin
        .call(
            ADMINISTRATOR,
            "PUT",
            "/api/connectors/demo",
            Some(document(json!({"messageDelay": 0}), "spare-bot", "2")),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_configuration");
    let detail = answer["error"]["details"][0].as_str().unwrap();
    assert!(
        detail.contains("demo.toml:")
            && detail.contains("`agent_user_id` of connector `demo` cannot change while it runs"),
        "{detail}"
    );
    let file = std::fs::read_to_string(admin.config.path().join("connectors/demo.toml")).unwrap();
    assert!(
        file.contains("demo-bot") && file.contains("fallback_skill_id"),
        "the previous file is back: {file}"
    );
    consumer.say("still there?").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: still there?");

    // A bad value: 422 with the field's location in the written file.
    let (status, answer) = admin
        .call(
            ADMINISTRATOR,
            "PUT",
            "/api/connectors/demo",
            Some(document(json!({"messageDelay": "soon"}), "demo-bot", "2")),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]["details"][0]
            .as_str()
            .unwrap()
            .contains("connectors/demo.toml:"),
        "{answer}"
    );

    for (method, path, body, want, code) in [
        (
            "GET",
            "/api/connectors/nope",
            None,
            404,
            "unknown_connector",
        ),
        (
            "PATCH",
            "/api/connectors/demo",
            None,
            405,
            "method_not_allowed",
        ),
        ("GET", "/api/nothing", None, 404, "not_found"),
        (
            "POST",
            "/api/connectors/demo/plugins/nope/reset",
            None,
            404,
            "unknown_plugin",
        ),
        (
            "DELETE",
            "/api/connectors/demo",
            None,
            409,
            "connector_running",
        ),
        (
            "PUT",
            "/api/connectors/demo",
            Some(json!([1, 2])),
            400,
            "bad_connector",
        ),
        (
            "PUT",
            "/api/connectors/demo",
            Some(json!({"id": "other"})),
            400,
            "bad_connector",
        ),
    ] {
        let (status, answer) = admin.call(ADMINISTRATOR, method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert_eq!(answer["error"]["status"], want);
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, answer) = admin
        .http
        .call(
            "PUT",
            &format!("{}/api/connectors/demo", admin.base),
            ADMINISTRATOR,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("bad_json"))
    );

    // Stopped, it can be deleted: its file goes.
    admin
        .call(ADMINISTRATOR, "POST", "/api/connectors/demo/stop", None)
        .await;
    let (status, _) = admin
        .call(ADMINISTRATOR, "DELETE", "/api/connectors/demo", None)
        .await;
    assert_eq!(status, 200);
    assert!(!admin.config.path().join("connectors/demo.toml").exists());
}

/// The value of the first sample of `metric` whose labels contain `labels`.
fn sample(text: &str, metric: &str, labels: &str) -> f64 {
    text.lines()
        .find(|l| {
            l.starts_with(&format!("{metric}{{")) && l.contains(labels)
                || l.starts_with(&format!("{metric} ")) && labels.is_empty()
        })
        .unwrap_or_else(|| panic!("no {metric}{{{labels}}} in\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_status_conversations_messages_latencies_plugins_and_reloads() {
    let admin = Admin::start("[[plugins]]\nfile = \"fixture_shout.wasm\"").await;
    // prod stopped first, so that the conversation lands on demo.
    admin
        .call(ADMINISTRATOR, "POST", "/api/connectors/prod/stop", None)
        .await;
    admin.call(ADMINISTRATOR, "POST", "/api/reload", None).await;
    let hub = admin.gateway.lock().await.hub_url().unwrap();
    let mut consumer = Consumer::connect(&hub, "123").await;
    consumer.start_conversation().await;
    for n in 0..3 {
        consumer.say(&format!("m{n}")).await;
        consumer.next_agent_text().await;
    }
    // The last publish is counted when the platform confirms it, which may
    // be a moment after the consumer read it.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let text = loop {
        let (status, text) = admin
            .http
            .call_text("GET", &format!("{}/metrics", admin.base), VIEWER)
            .await
            .unwrap();
        assert_eq!(status, 200);
        if text.contains("switchboard_messages_out_total{connector=\"demo\"} 3") {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let c = "connector=\"demo\"";
    assert_eq!(sample(&text, "switchboard_messages_in_total", c), 3.0);
    assert_eq!(sample(&text, "switchboard_open_conversations", c), 1.0);
    assert_eq!(
        sample(&text, "switchboard_bot_latency_seconds_count", c),
        3.0
    );
    for (labels, value) in [
        ("connector=\"prod\",status=\"Stopped\"", 1.0),
        ("connector=\"prod\",status=\"Online\"", 0.0),
        ("connector=\"demo\",status=\"Online\"", 1.0),
    ] {
        assert_eq!(
            sample(&text, "switchboard_connector_status", labels),
            value,
            "{labels}"
        );
    }
    assert_eq!(
        sample(&text, "switchboard_reloads_total", "result=\"applied\""),
        1.0
    );
    let shout = "connector=\"demo\",plugin=\"fixture_shout\"";
    assert_eq!(
        sample(
            &text,
            "switchboard_plugin_hook_latency_seconds_count",
            shout
        ),
        6.0,
        "three consumer-message and three bot-message hook calls"
    );
    assert_eq!(
        sample(&text, "switchboard_plugin_hook_calls_total", shout),
        6.0
    );
    assert_eq!(sample(&text, "switchboard_plugin_faults_total", shout), 0.0);
    assert_eq!(
        sample(&text, "switchboard_plugin_compiles_total", "")
            + sample(&text, "switchboard_plugin_compile_cache_hits_total", ""),
        1.0
    );
    assert!(text.contains("# TYPE switchboard_bot_latency_seconds histogram"));
    assert!(text.contains(&format!(
        "switchboard_bot_latency_seconds_bucket{{{c},le=\"+Inf\"}} 3"
    )));
    assert!(
        !text.contains(VIEWER) && !text.contains("pw-"),
        "no secrets in metrics"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reset_lifts_a_quarantine() {
    let admin = Admin::start(
        "[[plugins]]\nfile = \"hostile_unreachable.wasm\"\nlimits = { quarantine_after = 2 }",
    )
    .await;
    let hub = admin.gateway.lock().await.hub_url().unwrap();
    // prod stopped, so that the conversations land on demo.
    admin
        .call(ADMINISTRATOR, "POST", "/api/connectors/prod/stop", None)
        .await;
    let mut consumers = Vec::new();
    for _ in 0..2 {
        let mut consumer = Consumer::connect(&hub, "123").await;
        consumer.start_conversation().await;
        consumer.say("boom").await;
        assert_eq!(
            consumer.next_agent_text().await,
            "bot heard: boom",
            "the fault is contained"
        );
        consumers.push(consumer);
    }
    for consumer in &mut consumers {
        consumer.say("again").await;
        consumer.next_agent_text().await;
    }
    let plugins = |answer: &Value| answer["plugins"][0].clone();
    let (_, answer) = admin
        .call(VIEWER, "GET", "/api/connectors/demo/plugins", None)
        .await;
    assert_eq!(plugins(&answer)["quarantined"], true, "{answer}");
    // The server's folders stay out of what the API says.
    let file = plugins(&answer)["path"].as_str().unwrap().to_owned();
    assert!(
        file.starts_with("…/") && file.ends_with("/hostile_unreachable.wasm"),
        "{answer}"
    );
    // A plugin whose last hook faulted is a component down: Offline, with
    // the reason in the history.
    assert_eq!(admin.statuses().await["demo"], "Offline");
    let (_, history) = admin
        .call(VIEWER, "GET", "/api/connectors/demo/history", None)
        .await;
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["status"].as_str(), last["reason"].as_str()),
        (Some("Offline"), Some("plugin faults")),
        "{history}"
    );
    let (status, answer) = admin
        .call(
            STATUS_ACCESS,
            "POST",
            "/api/connectors/demo/plugins/hostile_unreachable/reset",
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(plugins(&answer)["quarantined"], false);
    assert_eq!(plugins(&answer)["consecutive_faults"], 0);
    assert_eq!(admin.statuses().await["demo"], "Online");
}

#[test]
fn the_connectors_command_lists_stops_starts_and_details_through_the_api() {
    let config = ConfigDir::new(&["cli-bot"]);
    config.append(
        "switchboard.toml",
        &format!("\n[admin]\nlisten = \"127.0.0.1:0\"\n[[admin.tokens]]\nowner = \"ops\"\nrole = \"administrator\"\ntoken = \"{ADMINISTRATOR}\"\n"),
    );
    config.write(
        "bots/echo.toml",
        "id = \"echo\"\nkind = \"scripted\"\n[[rules]]\nmatch = \".*\"\nsay = [{ text = \"ok\" }]\n",
    );
    config.write(
        "connectors/cli.toml",
        &connector_file("cli", "echo", "cli-bot", "", ""),
    );
    let gateway = GatewayProcess::start_until(
        config.path(),
        "switchboard: Agent Connectors page and admin API at ",
    );
    let api = gateway
        .stdout_lines
        .last()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let run = |args: &[&str], token: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["connectors", "--api", &api])
            .args(args)
            .env("SWITCHBOARD_TOKEN", token)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (ok, out) = run(&["list"], ADMINISTRATOR);
        assert!(ok, "{out}");
        if out
            .lines()
            .any(|l| l.starts_with("cli ") && l.contains("Online"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, out) = run(&["stop", "cli"], ADMINISTRATOR);
    assert!(ok && out.contains("cli: Stopped"), "{out}");
    let (ok, out) = run(&["details", "cli"], ADMINISTRATOR);
    assert!(ok, "{out}");
    let details: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(details["status"], "Stopped");
    assert_eq!(details["details"]["messaging"]["detail"], "stopped");
    let (ok, out) = run(&["start", "cli"], ADMINISTRATOR);
    assert!(
        ok && (out.contains("cli: Starting") || out.contains("cli: Online")),
        "{out}"
    );
    let (ok, out) = run(&["list"], "wrong-token-0123456789");
    assert!(!ok && out.contains("401"), "{out}");
    let (ok, out) = run(&["details", "nope"], ADMINISTRATOR);
    assert!(!ok && out.contains("no connector `nope`"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_connectors_page_stops_a_connector_in_a_real_browser() {
    let admin = Admin::start("").await;
    let browser = crate::support::browser_peer();
    let screenshot = admin.config.path().join("agent-connectors.png");
    let mut command = std::process::Command::new("node");
    command
        .arg(browser.join("dashboard.js"))
        .args([&admin.base, ADMINISTRATOR, "demo"])
        .arg(&screenshot)
        .current_dir(&browser);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("demo: Online -> Stopped"), "{log}");
    // Each press held 100-200 ms across a refresh of the table (issue #13).
    assert!(
        log.contains("demo: 20 held Start/Stop presses and 20 held Details presses took effect"),
        "{log}"
    );
    assert_eq!(
        admin.gateway.lock().await.report("demo").unwrap().status,
        Status::Stopped,
        "the click reached the gateway"
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "a real screenshot"
    );
    let kept =
        std::path::Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join("../agent-connectors.png");
    let _ = std::fs::copy(&screenshot, kept);
}
