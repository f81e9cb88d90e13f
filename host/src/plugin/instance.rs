//! One plugin serving one connector: its instance, its deadline, memory
//! and output limits, its faults and quarantine.
//!
//! A hook that traps, runs past its deadline, exceeds its memory cap or
//! returns more than it may counts as a fault: the caller applies the
//! hook's built-in default. A plugin that keeps failing is quarantined
//! until its file changes or an operator resets it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Mutex as AsyncMutex;
use wasmtime::Store;

use super::bindings::{Conversation, Exports, HostCall, PluginState};
use super::call::{Call, HookName, Outcome};
use super::engine::EPOCH_TICK;
use super::recorder::Recorder;
use super::transcript::{ConversationJson, InputJson, OutputJson};
use super::{Grants, Limits, LoadedPlugin};
use crate::store::KvScope;

/// A snapshot of one plugin's health, for Details and the admin API.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PluginStatus {
    /// The plugin's name.
    pub name: String,
    /// Its file.
    pub path: String,
    /// The first 12 hex digits of the SHA-256 of the file serving now.
    pub version: String,
    /// The contract version the file was built against (`0.1.0`, `0.2.0`).
    pub contract: String,
    /// Hook calls made.
    pub calls: u64,
    /// Hook calls that fell back to the default.
    pub faults: u64,
    /// Faults since the last call that worked; above zero, Details show the plugin down.
    pub consecutive_faults: u64,
    /// True while quarantined: its hooks use their defaults.
    pub quarantined: bool,
    /// The last fault, if any.
    pub last_fault: Option<String>,
}

/// One plugin serving one connector: a single instance shared by all of
/// the connector's conversations, created on first use and after a trap.
pub struct PluginInstance {
    loaded: Arc<LoadedPlugin>,
    connector: Arc<str>,
    settings: Arc<BTreeMap<String, String>>,
    kv: KvScope,
    limits: Limits,
    grants: Grants,
    quarantined: std::sync::atomic::AtomicBool,
    /// The hooks it implements, one bit each in [`HookName::ALL`]'s order;
    /// all set until the first instance says.
    implements: std::sync::atomic::AtomicU8,
    /// A local run's clock (`switchboard plugin call`, replay): set, the
    /// instance answers `now-ms` with it and keeps its host calls.
    local_now_ms: Option<u64>,
    live: AsyncMutex<Option<Live>>,
    calls: AtomicU64,
    faults: AtomicU64,
    consecutive_faults: AtomicU64,
    last_fault: Mutex<Option<String>>,
    hook_latency: crate::metrics::Histogram,
}

struct Live {
    store: Store<PluginState>,
    exports: Exports,
    implemented: Vec<HookName>,
}

impl PluginInstance {
    /// Lifts the quarantine and forgets the faults in a row (an operator's
    /// reset, or a new version of the file).
    pub fn reset(&self) {
        self.quarantined.store(false, Ordering::Relaxed);
        self.consecutive_faults.store(0, Ordering::Relaxed);
    }

    /// Prepares `loaded` to serve `connector` with these settings and limits.
    pub fn new(
        loaded: Arc<LoadedPlugin>,
        connector: &str,
        settings: BTreeMap<String, String>,
        kv: KvScope,
        limits: Limits,
        grants: Grants,
    ) -> Self {
        PluginInstance {
            loaded,
            connector: connector.into(),
            settings: Arc::new(settings),
            kv,
            limits,
            grants,
            quarantined: std::sync::atomic::AtomicBool::new(false),
            implements: std::sync::atomic::AtomicU8::new(u8::MAX),
            local_now_ms: None,
            live: AsyncMutex::new(None),
            calls: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            consecutive_faults: AtomicU64::new(0),
            last_fault: Mutex::new(None),
            hook_latency: crate::metrics::Histogram::default(),
        }
    }

    /// A call's output passed every check: the faults in a row end.
    pub(super) fn worked(&self) {
        self.consecutive_faults.store(0, Ordering::Relaxed);
    }

    /// False once an instance said it does not implement `hook`.
    pub(super) fn may_implement(&self, hook: HookName) -> bool {
        self.implements.load(Ordering::Relaxed) & hook.bit() != 0
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.loaded.name
    }

    /// The compiled file it runs.
    pub fn loaded(&self) -> &Arc<LoadedPlugin> {
        &self.loaded
    }

    /// True if this instance runs `loaded` with the same settings, limits
    /// and grants, so a reload can keep it (with its counters and memory).
    pub fn serves_as(
        &self,
        loaded: &LoadedPlugin,
        settings: &BTreeMap<String, String>,
        limits: &Limits,
        grants: &Grants,
    ) -> bool {
        self.loaded.digest == loaded.digest
            && self.loaded.path == loaded.path
            && *self.settings == *settings
            && self.limits == *limits
            && self.grants == *grants
    }

    /// Instantiates now rather than on the first hook call, so a reload
    /// can refuse a component that traps while starting before it serves.
    pub async fn prepare(&self) -> Result<(), String> {
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            let live = self.instantiate().await.map_err(|error| {
                format!(
                    "plugin {}: instantiation failed: {}",
                    self.loaded.path.display(),
                    describe(&error)
                )
            })?;
            *guard = Some(live);
        }
        Ok(())
    }

    /// How long its hook calls took (those it implements).
    pub fn hook_latency(&self) -> crate::metrics::HistogramSnapshot {
        self.hook_latency.snapshot()
    }

    /// Calls, faults and the last fault.
    pub fn status(&self) -> PluginStatus {
        PluginStatus {
            name: self.loaded.name.to_string(),
            path: self.loaded.path.display().to_string(),
            version: self.loaded.version.to_string(),
            contract: self.loaded.contract.to_owned(),
            calls: self.calls.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            consecutive_faults: self.consecutive_faults.load(Ordering::Relaxed),
            quarantined: self.quarantined.load(Ordering::Relaxed),
            last_fault: self.last_fault.lock().expect("not poisoned").clone(),
        }
    }

    fn deadline_ticks(&self) -> u64 {
        let ticks = self.limits.deadline.as_micros() / EPOCH_TICK.as_micros();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    async fn instantiate(&self) -> wasmtime::Result<Live> {
        let mut state = PluginState::new(
            self.loaded.name.clone(),
            self.connector.clone(),
            self.settings.clone(),
            self.kv.clone(),
            &self.limits,
            &self.grants,
        )?;
        if let Some(now_ms) = self.local_now_ms {
            state = state.local(now_ms);
        }
        let mut store = Store::new(&self.loaded.engine, state);
        store.limiter(|state| &mut state.limiter);
        if self.loaded.fuel {
            store.set_fuel(self.limits.fuel.unwrap_or(u64::MAX))?;
        }
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let exports = self.loaded.pre.instantiate(&mut store).await?;
        store.set_epoch_deadline(self.deadline_ticks());
        let implemented = exports.implemented(&mut store).await?;
        let bits = implemented.iter().fold(0, |bits, hook| bits | hook.bit());
        self.implements.store(bits, Ordering::Relaxed);
        Ok(Live {
            store,
            exports,
            implemented,
        })
    }

    pub(super) fn fault(&self, conv: &Conversation, hook: HookName, reason: String) {
        self.faults.fetch_add(1, Ordering::Relaxed);
        let consecutive = self.consecutive_faults.fetch_add(1, Ordering::Relaxed) + 1;
        if consecutive >= u64::from(self.limits.quarantine_after)
            && !self.quarantined.swap(true, Ordering::Relaxed)
        {
            tracing::error!(
                plugin = &*self.loaded.name,
                connector = &*self.connector,
                faults = consecutive,
                "plugin quarantined after consecutive faults: its hooks use their defaults until its file changes or it is reset"
            );
        }
        tracing::warn!(
            plugin = &*self.loaded.name,
            connector = &*self.connector,
            conversation = %conv.id,
            hook = hook.as_str(),
            "plugin fault, using the hook's default: {reason}"
        );
        *self.last_fault.lock().expect("not poisoned") =
            Some(format!("{}: {reason}", hook.as_str()));
    }

    /// Runs one hook; `None` means "use the default" (skipped or
    /// faulted). A call that ran is recorded when `record` is given.
    pub(super) async fn call(
        &self,
        conv: &Conversation,
        record: Option<&Recorder>,
        call: Call<'_>,
    ) -> Option<Outcome> {
        let hook = call.hook();
        // A plugin may return what it was given plus `max_output_bytes`: a
        // large input (a consumer's long message, a bot's long answer) is
        // not the plugin's fault, and passing it on is not either.
        let output_bound = call.size().saturating_add(self.limits.max_output_bytes);
        if self.quarantined.load(Ordering::Relaxed) {
            return None;
        }
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            match self.instantiate().await {
                Ok(live) => *guard = Some(live),
                Err(error) => {
                    self.calls.fetch_add(1, Ordering::Relaxed);
                    self.fault(
                        conv,
                        hook,
                        format!("instantiation failed: {}", describe(&error)),
                    );
                    return None;
                }
            }
        }
        let live = guard.as_mut().expect("instantiated above");
        if !live.implemented.contains(&hook) {
            return Some(Outcome::Skipped);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        live.store.set_epoch_deadline(self.deadline_ticks());
        if self.loaded.fuel
            && let Err(error) = live.store.set_fuel(self.limits.fuel.unwrap_or(u64::MAX))
        {
            self.fault(conv, hook, format!("fuel: {error}"));
            return None;
        }
        let started = std::time::Instant::now();
        let result = live.exports.call(&mut live.store, conv, call).await;
        let elapsed = started.elapsed();
        self.hook_latency.observe(elapsed);
        let checked = match result {
            Ok(outcome) if outcome.size() > output_bound => Err(format!(
                "output too large: {} bytes, more than its input plus the limit ({output_bound} bytes)",
                outcome.size()
            )),
            Ok(outcome) => Ok(outcome),
            Err(error) => {
                // A trapped instance may not be entered again: start afresh next time.
                *guard = None;
                Err(describe(&error))
            }
        };
        if let Some(recorder) = record {
            // What the chain will refuse is recorded as the fault it becomes.
            let recorded = match &checked {
                Ok(outcome) => match outcome.messages() {
                    Some(messages) => {
                        super::chain::from_wit_all(messages.clone()).map(|_| outcome.clone())
                    }
                    None => Ok(outcome.clone()),
                },
                Err(reason) => Err(reason.clone()),
            };
            recorder.record(&self.loaded, &self.settings, conv, call, &recorded, elapsed);
        }
        match checked {
            Ok(outcome) => {
                // Messages are judged by the chain, which calls `worked`
                // once LivePerson's checks pass: a plugin whose output is
                // refused every time keeps counting faults in a row.
                if outcome.messages().is_none() {
                    self.worked();
                }
                Some(outcome)
            }
            Err(reason) => {
                self.fault(conv, hook, reason);
                None
            }
        }
    }
}

fn describe(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "deadline exceeded (interrupted)".into(),
        Some(wasmtime::Trap::OutOfFuel) => "fuel exhausted".into(),
        Some(trap) => format!("trap: {trap}"),
        None => format!("{error:#}"),
    }
}

/// What one hook call of a local run did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LocalCall {
    /// The hook.
    pub hook: HookName,
    /// Its result (a fault when the hook's default applied).
    pub output: OutputJson,
    /// The host calls it made.
    pub host_calls: Vec<HostCall>,
    /// Wall time of the call, in microseconds.
    pub micros: u64,
    /// Fuel it used (instructions, roughly), when the engine meters fuel.
    pub fuel: Option<u64>,
    /// Bytes of linear memory the instance holds after it.
    pub memory_bytes: usize,
}

impl PluginInstance {
    /// An instance for a local run: the same sandbox and limits as in the
    /// gateway, a fixed clock (`now-ms` answers `now_ms`), its host calls
    /// kept, and the key-value store `kv` (an in-memory one, usually).
    pub fn local(
        loaded: Arc<LoadedPlugin>,
        settings: BTreeMap<String, String>,
        kv: KvScope,
        limits: Limits,
        grants: Grants,
        now_ms: u64,
    ) -> Self {
        PluginInstance {
            local_now_ms: Some(now_ms),
            ..PluginInstance::new(loaded, "local", settings, kv, limits, grants)
        }
    }

    /// Runs one hook of a local run, at `now_ms` on its clock, as the
    /// gateway would: the same deadline, memory, fuel and output limits,
    /// and the LivePerson checks of the messages it returns.
    pub async fn call_local(
        &self,
        conv: &ConversationJson,
        input: &InputJson,
        now_ms: u64,
    ) -> Result<LocalCall, String> {
        let owned = input.to_call()?;
        let call = owned.as_call();
        let hook = call.hook();
        let conv = conv.to_wit();
        // Instantiated first, so the clock is set for this call; a failure
        // to instantiate shows as the call's fault.
        let _ = self.prepare().await;
        if let Some(live) = self.live.lock().await.as_mut() {
            live.store.data_mut().set_now_ms(now_ms);
        }
        let faults = self.faults.load(Ordering::Relaxed);
        let started = std::time::Instant::now();
        let outcome = self.call(&conv, None, call).await;
        let micros = started.elapsed().as_micros() as u64;
        let mut output = match &outcome {
            Some(outcome) => OutputJson::of(outcome),
            None => OutputJson::Fault {
                reason: String::new(),
            },
        };
        // The chain refuses what LivePerson would refuse: so does a local run.
        if let Some(messages) = outcome.as_ref().and_then(Outcome::messages) {
            match super::chain::from_wit_all(messages.clone()) {
                Ok(_) => self.worked(),
                Err(reason) => {
                    self.fault(&conv, hook, reason);
                    output = OutputJson::Fault {
                        reason: String::new(),
                    };
                }
            }
        }
        if let OutputJson::Fault { reason } = &mut output {
            // The fault as a transcript records it: without the hook's name.
            let prefix = format!("{hook}: ");
            *reason = self
                .last_fault
                .lock()
                .expect("not poisoned")
                .clone()
                .filter(|_| self.faults.load(Ordering::Relaxed) > faults)
                .map(|fault| {
                    fault
                        .strip_prefix(&prefix)
                        .map(str::to_owned)
                        .unwrap_or(fault)
                })
                .unwrap_or_else(|| "quarantined: the hook's default applies".into());
        }
        let mut guard = self.live.lock().await;
        let (host_calls, fuel, memory_bytes) = match guard.as_mut() {
            Some(live) => {
                let fuel = self.loaded.fuel.then(|| {
                    let start = self.limits.fuel.unwrap_or(u64::MAX);
                    start - live.store.get_fuel().unwrap_or(start)
                });
                let memory = live.store.data().memory_bytes();
                (live.store.data_mut().take_host_calls(), fuel, memory)
            }
            // A trapped instance is gone with its host calls.
            None => (Vec::new(), None, 0),
        };
        Ok(LocalCall {
            hook,
            output,
            host_calls,
            micros,
            fuel,
            memory_bytes,
        })
    }
}
