//! A plugin author's tools as real processes: `switchboard plugin call`
//! runs one hook outside the gateway; a connector with `[transcripts]`
//! records its hook calls (consumer text masked unless told otherwise);
//! `switchboard plugin replay` runs those recordings through a new version
//! and fails past the thresholds it is given.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::{ConfigDir, Consumer, RecordingBot, built_plugin, connector_file, gateway};

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

/// Runs `switchboard plugin ARGS`, with the tools' cache in the target directory.
fn plugin(args: &[&str]) -> Output {
    Command::new(SWITCHBOARD)
        .arg("plugin")
        .args(args)
        .env(
            "SWITCHBOARD_CACHE",
            Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join("../peers/plugin-tools"),
        )
        .output()
        .expect("switchboard runs")
}

fn input(dir: &Path, value: Value) -> PathBuf {
    let path = dir.join("input.json");
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn plugin_call_runs_one_hook_with_a_local_host_and_reports_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let shout = built_plugin("fixture_shout");
    let hello = input(
        dir.path(),
        json!({"text": "hello", "conversation": {"id": "c-7"}}),
    );
    let output = plugin(&[
        "call",
        shout.to_str().unwrap(),
        "consumer-message",
        "--input",
        hello.to_str().unwrap(),
        "--kv",
        "unrelated=1",
    ]);
    assert!(output.status.success(), "{output:?}");
    let report = json_of(&output);
    assert_eq!(
        report["output"],
        json!({"result": "rewrite", "text": "HELLO"})
    );
    assert_eq!(report["hook"], "consumer-message");
    assert_eq!(report["contract"], "0.2.0");
    // The host calls, in order: the count read, written, logged.
    let calls: Vec<&str> = report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call"].as_str().unwrap())
        .collect();
    assert_eq!(calls, ["kv-get", "kv-set", "log"]);
    assert_eq!(report["host_calls"][0]["key"], "c-7");
    assert_eq!(report["host_calls"][2]["message"], "rewrote message 1");
    assert!(report["fuel"].as_u64().unwrap() > 0, "{report}");
    assert!(report["kv"]["c-7"].is_string());
    assert_eq!(report["kv"]["unrelated"], "1");

    // A setting reaches the plugin: "agent please" escalates to it.
    let agent = input(dir.path(), json!({"text": "agent please"}));
    let output = plugin(&[
        "call",
        shout.to_str().unwrap(),
        "on-consumer-message",
        "--input",
        agent.to_str().unwrap(),
        "--settings",
        "skill=77",
    ]);
    let report = json_of(&output);
    assert_eq!(
        report["output"],
        json!({"result": "escalate", "skill": "77"})
    );
    assert_eq!(
        report["host_calls"][0],
        json!({"call": "setting", "key": "skill", "value": "77"})
    );
}

#[test]
fn plugin_call_reports_a_trap_as_a_fault_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let trap = built_plugin("fixture_trap");
    let hello = input(dir.path(), json!({"text": "hello"}));
    let output = plugin(&[
        "call",
        trap.to_str().unwrap(),
        "consumer-message",
        "--input",
        hello.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = json_of(&output);
    assert_eq!(report["output"]["result"], "fault");
    let reason = report["output"]["reason"].as_str().unwrap();
    assert!(reason.contains("trap"), "{reason}");
}

#[test]
fn plugin_call_refuses_an_input_that_is_not_the_hooks_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let shout = built_plugin("fixture_shout");
    let wrong = input(dir.path(), json!({"messages": [{"text": "a"}]}));
    let output = plugin(&[
        "call",
        shout.to_str().unwrap(),
        "consumer-message",
        "--input",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(wrong.to_str().unwrap()) && stderr.contains("`text`"),
        "{stderr}"
    );
    let output = plugin(&["call", shout.to_str().unwrap(), "greet", "--input", "x"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no hook `greet`"),
        "{output:?}"
    );
}

/// Connector `c` with `plugin` (a file in the configuration's plugins
/// folder) and `[transcripts]` as given.
fn recording_connector(bot: &RecordingBot, plugin: &str, transcripts: &str) -> ConfigDir {
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", &bot.config("b"));
    let file = connector_file("c", "b", "bot-user", "", "messageDelay = 100");
    let file = file.replace(
        "\n[custom]\n",
        &format!(
            "\n[[plugins]]\nfile = \"{plugin}\"\n\n[transcripts]\n{transcripts}\n\n[custom]\n"
        ),
    );
    config.write("connectors/c.toml", &file);
    config
}

/// Every transcript line the gateway wrote for plugin `name` of connector `c`.
async fn transcript(config: &ConfigDir, name: &str, count: usize) -> Vec<Value> {
    let dir = config.path().join("data/transcripts/c").join(name);
    let mut lines = Vec::new();
    crate::support::eventually("the transcript lines are written", || {
        lines = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|f| {
                std::fs::read_to_string(f.path())
                    .unwrap_or_default()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<Value>>()
            })
            .collect();
        lines.len() >= count
    })
    .await;
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_connector_keeps_each_hook_call_with_consumer_text_masked() {
    let bot = RecordingBot::echo().await;
    let config = recording_connector(&bot, "fixture_shout.wasm", "record = true");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    let conversation = consumer.start_conversation().await;
    consumer
        .say("card 4111 1111 1111 1111 mail jo@example.com")
        .await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: CARD 4111 1111 1111 1111 MAIL JO@EXAMPLE.COM [1]"
    );
    let lines = transcript(&config, "fixture_shout", 2).await;
    let consumer_line = &lines[0];
    assert_eq!(consumer_line["connector"], "c");
    assert_eq!(consumer_line["plugin"], "fixture_shout");
    assert_eq!(consumer_line["conversation"]["id"], conversation.as_str());
    assert_eq!(consumer_line["masked"], true);
    assert_eq!(
        consumer_line["input"],
        json!({"hook": "consumer-message", "text": "card #### #### #### #### mail [email]"})
    );
    assert_eq!(
        consumer_line["output"],
        json!({"result": "rewrite", "text": "CARD #### #### #### #### MAIL [email]"})
    );
    assert_eq!(lines[1]["input"]["hook"], "bot-message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_told_not_to_mask_keeps_the_text_as_it_was() {
    let bot = RecordingBot::echo().await;
    let config = recording_connector(&bot, "fixture_shout.wasm", "record = true\nmask = false");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("order 1234").await;
    consumer.next_agent_text().await;
    let lines = transcript(&config, "fixture_shout", 1).await;
    assert_eq!(lines[0]["input"]["text"], "order 1234");
    assert_eq!(lines[0]["masked"], false);
}

/// The stamp fixture tagged `STAMP-{version:06}`, written to a file in `dir`.
fn stamp_version(dir: &Path, version: usize) -> PathBuf {
    let path = dir.join(format!("stamp-{version}.wasm"));
    std::fs::write(&path, crate::support::stamp_version(version)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_replay_compares_a_new_version_with_the_recording_and_gates_on_thresholds() {
    let bot = RecordingBot::echo().await;
    let config = recording_connector(&bot, "fixture_shout.wasm", "record = true\nmask = false");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    for text in ["one", "two", "three"] {
        consumer.say(text).await;
        consumer.next_agent_text().await;
    }
    transcript(&config, "fixture_shout", 6).await;
    let transcripts = config.path().join("data/transcripts/c/fixture_shout");
    let transcripts = transcripts.to_str().unwrap();

    // The same version gives what was recorded, state (the count in the
    // key-value store) included.
    let shout = built_plugin("fixture_shout");
    let same = plugin(&[
        "replay",
        shout.to_str().unwrap(),
        "--transcripts",
        transcripts,
        "--json",
    ]);
    assert!(same.status.success(), "{same:?}");
    let report = json_of(&same);
    assert_eq!(report["hooks"]["consumer-message"]["calls"], 3);
    assert_eq!(report["hooks"]["bot-message"]["calls"], 3);
    assert_eq!(report["hooks"]["consumer-message"]["changed"], 0);
    assert_eq!(report["hooks"]["bot-message"]["changed"], 0);

    // Another plugin (stamp implements only bot-message): every output of
    // both hooks changes, a diff shows the first, and the threshold fails.
    let dir = tempfile::tempdir().unwrap();
    let stamp = stamp_version(dir.path(), 1);
    let changed = plugin(&[
        "replay",
        stamp.to_str().unwrap(),
        "--transcripts",
        transcripts,
        "--max-changed-percent",
        "10",
        "--show",
        "1",
    ]);
    assert_eq!(changed.status.code(), Some(2), "{changed:?}");
    let text = String::from_utf8_lossy(&changed.stdout);
    assert!(
        text.contains("compared with the recorded outputs"),
        "{text}"
    );
    assert!(
        text.contains("-   \"result\": \"rewrite\"")
            && text.contains("+   \"result\": \"skipped\""),
        "{text}"
    );
    assert!(
        text.contains(
            "FAILED: 6 of 6 outputs changed (100.0%), more than --max-changed-percent 10"
        ),
        "{text}"
    );

    // Version against version: two stamps differ on every bot message.
    let old = stamp_version(dir.path(), 2);
    let against = plugin(&[
        "replay",
        stamp.to_str().unwrap(),
        "--transcripts",
        transcripts,
        "--against",
        old.to_str().unwrap(),
        "--json",
    ]);
    assert!(against.status.success(), "no threshold given: {against:?}");
    let report = json_of(&against);
    assert_eq!(report["hooks"]["bot-message"]["changed"], 3);
    assert_eq!(report["hooks"]["consumer-message"]["changed"], 0);
    let diff = report["changes"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("STAMP-000002") && diff.contains("STAMP-000001"),
        "{diff}"
    );
}

#[test]
fn the_sdk_packages_as_a_crate_of_its_own() {
    // `cargo package` builds the packaged crates from their tarballs alone:
    // the SDK's contract and macros must be inside them.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join("../sdk-package");
    let output = Command::new(env!("CARGO"))
        .args([
            "package",
            "--allow-dirty",
            "-p",
            "switchboard-sdk-macros",
            "-p",
            "switchboard-sdk",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&workspace)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo package failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = Command::new(env!("CARGO"))
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "-p",
            "switchboard-sdk",
        ])
        .current_dir(&workspace)
        .output()
        .expect("cargo runs");
    let files = String::from_utf8_lossy(&listed.stdout);
    assert!(files.lines().any(|f| f == "wit/connector.wit"), "{files}");
    assert!(files.lines().any(|f| f == "README.md"), "{files}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_liveperson_would_refuse_is_recorded_as_the_fault_it_is_and_replays_alike() {
    let bot = RecordingBot::echo().await;
    let config = recording_connector(&bot, "hostile_invalid_content.wasm", "record = true");
    let gateway = gateway(&config).await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    // The default applies: the bot's own answer is published.
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
    let lines = transcript(&config, "hostile_invalid_content", 1).await;
    let bot_line = lines
        .iter()
        .find(|l| l["input"]["hook"] == "bot-message")
        .expect("the bot-message call is recorded");
    assert_eq!(bot_line["output"]["result"], "fault");
    let reason = bot_line["output"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("bad output, message 0:"), "{reason}");

    let transcripts = config
        .path()
        .join("data/transcripts/c/hostile_invalid_content");
    let same = plugin(&[
        "replay",
        built_plugin("hostile_invalid_content").to_str().unwrap(),
        "--transcripts",
        transcripts.to_str().unwrap(),
        "--max-faults",
        "5",
        "--json",
    ]);
    assert!(same.status.success(), "{same:?}");
    let report = json_of(&same);
    let bot_message = &report["hooks"]["bot-message"];
    assert_eq!(bot_message["changed"], 0, "{report}");
    assert_eq!(bot_message["new_faults"], bot_message["baseline_faults"]);
}
