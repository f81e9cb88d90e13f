//! Durable state in sled: plugin key-value data today; connector desired
//! state and per-conversation state grow here (issue #4).
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

/// The gateway's durable state.
#[derive(Clone)]
pub struct StateStore {
    db: sled::Db,
    plugin_kv: sled::Tree,
    status_history: sled::Tree,
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
            plugin_kv: db.open_tree("plugin-kv")?,
            status_history: db.open_tree("connector-status-history")?,
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

/// A key-value space scoped to one plugin and one connector: keys of one
/// scope never reach another.
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
