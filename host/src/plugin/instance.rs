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

use super::bindings::{Conversation, Exports, PluginState};
use super::call::{Call, HookName, Outcome};
use super::engine::EPOCH_TICK;
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
            live: AsyncMutex::new(None),
            calls: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            consecutive_faults: AtomicU64::new(0),
            last_fault: Mutex::new(None),
            hook_latency: crate::metrics::Histogram::default(),
        }
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
        let state = PluginState::new(
            self.loaded.name.clone(),
            self.connector.clone(),
            self.settings.clone(),
            self.kv.clone(),
            &self.limits,
            &self.grants,
        )?;
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

    /// Runs one hook; `None` means "use the default" (skipped or faulted).
    pub(super) async fn call(&self, conv: &Conversation, call: Call<'_>) -> Option<Outcome> {
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
        self.hook_latency.observe(started.elapsed());
        match result {
            Ok(outcome) if outcome.size() > output_bound => {
                let size = outcome.size();
                self.fault(
                    conv,
                    hook,
                    format!(
                        "output too large: {size} bytes, more than its input plus the limit ({output_bound} bytes)",
                    ),
                );
                None
            }
            Ok(outcome) => {
                self.consecutive_faults.store(0, Ordering::Relaxed);
                Some(outcome)
            }
            Err(error) => {
                // A trapped instance may not be entered again: start afresh next time.
                *guard = None;
                self.fault(conv, hook, describe(&error));
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
