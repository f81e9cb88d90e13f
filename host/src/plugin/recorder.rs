//! A connector's transcripts: every hook call a plugin ran, its input and
//! output as one JSON line ([`TranscriptLine`]), for `switchboard plugin
//! replay`. Opt-in per connector (`[transcripts] record = true`).
//!
//! Files: `DATA_DIR/transcripts/CONNECTOR/PLUGIN/START-MS.jsonl`. A file
//! is closed at an eighth of the connector's `max_mib` and a new one
//! started; then files older than `max_age_days` are deleted, and the
//! oldest ones until the connector's files fit in `max_mib`.
//!
//! Recording never slows a conversation down or stops it: lines go through
//! a bounded queue to a writer thread, and a line that finds the queue full
//! is dropped and counted. Texts are masked by default (digits and email
//! addresses, see [`mask`](super::transcript::mask)).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use super::LoadedPlugin;
use super::bindings::Conversation;
use super::call::{Call, Outcome};
use super::transcript::{ConversationJson, InputJson, OutputJson, TranscriptLine};
use crate::config::TranscriptSettings;

/// Lines waiting for the writer at most.
const QUEUE: usize = 4_096;

/// How often a quiet writer deletes files past their age.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The smallest a file grows before the next one starts.
const MIN_FILE_BYTES: u64 = 64 << 10;

/// Records one connector's hook calls. Dropping it (the connector's chain
/// replaced or gone) lets the writer finish what is queued and stop.
pub struct Recorder {
    connector: String,
    mask: bool,
    queue: SyncSender<(String, String)>,
    dropped: AtomicU64,
}

impl Recorder {
    /// Records for `connector` under `data_dir/transcripts/`.
    pub fn start(data_dir: &Path, connector: &str, settings: &TranscriptSettings) -> Recorder {
        let (queue, lines) = sync_channel(QUEUE);
        let writer = Writer {
            dir: data_dir.join("transcripts").join(connector),
            max_bytes: settings.max_bytes,
            max_age: settings.max_age,
            files: BTreeMap::new(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("transcripts-{connector}"))
            .spawn(move || writer.run(lines));
        if let Err(error) = spawned {
            tracing::error!(connector, %error, "cannot start the transcript writer: nothing is recorded");
        }
        Recorder {
            connector: connector.to_owned(),
            mask: settings.mask,
            queue,
            dropped: AtomicU64::new(0),
        }
    }

    /// Records one call that ran: its input, and its outcome or fault.
    pub(super) fn record(
        &self,
        loaded: &LoadedPlugin,
        settings: &BTreeMap<String, String>,
        conv: &Conversation,
        call: Call<'_>,
        result: &Result<Outcome, String>,
        took: Duration,
    ) {
        let input = InputJson::of(&call);
        let output = match result {
            Ok(outcome) => OutputJson::of(outcome),
            Err(reason) => OutputJson::Fault {
                reason: reason.clone(),
            },
        };
        let (input, output) = if self.mask {
            (input.masked(), output.masked())
        } else {
            (input, output)
        };
        let line = TranscriptLine {
            at: crate::clock::now_ms(),
            connector: self.connector.clone(),
            plugin: loaded.name.to_string(),
            version: loaded.version.to_string(),
            settings: settings.clone(),
            conversation: ConversationJson::of(conv),
            input,
            output,
            masked: self.mask,
            micros: took.as_micros() as u64,
        };
        let text = serde_json::to_string(&line).expect("a transcript line serializes");
        match self.queue.try_send((loaded.name.to_string(), text)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(connector = %self.connector, "transcript writer behind: lines dropped (counted in the log when it stops)");
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(connector = %self.connector, dropped, "transcript lines dropped while the writer was behind");
        }
    }
}

/// The writer thread's state.
struct Writer {
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
    /// The open file of each plugin.
    files: BTreeMap<String, OpenFile>,
}

/// A file being written.
struct OpenFile {
    writer: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    size: u64,
}

impl Writer {
    fn run(mut self, lines: Receiver<(String, String)>) {
        self.prune();
        loop {
            let first = match lines.recv_timeout(PRUNE_EVERY) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) => {
                    self.prune();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            self.write(first);
            // Write what is queued, then flush once.
            while let Ok(next) = lines.try_recv() {
                self.write(next);
            }
            for file in self.files.values_mut() {
                let _ = file.writer.flush();
            }
        }
    }

    fn write(&mut self, (plugin, line): (String, String)) {
        let roll_at = (self.max_bytes / 8).max(MIN_FILE_BYTES);
        if self
            .files
            .get(&plugin)
            .is_some_and(|file| file.size >= roll_at)
        {
            if let Some(mut file) = self.files.remove(&plugin) {
                let _ = file.writer.flush();
            }
            self.prune();
        }
        if !self.files.contains_key(&plugin) {
            match self.open(&plugin) {
                Ok(file) => {
                    self.files.insert(plugin.clone(), file);
                }
                Err(error) => {
                    tracing::error!(dir = %self.dir.display(), %error, "cannot open a transcript file: line dropped");
                    return;
                }
            }
        }
        let file = self.files.get_mut(&plugin).expect("opened above");
        if let Err(error) = writeln!(file.writer, "{line}") {
            tracing::error!(dir = %self.dir.display(), %error, "cannot write a transcript line");
        }
        file.size += line.len() as u64 + 1;
    }

    fn open(&self, plugin: &str) -> std::io::Result<OpenFile> {
        let dir = self.dir.join(plugin);
        std::fs::create_dir_all(&dir)?;
        // Names sort in time order, also files started in the same millisecond.
        let now = crate::clock::now_ms();
        let mut n = 0;
        let mut path = dir.join(format!("{now:013}-{n:04}.jsonl"));
        while path.exists() {
            n += 1;
            path = dir.join(format!("{now:013}-{n:04}.jsonl"));
        }
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        Ok(OpenFile {
            writer: std::io::BufWriter::new(file),
            path,
            size: 0,
        })
    }

    /// Deletes files past their age, then the oldest until the rest fit.
    fn prune(&self) {
        let mut files = Vec::new();
        let Ok(plugins) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for plugin in plugins.flatten() {
            let Ok(entries) = std::fs::read_dir(plugin.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                files.push((entry.file_name(), entry.path(), meta.len(), modified));
            }
        }
        // Oldest first: names are start times.
        files.sort();
        let open: Vec<&Path> = self.files.values().map(|f| f.path.as_path()).collect();
        let mut total: u64 = files.iter().map(|f| f.2).sum();
        for (_, path, size, modified) in files {
            let old = modified.elapsed().is_ok_and(|age| age > self.max_age);
            if (old || total > self.max_bytes) && !open.contains(&path.as_path()) {
                match std::fs::remove_file(&path) {
                    Ok(()) => total -= size,
                    Err(error) => {
                        tracing::warn!(file = %path.display(), %error, "cannot delete an old transcript")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &Path, max_bytes: u64, max_age: Duration) -> Writer {
        Writer {
            dir: dir.to_owned(),
            max_bytes,
            max_age,
            files: BTreeMap::new(),
        }
    }

    fn sizes(dir: &Path) -> Vec<u64> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|f| (f.file_name(), f.metadata().unwrap().len()))
            .collect();
        files.sort();
        files.into_iter().map(|(_, size)| size).collect()
    }

    #[test]
    fn files_roll_at_an_eighth_of_the_budget_and_the_oldest_go_first() {
        let dir = tempfile::tempdir().unwrap();
        // 1 MiB budget: files roll at 128 KiB; 4 MiB written keeps about 1 MiB.
        let mut writer = writer(dir.path(), 1 << 20, Duration::from_secs(3600));
        let line = "x".repeat(1023);
        for _ in 0..4096 {
            writer.write(("p".into(), line.clone()));
        }
        for file in writer.files.values_mut() {
            file.writer.flush().unwrap();
        }
        let kept = sizes(&dir.path().join("p"));
        let total: u64 = kept.iter().sum();
        assert!(kept.len() > 1, "{kept:?}");
        assert!(
            total <= (1 << 20) + (128 << 10),
            "kept {total} bytes: {kept:?}"
        );
        assert!(
            total >= (1 << 20) - (128 << 10),
            "kept {total} bytes: {kept:?}"
        );
    }

    #[test]
    fn files_past_their_age_are_deleted_when_the_writer_starts() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("p");
        std::fs::create_dir_all(&plugin).unwrap();
        let old = plugin.join("0000000000001.jsonl");
        let new = plugin.join("0000000000002.jsonl");
        std::fs::write(&old, "{}\n").unwrap();
        std::fs::write(&new, "{}\n").unwrap();
        let file = std::fs::File::options().write(true).open(&old).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(8 * 86_400))
            .unwrap();
        writer(dir.path(), 1 << 20, Duration::from_secs(7 * 86_400)).prune();
        assert!(!old.exists());
        assert!(new.exists());
    }
}
