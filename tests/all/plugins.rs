//! The plugin runtime with real components built from `plugins/` and
//! `tests/fixtures/plugins/`: each shipped plugin running inside the host,
//! chain order, the consumer actions, the key-value store, and fallback to
//! the built-in default when a hook traps or runs past its deadline.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::config::ConversationType;
use switchboard::content::{Body, OutMessage};
use switchboard::plugin::{
    ConsumerDecision, ConversationView, Limits, LoadedPlugin, PluginChain, PluginEngine,
    PluginError, PluginInstance,
};
use switchboard::store::StateStore;

use crate::support::built_plugin;

/// One engine and one compile per component for the whole test binary.
fn engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PluginEngine::new().expect("engine starts"))
}

fn component(name: &str) -> Arc<LoadedPlugin> {
    static CACHE: OnceLock<std::sync::Mutex<BTreeMap<String, Arc<LoadedPlugin>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().unwrap().get(name) {
        return found.clone();
    }
    let loaded = engine()
        .load(&built_plugin(name))
        .unwrap_or_else(|e| panic!("{name} loads: {e}"));
    cache
        .lock()
        .unwrap()
        .insert(name.to_owned(), loaded.clone());
    loaded
}

fn instance(name: &str, settings: &[(&str, &str)], store: &StateStore) -> Arc<PluginInstance> {
    let loaded = component(name);
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let kv = store.plugin_kv(&loaded.name, "conn-1");
    Arc::new(PluginInstance::new(
        loaded,
        "conn-1",
        settings,
        kv,
        Limits::default(),
        Default::default(),
    ))
}

fn chain(plugins: &[(&str, &[(&str, &str)])], store: &StateStore) -> PluginChain {
    PluginChain::new(
        plugins
            .iter()
            .map(|(name, settings)| instance(name, settings, store))
            .collect(),
    )
}

fn conversation() -> ConversationView {
    ConversationView {
        id: "conv-1".into(),
        connector_id: "conn-1".into(),
        bot_id: "bot".into(),
        skill_id: Some("7".into()),
        consumer_id: "cons-1".into(),
        authenticated: false,
        conversation_type: ConversationType::Messaging,
        accessibility: true,
        custom_fields: vec![("tileDisplay".into(), "horizontal".into())].into(),
        record: Default::default(),
    }
}

fn card(title: &str) -> OutMessage {
    OutMessage::structured(json!({"type": "vertical", "elements": [
            {"type": "image", "url": format!("https://example.com/{title}.png"), "caption": title},
            {"type": "text", "text": title},
            {"type": "button", "title": format!("Choose {title}"), "click": {"actions": [{"type": "publishText", "text": title}]}}]}))
}

fn structured(message: &OutMessage) -> &Value {
    match &message.body {
        Body::Structured(value) => value,
        Body::Text(text) => panic!("expected structured content, got text {text}"),
    }
}

#[tokio::test]
async fn greeting_plugin_chooses_the_greeting_from_its_settings() {
    let store = StateStore::temporary().unwrap();
    let plugins = chain(
        &[(
            "greeting",
            &[
                ("authenticated", "welcome back"),
                ("skill.7", "skill seven"),
            ],
        )],
        &store,
    );
    let mut conv = conversation();
    assert_eq!(
        plugins
            .conversation_start(&conv, "hi".into())
            .await
            .as_deref(),
        Some("skill seven")
    );
    conv.authenticated = true;
    assert_eq!(
        plugins
            .conversation_start(&conv, "hi".into())
            .await
            .as_deref(),
        Some("welcome back")
    );
    conv.skill_id = None;
    conv.authenticated = false;
    assert_eq!(
        plugins
            .conversation_start(&conv, "hi".into())
            .await
            .as_deref(),
        Some("hi")
    );

    let silent = chain(&[("greeting", &[("silent", "true")])], &store);
    assert_eq!(silent.conversation_start(&conv, "hi".into()).await, None);
}

#[tokio::test]
async fn step_up_plugin_chooses_the_step_up_text() {
    let store = StateStore::temporary().unwrap();
    let default = chain(&[("step_up", &[])], &store);
    assert_eq!(
        default
            .step_up(&conversation(), "_STEPUP_".into())
            .await
            .as_deref(),
        Some("_STEPUP_")
    );
    let custom = chain(&[("step_up", &[("text", "verified {consumer}")])], &store);
    assert_eq!(
        custom
            .step_up(&conversation(), "_STEPUP_".into())
            .await
            .as_deref(),
        Some("verified cons-1")
    );
}

#[tokio::test]
async fn tile_display_plugin_joins_cards_into_one_carousel_when_horizontal() {
    let store = StateStore::temporary().unwrap();
    let plugins = chain(&[("tile_display", &[])], &store);
    let messages = vec![
        OutMessage::text("Our plans"),
        card("a"),
        card("b"),
        card("c"),
    ];
    let out = plugins.bot_message(&conversation(), messages.clone()).await;
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], OutMessage::text("Our plans"));
    let carousel = structured(&out[1]);
    assert_eq!(carousel["type"], "carousel");
    assert_eq!(carousel["elements"].as_array().unwrap().len(), 3);
    switchboard::content::validate_structured(carousel).unwrap();

    let mut vertical = conversation();
    vertical.custom_fields = vec![("tileDisplay".into(), "vertical".into())].into();
    let out = plugins.bot_message(&vertical, messages).await;
    assert_eq!(out.len(), 4, "vertical keeps the cards stacked");
}

#[tokio::test]
async fn accessibility_plugin_gives_every_element_and_quick_reply_a_tooltip() {
    let store = StateStore::temporary().unwrap();
    let plugins = chain(&[("accessibility", &[])], &store);
    let mut message = card("Plan A");
    message.quick_replies = Some(
        json!({"type": "quickReplies", "itemsPerRow": 8, "replies": [
        {"type": "button", "title": "Yes", "click": {"actions": [{"type": "publishText", "text": "yes"}]}}]}),
    );
    let out = plugins
        .bot_message(&conversation(), vec![message.clone()])
        .await;
    let tooltips: Vec<&str> = structured(&out[0])["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tooltip"].as_str().expect("every element has a tooltip"))
        .collect();
    assert_eq!(tooltips, ["Plan A", "Plan A", "Choose Plan A"]);
    assert_eq!(
        out[0].quick_replies.as_ref().unwrap()["replies"][0]["tooltip"],
        "Yes"
    );

    let mut off = conversation();
    off.accessibility = false;
    let untouched = plugins.bot_message(&off, vec![message.clone()]).await;
    assert_eq!(
        untouched,
        vec![message],
        "the option off leaves content alone"
    );
}

#[tokio::test]
async fn plugins_chain_in_order_each_seeing_the_previous_output() {
    let store = StateStore::temporary().unwrap();
    // tile-display first, then accessibility: the carousel itself gets a tooltip.
    let plugins = chain(&[("tile_display", &[]), ("accessibility", &[])], &store);
    let out = plugins
        .bot_message(&conversation(), vec![card("a"), card("b")])
        .await;
    assert_eq!(structured(&out[0])["tooltip"], "Carousel of 2 cards");
    // The other order: accessibility sees separate cards; no carousel tooltip.
    let reversed = chain(&[("accessibility", &[]), ("tile_display", &[])], &store);
    let out = reversed
        .bot_message(&conversation(), vec![card("a"), card("b")])
        .await;
    assert_eq!(structured(&out[0])["type"], "carousel");
    assert!(structured(&out[0]).get("tooltip").is_none());
}

#[tokio::test]
async fn consumer_message_hook_forwards_rewrites_drops_replies_and_escalates() {
    let store = StateStore::temporary().unwrap();
    let plugins = chain(&[("fixture_shout", &[("skill", "42")])], &store);
    let conv = conversation();
    assert_eq!(
        plugins.consumer_message(&conv, "hello".into()).await,
        ConsumerDecision::Forward("HELLO".into())
    );
    assert_eq!(
        plugins.consumer_message(&conv, "drop me".into()).await,
        ConsumerDecision::Drop
    );
    assert_eq!(
        plugins.consumer_message(&conv, "agent please".into()).await,
        ConsumerDecision::Escalate("42".into())
    );
    assert_eq!(
        plugins.consumer_message(&conv, "ping".into()).await,
        ConsumerDecision::Reply(vec![OutMessage::text("pong")])
    );
}

#[tokio::test]
async fn key_value_store_is_scoped_to_plugin_and_connector_and_kept_in_sled() {
    let store = StateStore::temporary().unwrap();
    let plugins = chain(&[("fixture_shout", &[])], &store);
    let conv = conversation();
    plugins.consumer_message(&conv, "one".into()).await;
    plugins.consumer_message(&conv, "two".into()).await;
    let answer = plugins
        .bot_message(&conv, vec![OutMessage::text("ok")])
        .await;
    assert_eq!(answer, vec![OutMessage::text("ok [2]")]);
    // The count lives in the store, under this plugin and connector only.
    let kv = store.plugin_kv("fixture_shout", "conn-1");
    assert_eq!(kv.get("conv-1").unwrap(), Some(2u64.to_le_bytes().to_vec()));
    assert_eq!(
        store
            .plugin_kv("fixture_shout", "conn-2")
            .get("conv-1")
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_trapping_plugin_falls_back_to_the_default_and_the_chain_goes_on() {
    let store = StateStore::temporary().unwrap();
    // Quarantine (after five faults in a row) is another test's subject.
    let patient = Limits {
        quarantine_after: 100,
        ..Limits::default()
    };
    let trap = component("fixture_trap");
    let kv = store.plugin_kv("fixture_trap", "conn-1");
    let trap = Arc::new(PluginInstance::new(
        trap,
        "conn-1",
        BTreeMap::new(),
        kv,
        patient,
        Default::default(),
    ));
    let plugins = PluginChain::new(vec![trap, instance("tile_display", &[], &store)]);
    let conv = conversation();
    for round in 1..=2u64 {
        // Each call traps; the default (pass through) applies and tile-display still runs.
        let out = plugins.bot_message(&conv, vec![card("a"), card("b")]).await;
        assert_eq!(structured(&out[0])["type"], "carousel", "round {round}");
        assert_eq!(
            plugins.consumer_message(&conv, "hello".into()).await,
            ConsumerDecision::Forward("hello".into())
        );
        assert_eq!(
            plugins
                .conversation_start(&conv, "hi".into())
                .await
                .as_deref(),
            Some("hi")
        );
        let status = &plugins.status()[0];
        assert_eq!(
            status.faults,
            3 * round,
            "every trap is counted: {status:?}"
        );
        assert!(
            status.last_fault.as_deref().unwrap().contains("trap"),
            "{status:?}"
        );
    }
    assert_eq!(plugins.status()[1].faults, 0);
}

#[tokio::test]
async fn a_looping_plugin_is_interrupted_at_its_deadline() {
    let store = StateStore::temporary().unwrap();
    let loaded = component("fixture_spin");
    let limits = Limits {
        deadline: Duration::from_millis(50),
        ..Limits::default()
    };
    let spin = Arc::new(PluginInstance::new(
        loaded,
        "conn-1",
        BTreeMap::new(),
        store.plugin_kv("spin", "conn-1"),
        limits,
        Default::default(),
    ));
    let plugins = PluginChain::new(vec![
        spin,
        instance("greeting", &[("text", "hello")], &store),
    ]);
    let started = Instant::now();
    let greeting = plugins
        .conversation_start(&conversation(), "hi".into())
        .await;
    assert_eq!(
        greeting.as_deref(),
        Some("hello"),
        "the loop is cut and the next plugin runs"
    );
    // Generous bound: the deadline is 50 ms; a debug build instantiates slowly.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let status = &plugins.status()[0];
    assert_eq!(status.faults, 1);
    assert!(
        status.last_fault.as_deref().unwrap().contains("deadline"),
        "{status:?}"
    );
}

#[test]
fn plugins_that_import_nothing_asynchronous_are_called_without_a_fiber() {
    for name in [
        "greeting",
        "step_up",
        "tile_display",
        "accessibility",
        "fixture_trap",
        "hostile_sleep",
        "hostile_print",
    ] {
        assert!(component(name).called_directly(), "{name}");
    }
    // A file system or socket import, or the older contract, needs a fiber.
    for name in [
        "hostile_file_read",
        "hostile_socket",
        "fixture_contract_0_1",
    ] {
        assert!(!component(name).called_directly(), "{name}");
    }
}

#[test]
fn a_component_of_another_world_is_refused_naming_the_file() {
    let path = built_plugin("fixture_no_hooks");
    let error = engine().load(&path).unwrap_err();
    assert!(matches!(error, PluginError::Invalid { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("fixture_no_hooks.wasm"), "{text}");
    assert!(
        text.contains("switchboard:connector/hooks"),
        "names what is missing: {text}"
    );
}

#[test]
fn a_file_that_is_not_webassembly_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.wasm");
    std::fs::write(&path, "not wasm at all").unwrap();
    let text = engine().load(&path).unwrap_err().to_string();
    assert!(
        text.contains("notes.wasm") && text.contains("not WebAssembly"),
        "{text}"
    );
    let missing = engine()
        .load(&dir.path().join("missing.wasm"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("missing.wasm"), "{missing}");
}
