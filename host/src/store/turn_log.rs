//! The turn log: how a conversation's state becomes durable before its
//! bot is asked, cheaper than syncing the whole database.
//!
//! A write is appended to `turns.log` in the store's directory and kept in
//! memory ([`Pending`], where reads find it first); one writer thread
//! appends what is queued, syncs the file once for the whole group and then
//! answers every writer in it. The writer applies what is pending to sled
//! only now and then: when the log passes [`COMPACT_AT`] bytes (then it
//! flushes sled and starts the log over), when no record came for
//! [`IDLE`] ([`APPLY_AT_ONCE`] keys at a time, between records), and when
//! it stops. A conversation saved many times between two of those reaches
//! sled once, its newest state: under load, sled's insert on every save
//! was 7% of the connector's CPU. Opening the store replays a
//! log left by a crash into sled first: records are checksummed, so a torn
//! last record is ignored (its writer was never answered, so its bot was
//! never asked). A clean stop leaves the log too: it is replayed on every
//! open, which re-applies what sled already holds.
//!
//! The file is written in place, never shortened: it is grown in zeroed
//! [`CHUNK`]s ahead of the records, so that a sync writes only the records'
//! blocks, not the file's size as well (which would be a second disk write
//! to wait for on every turn). Starting over writes a new *generation* in
//! the header; each record's checksum covers the generation it was written
//! in, so the records of an earlier one, still in the file behind the
//! current ones, are never replayed.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::time::Duration;

use super::pending::Pending;

/// The log starts over (after sled is flushed) past this size.
const COMPACT_AT: u64 = 8 << 20;
/// The file grows by this much at a time, zeroed, ahead of the records.
const CHUNK: u64 = 1 << 20;
/// What is pending goes to sled once no record came for this long...
const IDLE: Duration = Duration::from_millis(250);
/// ...this many keys at a time, so that a record queued meanwhile waits for
/// one part only.
const APPLY_AT_ONCE: usize = 256;
/// The header: [`MAGIC`], then the generation (u64, little-endian).
const MAGIC: &[u8; 8] = b"SBTURNS2";
const HEADER_LEN: u64 = 16;

/// The log file in a store's directory.
pub(super) fn path(dir: &Path) -> PathBuf {
    dir.join("turns.log")
}

/// One logged change of the conversations tree.
pub(super) struct Record {
    /// The full key in the tree.
    pub key: Vec<u8>,
    /// The new value; `None` removes the key.
    pub value: Option<Arc<[u8]>>,
    /// Told when the record is on disk (or why it is not).
    pub done: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

/// The checksum of a record's body written in `generation` (`None`: a log
/// of the first format, which had no header and no generations).
fn checksum(generation: Option<u64>, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    if let Some(generation) = generation {
        hasher.update(&generation.to_le_bytes());
    }
    hasher.update(body);
    hasher.finalize()
}

fn encode(generation: u64, record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(u8::from(record.value.is_some()));
    out.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
    let value = record.value.as_deref().unwrap_or_default();
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&record.key);
    out.extend_from_slice(value);
    let checksum = checksum(Some(generation), &out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
}

/// The records of `generation`, up to the first that is torn, damaged or
/// of another generation.
fn decode(generation: Option<u64>, mut bytes: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
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
        let Some(body) = (1 + 8 + key_len).checked_add(value_len) else {
            break;
        };
        let Some(stored) = whole.get(body..body + 4) else {
            break;
        };
        if checksum(generation, &whole[..body]).to_le_bytes() != stored || put > 1 {
            break;
        }
        let key = whole[9..9 + key_len].to_vec();
        let value = (put == 1).then(|| whole[9 + key_len..body].to_vec());
        records.push((key, value));
        bytes = &whole[body + 4..];
    }
    records
}

/// The generation a log's header names, and its records after the header
/// (a log without the header is of the first format: `None`).
fn read_header(bytes: &[u8]) -> (Option<u64>, &[u8]) {
    match bytes.strip_prefix(MAGIC.as_slice()) {
        Some(rest) if rest.len() >= 8 => {
            let generation = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
            (Some(generation), &rest[8..])
        }
        _ => (None, bytes),
    }
}

/// Replays the log a crash left into `tree` and makes it durable; returns
/// the generation the log goes on with.
pub(super) fn recover(dir: &Path, db: &sled::Db, tree: &sled::Tree) -> std::io::Result<u64> {
    let mut bytes = Vec::new();
    match std::fs::File::open(path(dir)) {
        Ok(mut file) => file.read_to_end(&mut bytes)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(1),
        Err(error) => return Err(error),
    };
    let (generation, body) = read_header(&bytes);
    let records = decode(generation, body);
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
    Ok(generation.unwrap_or(0).wrapping_add(1))
}

/// The open log file and where the next group goes.
struct Log {
    file: std::fs::File,
    generation: u64,
    /// Where the next record goes.
    end: u64,
    /// The file's size: zeroed bytes up to here.
    allocated: u64,
}

impl Log {
    /// Starts `generation`: its header is on disk before any of its records.
    fn start_generation(&mut self, generation: u64) -> std::io::Result<()> {
        let mut header = [0u8; HEADER_LEN as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&generation.to_le_bytes());
        self.file.write_all_at(&header, 0)?;
        self.allocated = self.allocated.max(HEADER_LEN);
        self.file.sync_data()?;
        self.generation = generation;
        self.end = HEADER_LEN;
        Ok(())
    }

    /// Appends `bytes` and syncs them. The file is grown (zeroed) first
    /// when they would not fit, so most syncs write no size change.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let needed = self.end + bytes.len() as u64;
        if needed > self.allocated {
            let grown = needed.div_ceil(CHUNK) * CHUNK;
            let zeros = vec![0u8; 64 << 10];
            let mut at = self.allocated;
            while at < grown {
                let n = (grown - at).min(zeros.len() as u64) as usize;
                self.file.write_all_at(&zeros[..n], at)?;
                at += n as u64;
            }
            self.allocated = grown;
        }
        self.file.write_all_at(bytes, self.end)?;
        self.file.sync_data()?;
        self.end = needed;
        Ok(())
    }
}

/// Where the writer applies what is pending: the database and its
/// conversations tree.
pub(super) struct Target {
    pub db: sled::Db,
    pub tree: sled::Tree,
    pub pending: Arc<Pending>,
}

impl Target {
    /// Applies everything pending and flushes sled: it then holds every
    /// record the log holds.
    fn apply_all(&self) -> sled::Result<()> {
        self.pending.apply(&self.tree)?;
        self.db.flush().map(drop)
    }
}

/// Starts the writer thread of `dir`'s log in `generation`; records sent
/// to the returned queue are appended in order. The thread ends when
/// every sender is gone, after it applied what is pending.
pub(super) fn start(
    dir: &Path,
    target: Target,
    generation: u64,
) -> std::io::Result<Sender<Record>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path(dir))?;
    let allocated = file.metadata()?.len();
    let mut log = Log {
        file,
        generation,
        end: HEADER_LEN,
        allocated,
    };
    log.start_generation(generation)?;
    let (queue, records) = channel();
    std::thread::Builder::new()
        .name("turn-log".into())
        .spawn(move || write(log, target, records))?;
    Ok(queue)
}

fn write(mut log: Log, target: Target, records: Receiver<Record>) {
    let mut buffer = Vec::new();
    let mut group = Vec::new();
    // After a failed write the file may hold a half-written group where the
    // next would go, and after a failed start-over a header of a generation
    // the records would not be written in, or sled without what the log's
    // generation holds: nothing is appended until the log has started over.
    let mut broken = false;
    // Applying what is pending, part by part, since the log went idle.
    let mut applying = false;
    loop {
        let next = if applying {
            records.try_recv().map_err(|error| match error {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            })
        } else if target.pending.is_empty() {
            records.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            records.recv_timeout(IDLE)
        };
        let first = match next {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => {
                applying = match target.pending.apply_some(&target.tree, APPLY_AT_ONCE) {
                    Ok(more) => more,
                    Err(error) => {
                        // It stays pending (and logged); tried again when idle.
                        tracing::error!(%error, "state store: could not apply the turn log's records");
                        false
                    }
                };
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        applying = false;
        group.push(first);
        // Everything queued meanwhile shares this sync.
        while let Ok(next) = records.try_recv() {
            group.push(next);
        }
        if broken {
            broken = start_over(&mut log, &target) != StartOver::Started;
        }
        let written = if broken {
            Err("the turn log could not start over (see the error logged before)".to_owned())
        } else {
            buffer.clear();
            for record in &group {
                encode(log.generation, record, &mut buffer);
            }
            log.append(&buffer).map_err(|error| error.to_string())
        };
        if let Err(error) = &written {
            tracing::error!(%error, "state store: could not append to the turn log");
        }
        for record in group.drain(..) {
            if let Some(done) = record.done {
                let _ = done.send(written.clone());
            }
        }
        if !broken && written.is_err() {
            broken = start_over(&mut log, &target) != StartOver::Started;
        } else if !broken && log.end > COMPACT_AT {
            // If sled could not take what is pending, the log goes on
            // growing, whole, and starts over after a later group.
            broken = start_over(&mut log, &target) == StartOver::Broken;
        }
    }
    // Stopping: sled gets what is pending (the log keeps it too, and is
    // replayed when the store opens again).
    if let Err(error) = target.apply_all() {
        tracing::error!(%error, "state store: could not apply the turn log's records on stopping");
    }
}

/// How starting the log over went.
#[derive(Debug, PartialEq)]
enum StartOver {
    /// In the next generation, empty.
    Started,
    /// Not started: sled did not take what is pending, so the log still
    /// holds it, as it was.
    NotApplied,
    /// Not started: the new generation's header may be half written, so
    /// nothing may be appended until the log starts over.
    Broken,
}

/// Applies what is pending, flushes sled (which then holds every logged
/// record) and starts the log over in the next generation; logs why not.
fn start_over(log: &mut Log, target: &Target) -> StartOver {
    if let Err(error) = target.apply_all() {
        tracing::error!(%error, "state store: could not apply the turn log's records to start it over");
        return StartOver::NotApplied;
    }
    match log.start_generation(log.generation.wrapping_add(1)) {
        Ok(()) => StartOver::Started,
        Err(error) => {
            tracing::error!(%error, "state store: could not start the turn log over");
            StartOver::Broken
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
                value: state.map(|s| s.as_bytes().into()),
                done: None,
            };
            encode(7, &record, &mut bytes);
        }
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&7u64.to_le_bytes());
        file.extend_from_slice(&bytes);
        std::fs::write(path(dir.path()), &file).unwrap();
        let store = crate::store::StateStore::open(dir.path()).unwrap();
        let saved = store.conversations("c");
        assert_eq!(saved.ids(), ["two"]);
        assert_eq!(saved.get("two").unwrap().as_deref(), Some(&b"2"[..]));
        // The log goes on in the next generation: nothing of it is replayed again.
        let (generation, body) = {
            let bytes = std::fs::read(path(dir.path())).unwrap();
            let (generation, body) = read_header(&bytes);
            (generation, decode(generation, body))
        };
        assert_eq!((generation, body.len()), (Some(8), 0));
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
                value: value.map(Into::into),
                done: None,
            };
            encode(3, &record, &mut bytes);
        }
        let whole = decode(Some(3), &bytes);
        assert_eq!(
            whole,
            [
                (b"a".to_vec(), Some(b"1".to_vec())),
                (b"b".to_vec(), None),
                (b"c".to_vec(), Some(b"33".to_vec()))
            ]
        );
        // A crash in the middle of the last record, or damage in it.
        assert_eq!(decode(Some(3), &bytes[..bytes.len() - 3]), whole[..2]);
        let mut damaged = bytes.clone();
        let last = damaged.len() - 6;
        damaged[last] ^= 0xff;
        assert_eq!(decode(Some(3), &damaged), whole[..2]);
        // Records of another generation are not this one's.
        assert_eq!(decode(Some(4), &bytes), []);
    }

    #[test]
    fn records_of_an_earlier_generation_behind_the_current_ones_are_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let record = |key: &str, value: &str| Record {
            key: key.as_bytes().to_vec(),
            value: Some(value.as_bytes().into()),
            done: None,
        };
        let target = || Target {
            db: db.clone(),
            tree: db.open_tree("t").unwrap(),
            pending: Arc::default(),
        };
        let queue = start(dir.path(), target(), 1).unwrap();
        let (done, on_disk) = tokio::sync::oneshot::channel();
        for n in 0..3 {
            queue.send(record("old", &n.to_string())).unwrap();
        }
        queue
            .send(Record {
                done: Some(done),
                ..record("old", "3")
            })
            .unwrap();
        on_disk.blocking_recv().unwrap().unwrap();
        let bytes = std::fs::read(path(dir.path())).unwrap();
        let (generation, body) = read_header(&bytes);
        assert_eq!((generation, decode(generation, body).len()), (Some(1), 4));
        // The next generation writes one record over the first of them.
        let queue = start(dir.path(), target(), 2).unwrap();
        let (done, on_disk) = tokio::sync::oneshot::channel();
        queue
            .send(Record {
                done: Some(done),
                ..record("new", "x")
            })
            .unwrap();
        on_disk.blocking_recv().unwrap().unwrap();
        let bytes = std::fs::read(path(dir.path())).unwrap();
        let (generation, body) = read_header(&bytes);
        assert_eq!(generation, Some(2));
        assert_eq!(
            decode(generation, body),
            [(b"new".to_vec(), Some(b"x".to_vec()))]
        );
        // The file was grown in a zeroed chunk, not record by record.
        assert_eq!(bytes.len() as u64, CHUNK);
    }

    #[test]
    fn a_log_of_the_first_format_is_still_replayed() {
        let dir = tempfile::tempdir().unwrap();
        crate::store::StateStore::open(dir.path())
            .unwrap()
            .close()
            .unwrap();
        // The first format: records without a header, checksums without a generation.
        let body = {
            let mut body = vec![1u8];
            body.extend_from_slice(&5u32.to_le_bytes());
            body.extend_from_slice(&1u32.to_le_bytes());
            body.extend_from_slice(b"c\0old1");
            body
        };
        let mut bytes = body.clone();
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        std::fs::write(path(dir.path()), &bytes).unwrap();
        let store = crate::store::StateStore::open(dir.path()).unwrap();
        let saved = store.conversations("c");
        assert_eq!(saved.get("old").unwrap().as_deref(), Some(&b"1"[..]));
    }
}
