//! The turn log: how a conversation's state becomes durable before its
//! bot is asked, cheaper than syncing the whole database.
//!
//! A durable write goes to sled (where reads find it) and is appended to
//! `turns.log` in the store's directory; one writer thread appends what is
//! queued, syncs the file once for the whole group and then answers every
//! writer in it. When the log passes [`COMPACT_AT`] bytes, the writer
//! flushes sled (which holds every logged record already) and empties the
//! log. Opening the store replays a log left by a crash into sled first:
//! records are checksummed, so a torn last record is ignored (its writer
//! was never answered, so its bot was never asked).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

/// The log is emptied (after sled is flushed) past this size.
const COMPACT_AT: u64 = 8 << 20;

/// The log file in a store's directory.
pub(super) fn path(dir: &Path) -> PathBuf {
    dir.join("turns.log")
}

/// One logged change of the conversations tree.
pub(super) struct Record {
    /// The full key in the tree.
    pub key: Vec<u8>,
    /// The new value; `None` removes the key.
    pub value: Option<Vec<u8>>,
    /// Told when the record is on disk (or why it is not).
    pub done: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

fn encode(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(u8::from(record.value.is_some()));
    out.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
    let value = record.value.as_deref().unwrap_or_default();
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&record.key);
    out.extend_from_slice(value);
    let checksum = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
}

/// The records of a log, up to the first that is torn or damaged.
fn decode(mut bytes: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut records = Vec::new();
    loop {
        let whole = bytes;
        let Some((&put, rest)) = bytes.split_first() else {
            break;
        };
        let length = |b: &[u8]| -> Option<usize> {
            Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize)
        };
        let (Some(key_len), Some(value_len)) = (length(rest), rest.get(4..).and_then(length))
        else {
            break;
        };
        let body = 1 + 8 + key_len + value_len;
        let Some(checksum) = whole.get(body..body + 4) else {
            break;
        };
        if crc32fast::hash(&whole[..body]).to_le_bytes() != checksum || put > 1 {
            break;
        }
        let key = whole[9..9 + key_len].to_vec();
        let value = (put == 1).then(|| whole[9 + key_len..body].to_vec());
        records.push((key, value));
        bytes = &whole[body + 4..];
    }
    records
}

/// Replays the log a crash left into `tree`, makes it durable, and empties the log.
pub(super) fn recover(dir: &Path, db: &sled::Db, tree: &sled::Tree) -> std::io::Result<()> {
    let path = path(dir);
    let mut bytes = Vec::new();
    match std::fs::File::open(&path) {
        Ok(mut file) => file.read_to_end(&mut bytes)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let records = decode(&bytes);
    for (key, value) in &records {
        let applied = match value {
            Some(value) => tree.insert(key, value.as_slice()).map(drop),
            None => tree.remove(key).map(drop),
        };
        applied.map_err(std::io::Error::other)?;
    }
    db.flush().map_err(std::io::Error::other)?;
    if !records.is_empty() {
        tracing::info!(
            records = records.len(),
            "state store: replayed the turn log"
        );
    }
    std::fs::File::create(&path)?.sync_all()
}

/// Starts the writer thread of `dir`'s log; records sent to the returned
/// queue are appended in order. The thread ends when every sender is gone.
pub(super) fn start(dir: &Path, db: sled::Db) -> std::io::Result<Sender<Record>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(dir))?;
    let size = file.metadata()?.len();
    let (queue, records) = channel();
    std::thread::Builder::new()
        .name("turn-log".into())
        .spawn(move || write(file, size, db, records))?;
    Ok(queue)
}

fn write(mut file: std::fs::File, mut size: u64, db: sled::Db, records: Receiver<Record>) {
    let mut buffer = Vec::new();
    let mut group = Vec::new();
    while let Ok(first) = records.recv() {
        group.push(first);
        // Everything queued meanwhile shares this sync.
        while let Ok(next) = records.try_recv() {
            group.push(next);
        }
        buffer.clear();
        for record in &group {
            encode(record, &mut buffer);
        }
        let written = file
            .write_all(&buffer)
            .and_then(|()| file.sync_data())
            .map_err(|error| error.to_string());
        match &written {
            Ok(()) => size += buffer.len() as u64,
            Err(error) => {
                tracing::error!(%error, "state store: could not append to the turn log");
                // A torn group must not stay in the middle of the log:
                // replay stops at the first bad record, and would drop the
                // groups written after it.
                if let Err(error) = file.set_len(size) {
                    tracing::error!(%error, "state store: could not cut a torn group off the turn log");
                }
            }
        }
        for record in group.drain(..) {
            if let Some(done) = record.done {
                let _ = done.send(written.clone());
            }
        }
        if size > COMPACT_AT {
            // sled holds every logged record: once it is durable, the log may go.
            match db.flush().and_then(|_| Ok(file.set_len(0)?)) {
                Ok(()) => size = 0,
                Err(error) => {
                    tracing::error!(%error, "state store: could not compact the turn log")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_left_by_a_crash_is_replayed_into_the_store_when_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        crate::store::StateStore::open(dir.path())
            .unwrap()
            .close()
            .unwrap();
        // What a crash leaves: records in the log that sled never wrote out.
        let mut bytes = Vec::new();
        for (id, state) in [
            ("c\0one", Some("1")),
            ("c\0two", Some("2")),
            ("c\0one", None),
        ] {
            let record = Record {
                key: id.as_bytes().to_vec(),
                value: state.map(|s| s.as_bytes().to_vec()),
                done: None,
            };
            encode(&record, &mut bytes);
        }
        std::fs::write(path(dir.path()), &bytes).unwrap();
        let store = crate::store::StateStore::open(dir.path()).unwrap();
        let saved = store.conversations("c");
        assert_eq!(saved.ids(), ["two"]);
        assert_eq!(saved.get("two").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(std::fs::metadata(path(dir.path())).unwrap().len(), 0);
    }

    #[test]
    fn records_come_back_as_written_and_a_torn_tail_is_left_out() {
        let mut bytes = Vec::new();
        for (key, value) in [
            (&b"a"[..], Some(&b"1"[..])),
            (b"b", None),
            (b"c", Some(b"33")),
        ] {
            let record = Record {
                key: key.to_vec(),
                value: value.map(<[u8]>::to_vec),
                done: None,
            };
            encode(&record, &mut bytes);
        }
        let whole = decode(&bytes);
        assert_eq!(
            whole,
            [
                (b"a".to_vec(), Some(b"1".to_vec())),
                (b"b".to_vec(), None),
                (b"c".to_vec(), Some(b"33".to_vec()))
            ]
        );
        // A crash in the middle of the last record, or damage in it.
        assert_eq!(decode(&bytes[..bytes.len() - 3]), whole[..2]);
        let mut damaged = bytes.clone();
        let last = damaged.len() - 6;
        damaged[last] ^= 0xff;
        assert_eq!(decode(&damaged), whole[..2]);
    }
}
