//! What a plugin may use, as plain configuration data: its resource
//! [`Limits`] and what it is [`Grants`]ed beyond the host interface. The
//! plugin runtime enforces them; the configuration only states them.

use std::path::PathBuf;
use std::time::Duration;

/// The largest linear memory the plugin runtime reserves a slot for;
/// per-plugin caps (`Limits::memory_bytes`) are at most this.
pub const MAX_PLUGIN_MEMORY_BYTES: usize = 256 << 20;

/// Resource limits of one plugin instance, with safe defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long one hook call may run before it is interrupted (epoch).
    pub deadline: Duration,
    /// The most memory the whole instance may hold (all its linear
    /// memories together), in bytes.
    pub memory_bytes: usize,
    /// Fuel (roughly, wasm instructions) one hook call may burn; `None`: no fuel limit.
    pub fuel: Option<u64>,
    /// The most bytes of text one hook call may return beyond what it was
    /// given (a plugin that passes a long message on is not at fault).
    pub max_output_bytes: usize,
    /// The most bytes (keys and values) the plugin may keep in its key-value store per connector.
    pub kv_quota_bytes: usize,
    /// Consecutive faults after which the plugin is quarantined (its hooks
    /// use their defaults) until its file changes or an operator resets it.
    pub quarantine_after: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(100),
            memory_bytes: 32 << 20,
            fuel: None,
            max_output_bytes: 256 << 10,
            kv_quota_bytes: 1 << 20,
            quarantine_after: 5,
        }
    }
}

/// What a plugin may reach beyond the host interface. Nothing by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Host directories it may read, and where it sees them: (host, guest).
    pub dirs: Vec<(PathBuf, String)>,
    /// Environment variables it may read, with their values.
    pub env: Vec<(String, String)>,
    /// The real clock resolution; otherwise clocks tick in whole milliseconds.
    pub precise_clock: bool,
}
