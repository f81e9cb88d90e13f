//! Several gateways sharing their connectors through a real etcd
//! (`[cluster]`): each a `switchboard run` process with its own data
//! directory, the same connector files and the same hub (a process of its
//! own, as LivePerson's platform is). What each gateway says is read from
//! its admin API; what the consumer and the bot see is on the wire.

use std::time::Duration;

use serde_json::Value;

use crate::support::etcd::{EtcdLine, EtcdPeer};
use crate::support::{
    ConfigDir, Consumer, GatewayProcess, PATIENCE, RecordingBot, connector_file, connectors_for,
    patient_hub,
};

const TOKEN: &str = "cluster-test-admin-token";

/// One gateway of the cluster.
struct Member {
    process: GatewayProcess,
    admin: String,
    config: ConfigDir,
}

impl Member {
    /// Gateway `name` with connectors `ids` (bot user `bot-{id}` each),
    /// in the cluster of etcd at `etcd` with a lease of `lease_ms` and the
    /// `[cluster]` lines `access` (certificates, user).
    fn start(
        hub: &GatewayProcess,
        etcd: &str,
        access: &str,
        name: &str,
        bot: &RecordingBot,
        ids: &[&str],
        lease_ms: u64,
    ) -> Member {
        let files: Vec<(&str, String)> = ids
            .iter()
            .map(|id| {
                let file = connector_file(id, "b", &format!("bot-{id}"), "", "messageDelay = 100");
                (*id, file)
            })
            .collect();
        let config = connectors_for(&hub.hub_url, bot, &files);
        config.append(
            "switchboard.toml",
            &format!(
                "\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[admin.tokens]]\nowner = \"ops\"\nrole = \"administrator\"\ntoken = \"{TOKEN}\"\n\n\
                 [cluster]\netcd = [\"{etcd}\"]\ngateway = \"{name}\"\nlease_ttl_ms = {lease_ms}\n{access}"
            ),
        );
        let prefix = "switchboard: Agent Connectors page and admin API at ";
        let process = GatewayProcess::start_until(config.path(), prefix);
        let admin = process
            .stdout_lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .expect("the admin line")
            .trim()
            .to_owned();
        Member {
            process,
            admin,
            config,
        }
    }

    async fn call(&self, method: &str, path: &str) -> (u16, Value) {
        self.send(method, path, None).await
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        switchboard::http::default_client()
            .call(method, &format!("{}{path}", self.admin), TOKEN, body)
            .await
            .expect("the admin API answers")
    }

    /// Connector `id` as this gateway reports it: status and gateway.
    async fn placed(&self, id: &str) -> (String, Option<String>) {
        let (code, body) = self.call("GET", &format!("api/connectors/{id}")).await;
        assert_eq!(code, 200, "{body}");
        (
            body["status"].as_str().expect("a status").to_owned(),
            body["gateway"].as_str().map(str::to_owned),
        )
    }

    /// Connector `id`'s status history as this gateway has it: when (ms
    /// since the epoch) and what.
    async fn history(&self, id: &str) -> Vec<(u64, String)> {
        let (code, body) = self
            .call("GET", &format!("api/connectors/{id}/history"))
            .await;
        assert_eq!(code, 200, "{body}");
        history_of(&body["history"])
    }

    /// Waits (at most [`PATIENCE`]) until connector `id` has `status` and
    /// runs on `gateway` as this gateway reports it.
    async fn until(&self, id: &str, status: &str, gateway: Option<&str>) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let now = self.placed(id).await;
            if now.0 == status && now.1.as_deref() == gateway {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "connector {id} never {status} on {gateway:?} (last: {now:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What every test runs on: etcd, a hub in its own process with bot users
/// `bot-{id}`, and an echo bot.
struct Setting {
    etcd: EtcdPeer,
    /// What each gateway's `[cluster]` says besides its etcd URL, name and
    /// lease: how it reaches a TLS etcd, as which user.
    access: String,
    hub: GatewayProcess,
    bot: RecordingBot,
    _platform: ConfigDir,
}

impl Setting {
    async fn new(ids: &[&str]) -> Setting {
        Self::on(EtcdPeer::start(), ids).await
    }

    /// The setting on an etcd that serves TLS only, asks clients for a
    /// certificate and has its authentication on, reached as user
    /// `gateways` with `password`.
    async fn secure(ids: &[&str], password: &str) -> Setting {
        Self::secure_with(EtcdPeer::start_tls(false), ids, password).await
    }

    async fn secure_with(etcd: EtcdPeer, ids: &[&str], password: &str) -> Setting {
        etcd.enable_auth("gateways", "the-right-password", "/switchboard/")
            .await;
        let mut setting = Self::on(etcd, ids).await;
        let certs = setting.etcd.tls.as_ref().expect("a TLS etcd");
        setting.access = format!(
            "ca_file = {:?}\ncert_file = {:?}\nkey_file = {:?}\nusername = \"gateways\"\npassword = {password:?}\n",
            certs.ca, certs.client_cert, certs.client_key
        );
        setting
    }

    async fn on(etcd: EtcdPeer, ids: &[&str]) -> Setting {
        let users: Vec<String> = ids.iter().map(|id| format!("bot-{id}")).collect();
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        let (platform, hub) = patient_hub(&users);
        Setting {
            etcd,
            access: String::new(),
            hub,
            bot: RecordingBot::echo().await,
            _platform: platform,
        }
    }

    /// Gateway `name` with connectors `ids`, reaching etcd at `etcd`.
    fn member_via(&self, etcd: &str, name: &str, ids: &[&str], lease_ms: u64) -> Member {
        Member::start(
            &self.hub,
            etcd,
            &self.access,
            name,
            &self.bot,
            ids,
            lease_ms,
        )
    }

    fn member(&self, name: &str, ids: &[&str], lease_ms: u64) -> Member {
        self.member_via(&self.etcd.url, name, ids, lease_ms)
    }

    /// Gateway a running connector c, then gateway b standing by.
    async fn a_runs_c_and_b_stands_by(&self, lease_ms: u64) -> (Member, Member) {
        let a = self.member("a", &["c"], lease_ms);
        a.until("c", "Online", Some("a")).await;
        let b = self.member("b", &["c"], lease_ms);
        b.until("c", "Standby", Some("a")).await;
        (a, b)
    }

    /// A consumer whose "hello" the bot answered.
    async fn consumer(&self) -> Consumer {
        let mut consumer = Consumer::connect(&self.hub.hub_url, "123").await;
        consumer.start_conversation().await;
        consumer.say("hello").await;
        assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
        consumer
    }
}

fn history_of(entries: &Value) -> Vec<(u64, String)> {
    entries
        .as_array()
        .expect("a history")
        .iter()
        .map(|e| {
            (
                e["at_ms"].as_u64().expect("at_ms"),
                e["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

/// When connector `id` last went `status` in `history`.
fn last(history: &[(u64, String)], status: &str) -> u64 {
    history
        .iter()
        .rev()
        .find(|(_, s)| s == status)
        .unwrap_or_else(|| panic!("never {status}: {history:?}"))
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_runs_on_one_gateway_and_another_takes_it_over_when_that_one_is_lost() {
    let setting = Setting::new(&["c"]).await;
    let (a, b) = setting.a_runs_c_and_b_stands_by(6000).await;
    let (_, summary) = b.call("GET", "api/connectors/c").await;
    assert_eq!(summary["running"], true, "it runs, on a: {summary}");
    let mut consumer = setting.consumer().await;

    // Lost without a word: its lease (6 s) runs out, then b takes over.
    a.process.kill();
    b.until("c", "Online", Some("b")).await;
    consumer.say("still there?").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: still there?");
    // The conversation resumed: no greeting, nothing handed on twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bot = &setting.bot;
    assert_eq!(bot.texts(), ["hello", "still there?"], "{:?}", bot.turns());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_stops_cleanly_hands_its_connectors_over_at_once() {
    let setting = Setting::new(&["c"]).await;
    // A lease of a minute: only the stopping gateway's revoke frees the
    // connector within the test's patience.
    let (mut a, b) = setting.a_runs_c_and_b_stands_by(60_000).await;

    a.process.signal("TERM");
    let status = a.process.exit_within(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    b.until("c", "Online", Some("b")).await;
    // a had logged out before b started logging in.
    let store = switchboard::store::StateStore::open(&a.config.path().join("data")).unwrap();
    let a_history: Vec<(u64, String)> = store
        .status_log()
        .history("c")
        .into_iter()
        .map(|change| (change.at_ms, format!("{:?}", change.status)))
        .collect();
    let b_history = b.history("c").await;
    assert!(
        last(&a_history, "Stopped") <= last(&b_history, "Starting"),
        "a: {a_history:?}\nb: {b_history:?}"
    );
    setting.consumer().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_on_any_gateway_stops_the_connector_in_the_whole_cluster() {
    let setting = Setting::new(&["c"]).await;
    let (a, b) = setting.a_runs_c_and_b_stands_by(6000).await;

    // Stopped through b, where it does not run.
    let (code, body) = b.call("POST", "api/connectors/c/stop").await;
    assert_eq!(code, 200, "{body}");
    a.until("c", "Stopped", None).await;
    b.until("c", "Ready to Start", None).await;
    // Neither takes it up again, not even after a lease's time (6 s).
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(a.placed("c").await, ("Stopped".to_owned(), None));
    assert_eq!(b.placed("c").await, ("Ready to Start".to_owned(), None));

    // Started through a: one gateway runs it again.
    let (code, body) = a.call("POST", "api/connectors/c/start").await;
    assert_eq!(code, 200, "{body}");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let runner = loop {
        match a.placed("c").await {
            (status, Some(runner)) if status == "Online" || status == "Standby" => break runner,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "never started: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (here, there) = if runner == "a" { (&a, &b) } else { (&b, &a) };
    here.until("c", "Online", Some(&runner)).await;
    there.until("c", "Standby", Some(&runner)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_joins_gets_its_share_of_the_connectors() {
    let setting = Setting::new(&["c1", "c2"]).await;
    let a = setting.member("a", &["c1", "c2"], 10_000);
    a.until("c1", "Online", Some("a")).await;
    a.until("c2", "Online", Some("a")).await;

    let b = setting.member("b", &["c1", "c2"], 10_000);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut on_b = Vec::new();
        for id in ["c1", "c2"] {
            if b.placed(id).await == ("Online".to_owned(), Some("b".to_owned())) {
                on_b.push(id);
            }
        }
        if on_b.len() == 1 {
            let other = if on_b[0] == "c1" { "c2" } else { "c1" };
            a.until(other, "Online", Some("a")).await;
            a.until(on_b[0], "Standby", Some("b")).await;
            // And they stay put: no more handovers in more than a lease
            // (a move would log one out and in: its history would grow).
            let before = (a.history(other).await.len(), b.history(on_b[0]).await.len());
            tokio::time::sleep(Duration::from_secs(12)).await;
            assert_eq!(
                a.placed(other).await,
                ("Online".to_owned(), Some("a".to_owned()))
            );
            assert_eq!(
                b.placed(on_b[0]).await,
                ("Online".to_owned(), Some("b".to_owned()))
            );
            let after = (a.history(other).await.len(), b.history(on_b[0]).await.len());
            assert_eq!(before, after, "the connectors moved again");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "b runs {on_b:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both answer.
    for _ in 0..2 {
        setting.consumer().await;
    }
}

/// Cut off from etcd (a hung etcd, then a dead one), a gateway stops its
/// connectors before its lease can run out, and runs them again when
/// etcd answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_cut_off_from_etcd_stops_its_connectors_before_its_lease_runs_out() {
    let mut setting = Setting::new(&["c"]).await;
    let a = setting.member("a", &["c"], 8000);
    a.until("c", "Online", Some("a")).await;

    for cut in ["hung", "dead"] {
        if cut == "hung" {
            setting.etcd.pause();
        } else {
            setting.etcd.kill();
        }
        let cut_off = tokio::time::Instant::now();
        a.until("c", "Stopped", None).await;
        // Renewals come every 1.3 s and the fence is 3 s before the lease
        // can run out: logged out within the 8 s lease (counted from the
        // last renewal before the cut, so this is generous).
        let stopped_after = cut_off.elapsed();
        assert!(
            stopped_after < Duration::from_secs(8),
            "{cut}: {stopped_after:?}"
        );
        if cut == "hung" {
            setting.etcd.resume();
        } else {
            setting.etcd.restart();
        }
        a.until("c", "Online", Some("a")).await;
    }
    setting.consumer().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_edited_through_one_gateway_changes_on_every_gateway() {
    let setting = Setting::new(&["c"]).await;
    let (a, b) = setting.a_runs_c_and_b_stands_by(6000).await;

    // Edited through b, where it does not run: a plugin that stamps the
    // bot's answers.
    let edited = serde_json::json!({
        "bot": "b", "account": "123", "agent_user_id": "bot-c", "password": "pw-bot-c",
        "autostart": true, "custom": {"messageDelay": 100},
        "plugins": [{"file": "fixture_stamp.wasm"}],
    });
    let (code, body) = b.send("PUT", "api/connectors/c", Some(&edited)).await;
    assert_eq!(code, 200, "{body}");
    let mut consumer = Consumer::connect(&setting.hub.hub_url, "123").await;
    consumer.start_conversation().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut n = 0;
    loop {
        n += 1;
        consumer.say(&format!("hello {n}")).await;
        let answer = consumer.next_agent_text().await;
        if answer == format!("bot heard: hello {n} [STAMP-000000]") {
            break;
        }
        assert_eq!(answer, format!("bot heard: hello {n}"));
        assert!(
            tokio::time::Instant::now() < deadline,
            "a never took b's edit"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.until("c", "Online", Some("a")).await;

    // It runs (on a): b refuses to delete it, and to change who it is.
    let (code, body) = b.call("DELETE", "api/connectors/c").await;
    assert_eq!(code, 409, "{body}");
    let mut renamed = edited.clone();
    renamed["agent_user_id"] = "bot-other".into();
    renamed["password"] = "pw-bot-other".into();
    let (code, body) = b.send("PUT", "api/connectors/c", Some(&renamed)).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string().contains("cannot change while it runs"),
        "{body}"
    );
}

/// One gateway cut off from etcd (its line hangs) while another is not:
/// the cut one stops serving before the other takes the connector over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_cut_off_from_etcd_stops_before_another_takes_its_connector_over() {
    let setting = Setting::new(&["c"]).await;
    let line = EtcdLine::start(&setting.etcd.url).await;
    let a = setting.member_via(&line.url, "a", &["c"], 6000);
    a.until("c", "Online", Some("a")).await;
    let b = setting.member("b", &["c"], 6000);
    b.until("c", "Standby", Some("a")).await;
    let mut consumer = setting.consumer().await;

    line.cut();
    b.until("c", "Online", Some("b")).await;
    a.until("c", "Stopped", None).await;
    let (a_history, b_history) = (a.history("c").await, b.history("c").await);
    assert!(
        last(&a_history, "Stopped") <= last(&b_history, "Starting"),
        "a: {a_history:?}\nb: {b_history:?}"
    );
    consumer.say("still there?").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: still there?");

    // Back on the line (its lease ran out meanwhile): a joins again and
    // stands by.
    line.mend();
    a.until("c", "Standby", Some("b")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_share_connectors_through_an_etcd_with_tls_client_certificates_and_a_password() {
    let mut setting = Setting::secure(&["c"], "the-right-password").await;
    let (a, b) = setting.a_runs_c_and_b_stands_by(20_000).await;
    setting.consumer().await;

    // etcd restarts: the tokens it gave are gone, and each gateway logs in
    // again at its next call. A Stop through b reaches a.
    setting.etcd.restart();
    let (code, body) = b.call("POST", "api/connectors/c/stop").await;
    assert_eq!(code, 200, "{body}");
    a.until("c", "Stopped", None).await;
    b.until("c", "Ready to Start", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_logs_in_again_when_etcd_s_users_change() {
    // Signed tokens name the revision of etcd's users and roles: after a
    // change, etcd refuses the ones it gave before.
    let etcd = EtcdPeer::start_tls(true);
    let setting = Setting::secure_with(etcd, &["c"], "the-right-password").await;
    let (a, b) = setting.a_runs_c_and_b_stands_by(20_000).await;
    setting.etcd.add_user("someone-else").await;
    let (code, body) = b.call("POST", "api/connectors/c/stop").await;
    assert_eq!(code, 200, "{body}");
    a.until("c", "Stopped", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_whose_etcd_password_is_wrong_runs_nothing_and_says_why() {
    let setting = Setting::secure(&["c"], "a-wrong-password").await;
    let a = setting.member("a", &["c"], 6000);
    let (code, body) = a.call("POST", "api/connectors/c/start").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["error"]["code"], "cluster_unavailable", "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains("authenticate") && message.contains("invalid user ID or password"),
        "{message}"
    );
    assert!(!message.contains("a-wrong-password"), "{message}");
}
