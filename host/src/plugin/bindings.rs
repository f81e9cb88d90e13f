//! Host-side bindings of `wit/` and the host's implementation of the
//! `host` interface a plugin imports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::store::KvScope;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: trappable },
    exports: { default: async },
});

pub use self::switchboard::connector::types::{Content, ConversationType};
pub use exports::switchboard::connector::hooks::{ConsumerAction, Conversation, Hook, Message};

use self::switchboard::connector::host::Level;

/// The most bytes of key plus value one `kv-set` may write.
const KV_ENTRY_MAX: usize = 64 << 10;

/// What a plugin's store holds: its sandbox (WASI with nothing granted),
/// its limits and what its host imports reach.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: StoreLimits,
    plugin: Arc<str>,
    connector: Arc<str>,
    settings: Arc<BTreeMap<String, String>>,
    kv: KvScope,
}

impl PluginState {
    pub fn new(
        plugin: Arc<str>,
        connector: Arc<str>,
        settings: Arc<BTreeMap<String, String>>,
        kv: KvScope,
        memory_bytes: usize,
    ) -> Self {
        PluginState {
            // No preopened directories, environment, arguments, stdio or sockets.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            plugin,
            connector,
            settings,
            kv,
        }
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
        Ok(self.settings.get(&key).cloned())
    }

    fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        // A failing disk is the host's problem, not the plugin's: report it as absent.
        Ok(self.kv.get(&key).unwrap_or_else(|error| {
            tracing::error!(plugin = &*self.plugin, connector = &*self.connector, %error, "kv-get failed");
            None
        }))
    }

    fn kv_set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        if key.len() + value.len() > KV_ENTRY_MAX {
            return Ok(Err(format!("entry exceeds {KV_ENTRY_MAX} bytes")));
        }
        Ok(self.kv.set(&key, &value).map_err(|e| e.to_string()))
    }

    fn kv_delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        Ok(self.kv.delete(&key).map_err(|e| e.to_string()))
    }

    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(now.as_millis() as u64)
    }
}
