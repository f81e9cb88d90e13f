//! One connector's saved conversation states. With a turn log (a store on
//! disk), a change is queued to the log and kept pending (`pending`) until
//! the log's writer applies it to sled; reads take a pending change before
//! sled's value. A store in memory writes to sled at once.

use super::{KvScope, turn_log};

/// One connector's saved conversation states, by conversation id. Values
/// are opaque bytes to the store; the connector owns their shape.
#[derive(Clone)]
pub struct ConversationStore {
    pub(super) scope: KvScope,
}

impl ConversationStore {
    /// The saved state of `conversation`.
    pub fn get(&self, conversation: &str) -> Result<Option<Vec<u8>>, sled::Error> {
        if let Some(log) = &self.scope.store.log
            && let Some(pending) = log.pending.get(&self.scope.key(conversation))
        {
            return Ok(pending.map(|state| state.to_vec()));
        }
        self.scope.get(conversation)
    }

    /// Saves the state of `conversation` without waiting for the disk: a
    /// crash may lose it, but never leaves an older save in its place
    /// (it is logged in order with the durable ones, which a restart
    /// replays).
    pub fn put(&self, conversation: &str, state: &[u8]) -> Result<(), sled::Error> {
        drop(self.change(conversation, Some(state))?);
        Ok(())
    }

    /// Saves the state of `conversation` now; the returned [`Durable`]
    /// resolves once it is on disk (writers waiting together share one
    /// sync of the turn log).
    pub fn put_durable(&self, conversation: &str, state: &[u8]) -> Result<Durable, sled::Error> {
        self.change(conversation, Some(state))
    }

    /// Forgets `conversation` (in order with its durable saves, so a crash
    /// cannot bring it back).
    pub fn remove(&self, conversation: &str) -> Result<(), sled::Error> {
        drop(self.change(conversation, None)?);
        Ok(())
    }

    /// Changes `conversation`'s state (`None`: forgets it). With a turn
    /// log, the change is pending (reads find it) and logged; sled gets it
    /// from the log's writer. Without one (a store in memory), sled gets
    /// it at once.
    fn change(&self, conversation: &str, state: Option<&[u8]>) -> Result<Durable, sled::Error> {
        let Some(log) = &self.scope.store.log else {
            match state {
                Some(state) => self.scope.set(conversation, state)?,
                None => self.scope.delete(conversation)?,
            }
            return Ok(Durable(None));
        };
        let key = self.scope.key(conversation);
        let value: Option<std::sync::Arc<[u8]>> = state.map(Into::into);
        let (done, on_disk) = tokio::sync::oneshot::channel();
        let record = turn_log::Record {
            key: key.clone(),
            value: value.clone(),
            done: Some(done),
        };
        // The writer gone (it cannot start again), the change is not saved,
        // and not pending either: the caller hears it at once.
        log.pending
            .queue_then_set(key, value, || log.queue.send(record))
            .map_err(|_| {
                sled::Error::Io(std::io::Error::other("the turn log's writer has stopped"))
            })?;
        Ok(Durable(Some(on_disk)))
    }

    /// Ids of the saved conversations.
    pub fn ids(&self) -> Vec<String> {
        // Pending changes first, sled second: a change the writer applies
        // in between is then found in sled, never missed in both.
        let pending = match &self.scope.store.log {
            Some(log) => log.pending.keys(&self.scope.prefix),
            None => Vec::new(),
        };
        let mut ids: std::collections::BTreeSet<String> = self.scope.keys().into_iter().collect();
        for (key, present) in pending {
            let id = String::from_utf8_lossy(&key[self.scope.prefix.len()..]).into_owned();
            if present {
                ids.insert(id);
            } else {
                ids.remove(&id);
            }
        }
        ids.into_iter().collect()
    }
}

/// A durable save under way: await [`Durable::on_disk`] before acting on it.
#[must_use = "a durable save is on disk only once `on_disk` resolves"]
pub struct Durable(Option<tokio::sync::oneshot::Receiver<Result<(), String>>>);

impl Durable {
    /// Resolves once the save is on disk; an error says why it is not.
    pub async fn on_disk(self) -> Result<(), String> {
        match self.0 {
            None => Ok(()),
            Some(on_disk) => on_disk
                .await
                .unwrap_or_else(|_| Err("the turn log's writer has stopped".into())),
        }
    }
}
