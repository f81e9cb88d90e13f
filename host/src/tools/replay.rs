//! `switchboard plugin replay NEW.wasm --transcripts DIR [--against OLD.wasm]`:
//! every hook call a connector recorded (its transcripts, JSON lines) runs
//! again through a new version of the plugin, and through the old one or
//! against what was recorded; the report says, per hook, how many outputs
//! changed, with a readable diff of the first few, the faults and the time
//! per call. Thresholds make it a deploy gate: crossing one is a failure.
//!
//! Calls replay in the order they were recorded, each version with its
//! own in-memory key-value store per settings, and `now-ms` answering the
//! time the call was recorded, so a plugin that keeps state or reads the
//! clock sees what it saw then.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::call::{ToolError, engine, load};
use crate::config::{Grants, Limits};
use crate::plugin::transcript::{OutputJson, TranscriptLine};
use crate::plugin::{HookName, LoadedPlugin, PluginEngine, PluginInstance};
use crate::store::StateStore;

/// How to replay.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// The new version.
    pub new: PathBuf,
    /// The transcripts: a file, or a folder searched for `*.jsonl`.
    pub transcripts: PathBuf,
    /// The old version; without it, outputs are compared with the recorded ones.
    pub against: Option<PathBuf>,
    /// Only the transcripts of this plugin (by name).
    pub plugin: Option<String>,
    /// Changed outputs shown with a diff.
    pub show: usize,
    /// Fail when more than this share (percent) of the outputs changed.
    pub max_changed_percent: Option<f64>,
    /// Fail when the new version faults more than this many times.
    pub max_faults: u64,
    /// The limits the versions run with.
    pub limits: Limits,
}

/// One hook's numbers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HookReport {
    /// Calls replayed.
    pub calls: u64,
    /// Outputs that differ from the baseline.
    pub changed: u64,
    /// Faults of the new version.
    pub new_faults: u64,
    /// Faults of the baseline (the old version, or as recorded).
    pub baseline_faults: u64,
    /// Mean time per call of the new version, µs.
    pub new_micros: f64,
    /// Mean time per call of the baseline (the old version, or as recorded), µs.
    pub baseline_micros: f64,
}

/// A changed output, for the diff.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// Where it was recorded: file and line.
    pub at: String,
    /// The hook.
    pub hook: HookName,
    /// The input, as JSON.
    pub input: String,
    /// The baseline's output and the new one's, as a line diff.
    pub diff: String,
}

/// What `plugin replay` prints.
#[derive(Debug, Serialize)]
pub struct ReplayReport {
    /// What the new version was compared with.
    pub baseline: String,
    /// Per hook.
    pub hooks: BTreeMap<&'static str, HookReport>,
    /// The first changed outputs.
    pub changes: Vec<Change>,
    /// The thresholds crossed; empty means the gate passes.
    pub failures: Vec<String>,
}

/// A connector and a plugin's settings on it.
type ScopeKey = (String, BTreeMap<String, String>);

/// One version, one instance per connector and settings (each with its own store).
struct Version {
    loaded: Arc<LoadedPlugin>,
    /// By connector and settings: the gateway keeps a key-value store per
    /// plugin and connector.
    instances: Vec<(ScopeKey, PluginInstance)>,
    store: StateStore,
    limits: Limits,
}

impl Version {
    fn new(engine: &PluginEngine, file: &Path, limits: Limits) -> Result<Version, ToolError> {
        Ok(Version {
            loaded: load(engine, file)?.0,
            instances: Vec::new(),
            store: StateStore::temporary().map_err(|e| ToolError::Plugin(e.to_string()))?,
            limits,
        })
    }

    fn instance(
        &mut self,
        connector: &str,
        settings: &BTreeMap<String, String>,
        now_ms: u64,
    ) -> &PluginInstance {
        let at = match self
            .instances
            .iter()
            .position(|((c, s), _)| c == connector && s == settings)
        {
            Some(at) => at,
            None => {
                let scope = format!("replay-{}", self.instances.len());
                let kv = self.store.plugin_kv(&self.loaded.name, &scope);
                let instance = PluginInstance::local(
                    self.loaded.clone(),
                    settings.clone(),
                    kv,
                    self.limits,
                    Grants::default(),
                    now_ms,
                );
                self.instances
                    .push(((connector.to_owned(), settings.clone()), instance));
                self.instances.len() - 1
            }
        };
        &self.instances[at].1
    }

    async fn run(
        &mut self,
        line: &TranscriptLine,
        at: &str,
    ) -> Result<(OutputJson, u64), ToolError> {
        let instance = self.instance(&line.connector, &line.settings, line.at);
        let call = instance
            .call_local(&line.conversation, &line.input, line.at)
            .await
            .map_err(|reason| ToolError::Input {
                path: at.to_owned(),
                reason,
            })?;
        let output = if line.masked {
            call.output.masked()
        } else {
            call.output
        };
        Ok((output, call.micros))
    }
}

/// Every transcript line under `path`, in recorded order (files by name),
/// each with where it came from.
pub fn read_transcripts(path: &Path) -> Result<Vec<(String, TranscriptLine)>, ToolError> {
    let mut files = Vec::new();
    collect(path, &mut files)?;
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| ToolError::Read {
            path: file.clone(),
            source,
        })?;
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{}:{}", file.display(), number + 1);
            let parsed = serde_json::from_str(line).map_err(|e| ToolError::Input {
                path: at.clone(),
                reason: format!("not a transcript line: {e}"),
            })?;
            lines.push((at, parsed));
        }
    }
    Ok(lines)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), ToolError> {
    let read = |source| ToolError::Read {
        path: path.to_owned(),
        source,
    };
    if path.is_file() {
        files.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).map_err(read)? {
        let entry = entry.map_err(read)?.path();
        if entry.is_dir() {
            collect(&entry, files)?;
        } else if entry.extension().is_some_and(|e| e == "jsonl") {
            files.push(entry);
        }
    }
    Ok(())
}

/// Replays as `options` say.
pub async fn replay(options: &ReplayOptions) -> Result<ReplayReport, ToolError> {
    let engine = engine()?;
    let mut new = Version::new(&engine, &options.new, options.limits)?;
    let mut old = match &options.against {
        Some(file) => Some(Version::new(&engine, file, options.limits)?),
        None => None,
    };
    let lines = read_transcripts(&options.transcripts)?;
    if options.plugin.is_none() {
        let mut names: Vec<&str> = lines.iter().map(|(_, line)| line.plugin.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() > 1 {
            return Err(ToolError::Input {
                path: options.transcripts.display().to_string(),
                reason: format!(
                    "these transcripts are of several plugins ({}): choose one with --plugin",
                    names.join(", ")
                ),
            });
        }
    }
    let mut hooks: BTreeMap<&'static str, HookReport> = BTreeMap::new();
    let mut changes = Vec::new();
    for (at, line) in lines
        .iter()
        .filter(|(_, line)| options.plugin.as_ref().is_none_or(|p| *p == line.plugin))
    {
        let (output, micros) = new.run(line, at).await?;
        let (baseline, baseline_micros) = match &mut old {
            Some(old) => old.run(line, at).await?,
            None => (line.output.clone(), line.micros),
        };
        let hook = hook_of(line);
        let report = hooks.entry(&hook.as_str()[3..]).or_default();
        report.calls += 1;
        report.new_micros += micros as f64;
        report.baseline_micros += baseline_micros as f64;
        report.new_faults += u64::from(matches!(output, OutputJson::Fault { .. }));
        report.baseline_faults += u64::from(matches!(baseline, OutputJson::Fault { .. }));
        if output != baseline {
            report.changed += 1;
            if changes.len() < options.show {
                changes.push(Change {
                    at: at.clone(),
                    hook,
                    input: serde_json::to_string(&line.input).expect("serializes"),
                    diff: diff(&pretty(&baseline), &pretty(&output)),
                });
            }
        }
    }
    for report in hooks.values_mut() {
        report.new_micros /= report.calls as f64;
        report.baseline_micros /= report.calls as f64;
    }
    let failures = thresholds(options, &hooks);
    Ok(ReplayReport {
        baseline: match &options.against {
            Some(file) => file.display().to_string(),
            None => "the recorded outputs".into(),
        },
        hooks,
        changes,
        failures,
    })
}

impl ReplayReport {
    /// The report for people: a table per hook, the diffs, the verdict.
    pub fn render(&self) -> String {
        let mut out = format!("compared with {}\n\n", self.baseline);
        out.push_str("hook               calls  changed  new faults  baseline faults  new µs/call  baseline µs/call\n");
        for (hook, r) in &self.hooks {
            out.push_str(&format!(
                "{hook:<18} {:>5}  {:>7}  {:>10}  {:>15}  {:>11.1}  {:>16.1}\n",
                r.calls,
                r.changed,
                r.new_faults,
                r.baseline_faults,
                r.new_micros,
                r.baseline_micros
            ));
        }
        for change in &self.changes {
            out.push_str(&format!(
                "\n{} ({}), input {}\n{}",
                change.at, change.hook, change.input, change.diff
            ));
        }
        out.push('\n');
        if self.failures.is_empty() {
            out.push_str("passed: no threshold crossed\n");
        }
        for failure in &self.failures {
            out.push_str(&format!("FAILED: {failure}\n"));
        }
        out
    }
}

fn hook_of(line: &TranscriptLine) -> HookName {
    let call = line.input.to_call().expect("checked when replayed");
    call.as_call().hook()
}

/// The thresholds `hooks` crosses.
fn thresholds(options: &ReplayOptions, hooks: &BTreeMap<&'static str, HookReport>) -> Vec<String> {
    let mut failures = Vec::new();
    let calls: u64 = hooks.values().map(|h| h.calls).sum();
    let changed: u64 = hooks.values().map(|h| h.changed).sum();
    let faults: u64 = hooks.values().map(|h| h.new_faults).sum();
    if calls == 0 {
        failures.push("no recorded calls to replay".into());
    }
    if let Some(max) = options.max_changed_percent {
        let share = if calls == 0 {
            0.0
        } else {
            100.0 * changed as f64 / calls as f64
        };
        if share > max {
            failures.push(format!(
                "{changed} of {calls} outputs changed ({share:.1}%), more than --max-changed-percent {max}"
            ));
        }
    }
    if faults > options.max_faults {
        failures.push(format!(
            "the new version faulted {faults} times, more than --max-faults {}",
            options.max_faults
        ));
    }
    failures
}

fn pretty(output: &OutputJson) -> String {
    serde_json::to_string_pretty(output).expect("serializes")
}

/// A line diff of `old` and `new`: `-` lines only in old, `+` only in
/// new, two spaces for both (a longest common subsequence; outputs are small).
pub fn diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            // What goes comes before what replaces it.
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn diff_marks_removed_and_added_lines_and_keeps_common_ones() {
        assert_eq!(
            diff("{\n  a: 1\n  b: 2\n}", "{\n  a: 1\n  b: 3\n}"),
            "  {\n    a: 1\n-   b: 2\n+   b: 3\n  }\n"
        );
    }
}
