//! Host-side bindings of the contract and the host's implementation of the
//! `host` interface a plugin imports.
//!
//! The runtime works in the types of the newest contract (`wit/`, 0.2.0).
//! Components built against an older one are linked too ([`v0_1`]): their
//! imports are served by the same host state, and their hooks are called
//! through [`Exports`], which converts at the component's edge.
//!
//! A component built against the newest contract whose imports are all
//! synchronous host functions (Rust plugins that import neither WASI's
//! file system nor its sockets; `wasi:io` comes from [`no_wait`]) is
//! called directly, on the caller's stack. Any other is called through a
//! fiber: one that imports an asynchronous function (the file system,
//! sockets), and one built against contract 0.1, which has no direct
//! binding. wasmtime decides from the component's imports, not from
//! grants: [`Pre::link`] links each component directly when it can.
//! Called directly, a plugin runs on the caller's stack (a Tokio worker's,
//! 2 MiB); wasmtime's wasm stack limit (512 KiB) bounds its share.

pub mod no_wait;
pub mod v0_1;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::{Grants, Limits};
use crate::store::KvScope;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: trappable },
    exports: { default: async },
    // The chain tells a plugin's unchanged output by comparing it.
    additional_derives: [PartialEq],
});

/// The newest contract's hooks as synchronous calls, for components that
/// import nothing asynchronous. Its types and host interface are the ones above.
pub mod direct {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit",
        with: {
            "switchboard:connector/types": super::switchboard::connector::types,
            "switchboard:connector/host": super::switchboard::connector::host,
        },
    });
}

pub use self::switchboard::connector::types::{Content, ConversationType};
pub use exports::switchboard::connector::hooks::{
    BotFailure, ConsumerAction, Conversation, EndReason, FailureAction, Hook, Message,
};

use super::call::{Call, HookName, Outcome};
use wasmtime::Store;
use wasmtime::component::{Component, Linker};

use self::switchboard::connector::host::Level;

/// The most bytes of key plus value one `kv-set` may write.
const KV_ENTRY_MAX: usize = 64 << 10;

/// What a plugin's store holds: its sandbox (WASI with only what was
/// granted), its limits and what its host imports reach.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: InstanceLimiter,
    plugin: Arc<str>,
    connector: Arc<str>,
    settings: Arc<BTreeMap<String, String>>,
    kv: KvScope,
    kv_used: usize,
    kv_quota: usize,
    /// `now-ms` answers this instead of the wall clock (a local run).
    fixed_now_ms: Option<u64>,
    /// Every host call, kept when a local run asks for them.
    host_calls: Option<Vec<HostCall>>,
}

/// One call a plugin made to the host, as `switchboard plugin call` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum HostCall {
    /// `log`.
    Log {
        /// The level.
        level: &'static str,
        /// The message.
        message: String,
    },
    /// `setting`.
    Setting {
        /// The key asked for.
        key: String,
        /// The answer.
        value: Option<String>,
    },
    /// `kv-get` (values shown as text, lossily).
    KvGet {
        /// The key.
        key: String,
        /// The answer.
        value: Option<String>,
    },
    /// `kv-set`.
    KvSet {
        /// The key.
        key: String,
        /// The value, as text.
        value: String,
        /// The error returned, if any.
        error: Option<String>,
    },
    /// `kv-delete`.
    KvDelete {
        /// The key.
        key: String,
        /// The error returned, if any.
        error: Option<String>,
    },
    /// `now-ms`.
    NowMs {
        /// The answer.
        value: u64,
    },
}

impl PluginState {
    pub fn new(
        plugin: Arc<str>,
        connector: Arc<str>,
        settings: Arc<BTreeMap<String, String>>,
        kv: KvScope,
        limits: &Limits,
        grants: &Grants,
    ) -> wasmtime::Result<Self> {
        // No arguments, stdio, sockets or name lookups; only what is granted.
        let mut wasi = WasiCtx::builder();
        for (host, guest) in &grants.dirs {
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly)?;
        }
        for (name, value) in &grants.env {
            wasi.env(name, value);
        }
        if !grants.precise_clock {
            wasi.wall_clock(CoarseWallClock)
                .monotonic_clock(CoarseMonotonicClock::default());
        }
        let kv_used = kv.usage().unwrap_or(0);
        Ok(PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: InstanceLimiter::new(limits.memory_bytes),
            plugin,
            connector,
            settings,
            kv,
            kv_used,
            kv_quota: limits.kv_quota_bytes,
            fixed_now_ms: None,
            host_calls: None,
        })
    }

    /// A state for a local run: `now-ms` answers `now_ms`, and host calls are kept.
    pub fn local(mut self, now_ms: u64) -> Self {
        self.fixed_now_ms = Some(now_ms);
        self.host_calls = Some(Vec::new());
        self
    }

    /// Sets the clock of a local run.
    pub fn set_now_ms(&mut self, now_ms: u64) {
        self.fixed_now_ms = Some(now_ms);
    }

    /// The host calls kept since the last time they were taken.
    pub fn take_host_calls(&mut self) -> Vec<HostCall> {
        self.host_calls
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Bytes of linear memory the instance holds.
    pub fn memory_bytes(&self) -> usize {
        self.limiter.memory_used
    }

    fn keep(&mut self, call: impl FnOnce() -> HostCall) {
        if let Some(calls) = &mut self.host_calls {
            calls.push(call());
        }
    }
}

/// Caps the memory of a whole instance (every linear memory together, not
/// each one) and the size of its tables.
pub struct InstanceLimiter {
    memory_cap: usize,
    memory_used: usize,
}

/// The most table elements an instance may hold.
const TABLE_ELEMENTS_MAX: usize = 100_000;

impl InstanceLimiter {
    fn new(memory_cap: usize) -> Self {
        InstanceLimiter {
            memory_cap,
            memory_used: 0,
        }
    }
}

impl ResourceLimiter for InstanceLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let next = self.memory_used.saturating_sub(current) + desired;
        if next > self.memory_cap {
            return Err(wasmtime::Error::msg(format!(
                "memory cap exceeded: the instance asked for {next} bytes, its cap is {} bytes",
                self.memory_cap
            )));
        }
        self.memory_used = next;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > TABLE_ELEMENTS_MAX {
            return Err(wasmtime::Error::msg(format!(
                "table cap exceeded: {desired} elements"
            )));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        32
    }

    fn memories(&self) -> usize {
        8
    }
}

/// A wall clock that ticks in whole milliseconds: enough for plugins,
/// too coarse for timing attacks.
struct CoarseWallClock;

impl HostWallClock for CoarseWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Duration::from_millis(now.as_millis() as u64)
    }
}

/// A monotonic clock that ticks in whole milliseconds.
struct CoarseMonotonicClock {
    start: std::time::Instant,
}

impl Default for CoarseMonotonicClock {
    fn default() -> Self {
        CoarseMonotonicClock {
            start: std::time::Instant::now(),
        }
    }
}

impl HostMonotonicClock for CoarseMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        let nanos = self.start.elapsed().as_nanos() as u64;
        nanos - nanos % 1_000_000
    }
}

impl PluginState {
    /// Bytes the entry under `key` takes now (0 if absent).
    fn entry_size(&self, key: &str) -> usize {
        self.kv
            .get(key)
            .ok()
            .flatten()
            .map_or(0, |v| key.len() + v.len())
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl self::switchboard::connector::types::Host for PluginState {}

impl self::switchboard::connector::host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.keep(|| HostCall::Log {
            level: match level {
                Level::Trace => "trace",
                Level::Debug => "debug",
                Level::Info => "info",
                Level::Warn => "warn",
                Level::Error => "error",
            },
            message: message.clone(),
        });
        let (plugin, connector) = (&*self.plugin, &*self.connector);
        match level {
            Level::Trace => tracing::trace!(plugin, connector, "{message}"),
            Level::Debug => tracing::debug!(plugin, connector, "{message}"),
            Level::Info => tracing::info!(plugin, connector, "{message}"),
            Level::Warn => tracing::warn!(plugin, connector, "{message}"),
            Level::Error => tracing::error!(plugin, connector, "{message}"),
        }
        Ok(())
    }

    fn setting(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let value = self.settings.get(&key).cloned();
        self.keep(|| HostCall::Setting {
            key,
            value: value.clone(),
        });
        Ok(value)
    }

    fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        // A failing disk is the host's problem, not the plugin's: report it as absent.
        let value = self.kv.get(&key).unwrap_or_else(|error| {
            tracing::error!(plugin = &*self.plugin, connector = &*self.connector, %error, "kv-get failed");
            None
        });
        self.keep(|| HostCall::KvGet {
            key,
            value: value
                .as_deref()
                .map(|v| String::from_utf8_lossy(v).into_owned()),
        });
        Ok(value)
    }

    fn kv_set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        let result = self.kv_set_checked(&key, &value);
        self.keep(|| HostCall::KvSet {
            key,
            value: String::from_utf8_lossy(&value).into_owned(),
            error: result.clone().err(),
        });
        Ok(result)
    }

    fn kv_delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        let old = self.entry_size(&key);
        let result = self.kv.delete(&key).map_err(|e| e.to_string());
        if result.is_ok() {
            self.kv_used = self.kv_used.saturating_sub(old);
        }
        self.keep(|| HostCall::KvDelete {
            key,
            error: result.clone().err(),
        });
        Ok(result)
    }

    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        let value = self.fixed_now_ms.unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            now.as_millis() as u64
        });
        self.keep(|| HostCall::NowMs { value });
        Ok(value)
    }
}

impl PluginState {
    /// `kv-set` within the entry size and the quota.
    fn kv_set_checked(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        if key.len() + value.len() > KV_ENTRY_MAX {
            return Err(format!("entry exceeds {KV_ENTRY_MAX} bytes"));
        }
        let old = self.entry_size(key);
        let next = self.kv_used.saturating_sub(old) + key.len() + value.len();
        if next > self.kv_quota {
            return Err(format!(
                "key-value quota exceeded: {next} bytes, the quota is {} bytes",
                self.kv_quota
            ));
        }
        let result = self.kv.set(key, value).map_err(|e| e.to_string());
        if result.is_ok() {
            self.kv_used = next;
        }
        result
    }
}

/// A component linked against one of the contracts the host speaks.
pub enum Pre {
    /// Built against `switchboard:connector@0.1.0`.
    V0_1(v0_1::PluginPre<PluginState>),
    /// Built against `switchboard:connector@0.2.0`, importing something asynchronous.
    V0_2(PluginPre<PluginState>),
    /// Built against `switchboard:connector@0.2.0`, every import synchronous.
    V0_2Direct(direct::PluginPre<PluginState>),
}

impl Pre {
    /// Links `component` (from `path`) directly when `direct` (every function
    /// synchronous) serves all its imports, else through `linker`;
    /// recognises the contract it exports, newest first.
    pub fn link(
        path: &std::path::Path,
        component: &Component,
        direct: &Linker<PluginState>,
        linker: &Linker<PluginState>,
    ) -> wasmtime::Result<Pre> {
        match direct
            .instantiate_pre(component)
            .and_then(direct::PluginPre::new)
        {
            Ok(pre) => return Ok(Pre::V0_2Direct(pre)),
            // Not an error: the component is called through a fiber.
            Err(why) => {
                tracing::debug!(plugin = %path.display(), "called through a fiber: {why:#}")
            }
        }
        let pre = linker.instantiate_pre(component)?;
        match PluginPre::new(pre.clone()) {
            Ok(pre) => Ok(Pre::V0_2(pre)),
            Err(newest) => match v0_1::PluginPre::new(pre) {
                Ok(pre) => Ok(Pre::V0_1(pre)),
                Err(_) => Err(newest
                    .context("it exports neither switchboard:connector/hooks@0.2.0 nor @0.1.0")),
            },
        }
    }

    /// The contract version the component was built against.
    pub fn contract(&self) -> &'static str {
        match self {
            Pre::V0_1(_) => "0.1.0",
            Pre::V0_2(_) | Pre::V0_2Direct(_) => "0.2.0",
        }
    }

    /// True if its hooks are called without a fiber.
    pub fn is_direct(&self) -> bool {
        matches!(self, Pre::V0_2Direct(_))
    }

    /// A new instance in `store`.
    pub async fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Exports> {
        Ok(match self {
            Pre::V0_1(pre) => Exports::V0_1(pre.instantiate_async(store).await?),
            Pre::V0_2(pre) => Exports::V0_2(pre.instantiate_async(store).await?),
            Pre::V0_2Direct(pre) => Exports::V0_2Direct(pre.instantiate(store)?),
        })
    }
}

/// An instance's hooks, whichever contract it was built against.
pub enum Exports {
    /// Contract 0.1.0: no `on-bot-error`, no `on-conversation-end`.
    V0_1(v0_1::Plugin),
    /// Contract 0.2.0, called through a fiber.
    V0_2(Plugin),
    /// Contract 0.2.0, called directly.
    V0_2Direct(direct::Plugin),
}

/// Runs `$call` on `$hooks` (either binding of the newest contract's
/// hooks): the generated methods have the same names and arguments, and
/// differ only in being awaited (`$($wait)?` is `await`) or not.
macro_rules! run_hook {
    ($hooks:expr, $store:expr, $conv:expr, $call:expr $(, $wait:tt)?) => {{
        let (hooks, store, conv) = ($hooks, $store, $conv);
        match $call {
            Call::Start(greeting) => Outcome::Text(
                hooks.call_on_conversation_start(store, conv, greeting)$(.$wait)??,
            ),
            Call::StepUp(text) => Outcome::Text(hooks.call_on_step_up(store, conv, text)$(.$wait)??),
            Call::Consumer(text) => {
                Outcome::Action(hooks.call_on_consumer_message(store, conv, text)$(.$wait)??)
            }
            Call::Bot(messages) => {
                Outcome::Messages(hooks.call_on_bot_message(store, conv, messages)$(.$wait)??)
            }
            Call::BotError(text, failure) => {
                Outcome::Failure(hooks.call_on_bot_error(store, conv, text, failure)$(.$wait)??)
            }
            Call::End(reason) => {
                hooks.call_on_conversation_end(store, conv, reason)$(.$wait)??;
                Outcome::Ended
            }
        }
    }};
}

impl Exports {
    /// The hooks the instance says it implements.
    pub async fn implemented(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Vec<HookName>> {
        let hooks = match self {
            Exports::V0_1(plugin) => return v0_1::implemented(plugin, store).await,
            Exports::V0_2(plugin) => {
                plugin
                    .switchboard_connector_hooks()
                    .call_implemented(store)
                    .await?
            }
            Exports::V0_2Direct(plugin) => plugin
                .switchboard_connector_hooks()
                .call_implemented(store)?,
        };
        Ok(hooks.into_iter().map(HookName::of).collect())
    }

    /// Runs one hook. The caller calls only hooks the instance implements.
    pub async fn call(
        &self,
        store: &mut Store<PluginState>,
        conv: &Conversation,
        call: Call<'_>,
    ) -> wasmtime::Result<Outcome> {
        Ok(match self {
            Exports::V0_1(plugin) => return v0_1::call(plugin, store, conv, call).await,
            Exports::V0_2(plugin) => {
                run_hook!(
                    plugin.switchboard_connector_hooks(),
                    store,
                    conv,
                    call,
                    await
                )
            }
            Exports::V0_2Direct(plugin) => {
                run_hook!(plugin.switchboard_connector_hooks(), store, conv, call)
            }
        })
    }
}
