//! Per-hook overhead of each shipped plugin, three ways, in one run:
//!
//! - `gateway`: through switchboard's plugin runtime (`PluginChain`: the
//!   deadline and fuel set per call, fault accounting, output size and
//!   LivePerson schema checks, the conversion to host types);
//! - `bare_wasmtime`: the same component and hook called through a plain
//!   `bindgen!` typed function on a default synchronous wasmtime engine,
//!   with an instance kept across calls and nothing checked;
//! - `native`: the plugin's own logic compiled natively (the plugin crates
//!   keep their rules in plain functions).
//!
//! The structured-content hooks have two more:
//!
//! - `bare_plus_check`: the bare call, then the check the gateway must make
//!   of its output (each message parsed and judged by
//!   [`OutMessage::validate`], LivePerson's schema), uncached;
//! - `gateway_new_content`: the gateway given a card it has not seen (a
//!   counter in its text), so the cache of validated content misses.
//!
//! BENCHMARKS.md reports `gateway / bare_wasmtime` for the text hooks and
//! `gateway / bare_plus_check` for the structured ones; the cache's hits and
//! validations are printed after each structured group.

use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use switchboard::config::ConversationType;
use switchboard::content::{Body, OutMessage, VALIDATED};
use switchboard::plugin::{
    ConversationView, Grants, Limits, PluginChain, PluginEngine, PluginInstance,
};
use switchboard::store::StateStore;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod bare {
    wasmtime::component::bindgen!({ world: "plugin", path: "../wit" });
}
use bare::switchboard::connector::types::{
    Content, Conversation, ConversationType as BareType, Message,
};

const CARD: &str = r#"{"type":"vertical","elements":[{"type":"image","url":"https://example.com/basic.png"},{"type":"text","text":"Basic plan"},{"type":"text","text":"10 GB, 9.99 a month"},{"type":"button","title":"Choose Basic","click":{"actions":[{"type":"publishText","text":"basic"}]}}]}"#;

fn plugin_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join(format!("{name}.wasm"))
}

fn view() -> ConversationView {
    ConversationView {
        id: "conversation-1".into(),
        connector_id: "bench".into(),
        bot_id: "bot".into(),
        skill_id: Some("1".into()),
        consumer_id: "consumer-1".into(),
        authenticated: false,
        conversation_type: ConversationType::Messaging,
        accessibility: true,
        custom_fields: vec![("tileDisplay".into(), "horizontal".into())].into(),
        record: Default::default(),
    }
}

fn cards() -> Vec<OutMessage> {
    (0..3)
        .map(|_| OutMessage::structured(serde_json::from_str(CARD).unwrap()))
        .collect()
}

/// Three cards no plugin has returned before: the card with `n` in its text.
fn new_cards(n: u64) -> Vec<OutMessage> {
    let card = CARD.replace("9.99 a month", &format!("9.99 a month, offer {n}"));
    (0..3)
        .map(|_| OutMessage::structured(serde_json::from_str(&card).unwrap()))
        .collect()
}

/// What the gateway checks of a plugin's messages, without its cache.
fn check(messages: Vec<Message>) -> Vec<OutMessage> {
    messages
        .into_iter()
        .map(|message| {
            let body = match message.body {
                Content::Text(text) => Body::Text(text),
                Content::Structured(json) => Body::Structured(serde_json::from_str(&json).unwrap()),
            };
            let quick_replies = message
                .quick_replies
                .map(|json| serde_json::from_str(&json).unwrap());
            let out = OutMessage {
                quick_replies,
                ..OutMessage::new(body)
            };
            out.validate().unwrap();
            out
        })
        .collect()
}

/// The plugin's settings in these benchmarks.
fn settings(name: &str) -> BTreeMap<String, String> {
    match name {
        "greeting" => [("text".to_owned(), "Welcome to Example Telecom!".to_owned())].into(),
        "step-up" => [("text".to_owned(), "verified {consumer}".to_owned())].into(),
        _ => BTreeMap::new(),
    }
}

fn gateway_chain(engine: &PluginEngine, store: &StateStore, name: &str) -> PluginChain {
    let loaded = engine.load(&plugin_file(&name.replace('-', "_"))).unwrap();
    PluginChain::new(vec![Arc::new(PluginInstance::new(
        loaded,
        "bench",
        settings(name),
        store.plugin_kv(name, "bench"),
        Limits::default(),
        Grants::default(),
    ))])
}

/// What the bare host offers: settings, nothing else of note.
struct BareState {
    settings: BTreeMap<String, String>,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bare::switchboard::connector::types::Host for BareState {}

impl bare::switchboard::connector::host::Host for BareState {
    fn log(&mut self, _level: bare::switchboard::connector::host::Level, _message: String) {}
    fn setting(&mut self, key: String) -> Option<String> {
        self.settings.get(&key).cloned()
    }
    fn kv_get(&mut self, _key: String) -> Option<Vec<u8>> {
        None
    }
    fn kv_set(&mut self, _key: String, _value: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
    fn kv_delete(&mut self, _key: String) -> Result<(), String> {
        Ok(())
    }
    fn now_ms(&mut self) -> u64 {
        0
    }
}

fn bare_instance(engine: &Engine, name: &str) -> (Store<BareState>, bare::Plugin) {
    let component = Component::from_file(engine, plugin_file(&name.replace('-', "_"))).unwrap();
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    bare::Plugin::add_to_linker::<BareState, HasSelf<BareState>>(&mut linker, |s| s).unwrap();
    let mut store = Store::new(
        engine,
        BareState {
            settings: settings(name),
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    let plugin = bare::Plugin::instantiate(&mut store, &component, &linker).unwrap();
    (store, plugin)
}

fn bare_conversation() -> Conversation {
    let v = view();
    Conversation {
        id: v.id,
        connector_id: v.connector_id,
        bot_id: v.bot_id,
        skill_id: v.skill_id,
        consumer_id: v.consumer_id,
        authenticated: v.authenticated,
        conversation_type: BareType::Messaging,
        accessibility: v.accessibility,
        custom_fields: v.custom_fields.to_vec(),
    }
}

fn bare_cards() -> Vec<Message> {
    (0..3)
        .map(|_| Message {
            body: Content::Structured(CARD.into()),
            quick_replies: None,
        })
        .collect()
}

fn sdk_cards() -> Vec<switchboard_sdk::Message> {
    (0..3)
        .map(|_| switchboard_sdk::Message {
            body: switchboard_sdk::Content::Structured(CARD.into()),
            quick_replies: None,
        })
        .collect()
}

fn hooks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // As the gateway runs with the shipped configuration: no fuel limit,
    // so no fuel metering (epoch deadlines, pooling, output checks).
    let cache =
        std::env::temp_dir().join(format!("switchboard-bench-cache-{}", std::process::id()));
    let engine = PluginEngine::with_cache_dir(&cache, false).unwrap();
    let store = StateStore::temporary().unwrap();
    let bare_engine = Engine::default();
    let conv = view();
    let bare_conv = bare_conversation();

    for name in ["greeting", "step-up", "tile-display", "accessibility"] {
        let mut group = c.benchmark_group(format!("hook/{name}"));
        let chain = gateway_chain(&engine, &store, name);
        let (mut bare_store, bare_plugin) = bare_instance(&bare_engine, name);
        let hooks = bare_plugin.switchboard_connector_hooks();
        let own = settings(name);
        let setting = |key: &str| own.get(key).cloned();
        match name {
            "greeting" => {
                group.bench_function("gateway", |b| {
                    b.to_async(&runtime)
                        .iter(|| chain.conversation_start(&conv, "hi".into()))
                });
                group.bench_function("bare_wasmtime", |b| {
                    b.iter(|| {
                        hooks
                            .call_on_conversation_start(&mut bare_store, &bare_conv, "hi")
                            .unwrap()
                    })
                });
                group.bench_function("native", |b| {
                    b.iter(|| greeting::choose(false, Some("1"), "hi".into(), setting))
                });
            }
            "step-up" => {
                group.bench_function("gateway", |b| {
                    b.to_async(&runtime)
                        .iter(|| chain.step_up(&conv, "_STEPUP_".into()))
                });
                group.bench_function("bare_wasmtime", |b| {
                    b.iter(|| {
                        hooks
                            .call_on_step_up(&mut bare_store, &bare_conv, "_STEPUP_")
                            .unwrap()
                    })
                });
                group.bench_function("native", |b| {
                    b.iter(|| step_up::choose("consumer-1", "_STEPUP_".into(), setting))
                });
            }
            _ => {
                // Inputs are made outside the timed part (iter_batched).
                let start = VALIDATED.stats();
                group.bench_function("gateway", |b| {
                    b.to_async(&runtime).iter_batched(
                        cards,
                        |cards| chain.bot_message(&conv, cards),
                        BatchSize::SmallInput,
                    )
                });
                group.bench_function("bare_wasmtime", |b| {
                    b.iter_batched(
                        bare_cards,
                        |cards| {
                            hooks
                                .call_on_bot_message(&mut bare_store, &bare_conv, &cards)
                                .unwrap()
                        },
                        BatchSize::SmallInput,
                    )
                });
                group.bench_function("bare_plus_check", |b| {
                    b.iter_batched(
                        bare_cards,
                        |cards| {
                            check(
                                hooks
                                    .call_on_bot_message(&mut bare_store, &bare_conv, &cards)
                                    .unwrap(),
                            )
                        },
                        BatchSize::SmallInput,
                    )
                });
                let before = VALIDATED.stats();
                let fresh = std::cell::Cell::new(0);
                group.bench_function("gateway_new_content", |b| {
                    b.to_async(&runtime).iter_batched(
                        || {
                            fresh.set(fresh.get() + 1);
                            new_cards(fresh.get())
                        },
                        |cards| chain.bot_message(&conv, cards),
                        BatchSize::SmallInput,
                    )
                });
                let after = VALIDATED.stats();
                println!(
                    "hook/{name}: validated-content cache, gateway: {} hits, {} validations; \
                     gateway_new_content: {} hits, {} validations ({} entries, {} bytes kept)",
                    before.hits - start.hits,
                    before.validations - start.validations,
                    after.hits - before.hits,
                    after.validations - before.validations,
                    after.entries,
                    after.bytes,
                );
                group.bench_function("native", |b| {
                    b.iter_batched(
                        sdk_cards,
                        |cards| {
                            if name == "tile-display" {
                                tile_display::arrange(tile_display::Mode::Horizontal, cards)
                            } else {
                                cards.into_iter().map(accessibility::add_tooltips).collect()
                            }
                        },
                        BatchSize::SmallInput,
                    )
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, hooks);
criterion_main!(benches);
