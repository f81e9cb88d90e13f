//! The one wasmtime `Engine` of the process, its linker and epoch ticker,
//! and loading a component file into a pre-linked [`LoadedPlugin`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::PluginError;
use super::bindings::{Plugin, PluginPre, PluginState};

/// How often the epoch advances; hook deadlines are counted in these ticks.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The most plugin instances (of all connectors) alive at once.
const MAX_INSTANCES: u32 = 1_000;
/// The largest linear memory the pooling allocator reserves a slot for;
/// per-plugin caps (`Limits::memory_bytes`) are at most this.
pub const MAX_PLUGIN_MEMORY_BYTES: usize = 256 << 20;

/// Compiles and links plugins. Cheap to clone; clones share one engine.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: Engine,
    linker: Linker<PluginState>,
    stop_ticker: Arc<AtomicBool>,
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
    pub(super) pre: PluginPre<PluginState>,
    pub(super) engine: Engine,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .finish()
    }
}

impl PluginEngine {
    /// Sets up the engine: async calls, epoch interruption, pooling allocator.
    pub fn new() -> Result<Self, PluginError> {
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
            .consume_fuel(true)
            .wasm_component_model(true)
            .memory_reservation(MAX_PLUGIN_MEMORY_BYTES as u64)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |state| state)
            .map_err(|e| PluginError::Engine(e.to_string()))?;

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

        Ok(PluginEngine {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                stop_ticker,
            }),
        })
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
        let component =
            Component::new(&self.inner.engine, bytes).map_err(|e| invalid(format!("{e:#}")))?;
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = PluginPre::new(instance_pre).map_err(|e| invalid(format!("{e:#}")))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Arc::new(LoadedPlugin {
            path: path.to_owned(),
            name: name.into(),
            pre,
            engine: self.inner.engine.clone(),
        }))
    }
}
