//! The one wasmtime `Engine` of the process, its linker and epoch ticker,
//! and loading a component file into a pre-linked [`LoadedPlugin`].
//!
//! Compiling is the expensive step (tens of milliseconds per component), so
//! compiled code is kept on disk, keyed by the file's content hash and the
//! engine's compatibility hash: a reload or restart with a file seen before
//! compiles nothing.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::PluginError;
use super::bindings::{Plugin, PluginState, Pre, v0_1};
use crate::config::MAX_PLUGIN_MEMORY_BYTES;

/// How often the epoch advances; hook deadlines are counted in these ticks.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The most plugin instances (of all connectors) alive at once.
const MAX_INSTANCES: u32 = 1_000;

/// Everything a 32-bit linear memory can address.
const WASM32_ADDRESS_SPACE: u64 = 1 << 32;

/// Compiles and links plugins. Cheap to clone; clones share one engine.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: Engine,
    /// Every import asynchronous where wasmtime-wasi makes it so.
    linker: Linker<PluginState>,
    /// Every import synchronous: the newest contract, `wasi:io` that never
    /// waits, and the rest of WASI but file systems and sockets.
    direct: Linker<PluginState>,
    stop_ticker: Arc<AtomicBool>,
    /// Hash of everything that makes compiled code usable by this engine.
    compatibility: [u8; 32],
    cache_dir: Option<PathBuf>,
    fuel: bool,
    compiled: AtomicU64,
    from_cache: AtomicU64,
}

/// How plugin files were turned into code since the engine started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompileStats {
    /// Components compiled by Cranelift.
    pub compiled: u64,
    /// Components taken from the on-disk compile cache.
    pub from_cache: u64,
}

/// The SHA-256 of a plugin file's bytes: its identity across reloads.
pub type Digest256 = [u8; 32];

/// Feeds `Hash` output into SHA-256, so the engine's compatibility hash is
/// stable across processes (std's hasher is not).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// A plugin file compiled and linked, ready to instantiate for any connector.
pub struct LoadedPlugin {
    /// The file it came from.
    pub path: PathBuf,
    /// Its name: the file name without `.wasm`.
    pub name: Arc<str>,
    /// SHA-256 of the file's bytes.
    pub digest: Digest256,
    /// The first 12 hex digits of the digest: the version shown in status.
    pub version: Arc<str>,
    /// The contract version it was built against (`0.1.0`, `0.2.0`).
    pub contract: &'static str,
    pub(super) pre: Pre,
    pub(super) engine: Engine,
    /// The engine meters fuel.
    pub(super) fuel: bool,
}

impl LoadedPlugin {
    /// True if its hooks run on the caller's stack: it is built against
    /// the newest contract and imports nothing asynchronous (neither WASI's
    /// file system nor its sockets). Otherwise each call runs on a fiber.
    pub fn called_directly(&self) -> bool {
        self.pre.is_direct()
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .finish()
    }
}

impl PluginEngine {
    /// Sets up the engine: async calls, epoch interruption, pooling
    /// allocator, fuel metering; no compile cache on disk.
    pub fn new() -> Result<Self, PluginError> {
        Self::build(None, true)
    }

    /// Like [`PluginEngine::new`], keeping compiled components in
    /// `cache_dir`. Fuel metering slows every plugin (a check in every
    /// block of compiled code), so it is on only if `fuel` says some plugin
    /// has a fuel limit.
    pub fn with_cache_dir(cache_dir: &Path, fuel: bool) -> Result<Self, PluginError> {
        std::fs::create_dir_all(cache_dir).map_err(|e| {
            PluginError::Engine(format!(
                "cannot create the compile cache {}: {e}",
                cache_dir.display()
            ))
        })?;
        Self::build(Some(cache_dir.to_owned()), fuel)
    }

    /// True if this engine meters fuel (fuel limits apply).
    pub fn meters_fuel(&self) -> bool {
        self.inner.fuel
    }

    fn build(cache_dir: Option<PathBuf>, fuel: bool) -> Result<Self, PluginError> {
        let mut pooling = PoolingAllocationConfig::default();
        pooling
            .total_component_instances(MAX_INSTANCES)
            .total_core_instances(MAX_INSTANCES * 4)
            .total_memories(MAX_INSTANCES)
            .total_tables(MAX_INSTANCES * 4)
            .total_stacks(MAX_INSTANCES)
            .max_memory_size(MAX_PLUGIN_MEMORY_BYTES);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .consume_fuel(fuel)
            .wasm_component_model(true)
            // A 32-bit memory in 4 GiB of reserved address space (plus
            // the default guard) needs no bounds check on its loads and
            // stores: compiled plugin code runs without them. Reserving only
            // the memory cap put a check on every access. The cap is still
            // the pool's `max_memory_size` and the instance's limiter. The
            // price is address space, not memory: the pool reserves a slot
            // per instance, ~4 TiB for `MAX_INSTANCES`, mapped on use.
            .memory_reservation(WASM32_ADDRESS_SPACE)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        // Where the address space is short (a ulimit, many engines in one
        // process), plugins run with bounds checks rather than not at all.
        let engine = Engine::new(&config)
            .or_else(|error| {
                tracing::warn!(%error, "cannot reserve 4 GiB of address space per plugin memory: plugin code runs with bounds checks");
                config.memory_reservation(MAX_PLUGIN_MEMORY_BYTES as u64);
                Engine::new(&config)
            })
            .map_err(|e| PluginError::Engine(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        // Every contract version side by side: each imports its own
        // versioned `host` interface.
        Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |state| state)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        v0_1::Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |state| {
            state
        })
        .map_err(|e| PluginError::Engine(e.to_string()))?;
        let direct = direct_linker(&engine).map_err(|e| PluginError::Engine(e.to_string()))?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.clone(), stop_ticker.clone());
        thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| PluginError::Engine(e.to_string()))?;

        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compatibility = hasher.0.finalize().into();
        Ok(PluginEngine {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                direct,
                stop_ticker,
                compatibility,
                cache_dir,
                fuel,
                compiled: AtomicU64::new(0),
                from_cache: AtomicU64::new(0),
            }),
        })
    }

    /// How many components were compiled, and how many came from the cache.
    pub fn stats(&self) -> CompileStats {
        CompileStats {
            compiled: self.inner.compiled.load(Ordering::Relaxed),
            from_cache: self.inner.from_cache.load(Ordering::Relaxed),
        }
    }

    /// The digest [`LoadedPlugin::digest`] would have for these bytes.
    pub fn digest(bytes: &[u8]) -> Digest256 {
        Sha256::digest(bytes).into()
    }

    /// The compiled component for `bytes`: from the disk cache when this
    /// engine compiled the same bytes before, else compiled (and cached).
    fn component(
        &self,
        path: &Path,
        bytes: &[u8],
        digest: &Digest256,
    ) -> wasmtime::Result<Component> {
        let cached = self.inner.cache_dir.as_ref().map(|dir| {
            let mut key = Sha256::new();
            key.update(digest);
            key.update(self.inner.compatibility);
            dir.join(format!("{}.cwasm", hex(&key.finalize())))
        });
        if let Some(file) = cached.as_deref().filter(|f| f.is_file()) {
            // SAFETY: the cache holds only files this code wrote with
            // `Component::serialize` (renamed into place whole), named by
            // the source's hash and this engine's compatibility hash, in
            // the gateway's own data directory. Anyone who can write there
            // can already change the gateway's state.
            match unsafe { Component::deserialize_file(&self.inner.engine, file) } {
                Ok(component) => {
                    self.inner.from_cache.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(plugin = %path.display(), cache = %file.display(), "plugin taken from the compile cache");
                    return Ok(component);
                }
                Err(error) => {
                    tracing::warn!(cache = %file.display(), "unusable compile cache entry, compiling again: {error:#}");
                }
            }
        }
        tracing::info!(plugin = %path.display(), "compiling plugin");
        let component = Component::new(&self.inner.engine, bytes)?;
        self.inner.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(file) = cached
            && let Err(error) = crate::store::write_atomically(&file, &component.serialize()?)
        {
            tracing::warn!(cache = %file.display(), %error, "could not keep the compiled plugin in the cache");
        }
        Ok(component)
    }

    /// Compiles `path` and links it against the host. Refuses, naming the
    /// file, anything that is not a component of the plugin world.
    pub fn load(&self, path: &Path) -> Result<Arc<LoadedPlugin>, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.load_bytes(path, &bytes)
    }

    /// Like [`PluginEngine::load`], from bytes already read.
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<Arc<LoadedPlugin>, PluginError> {
        let invalid = |reason: String| PluginError::Invalid {
            path: path.to_owned(),
            reason,
        };
        if !bytes.starts_with(b"\0asm") {
            return Err(invalid("the file is not WebAssembly".into()));
        }
        let digest = Self::digest(bytes);
        let component = self
            .component(path, bytes, &digest)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = Pre::link(path, &component, &self.inner.direct, &self.inner.linker)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Arc::new(LoadedPlugin {
            path: path.to_owned(),
            name: name.into(),
            digest,
            version: hex(&digest[..6]).into(),
            contract: pre.contract(),
            pre,
            engine: self.inner.engine.clone(),
            fuel: self.inner.fuel,
        }))
    }
}

/// The linker of components called without a fiber: only synchronous
/// host functions. A component that imports anything else (a file
/// system, sockets, an older contract) is not linked here.
fn direct_linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    use wasmtime_wasi::WasiView;
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    use wasmtime_wasi::random::WasiRandom;

    let mut linker = Linker::new(engine);
    let l = &mut linker;
    super::bindings::no_wait::add_to_linker(l)?;
    clocks::wall_clock::add_to_linker::<PluginState, WasiClocks>(l, PluginState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<PluginState, WasiClocks>(l, PluginState::clocks)?;
    random::random::add_to_linker::<PluginState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    random::insecure::add_to_linker::<PluginState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<PluginState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    cli::exit::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::environment::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::stdin::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::stdout::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::stderr::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::terminal_input::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::terminal_output::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::terminal_stdin::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::terminal_stdout::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    cli::terminal_stderr::add_to_linker::<PluginState, WasiCli>(l, PluginState::cli)?;
    Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(l, |state| state)?;
    Ok(linker)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
