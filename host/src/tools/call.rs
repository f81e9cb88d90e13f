//! `switchboard plugin call FILE HOOK --input INPUT.json`: runs one hook of
//! a component outside the gateway, with the gateway's sandbox and limits
//! and a local host (the given settings, an in-memory key-value store, a
//! fixed clock), and reports the output, the host calls made, the fault if
//! any, the time and the fuel used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::config::{Grants, Limits};
use crate::plugin::transcript::{ConversationJson, InputJson};
use crate::plugin::{HookName, LoadedPlugin, LocalCall, PluginEngine, PluginInstance};
use crate::store::StateStore;

/// What `plugin call` and `plugin replay` can fail with, before any hook runs.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An input is not what the hook takes.
    #[error("{path}: {reason}")]
    Input {
        /// The file (and line, for transcripts).
        path: String,
        /// What is wrong and what the hook takes.
        reason: String,
    },
    /// The component could not be loaded.
    #[error("{0}")]
    Plugin(String),
}

/// The fixed clock's default: 2026-01-01T00:00:00Z.
pub const DEFAULT_NOW_MS: u64 = 1_767_225_600_000;

/// How to run one hook.
#[derive(Clone, Debug)]
pub struct CallOptions {
    /// The component.
    pub file: PathBuf,
    /// The hook.
    pub hook: HookName,
    /// The input file (JSON: the hook's fields, and `conversation`).
    pub input: PathBuf,
    /// The plugin's settings.
    pub settings: BTreeMap<String, String>,
    /// Key-value entries present before the call.
    pub kv: BTreeMap<String, String>,
    /// What `now-ms` answers.
    pub now_ms: u64,
    /// The limits (the gateway's defaults unless overridden).
    pub limits: Limits,
    /// Calls to make (the report gives the median time).
    pub repeat: u32,
}

/// What `plugin call` prints.
#[derive(Debug, Serialize)]
pub struct CallReport {
    /// The component's file.
    pub file: String,
    /// The contract version it was built against.
    pub contract: &'static str,
    /// Its size in bytes.
    pub file_bytes: u64,
    /// Time to compile it (or take it from the compile cache), ms.
    pub compile_ms: f64,
    /// True if it came from the compile cache.
    pub from_cache: bool,
    /// Time to instantiate it, ms.
    pub instantiate_ms: f64,
    /// The last call.
    #[serde(flatten)]
    pub call: LocalCall,
    /// Calls made, and their median time in microseconds.
    pub calls: u32,
    /// The median time of the calls, in microseconds.
    pub median_micros: f64,
    /// The key-value store after the calls (values as text).
    pub kv: BTreeMap<String, String>,
}

impl CallReport {
    /// True if the hook faulted (its default applied).
    pub fn faulted(&self) -> bool {
        matches!(
            self.call.output,
            crate::plugin::transcript::OutputJson::Fault { .. }
        )
    }
}

/// Where compiled components are kept between runs of the tools.
pub fn compile_cache() -> PathBuf {
    super::cache_root().join("compiled")
}

/// An engine like the gateway's, metering fuel (so the report can say how
/// much was used), with the tools' compile cache.
pub fn engine() -> Result<PluginEngine, ToolError> {
    PluginEngine::with_cache_dir(&compile_cache(), true)
        .map_err(|e| ToolError::Plugin(e.to_string()))
}

/// Loads `file`, returning it and the time it took in ms.
pub fn load(engine: &PluginEngine, file: &Path) -> Result<(Arc<LoadedPlugin>, f64), ToolError> {
    let started = Instant::now();
    let loaded = engine
        .load(file)
        .map_err(|e| ToolError::Plugin(e.to_string()))?;
    Ok((loaded, started.elapsed().as_secs_f64() * 1e3))
}

/// Reads an input file for `hook`: an object with the hook's fields and,
/// optionally, `conversation`.
pub fn read_input(path: &Path, hook: HookName) -> Result<(ConversationJson, InputJson), ToolError> {
    let text = std::fs::read_to_string(path).map_err(|source| ToolError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |reason: String| ToolError::Input {
        path: path.display().to_string(),
        reason,
    };
    let mut value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| bad("the input must be a JSON object".into()))?;
    let name = &hook.as_str()[3..];
    match object.insert("hook".into(), Value::String(name.into())) {
        Some(Value::String(given)) if given != name => {
            return Err(bad(format!("the input is for `{given}`, not `{name}`")));
        }
        _ => {}
    }
    let conversation = match object.remove("conversation") {
        Some(conversation) => {
            serde_json::from_value(conversation).map_err(|e| bad(format!("`conversation`: {e}")))?
        }
        None => ConversationJson::default(),
    };
    let input: InputJson = serde_json::from_value(value)
        .map_err(|e| bad(format!("{e}; {name} takes {}", fields_of(hook))))?;
    Ok((conversation, input))
}

/// The fields each hook's input has, for error messages.
fn fields_of(hook: HookName) -> &'static str {
    match hook {
        HookName::ConversationStart => "`greeting` (text)",
        HookName::StepUp | HookName::ConsumerMessage => "`text`",
        HookName::BotMessage => {
            "`messages` (a list of {\"text\": ..} or {\"structured\": ..}, each with optional `quick_replies`)"
        }
        HookName::BotError => {
            "`text` and `failure` ({\"failed\": why}, {\"timed-out\": why} or \"empty\")"
        }
        HookName::ConversationEnd => "`reason` (\"closed\" or \"transferred\")",
    }
}

/// Runs the hook as `options` say.
pub async fn call(options: &CallOptions) -> Result<CallReport, ToolError> {
    let (conversation, input) = read_input(&options.input, options.hook)?;
    let engine = engine()?;
    let before = engine.stats();
    let (loaded, compile_ms) = load(&engine, &options.file)?;
    let from_cache = engine.stats().from_cache > before.from_cache;
    let store = StateStore::temporary().map_err(|e| ToolError::Plugin(e.to_string()))?;
    let kv = store.plugin_kv(&loaded.name, "local");
    for (key, value) in &options.kv {
        kv.set(key, value.as_bytes())
            .map_err(|e| ToolError::Plugin(e.to_string()))?;
    }
    let instance = PluginInstance::local(
        loaded.clone(),
        options.settings.clone(),
        kv.clone(),
        options.limits,
        Grants::default(),
        options.now_ms,
    );
    let started = Instant::now();
    instance.prepare().await.map_err(ToolError::Plugin)?;
    let instantiate_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..options.repeat.max(1) {
        let started = Instant::now();
        let call = instance
            .call_local(&conversation, &input, options.now_ms)
            .await
            .map_err(|reason| ToolError::Input {
                path: options.input.display().to_string(),
                reason,
            })?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        last = Some(call);
    }
    times.sort_unstable_by(f64::total_cmp);
    let kv_after = kv
        .keys()
        .into_iter()
        .filter_map(|key| {
            let value = kv.get(&key).ok()??;
            Some((key, String::from_utf8_lossy(&value).into_owned()))
        })
        .collect();
    Ok(CallReport {
        file: options.file.display().to_string(),
        contract: loaded.contract,
        file_bytes: std::fs::metadata(&options.file).map_or(0, |m| m.len()),
        compile_ms,
        from_cache,
        instantiate_ms,
        call: last.expect("at least one call"),
        calls: times.len() as u32,
        median_micros: times[times.len() / 2],
        kv: kv_after,
    })
}

/// Parses `KEY=VALUE`.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

/// The gateway's default limits.
pub fn default_limits() -> Limits {
    Limits::default()
}
