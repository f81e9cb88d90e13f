//! Durable state in sled: plugin key-value data, connectors' desired state
//! (running or stopped) and status history, and per-conversation state.
//!
//! Owns: the sled database and the layout of its trees. Knows nothing of
//! connectors' or plugins' logic; callers get narrow handles such as
//! [`KvScope`].
//!
//! # Layout
//! - this file: the store, its handles, the status log, key-value scopes;
//! - `conversations`: one connector's conversation states;
//! - `turn_log`: how a conversation's state becomes durable (an
//!   append-only log, synced once per group of writers);
//! - `pending`: logged changes not yet in sled, which reads see first.

use std::path::Path;

use crate::ports::Status;

mod conversations;
mod pending;
mod turn_log;

pub use conversations::{ConversationStore, Durable};

/// The tree of conversation states (the turn log's records belong to it).
const CONVERSATIONS: &str = "conversations";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (disk full, corrupt file, another process holds the lock).
    #[error("state store at {path}: {source}")]
    Sled {
        /// The database directory.
        path: String,
        /// What sled said.
        source: sled::Error,
    },
}

/// What every handle of one store shares. Field order matters: the sled
/// handles drop first, then [`Release`] waits until sled has let go of the
/// directory.
struct Inner {
    /// Where it lives, for errors (`<temporary>` for a store in memory).
    path: String,
    db: sled::Db,
    plugin_kv: sled::Tree,
    status_history: sled::Tree,
    desired: sled::Tree,
    conversations: sled::Tree,
    /// The turn log's queue and what it holds that sled does not yet
    /// (none for a store in memory). Dropped before [`Release`], so its
    /// writer thread lets go of the database.
    log: Option<Log>,
    _release: Release,
}

/// The turn log's side of the store: every change of the conversations
/// tree goes through it.
struct Log {
    queue: std::sync::mpsc::Sender<turn_log::Record>,
    pending: std::sync::Arc<pending::Pending>,
}

/// Dropped last: waits until the database's lock file is free again, so
/// that a store reopened right after the last handle went (an in-process
/// restart) finds the directory released. sled finishes its last writes on
/// its own I/O threads, which hold the file a moment after the handles go.
struct Release {
    lock_file: Option<std::path::PathBuf>,
}

impl Release {
    /// Longer than any write sled can have under way.
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
}

impl Drop for Release {
    fn drop(&mut self) {
        let Some(path) = &self.lock_file else {
            return;
        };
        let Ok(file) = std::fs::File::open(path) else {
            return;
        };
        let deadline = std::time::Instant::now() + Self::PATIENCE;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    let _ = file.unlock();
                    return;
                }
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "the state store's files are still held");
                    return;
                }
            }
        }
    }
}

/// The gateway's durable state. Clones and every handle made from it
/// (key-value scopes, the status log, conversation stores) share one open
/// database; when the last of them is dropped the directory is released.
#[derive(Clone)]
pub struct StateStore {
    inner: std::sync::Arc<Inner>,
}

impl StateStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let wrap = |source| StoreError::Sled {
            path: dir.display().to_string(),
            source,
        };
        let db = sled::open(dir).map_err(wrap)?;
        let conversations = db.open_tree(CONVERSATIONS).map_err(wrap)?;
        let pending = std::sync::Arc::<pending::Pending>::default();
        let target = turn_log::Target {
            db: db.clone(),
            tree: conversations.clone(),
            pending: pending.clone(),
        };
        let queue = turn_log::recover(dir, &db, &conversations)
            .and_then(|generation| turn_log::start(dir, target, generation))
            .map_err(|error| wrap(sled::Error::Io(error)))?;
        let log = Log { queue, pending };
        // sled locks the file `db` in its directory while it is open.
        Self::with_trees(
            db,
            dir.display().to_string(),
            Some(dir.join("db")),
            Some(log),
        )
        .map_err(wrap)
    }

    fn with_trees(
        db: sled::Db,
        path: String,
        lock_file: Option<std::path::PathBuf>,
        log: Option<Log>,
    ) -> Result<Self, sled::Error> {
        Ok(StateStore {
            inner: std::sync::Arc::new(Inner {
                path,
                plugin_kv: db.open_tree("plugin-kv")?,
                status_history: db.open_tree("connector-status-history")?,
                desired: db.open_tree("connector-desired-state")?,
                conversations: db.open_tree(CONVERSATIONS)?,
                db,
                log,
                _release: Release { lock_file },
            }),
        })
    }

    /// Writes sled to disk and lets go of this handle. The directory is
    /// released when the last handle made from this store is gone (handles
    /// live in connectors and plugins: stop those first); then the turn
    /// log's writer applies the conversation changes still pending (they
    /// are on disk already, in the log).
    pub fn close(self) -> Result<(), StoreError> {
        let flushed = self.flush().map_err(|source| StoreError::Sled {
            path: self.inner.path.clone(),
            source,
        });
        let others = std::sync::Arc::strong_count(&self.inner) - 1;
        if others > 0 {
            tracing::warn!(
                others,
                "state store closed while other handles remain: its files are released when they go"
            );
        }
        drop(self);
        flushed
    }

    /// The status history of every connector.
    pub fn status_log(&self) -> StatusLog {
        StatusLog {
            tree: self.inner.status_history.clone(),
            _store: self.inner.clone(),
        }
    }

    /// A store that lives in memory only, for tests and tools.
    pub fn temporary() -> Result<Self, StoreError> {
        let wrap = |source| StoreError::Sled {
            path: "<temporary>".into(),
            source,
        };
        let db = sled::Config::new().temporary(true).open().map_err(wrap)?;
        Self::with_trees(db, "<temporary>".into(), None, None).map_err(wrap)
    }

    /// The key-value space of one plugin on one connector.
    pub fn plugin_kv(&self, plugin: &str, connector: &str) -> KvScope {
        let mut prefix = Vec::with_capacity(plugin.len() + connector.len() + 2);
        prefix.extend_from_slice(plugin.as_bytes());
        prefix.push(0);
        prefix.extend_from_slice(connector.as_bytes());
        prefix.push(0);
        KvScope {
            tree: self.inner.plugin_kv.clone(),
            prefix,
            store: self.inner.clone(),
        }
    }

    /// Writes sled to disk (conversation changes still pending are on disk
    /// in the turn log).
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.inner.db.flush().map(drop)
    }

    /// Records whether a person wants `connector` running, so a restart
    /// resumes it (or keeps it stopped).
    pub fn set_desired_running(&self, connector: &str, running: bool) -> Result<(), sled::Error> {
        self.inner.desired.insert(
            connector,
            if running { &b"running"[..] } else { b"stopped" },
        )?;
        self.inner.db.flush().map(drop)
    }

    /// The recorded wish for `connector`: `None` if it was never started or stopped.
    pub fn desired_running(&self, connector: &str) -> Option<bool> {
        let value = self.inner.desired.get(connector).ok().flatten()?;
        Some(&*value == b"running")
    }

    /// Forgets the wish for a deleted connector.
    pub fn forget_desired(&self, connector: &str) -> Result<(), sled::Error> {
        self.inner.desired.remove(connector).map(drop)
    }

    /// The saved conversations of one connector.
    pub fn conversations(&self, connector: &str) -> ConversationStore {
        let mut prefix = connector.as_bytes().to_vec();
        prefix.push(0);
        ConversationStore {
            scope: KvScope {
                tree: self.inner.conversations.clone(),
                prefix,
                store: self.inner.clone(),
            },
        }
    }
}

/// One status change of a connector.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusChange {
    /// When, in ms since the Unix epoch.
    pub at_ms: u64,
    /// The new status.
    pub status: Status,
    /// Why (the component that is down, the step under way).
    pub reason: String,
}

/// Connectors' status histories: the last [`StatusLog::KEEP`] changes each.
#[derive(Clone)]
pub struct StatusLog {
    tree: sled::Tree,
    /// Keeps the database open while this log lives.
    _store: std::sync::Arc<Inner>,
}

impl StatusLog {
    /// How many changes are kept per connector.
    pub const KEEP: usize = 100;

    /// Appends a change for `connector`.
    pub fn append(&self, connector: &str, status: Status, reason: &str) -> Result<(), sled::Error> {
        let change = StatusChange {
            at_ms: crate::clock::now_ms(),
            status,
            reason: reason.to_owned(),
        };
        self.tree
            .update_and_fetch(connector, |old| {
                let mut history: Vec<StatusChange> = old
                    .and_then(|bytes| serde_json::from_slice(bytes).ok())
                    .unwrap_or_default();
                history.push(change.clone());
                let excess = history.len().saturating_sub(Self::KEEP);
                history.drain(..excess);
                Some(serde_json::to_vec(&history).expect("status changes serialize"))
            })
            .map(drop)
    }

    /// The changes kept for `connector`, oldest first.
    pub fn history(&self, connector: &str) -> Vec<StatusChange> {
        self.tree
            .get(connector)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }
}

/// A key-value space under one prefix of a tree (one plugin on one
/// connector; one connector's conversations): keys of one scope never
/// reach another.
#[derive(Clone)]
pub struct KvScope {
    tree: sled::Tree,
    prefix: Vec<u8>,
    /// Keeps the database open while this scope lives (declared after
    /// `tree`, so the tree goes first).
    store: std::sync::Arc<Inner>,
}

impl KvScope {
    fn key(&self, key: &str) -> Vec<u8> {
        let mut full = self.prefix.clone();
        full.extend_from_slice(key.as_bytes());
        full
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, sled::Error> {
        Ok(self.tree.get(self.key(key))?.map(|v| v.to_vec()))
    }

    /// Stores `value` under `key`.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), sled::Error> {
        self.tree.insert(self.key(key), value).map(drop)
    }

    /// Bytes (keys and values) this scope holds.
    pub fn usage(&self) -> Result<usize, sled::Error> {
        self.tree
            .scan_prefix(&self.prefix)
            .try_fold(0, |sum, entry| {
                let (key, value) = entry?;
                Ok(sum + key.len() - self.prefix.len() + value.len())
            })
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) -> Result<(), sled::Error> {
        self.tree.remove(self.key(key)).map(drop)
    }

    /// The keys this scope holds.
    pub fn keys(&self) -> Vec<String> {
        self.tree
            .scan_prefix(&self.prefix)
            .keys()
            .filter_map(Result::ok)
            .map(|k| String::from_utf8_lossy(&k[self.prefix.len()..]).into_owned())
            .collect()
    }
}

/// Writes `bytes` to `file` so that readers see the old file or the whole
/// new one, never a part: a temporary file beside it, then a rename.
pub fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut out = std::fs::File::create(&temporary)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&temporary, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_do_not_see_each_other() {
        let store = StateStore::temporary().unwrap();
        let a = store.plugin_kv("greeting", "c1");
        let b = store.plugin_kv("greeting", "c2");
        a.set("k", b"1").unwrap();
        assert_eq!(a.get("k").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(b.get("k").unwrap(), None);
        a.delete("k").unwrap();
        assert_eq!(a.get("k").unwrap(), None);
    }

    #[test]
    fn desired_state_and_conversations_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = StateStore::open(dir.path()).unwrap();
            store.set_desired_running("c1", true).unwrap();
            store.set_desired_running("c2", false).unwrap();
            let saved = store.conversations("c1");
            saved.put("conv-a", b"state").unwrap();
            store.conversations("c2").put("conv-a", b"other").unwrap();
            store.flush().unwrap();
        }
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.desired_running("c1"), Some(true));
        assert_eq!(store.desired_running("c2"), Some(false));
        assert_eq!(store.desired_running("c3"), None);
        let saved = store.conversations("c1");
        assert_eq!(saved.get("conv-a").unwrap().as_deref(), Some(&b"state"[..]));
        assert_eq!(saved.ids(), ["conv-a"]);
        saved.remove("conv-a").unwrap();
        assert_eq!(saved.get("conv-a").unwrap(), None);
        assert_eq!(store.conversations("c2").ids(), ["conv-a"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_durable_saves_all_finish_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = StateStore::open(dir.path()).unwrap();
            let saved = store.conversations("c");
            let mut waiting = tokio::task::JoinSet::new();
            for n in 0..200 {
                let saved = saved.clone();
                waiting.spawn(async move {
                    let durable = saved.put_durable(&format!("conv-{n}"), b"x").unwrap();
                    durable.on_disk().await.unwrap();
                });
            }
            while let Some(done) = waiting.join_next().await {
                done.unwrap();
            }
        }
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.conversations("c").ids().len(), 200);
    }

    /// An in-process restart: every handle dropped (with flushes, a status
    /// log and key-value scopes among them), the directory opens again at
    /// once, many times over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_store_releases_its_directory_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..50 {
            let store = StateStore::open(dir.path()).unwrap();
            let saved = store.conversations("c");
            let kv = store.plugin_kv("p", "c");
            let log = store.status_log();
            let mut waiting = tokio::task::JoinSet::new();
            for n in 0..8 {
                let saved = saved.clone();
                waiting.spawn(async move {
                    let durable = saved
                        .put_durable(&format!("conv-{round}-{n}"), b"x")
                        .unwrap();
                    durable.on_disk().await.unwrap();
                });
            }
            kv.set("k", b"v").unwrap();
            log.append("c", Status::Online, "").unwrap();
            while let Some(done) = waiting.join_next().await {
                done.unwrap();
            }
            drop((saved, kv, log));
            store.close().unwrap();
        }
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.conversations("c").ids().len(), 50 * 8);
    }

    /// A save that does not wait for the disk comes after the durable
    /// ones before it, also when the store reopens (which replays the turn log).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_later_save_wins_over_an_earlier_durable_one_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = StateStore::open(dir.path()).unwrap();
            let saved = store.conversations("c");
            let durable = saved.put_durable("conv", b"in flight").unwrap();
            durable.on_disk().await.unwrap();
            saved.put("conv", b"answered").unwrap();
            drop(saved);
            store.close().unwrap();
        }
        let store = StateStore::open(dir.path()).unwrap();
        let saved = store.conversations("c");
        assert_eq!(
            saved.get("conv").unwrap().as_deref(),
            Some(&b"answered"[..])
        );
    }

    #[test]
    fn status_history_keeps_the_last_changes_in_order() {
        let store = StateStore::temporary().unwrap();
        let log = store.status_log();
        for n in 0..(StatusLog::KEEP + 5) {
            log.append("c1", Status::Offline, &n.to_string()).unwrap();
        }
        log.append("c1", Status::Online, "").unwrap();
        let history = log.history("c1");
        assert_eq!(history.len(), StatusLog::KEEP);
        assert_eq!(history.last().unwrap().status, Status::Online);
        assert_eq!(history[0].reason, "6");
        assert!(log.history("c2").is_empty());
    }
}
