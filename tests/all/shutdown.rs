//! Clean shutdown of `switchboard run` as a real process, with the hub in
//! a process of its own (`switchboard hub`), as LivePerson's platform is:
//! SIGTERM or SIGINT logs every connector out (the platform re-routes its
//! conversations at once, long before its grace period for a dropped
//! agent), keeps the conversations' state, and exits 0 within 5 s; a second
//! signal during the shutdown exits at once, non-zero. A gateway whose hub
//! is embedded closes the hub's sockets as it goes (1001, going away).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    ConfigDir, Consumer, GatewayProcess, PATIENCE, RecordingBot, connector_file, connectors_for,
    conversation_change, patient_hub,
};

/// How long a supervisor waits between SIGTERM and SIGKILL, commonly.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// A gateway with connector `c` (user `bot-c`) on the hub at `hub_url`.
fn gateway_config(hub_url: &str, bot: &RecordingBot) -> ConfigDir {
    let file = connector_file("c", "b", "bot-c", "", "messageDelay = 100");
    connectors_for(hub_url, bot, &[("c", file)])
}

/// The hub, a gateway on it and a consumer whose "hello" the bot answered.
struct InConversation {
    hub: GatewayProcess,
    gateway: GatewayProcess,
    _consumer: Consumer,
    _bot: RecordingBot,
    _dirs: [ConfigDir; 2],
}

async fn a_gateway_in_a_conversation() -> InConversation {
    let (platform, hub) = patient_hub(&["bot-c"]);
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&hub.hub_url, &bot);
    let gateway = GatewayProcess::start_until(config.path(), "switchboard: connector c:");
    let mut consumer = Consumer::connect(&hub.hub_url, "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");
    InConversation {
        hub,
        gateway,
        _consumer: consumer,
        _bot: bot,
        _dirs: [platform, config],
    }
}

/// The saved state of conversation `id` of connector `c`, as JSON.
fn saved_state(data_dir: &Path, id: &str) -> serde_json::Value {
    let store = switchboard::store::StateStore::open(data_dir).expect("the store opens");
    let bytes = store
        .conversations("c")
        .get(id)
        .unwrap()
        .unwrap_or_else(|| panic!("conversation {id} is saved"));
    serde_json::from_slice(&bytes).expect("saved state is JSON")
}

async fn a_signal_logs_out_keeps_state_and_exits_zero(signal: &str) {
    let (_platform, hub) = patient_hub(&["bot-c"]);
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&hub.hub_url, &bot);
    let mut gateway = GatewayProcess::start_until(config.path(), "switchboard: connector c:");

    let mut consumers = Vec::new();
    for n in 0..2 {
        let mut consumer = Consumer::connect(&hub.hub_url, "123").await;
        consumer.start_conversation().await;
        let sequence = consumer.say(&format!("hello {n}")).await;
        assert_eq!(
            consumer.next_agent_text().await,
            format!("bot heard: hello {n}")
        );
        consumers.push((consumer, sequence));
    }

    let sent = Instant::now();
    gateway.signal(signal);
    // The hub re-routes at once: each consumer sees its agent leave.
    for (consumer, _) in &mut consumers {
        conversation_change(consumer, |details| {
            let agents = details["participants"]
                .as_array()?
                .iter()
                .filter(|p| p["role"] == "ASSIGNED_AGENT")
                .count();
            (agents == 0).then_some(())
        })
        .await;
    }
    assert!(
        sent.elapsed() < EXIT_WITHIN,
        "logged out after {:?}, not after the hub's grace period",
        sent.elapsed()
    );
    let status = gateway
        .exit_within(EXIT_WITHIN)
        .expect("the gateway exits within 5 s");
    assert_eq!(status.code(), Some(0), "a clean shutdown exits 0");
    assert!(sent.elapsed() < EXIT_WITHIN, "{:?}", sent.elapsed());

    // Every conversation's state is on disk and the store opens at once.
    for (consumer, sequence) in &consumers {
        let saved = saved_state(&config.path().join("data"), &consumer.conversation_id);
        assert_eq!(
            saved["newest_handled"].as_u64(),
            Some(*sequence),
            "the handled message is recorded: {saved}"
        );
        assert!(saved["in_flight"].is_null(), "{saved}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_logs_the_connectors_out_keeps_their_state_and_exits_zero() {
    a_signal_logs_out_keeps_state_and_exits_zero("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_logs_the_connectors_out_keeps_their_state_and_exits_zero() {
    a_signal_logs_out_keeps_state_and_exits_zero("INT").await;
}

/// The platform stops answering (SIGSTOP), so the logout hangs; a second
/// signal ends the gateway at once, with a non-zero status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_during_the_shutdown_exits_at_once_non_zero() {
    // Bound whole: its consumer, bot and directories live to the end.
    let mut running = a_gateway_in_a_conversation().await;
    let (hub, gateway) = (&running.hub, &mut running.gateway);

    hub.signal("STOP");
    gateway.signal("TERM");
    gateway.wait_for_line("switchboard: shutting down");
    let second = Instant::now();
    gateway.signal("TERM");
    let status = gateway.exit_within(Duration::from_secs(2));
    let took = second.elapsed();
    hub.signal("CONT");
    let status = status.expect("a second signal ends the gateway at once");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        status.code(),
        Some(switchboard::server::EXIT_INTERRUPTED),
        "{status:?}"
    );
}

/// A platform that does not answer cannot hold a shutdown past 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_does_not_answer_the_logout_does_not_hold_the_shutdown() {
    // Bound whole: its consumer, bot and directories live to the end.
    let mut running = a_gateway_in_a_conversation().await;
    let (hub, gateway) = (&running.hub, &mut running.gateway);

    hub.signal("STOP");
    let sent = Instant::now();
    gateway.signal("TERM");
    let status = gateway.exit_within(EXIT_WITHIN);
    let took = sent.elapsed();
    hub.signal("CONT");
    let status = status.expect("the gateway exits within 5 s");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(took < EXIT_WITHIN, "{took:?}");
}

/// The embedded hub stops with its gateway: its consumers' sockets are
/// closed with 1001 (going away), and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_the_embedded_hub_closes_its_consumers_sockets_1001_and_exits_zero() {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::new(&["bot-c"]);
    config.write("bots/b.toml", &bot.config("b"));
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-c", "", "messageDelay = 100"),
    );
    let mut gateway = GatewayProcess::start(config.path());
    let mut consumer = Consumer::connect(&gateway.hub_url, "123").await;
    consumer.start_conversation().await;
    consumer.say("hello").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: hello");

    gateway.signal("TERM");
    assert_eq!(consumer.wire.close_code().await, Some(1001));
    let status = gateway
        .exit_within(EXIT_WITHIN)
        .expect("the gateway exits within 5 s");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// A bot call in flight when the signal comes is given its time (1.5 s)
/// to be answered, and the answer is published before the connector logs
/// out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_call_in_flight_at_a_signal_is_answered_and_published() {
    let (_platform, hub) = patient_hub(&["bot-c"]);
    const ANSWERS_AFTER: Duration = Duration::from_secs(1);
    let bot = RecordingBot::start_slow(
        ANSWERS_AFTER,
        |text| json!([{ "text": format!("bot heard: {text}") }]),
    )
    .await;
    let config = gateway_config(&hub.hub_url, &bot);
    let mut gateway = GatewayProcess::start_until(config.path(), "switchboard: connector c:");
    let mut consumer = Consumer::connect(&hub.hub_url, "123").await;
    consumer.start_conversation().await;
    consumer.say("last words").await;
    // The bot has it, and answers a second later: after the shutdown began.
    let asked = bot.wait_for(1).await[0].at;
    gateway.signal("TERM");
    gateway.wait_for_line("switchboard: shutting down");
    assert!(
        asked + ANSWERS_AFTER > std::time::Instant::now(),
        "the shutdown began after the bot answered: nothing was in flight"
    );
    assert_eq!(consumer.next_agent_text().await, "bot heard: last words");
    let status = gateway
        .exit_within(EXIT_WITHIN)
        .expect("the gateway exits within 5 s");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// A signal while a connector is still starting (here its platform never
/// answers the domain lookup) stops the gateway at once, with status 0: a
/// login that hangs does not hold the shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_a_connector_is_still_starting_stops_at_once() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bot = RecordingBot::echo().await;
    let config = gateway_config(&format!("http://{}", silent.local_addr().unwrap()), &bot);
    let mut gateway = GatewayProcess::start_until(config.path(), "switchboard: connector c:");
    // Starting: it asks the platform, which never answers.
    let (_asked, _) = tokio::time::timeout(PATIENCE, silent.accept())
        .await
        .expect("the connector looks its platform up")
        .unwrap();
    let sent = Instant::now();
    gateway.signal("TERM");
    let status = gateway
        .exit_within(Duration::from_secs(2))
        .unwrap_or_else(|| panic!("not stopped {:?} after the signal", sent.elapsed()));
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// A component of [`FUNCTIONS`] functions of [`STEPS`] dependent steps
/// each: megabytes of code, which take Cranelift seconds to compile, and
/// no plugin (it exports nothing), so a start that went on would fail.
fn large_component() -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, Component, Function, FunctionSection, Instruction, Module, ModuleSection,
        TypeSection, ValType,
    };
    const FUNCTIONS: u32 = 400;
    const STEPS: i32 = 2_000;
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let (mut functions, mut code) = (FunctionSection::new(), CodeSection::new());
    for _ in 0..FUNCTIONS {
        functions.function(0);
        let mut body = Function::new([]);
        body.instruction(&Instruction::LocalGet(0));
        for step in 0..STEPS {
            body.instruction(&Instruction::I32Const(step | 1))
                .instruction(&Instruction::I32Mul)
                .instruction(&Instruction::LocalGet(0))
                .instruction(&Instruction::I32Xor);
        }
        body.instruction(&Instruction::End);
        code.function(&body);
    }
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

/// A signal while the gateway starts stops it at once, with status 0 and
/// saying so, even while a large plugin compiles: compiling runs off the
/// runtime's threads, where it holds neither the signal nor anything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_a_large_plugin_compiles_at_start_stops_at_once() {
    let bot = RecordingBot::echo().await;
    // No platform is ever asked: the start does not get that far.
    let config = gateway_config("http://127.0.0.1:9", &bot);
    config.append("switchboard.toml", "\n[plugins]\ndirs = [\"plugins\"]\n");
    config.replace("plugins/large.wasm", &large_component());
    config.append(
        "connectors/c.toml",
        "\n[[plugins]]\nfile = \"large.wasm\"\n",
    );
    let mut gateway = GatewayProcess::start_until(config.path(), "switchboard: starting");
    let sent = Instant::now();
    gateway.signal("TERM");
    gateway.wait_for_line("switchboard: stopped while starting");
    let status = gateway
        .exit_within(EXIT_WITHIN)
        .unwrap_or_else(|| panic!("not stopped {:?} after the signal", sent.elapsed()));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        sent.elapsed() < EXIT_WITHIN,
        "stopped {:?} after the signal",
        sent.elapsed()
    );
}
