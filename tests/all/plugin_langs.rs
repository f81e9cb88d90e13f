//! Plugins in Rust, JavaScript and Python as their authors make them, with
//! the real binary: `switchboard plugin new` and `plugin build` give, in
//! each language, a component a gateway loads, whose sample hook answers on
//! the wire, whose hook list names only the hook it defines, and whose
//! template test passes in the language's own runner; a misnamed hook stops
//! the build. The shipped examples, `plugins/mask-pii` (JavaScript) and
//! `plugins/business-hours` (Python), built the same way from a copy away
//! from the checkout, do what a brand wants in a gateway with the hub, a
//! consumer and an echoing bot.
//!
//! The build tools are installed once per machine into the target
//! directory (`peers/plugin-toolchains`, as `SWITCHBOARD_CACHE`), and Rust
//! projects share one cargo target directory there, so later runs reuse
//! both.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use switchboard::connector::Status;

use crate::support::{ConfigDir, Consumer, PATIENCE, RecordingBot, connector_file, gateway};

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

/// The target directory's folder for what these tests keep across runs.
fn kept(name: &str) -> PathBuf {
    Path::new(switchboard::plugin::BUILT_PLUGIN_DIR)
        .join("../peers")
        .join(name)
}

/// `switchboard plugin ARGS` with the tests' cache; its output.
fn plugin(args: &[&str]) -> Output {
    Command::new(SWITCHBOARD)
        .arg("plugin")
        .args(args)
        .env("SWITCHBOARD_CACHE", kept("plugin-toolchains"))
        .env("CARGO_TARGET_DIR", kept("plugin-langs-cargo"))
        .output()
        .expect("switchboard runs")
}

/// A temporary path as an argument.
fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Fails showing what `what` printed unless it succeeded.
fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a project's own tests (`cargo test`, `node --test`, `python3 -m unittest`).
fn own_tests(dir: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", kept("plugin-langs-cargo"))
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    succeeded(&format!("{program} {args:?} in {}", dir.display()), &output);
}

/// Builds the project in `dir` into `out`.
fn build(dir: &Path, out: &Path) {
    let output = plugin(&["build", text(dir), "--out", text(out)]);
    succeeded(&format!("plugin build {}", dir.display()), &output);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.starts_with("built "), "{printed}");
    assert!(out.is_file(), "{} was written", out.display());
}

/// One connector of [`config`]: its id (its bot user is `ID-bot`), the
/// skill it serves and its plugin's settings (TOML inline-table keys).
struct Connector<'a> {
    id: &'a str,
    skill: &'a str,
    settings: String,
}

/// A gateway configuration with the webhook bot `bot`, the component `wasm`
/// in its plugins folder, and `connectors` running it.
fn config(bot: &RecordingBot, wasm: &Path, connectors: &[Connector]) -> ConfigDir {
    let users: String = connectors
        .iter()
        .map(|c| {
            format!(
                "[[hub.users]]\nlogin = \"{0}-bot\"\npassword = \"pw-{0}-bot\"\nskills = [\"{1}\"]\n\n",
                c.id, c.skill
            )
        })
        .collect();
    let config = ConfigDir::with_hub(&users);
    config.append("switchboard.toml", "\n[plugins]\ndirs = [\"plugins\"]\n");
    config.write("bots/b.toml", &bot.config("b"));
    let file = wasm.file_name().unwrap().to_str().unwrap();
    config.replace(&format!("plugins/{file}"), &std::fs::read(wasm).unwrap());
    for c in connectors {
        let entry = format!(
            "[[plugins]]\nfile = \"{file}\"\nsettings = {{ {} }}\n",
            c.settings
        );
        let user = format!("{}-bot", c.id);
        config.write(
            &format!("connectors/{}.toml", c.id),
            &connector_file(c.id, "b", &user, &entry, ""),
        );
    }
    config
}

async fn online(gateway: &switchboard::app::Gateway, id: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gateway.report(id).map(|r| r.status).ok() != Some(Status::Online) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never came online"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The one plugin of connector `id`: its hook calls, faults and contract.
fn plugin_status(gateway: &switchboard::app::Gateway, id: &str) -> (u64, u64, String) {
    let report = gateway.report(id).expect("the connector exists");
    let [plugin] = &report.details.plugins[..] else {
        panic!("one plugin: {:?}", report.details.plugins);
    };
    (plugin.calls, plugin.faults, plugin.contract.clone())
}

/// `plugin new` + `plugin build` for `lang`; the project's own tests pass;
/// in a gateway, "ping" is answered by the plugin from its settings and the
/// bot is not asked, anything else reaches the bot; the host calls the one
/// hook the sample defines and no other.
async fn template_works(lang: &str, test: (&str, &[&str])) {
    let root = tempfile::tempdir().unwrap();
    let name = format!("hello-{lang}");
    let output = plugin(&["new", &name, "--lang", lang, "--dir", text(root.path())]);
    succeeded(&format!("plugin new --lang {lang}"), &output);
    let dir = root.path().join(&name);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("README.md"), "{printed}");
    for file in ["README.md", ".gitignore"] {
        assert!(dir.join(file).is_file(), "{lang}: {file}");
    }

    let wasm = root.path().join(format!("hello_{lang}.wasm"));
    build(&dir, &wasm);
    own_tests(&dir, test.0, test.1);

    let bot = RecordingBot::echo().await;
    let pong = format!("pong from {lang}");
    let config = config(
        &bot,
        &wasm,
        &[Connector {
            id: "c",
            skill: "1",
            settings: format!("pong = \"{pong}\""),
        }],
    );
    let gateway = gateway(&config).await;
    online(&gateway, "c").await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer.say("ping").await;
    assert_eq!(consumer.next_agent_text().await, pong);
    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
    assert_eq!(
        bot.texts(),
        ["hello"],
        "the bot never heard the ping the plugin answered"
    );
    // Two consumer messages: two calls. The bot's answer passed the
    // bot-message hook, which the sample does not define, uncalled.
    assert_eq!(
        plugin_status(&gateway, "c"),
        (2, 0, "0.2.0".into()),
        "calls, faults and contract of hello-{lang}"
    );
    gateway.shutdown().await;
}

/// A hook misnamed in a JavaScript or Python project stops its build with
/// a message naming it, the hook meant and the hooks there are.
fn misnamed_hook_fails_the_build(lang: &str, file: &str, code: &str, misnamed: &str, meant: &str) {
    let root = tempfile::tempdir().unwrap();
    succeeded(
        "plugin new",
        &plugin(&["new", "typo", "--lang", lang, "--dir", text(root.path())]),
    );
    let dir = root.path().join("typo");
    let mut source = std::fs::read_to_string(dir.join(file)).unwrap();
    source.push_str(code);
    std::fs::write(dir.join(file), source).unwrap();
    let output = plugin(&["build", text(&dir)]);
    assert!(!output.status.success(), "{lang}: the build succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = format!("{file} ");
    assert!(
        stderr.contains(&said)
            && stderr.contains(&format!("`{misnamed}`, which is no hook"))
            && stderr.contains(&format!("did you mean `{meant}`"))
            && stderr.contains("the hooks are "),
        "{lang}: {stderr}"
    );
    assert!(
        !dir.join("target/typo.wasm").exists(),
        "{lang}: no component"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_rust_plugin_builds_into_a_component_whose_sample_hook_answers() {
    template_works("rust", ("cargo", &["test", "--quiet"])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_javascript_plugin_builds_into_a_component_whose_sample_hook_answers() {
    template_works("js", ("node", &["--test"])).await;
    misnamed_hook_fails_the_build(
        "js",
        "plugin.js",
        "\nexport function onConsumerMesage(conv, text) {\n  return { tag: 'forward' };\n}\n",
        "onConsumerMesage",
        "onConsumerMessage",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_python_plugin_builds_into_a_component_whose_sample_hook_answers() {
    template_works("python", ("python3", &["-m", "unittest"])).await;
    misnamed_hook_fails_the_build(
        "python",
        "app.py",
        "\n\ndef on_step_upp(conv, text):\n    return text\n",
        "on_step_upp",
        "on_step_up",
    );
}

/// A copy of the shipped example `name` without what builds generate, away
/// from the checkout (a build inside `plugins/` would make cargo rebuild
/// the host): the project builds alone.
fn example_copy(name: &str, into: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let skip = ["target", "types", "bindings", "node_modules", "__pycache__"];
            if skip.contains(&entry.file_name().to_str().unwrap()) {
                continue;
            }
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(name);
    let dir = into.join(name);
    copy(&shipped, &dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mask_pii_masks_card_numbers_and_email_addresses_before_the_bot_sees_them() {
    let root = tempfile::tempdir().unwrap();
    let dir = example_copy("mask-pii", root.path());
    let wasm = root.path().join("mask_pii.wasm");
    build(&dir, &wasm);
    own_tests(&dir, "node", &["--test"]);

    let bot = RecordingBot::echo().await;
    let config = config(
        &bot,
        &wasm,
        &[Connector {
            id: "c",
            skill: "1",
            settings: String::new(),
        }],
    );
    let gateway = gateway(&config).await;
    online(&gateway, "c").await;
    let mut consumer = Consumer::of(&gateway).await;
    consumer.start_conversation().await;
    consumer
        .say("my card is 4111 1111 1111 1111, or 5500-0000-0000-0004; mail jane.doe@example.com")
        .await;
    let masked = "my card is **** **** **** 1111, or ****-****-****-0004; mail [email]";
    assert_eq!(
        consumer.next_agent_text().await,
        format!("bot heard: {masked}")
    );
    consumer.say("order 1234567 arrives on 2026-03-02").await;
    assert_eq!(
        consumer.next_agent_text().await,
        "bot heard: order 1234567 arrives on 2026-03-02"
    );
    assert_eq!(
        bot.texts(),
        [masked, "order 1234567 arrives on 2026-03-02"],
        "the bot got the masked text, and the rest unchanged"
    );
    assert_eq!(plugin_status(&gateway, "c"), (2, 0, "0.2.0".into()));
    gateway.shutdown().await;
}

/// `HH:MM` of `minutes` after midnight, any number of days on.
fn clock(minutes: i64) -> String {
    let minutes = minutes.rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_hours_answers_the_consumer_when_closed_and_lets_the_bot_answer_when_open() {
    let root = tempfile::tempdir().unwrap();
    let dir = example_copy("business-hours", root.path());
    let wasm = root.path().join("business_hours.wasm");
    build(&dir, &wasm);
    own_tests(&dir, "python3", &["-m", "unittest"]);

    // Opening hours set around the real clock, in two time zones: the
    // plugin reads the time from the host.
    let utc_minutes = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 60,
    )
    .unwrap();
    let (india, brazil) = (utc_minutes + 330, utc_minutes - 180);
    let opens_later = clock(india + 120);
    let closed = format!(
        "open = \"{opens_later}\", close = \"{}\", days = \"mon-sun\", utc_offset = \"+05:30\", \
         message = \"Closed now: we open at {{open}}.\"",
        clock(india + 180)
    );
    let open = format!(
        "open = \"{}\", close = \"{}\", days = \"mon-sun\", utc_offset = \"-03:00\", \
         message = \"Closed now.\"",
        clock(brazil - 60),
        clock(brazil + 60)
    );
    let bot = RecordingBot::echo().await;
    let config = config(
        &bot,
        &wasm,
        &[
            Connector {
                id: "closed",
                skill: "1",
                settings: closed,
            },
            Connector {
                id: "open",
                skill: "2",
                settings: open,
            },
        ],
    );
    let gateway = gateway(&config).await;
    online(&gateway, "closed").await;
    online(&gateway, "open").await;

    // Skill 1, the hub's default: the closed connector.
    let mut early = Consumer::of(&gateway).await;
    let closed_conversation = early.start_conversation().await;
    early.say("hello, anyone there?").await;
    assert_eq!(
        early.next_agent_text().await,
        format!("Closed now: we open at {opens_later}.")
    );

    // Skill 2: the open connector.
    let mut on_time = Consumer::of(&gateway).await;
    let created = on_time
        .wire
        .request(
            "cm.ConsumerRequestConversation",
            json!({"brandId": "123", "skillId": "2", "channelType": "MESSAGING"}),
        )
        .await;
    let open_conversation = created["body"]["conversationId"]
        .as_str()
        .unwrap_or_else(|| panic!("a conversation on skill 2: {created}"))
        .to_owned();
    on_time
        .wire
        .request(
            "ms.SubscribeMessagingEvents",
            json!({"dialogId": open_conversation, "fromSeq": 0}),
        )
        .await;
    on_time.conversation_id = open_conversation.clone();
    on_time.say("hello, anyone there?").await;
    assert_eq!(
        on_time.next_agent_text().await,
        "bot heard: hello, anyone there?"
    );

    let asked: Vec<String> = bot
        .turns()
        .into_iter()
        .filter(|turn| turn.kind == "message")
        .map(|turn| turn.conversation)
        .collect();
    assert_eq!(
        asked,
        [open_conversation],
        "the bot was asked in the open connector's conversation only, not in {closed_conversation}"
    );
    for id in ["closed", "open"] {
        assert_eq!(plugin_status(&gateway, id), (1, 0, "0.2.0".into()), "{id}");
    }
    gateway.shutdown().await;
}
