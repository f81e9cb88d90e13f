//! The file watcher: notify events on the configuration directory and the
//! plugin directories, debounced, become calls to [`Gateway::reload`].
//!
//! Only `.toml` and `.wasm` files count, and nothing under the state
//! store's directory, so sled's own writes never trigger a reload. A burst
//! of events (an editor's save, a copy of many files) is one reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use super::Gateway;

/// How long the watcher waits for a burst of file events to end.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _debouncer: notify_debouncer_full::Debouncer<
        notify_debouncer_full::notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
    task: JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watcher {
    /// Stops watching; a reload under way is cancelled (the gateway is
    /// stopping) and this returns once its task is gone.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// Watches `gateway`'s configuration and plugin directories and reloads
    /// it on every change.
    pub async fn start(gateway: Arc<Mutex<Gateway>>) -> Result<Watcher, String> {
        let (dirs, data_dir) = {
            let gateway = gateway.lock().await;
            (gateway.watched_dirs(), absolute(gateway.data_dir()))
        };
        let (changed, mut changes) = mpsc::unbounded_channel();
        let store = data_dir.clone();
        let mut debouncer =
            new_debouncer(
                DEBOUNCE,
                None,
                move |result: DebounceEventResult| match result {
                    Ok(events) => {
                        let relevant = events.iter().flat_map(|e| e.paths.iter()).any(|path| {
                            let kind = path.extension().and_then(|e| e.to_str());
                            matches!(kind, Some("toml" | "wasm")) && !path.starts_with(&store)
                        });
                        if relevant {
                            let _ = changed.send(());
                        }
                    }
                    Err(errors) => {
                        for error in errors {
                            tracing::warn!(%error, "file watcher");
                        }
                    }
                },
            )
            .map_err(|e| format!("cannot watch files: {e}"))?;
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            if data_dir.starts_with(absolute(dir)) {
                tracing::warn!(
                    data_dir = %data_dir.display(),
                    watched = %dir.display(),
                    "the state store's directory is inside a watched directory: each of its writes wakes the file watcher (ignored, but it costs CPU under load); keep it beside, as the default `../data` does"
                );
            }
            debouncer
                .watch(dir, RecursiveMode::Recursive)
                .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        }
        let task = tokio::spawn(async move {
            while changes.recv().await.is_some() {
                while changes.try_recv().is_ok() {}
                gateway.lock().await.reload().await;
            }
        });
        tracing::info!(dirs = ?dirs, "watching for configuration and plugin changes");
        Ok(Watcher {
            _debouncer: debouncer,
            task,
        })
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
