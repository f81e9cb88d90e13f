//! Durable state in sled: plugin key-value data, connectors' desired state
//! (running or stopped) and status history, and per-conversation state.
//!
//! Owns: the sled database and the layout of its trees. Knows nothing of
//! connectors' or plugins' logic; callers get narrow handles such as
//! [`KvScope`].

use std::path::Path;

use crate::connector::Status;

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

/// Makes writes durable in groups: every caller waiting at the same time
/// shares one `fsync` (a conversation must not ask its bot before its
/// state is on disk, and 1,000 conversations must not pay 1,000 syncs).
struct GroupCommit {
    db: sled::Db,
    /// Tickets handed out; a ticket is covered by any flush begun after it.
    requested: std::sync::atomic::AtomicU64,
    /// The highest ticket a finished flush covered (`u64::MAX`: it failed).
    done: tokio::sync::watch::Sender<u64>,
    wake: std::sync::Arc<tokio::sync::Notify>,
    flusher: std::sync::OnceLock<()>,
}

impl Drop for GroupCommit {
    /// Lets the flusher task see that the store is gone, and end.
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl GroupCommit {
    async fn flush(self: &std::sync::Arc<Self>) -> Result<(), sled::Error> {
        use std::sync::atomic::Ordering;
        self.flusher.get_or_init(|| {
            // The task holds the store only while it flushes, so that a
            // dropped store closes its database.
            let (this, wake) = (std::sync::Arc::downgrade(self), self.wake.clone());
            tokio::spawn(async move {
                loop {
                    wake.notified().await;
                    let Some(this) = this.upgrade() else {
                        break;
                    };
                    let upto = this.requested.load(Ordering::SeqCst);
                    let result = this.db.flush_async().await;
                    this.done
                        .send_replace(if result.is_ok() { upto } else { u64::MAX });
                }
            });
        });
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut done = self.done.subscribe();
        self.wake.notify_one();
        loop {
            let covered = *done.borrow_and_update();
            if covered == u64::MAX {
                // A failed group: try alone, to report this caller's own error.
                return self.db.flush_async().await.map(drop);
            }
            if covered >= ticket {
                return Ok(());
            }
            // Another flush may have started before this ticket: wake the flusher again.
            self.wake.notify_one();
            if done.changed().await.is_err() {
                return self.db.flush_async().await.map(drop);
            }
        }
    }
}

/// The gateway's durable state.
#[derive(Clone)]
pub struct StateStore {
    commit: std::sync::Arc<GroupCommit>,
    db: sled::Db,
    plugin_kv: sled::Tree,
    status_history: sled::Tree,
    desired: sled::Tree,
    conversations: sled::Tree,
}

impl StateStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let wrap = |source| StoreError::Sled {
            path: dir.display().to_string(),
            source,
        };
        let db = sled::open(dir).map_err(wrap)?;
        Self::with_trees(db).map_err(wrap)
    }

    fn with_trees(db: sled::Db) -> Result<Self, sled::Error> {
        Ok(StateStore {
            commit: std::sync::Arc::new(GroupCommit {
                db: db.clone(),
                requested: 0.into(),
                done: tokio::sync::watch::channel(0).0,
                wake: std::sync::Arc::new(tokio::sync::Notify::new()),
                flusher: std::sync::OnceLock::new(),
            }),
            plugin_kv: db.open_tree("plugin-kv")?,
            status_history: db.open_tree("connector-status-history")?,
            desired: db.open_tree("connector-desired-state")?,
            conversations: db.open_tree("conversations")?,
            db,
        })
    }

    /// The status history of every connector.
    pub fn status_log(&self) -> StatusLog {
        StatusLog {
            tree: self.status_history.clone(),
        }
    }

    /// A store that lives in memory only, for tests and tools.
    pub fn temporary() -> Result<Self, StoreError> {
        let wrap = |source| StoreError::Sled {
            path: "<temporary>".into(),
            source,
        };
        let db = sled::Config::new().temporary(true).open().map_err(wrap)?;
        Self::with_trees(db).map_err(wrap)
    }

    /// The key-value space of one plugin on one connector.
    pub fn plugin_kv(&self, plugin: &str, connector: &str) -> KvScope {
        let mut prefix = Vec::with_capacity(plugin.len() + connector.len() + 2);
        prefix.extend_from_slice(plugin.as_bytes());
        prefix.push(0);
        prefix.extend_from_slice(connector.as_bytes());
        prefix.push(0);
        KvScope {
            tree: self.plugin_kv.clone(),
            prefix,
        }
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.db.flush().map(drop)
    }

    /// Records whether a person wants `connector` running, so a restart
    /// resumes it (or keeps it stopped).
    pub fn set_desired_running(&self, connector: &str, running: bool) -> Result<(), sled::Error> {
        self.desired.insert(
            connector,
            if running { &b"running"[..] } else { b"stopped" },
        )?;
        self.db.flush().map(drop)
    }

    /// The recorded wish for `connector`: `None` if it was never started or stopped.
    pub fn desired_running(&self, connector: &str) -> Option<bool> {
        let value = self.desired.get(connector).ok().flatten()?;
        Some(&*value == b"running")
    }

    /// Forgets the wish for a deleted connector.
    pub fn forget_desired(&self, connector: &str) -> Result<(), sled::Error> {
        self.desired.remove(connector).map(drop)
    }

    /// The saved conversations of one connector.
    pub fn conversations(&self, connector: &str) -> ConversationStore {
        let mut prefix = connector.as_bytes().to_vec();
        prefix.push(0);
        ConversationStore {
            commit: self.commit.clone(),
            scope: KvScope {
                tree: self.conversations.clone(),
                prefix,
            },
        }
    }
}

/// One connector's saved conversation states, by conversation id. Values
/// are opaque bytes to the store; the connector owns their shape.
#[derive(Clone)]
pub struct ConversationStore {
    commit: std::sync::Arc<GroupCommit>,
    scope: KvScope,
}

impl ConversationStore {
    /// The saved state of `conversation`.
    pub fn get(&self, conversation: &str) -> Result<Option<Vec<u8>>, sled::Error> {
        self.scope.get(conversation)
    }

    /// Saves the state of `conversation` (durable at the next flush).
    pub fn put(&self, conversation: &str, state: &[u8]) -> Result<(), sled::Error> {
        self.scope.set(conversation, state)
    }

    /// Forgets `conversation`.
    pub fn remove(&self, conversation: &str) -> Result<(), sled::Error> {
        self.scope.delete(conversation)
    }

    /// Waits until everything written so far (to any tree) is on disk;
    /// callers waiting together share one sync.
    pub async fn flush(&self) -> Result<(), sled::Error> {
        self.commit.flush().await
    }

    /// Ids of the saved conversations.
    pub fn ids(&self) -> Vec<String> {
        self.scope.keys()
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
}

impl StatusLog {
    /// How many changes are kept per connector.
    pub const KEEP: usize = 100;

    /// Appends a change for `connector`.
    pub fn append(&self, connector: &str, status: Status, reason: &str) -> Result<(), sled::Error> {
        let change = StatusChange {
            at_ms: crate::wire::now_ms(),
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
    async fn concurrent_flushes_all_finish_and_persist_what_came_before() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = StateStore::open(dir.path()).unwrap();
            let saved = store.conversations("c");
            let mut waiting = tokio::task::JoinSet::new();
            for n in 0..200 {
                let saved = saved.clone();
                waiting.spawn(async move {
                    saved.put(&format!("conv-{n}"), b"x").unwrap();
                    saved.flush().await.unwrap();
                });
            }
            while let Some(done) = waiting.join_next().await {
                done.unwrap();
            }
        }
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.conversations("c").ids().len(), 200);
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
