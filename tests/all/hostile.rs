//! The hostile-plugin suite: fifteen fixture components that loop,
//! recurse, hoard memory, trap, panic, flood output, dawdle, sleep, break the
//! structured-content schema, and try the filesystem, the environment, the
//! network, stdio, the clock and the key-value store. Each is contained: the hook's
//! default applies, the fault is counted, and the conversation goes on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard::config::ConversationType;
use switchboard::content::OutMessage;
use switchboard::plugin::{
    ConsumerDecision, ConversationView, Grants, Limits, PluginChain, PluginEngine, PluginInstance,
};
use switchboard::store::StateStore;

use crate::support::{ConfigDir, Consumer, RecordingBot, built_plugin, connector_file, gateway};

fn conversation() -> ConversationView {
    ConversationView {
        id: "conv-1".into(),
        connector_id: "conn-1".into(),
        bot_id: "bot".into(),
        skill_id: None,
        consumer_id: "cons-1".into(),
        authenticated: false,
        conversation_type: ConversationType::Messaging,
        accessibility: false,
        custom_fields: Vec::new().into(),
        record: Default::default(),
    }
}

/// A chain of the one fixture `name`, with these settings, limits and grants.
fn chain(
    name: &str,
    settings: &[(&str, &str)],
    limits: Limits,
    grants: Grants,
) -> (PluginChain, StateStore) {
    static ENGINE: std::sync::OnceLock<PluginEngine> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| PluginEngine::new().unwrap());
    let store = StateStore::temporary().unwrap();
    let loaded = engine.load(&built_plugin(name)).unwrap();
    let settings: BTreeMap<String, String> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let kv = store.plugin_kv(&loaded.name, "conn-1");
    let instance = PluginInstance::new(loaded, "conn-1", settings, kv, limits, grants);
    (PluginChain::new(vec![Arc::new(instance)]), store)
}

/// Runs the consumer hook of `name` on "hello"; returns the decision and the last fault.
async fn consumer_hook(name: &str, limits: Limits) -> (ConsumerDecision, Option<String>) {
    let (plugins, _store) = chain(name, &[], limits, Grants::default());
    let decision = plugins
        .consumer_message(&conversation(), "hello".into())
        .await;
    (decision, plugins.status()[0].last_fault.clone())
}

/// The fixture falls back to forwarding "hello" unchanged, with a fault like `expected`.
async fn contained(name: &str, limits: Limits, expected: &str) {
    let (decision, fault) = consumer_hook(name, limits).await;
    assert_eq!(
        decision,
        ConsumerDecision::Forward("hello".into()),
        "{name}"
    );
    let fault = fault.unwrap_or_else(|| panic!("{name}: no fault recorded"));
    assert!(fault.contains(expected), "{name}: {fault}");
}

fn reported(decision: ConsumerDecision) -> String {
    match decision {
        ConsumerDecision::Forward(text) => text,
        other => panic!("expected a rewrite, got {other:?}"),
    }
}

#[tokio::test]
async fn an_endless_loop_is_interrupted_at_the_deadline() {
    contained("fixture_spin", Limits::default(), "deadline exceeded").await;
}

#[tokio::test]
async fn an_endless_loop_runs_out_of_fuel_when_fuel_is_limited() {
    let limits = Limits {
        fuel: Some(5_000_000),
        deadline: Duration::from_secs(10),
        ..Limits::default()
    };
    contained("fixture_spin", limits, "fuel exhausted").await;
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack_and_traps() {
    contained("hostile_recursion", Limits::default(), "trap").await;
}

#[tokio::test]
async fn a_memory_bomb_hits_the_instance_memory_cap() {
    let limits = Limits {
        memory_bytes: 8 << 20,
        ..Limits::default()
    };
    contained("hostile_memory_bomb", limits, "memory cap exceeded").await;
}

#[tokio::test]
async fn an_unreachable_instruction_traps() {
    contained("hostile_unreachable", Limits::default(), "trap").await;
}

#[tokio::test]
async fn a_panic_traps() {
    contained("fixture_trap", Limits::default(), "trap").await;
}

#[tokio::test]
async fn huge_output_is_refused() {
    contained("hostile_huge_output", Limits::default(), "output too large").await;
}

#[tokio::test]
async fn a_slow_hook_just_under_the_deadline_works_and_just_over_is_cut() {
    let limits = Limits {
        deadline: Duration::from_millis(400),
        ..Limits::default()
    };
    let (under, _store) = chain(
        "hostile_slow",
        &[("busy_ms", "100")],
        limits,
        Grants::default(),
    );
    let decision = under
        .consumer_message(&conversation(), "hello".into())
        .await;
    assert_eq!(reported(decision), "slow: hello");
    assert_eq!(under.status()[0].faults, 0);

    let (over, _store) = chain(
        "hostile_slow",
        &[("busy_ms", "1500")],
        limits,
        Grants::default(),
    );
    let decision = over.consumer_message(&conversation(), "hello".into()).await;
    assert_eq!(decision, ConsumerDecision::Forward("hello".into()));
    assert!(
        over.status()[0]
            .last_fault
            .as_deref()
            .unwrap()
            .contains("deadline exceeded")
    );
}

#[tokio::test]
async fn a_hook_that_sleeps_faults_at_once_instead_of_holding_the_connector() {
    // The fixture sleeps 10 s; the deadline would cut it only once it ran again.
    let started = std::time::Instant::now();
    contained("hostile_sleep", Limits::default(), "would wait").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the hook waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn printing_to_stdout_and_stderr_is_discarded_and_no_fault() {
    let (decision, fault) = consumer_hook("hostile_print", Limits::default()).await;
    assert_eq!(reported(decision), "printed: hello");
    assert_eq!(fault, None);
}

#[tokio::test]
async fn invalid_structured_content_is_refused_and_the_bot_answer_kept() {
    let (plugins, _store) = chain(
        "hostile_invalid_content",
        &[],
        Limits::default(),
        Grants::default(),
    );
    let answer = vec![OutMessage::text("the bot's answer")];
    let out = plugins.bot_message(&conversation(), answer.clone()).await;
    assert_eq!(out, answer);
    let fault = plugins.status()[0].last_fault.clone().unwrap();
    assert!(
        fault.contains("bad output") && fault.contains("schema"),
        "{fault}"
    );
}

#[tokio::test]
async fn the_filesystem_is_closed_unless_a_directory_is_granted() {
    let (plugins, _store) = chain(
        "hostile_file_read",
        &[],
        Limits::default(),
        Grants::default(),
    );
    let denied = reported(
        plugins
            .consumer_message(&conversation(), "hello".into())
            .await,
    );
    assert!(denied.starts_with("denied:"), "{denied}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("greeting.txt"), "granted words").unwrap();
    let grants = Grants {
        dirs: vec![(PathBuf::from(dir.path()), "/granted".into())],
        ..Grants::default()
    };
    let (plugins, _store) = chain(
        "hostile_file_read",
        &[("path", "/granted/greeting.txt")],
        Limits::default(),
        grants,
    );
    let read = reported(
        plugins
            .consumer_message(&conversation(), "hello".into())
            .await,
    );
    assert_eq!(read, "read: granted words");
}

#[tokio::test]
async fn the_environment_is_empty_unless_a_variable_is_granted() {
    let (plugins, _store) = chain(
        "hostile_env_read",
        &[],
        Limits::default(),
        Grants::default(),
    );
    let denied = reported(
        plugins
            .consumer_message(&conversation(), "hello".into())
            .await,
    );
    assert!(
        denied.starts_with("denied:"),
        "HOME must not leak: {denied}"
    );

    let grants = Grants {
        env: vec![("BRAND".into(), "acme".into())],
        ..Grants::default()
    };
    let (plugins, _store) = chain(
        "hostile_env_read",
        &[("name", "BRAND")],
        Limits::default(),
        grants,
    );
    assert_eq!(
        reported(
            plugins
                .consumer_message(&conversation(), "hello".into())
                .await
        ),
        "read: acme"
    );
}

#[tokio::test]
async fn sockets_are_denied_even_to_a_listening_loopback_port() {
    // Something really listens, so only the sandbox can make the connect fail.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (plugins, _store) = chain(
        "hostile_socket",
        &[("address", &address)],
        Limits::default(),
        Grants::default(),
    );
    let denied = reported(
        plugins
            .consumer_message(&conversation(), "hello".into())
            .await,
    );
    assert!(denied.starts_with("denied:"), "{denied}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
}

#[tokio::test]
async fn clocks_tick_in_milliseconds_unless_the_precise_clock_is_granted() {
    let limits = Limits {
        deadline: Duration::from_secs(5),
        ..Limits::default()
    };
    let tick = |text: String| {
        text.strip_prefix("tick: ")
            .unwrap()
            .parse::<u128>()
            .unwrap()
    };
    let (coarse, _store) = chain("hostile_clock", &[], limits, Grants::default());
    let coarse_tick = tick(reported(
        coarse
            .consumer_message(&conversation(), "hello".into())
            .await,
    ));
    assert!(coarse_tick >= 1_000_000, "finest tick {coarse_tick} ns");

    let grants = Grants {
        precise_clock: true,
        ..Grants::default()
    };
    let (precise, _store) = chain("hostile_clock", &[], limits, grants);
    let precise_tick = tick(reported(
        precise
            .consumer_message(&conversation(), "hello".into())
            .await,
    ));
    assert!(precise_tick < 1_000_000, "finest tick {precise_tick} ns");
}

#[tokio::test]
async fn the_key_value_store_has_a_quota() {
    let limits = Limits {
        kv_quota_bytes: 256 << 10,
        ..Limits::default()
    };
    let (plugins, _store) = chain("hostile_kv_flood", &[], limits, Grants::default());
    let report = reported(
        plugins
            .consumer_message(&conversation(), "hello".into())
            .await,
    );
    assert!(
        report.starts_with("refused after 4: key-value quota exceeded"),
        "{report}"
    );
}

#[tokio::test]
async fn a_plugin_whose_output_is_refused_every_time_is_quarantined_too() {
    let limits = Limits {
        quarantine_after: 3,
        ..Limits::default()
    };
    let (plugins, _store) = chain("hostile_invalid_content", &[], limits, Grants::default());
    let answer = vec![OutMessage::text("the bot's answer")];
    for _ in 0..5 {
        let out = plugins.bot_message(&conversation(), answer.clone()).await;
        assert_eq!(out, answer);
    }
    let status = plugins.status()[0].clone();
    assert!(status.quarantined, "{status:?}");
    assert_eq!((status.calls, status.faults), (3, 3), "{status:?}");
}

#[tokio::test]
async fn a_plugin_that_keeps_failing_is_quarantined_until_reset() {
    let limits = Limits {
        quarantine_after: 3,
        ..Limits::default()
    };
    let (plugins, _store) = chain("fixture_trap", &[], limits, Grants::default());
    for _ in 0..5 {
        let decision = plugins
            .consumer_message(&conversation(), "hello".into())
            .await;
        assert_eq!(decision, ConsumerDecision::Forward("hello".into()));
    }
    let status = plugins.status()[0].clone();
    assert!(status.quarantined);
    assert_eq!(
        (status.calls, status.faults),
        (3, 3),
        "not called once quarantined: {status:?}"
    );
    plugins.plugins()[0].reset();
    plugins
        .consumer_message(&conversation(), "hello".into())
        .await;
    let status = plugins.status()[0].clone();
    assert_eq!(status.calls, 4, "called again after the reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_conversations_are_answered_while_a_plugin_misbehaves() {
    let bot = RecordingBot::echo().await;
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", &bot.config("b"));
    let plugins = "[[plugins]]\nfile = \"fixture_spin.wasm\"\nlimits = { quarantine_after = 1000 }\n\n\
                   [[plugins]]\nfile = \"hostile_memory_bomb.wasm\"\nlimits = { memory_mib = 8, quarantine_after = 1000 }\n";
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", plugins, "messageDelay = 100"),
    );
    let gateway = gateway(&config).await;
    let mut consumers = Vec::new();
    for _ in 0..3 {
        let mut consumer = Consumer::of(&gateway).await;
        consumer.start_conversation().await;
        consumers.push(consumer);
    }
    for round in 0..2 {
        for (n, consumer) in consumers.iter_mut().enumerate() {
            consumer.say(&format!("round {round} from {n}")).await;
        }
        for (n, consumer) in consumers.iter_mut().enumerate() {
            assert_eq!(
                consumer.next_agent_text().await,
                format!("bot heard: round {round} from {n}")
            );
        }
    }
    let report = gateway.report("c").unwrap();
    for plugin in &report.details.plugins {
        assert!(plugin.faults >= 6, "{plugin:?}");
    }
    assert!(
        report
            .details
            .plugins
            .iter()
            .all(|p| p.consecutive_faults > 0),
        "Details show them down"
    );
}
