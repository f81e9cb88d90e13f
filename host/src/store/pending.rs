//! Changes of the conversations tree on their way to sled: logged, or
//! queued to be, but not yet written there. Reads look here first; the
//! turn log's writer applies them (see `turn_log`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Changes of the conversations tree that are queued to the turn log (or
/// logged) but not yet in sled, by key: the newest of each, which reads
/// take before sled's. A change is set here in the same step as its
/// record is queued, so the log's order is the order of the changes, and
/// whatever the log holds is here or in sled.
#[derive(Default)]
pub(super) struct Pending {
    entries: Mutex<PendingEntries>,
}

#[derive(Default)]
struct PendingEntries {
    by_key: HashMap<Vec<u8>, Change>,
    /// Numbers the changes, so that applying one never drops a newer one.
    next: u64,
}

#[derive(Clone)]
struct Change {
    /// The new value; `None`: removed.
    value: Option<Arc<[u8]>>,
    number: u64,
}

impl Pending {
    fn entries(&self) -> std::sync::MutexGuard<'_, PendingEntries> {
        // Every update leaves the map whole: a panic elsewhere spoils nothing.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `queue` (which queues the change's record to the turn log)
    /// and, if the record was queued, records the change as `key`'s newest
    /// (`None`: removed), in one step: two tasks changing one key leave it
    /// in the log's order. A change that was not queued is not pending:
    /// reads never find a state that is on its way nowhere.
    pub(super) fn queue_then_set<E>(
        &self,
        key: Vec<u8>,
        value: Option<Arc<[u8]>>,
        queue: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), E> {
        let mut entries = self.entries();
        queue()?;
        entries.next += 1;
        let number = entries.next;
        entries.by_key.insert(key, Change { value, number });
        Ok(())
    }

    /// Records the newest change of `key` (tests).
    #[cfg(test)]
    fn set(&self, key: Vec<u8>, value: Option<Arc<[u8]>>) {
        self.queue_then_set(key, value, || Ok::<(), ()>(()))
            .unwrap();
    }

    /// The pending change of `key`: `Some(None)` if it was removed, `None`
    /// if sled has its newest value.
    pub(super) fn get(&self, key: &[u8]) -> Option<Option<Arc<[u8]>>> {
        self.entries()
            .by_key
            .get(key)
            .map(|change| change.value.clone())
    }

    /// The pending keys under `prefix`, each with whether it is present
    /// (false: removed).
    pub(super) fn keys(&self, prefix: &[u8]) -> Vec<(Vec<u8>, bool)> {
        self.entries()
            .by_key
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, change)| (key.clone(), change.value.is_some()))
            .collect()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries().by_key.is_empty()
    }

    /// Writes what is pending to `tree` (not flushed: the log still holds
    /// it), then lets go of each change that no newer one replaced meanwhile.
    pub(super) fn apply(&self, tree: &sled::Tree) -> sled::Result<()> {
        self.apply_some(tree, usize::MAX).map(drop)
    }

    /// [`Pending::apply`] for at most `limit` keys; true if more are pending.
    pub(super) fn apply_some(&self, tree: &sled::Tree, limit: usize) -> sled::Result<bool> {
        let changes: Vec<(Vec<u8>, Change)> = self
            .entries()
            .by_key
            .iter()
            .take(limit)
            .map(|(key, change)| (key.clone(), change.clone()))
            .collect();
        for (key, change) in &changes {
            match &change.value {
                Some(value) => tree.insert(key.as_slice(), &**value).map(drop)?,
                None => tree.remove(key.as_slice()).map(drop)?,
            }
        }
        self.forget_applied(changes);
        Ok(!self.is_empty())
    }

    /// Lets go of each applied change that no newer one replaced.
    fn forget_applied(&self, applied: Vec<(Vec<u8>, Change)>) {
        let mut entries = self.entries();
        for (key, change) in applied {
            if entries
                .by_key
                .get(&key)
                .is_some_and(|now| now.number == change.number)
            {
                entries.by_key.remove(&key);
            }
        }
        // An emptied map gives its memory back (idle conversations are many).
        if entries.by_key.is_empty() {
            entries.by_key.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_the_newest_change_and_applying_keeps_a_newer_one() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        tree.insert("c\0gone", "old").unwrap();
        let pending = Pending::default();
        pending.set(b"c\0a".to_vec(), Some(b"1"[..].into()));
        pending.set(b"c\0a".to_vec(), Some(b"2"[..].into()));
        pending.set(b"c\0gone".to_vec(), None);
        pending.set(b"d\0b".to_vec(), Some(b"3"[..].into()));
        assert_eq!(pending.get(b"c\0a"), Some(Some(b"2"[..].into())));
        assert_eq!(pending.get(b"c\0gone"), Some(None));
        assert_eq!(pending.get(b"c\0other"), None);
        let mut keys = pending.keys(b"c\0");
        keys.sort();
        assert_eq!(
            keys,
            [(b"c\0a".to_vec(), true), (b"c\0gone".to_vec(), false)]
        );
        pending.apply(&tree).unwrap();
        assert!(pending.is_empty());
        assert_eq!(tree.get("c\0a").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(tree.get("c\0gone").unwrap(), None);
        assert_eq!(tree.get("d\0b").unwrap().as_deref(), Some(&b"3"[..]));
    }

    #[test]
    fn a_change_whose_record_was_not_queued_is_not_pending() {
        let pending = Pending::default();
        pending.set(b"k".to_vec(), Some(b"1"[..].into()));
        let refused = pending.queue_then_set(b"k".to_vec(), Some(b"2"[..].into()), || Err("gone"));
        assert_eq!(refused, Err("gone"));
        assert_eq!(pending.get(b"k"), Some(Some(b"1"[..].into())));
        let refused = pending.queue_then_set(b"new".to_vec(), None, || Err("gone"));
        assert_eq!(refused, Err("gone"));
        assert_eq!(pending.get(b"new"), None);
    }

    #[test]
    fn applying_part_by_part_reaches_every_key() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let pending = Pending::default();
        for n in 0..600u32 {
            pending.set(n.to_be_bytes().to_vec(), Some(b"x"[..].into()));
        }
        assert!(pending.apply_some(&tree, 256).unwrap());
        assert_eq!(tree.len(), 256);
        assert!(pending.apply_some(&tree, 256).unwrap());
        assert!(!pending.apply_some(&tree, 256).unwrap());
        assert_eq!(tree.len(), 600);
        assert!(pending.is_empty());
    }

    #[test]
    fn a_change_made_while_applying_stays_pending() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let pending = Pending::default();
        pending.set(b"k".to_vec(), Some(b"1"[..].into()));
        // What `apply` does in two steps, with a newer change between them.
        let taken: Vec<(Vec<u8>, Change)> = pending
            .entries()
            .by_key
            .iter()
            .map(|(key, change)| (key.clone(), change.clone()))
            .collect();
        pending.set(b"k".to_vec(), Some(b"2"[..].into()));
        pending.forget_applied(taken);
        assert_eq!(pending.get(b"k"), Some(Some(b"2"[..].into())));
        pending.apply(&tree).unwrap();
        assert_eq!(tree.get("k").unwrap().as_deref(), Some(&b"2"[..]));
        assert!(pending.is_empty());
    }
}
