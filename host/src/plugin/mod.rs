//! The plugin runtime: a narrow wrapper around wasmtime that loads
//! `switchboard:connector/plugin` components and runs their hooks, sandboxed.
//!
//! Entry point: [`PluginEngine`] (one per process) loads files into
//! [`LoadedPlugin`]s; a connector builds a [`PluginChain`] from them in its
//! configured order and calls the chain's hook methods.
//!
//! Files: `engine` (the engine, linker, compile cache), `bindings` (the
//! contracts: 0.2.0 and, beside it, 0.1.0), `call` (one hook call's input
//! and result), `instance` (one plugin serving one connector: limits,
//! faults, quarantine), `chain` (the plugins in order, fallback rules),
//! `transcript` (hook calls as JSON) and `recorder` (a connector's
//! transcripts on disk).
//!
//! Owns: the wasmtime `Engine`, the linker (WASI with nothing granted plus
//! the `host` interface), per-call deadlines (epoch interruption), memory
//! caps, and fallback to each hook's built-in default when a plugin traps,
//! times out or returns bad output. May not touch: connectors, messaging or
//! bots; it sees a conversation only as a [`ConversationView`].
//!
//! Instances: one instance per plugin per connector serves every
//! conversation of that connector (a linear memory is at least 64 KiB, so
//! 10,000 conversations cannot each own one); what a plugin remembers per
//! conversation lives in the host key-value store. A trap leaves an
//! instance unusable, so it is dropped and the next call instantiates anew
//! from the pre-linked `InstancePre`.

mod bindings;
mod call;
mod chain;
mod engine;
mod instance;
mod recorder;
pub mod transcript;

pub use bindings::HostCall;
pub use call::HookName;
pub use chain::{BotFailure, ConsumerDecision, ConversationEnd, FailureDecision, PluginChain};
pub use engine::{CompileStats, Digest256, LoadedPlugin, PluginEngine};
pub use instance::{LocalCall, PluginInstance, PluginStatus};
pub use recorder::Recorder;

use std::path::PathBuf;
use std::sync::Arc;

pub use crate::config::{Grants, Limits};

use crate::config::ConversationType;

/// Where `cargo build` put the shipped plugins and the test fixtures
/// (`target/plugins/`). Tests and tools name fixtures by it; the gateway
/// does not: it looks beside its executable ([`shipped_plugin_dir`]), so a
/// binary moved or built elsewhere does not depend on this checkout.
pub const BUILT_PLUGIN_DIR: &str = env!("SWITCHBOARD_BUILT_PLUGINS");

/// What a hook knows about the conversation it runs for.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationView {
    /// Conversation id.
    pub id: String,
    /// The connector running the hook.
    pub connector_id: String,
    /// The bot the connector serves.
    pub bot_id: String,
    /// The skill the conversation is routed to.
    pub skill_id: Option<String>,
    /// The consumer participant.
    pub consumer_id: String,
    /// True once the consumer has stepped up.
    pub authenticated: bool,
    /// The connector's conversation type.
    pub conversation_type: ConversationType,
    /// The connector's accessibility option.
    pub accessibility: bool,
    /// Effective custom fields, by their documented names.
    pub custom_fields: Arc<[(String, String)]>,
    /// The view as the contract's `conversation` record, for the hooks.
    pub record: RecordCache,
}

/// A [`ConversationView`]'s `conversation` record, made on its first hook
/// call and kept while the view's fields stay as they were. A view lives as
/// long as its conversation and every hook call passes the record: making it
/// each time copied every string and custom field per call. The fields are
/// compared on every use (short strings and the custom fields), so
/// a field changed anywhere is never stale in the record.
///
/// The record (~0.9 KiB with the custom fields) is worth keeping only while
/// hooks run: the owner of the view [`forget`](RecordCache::forget)s it when
/// its conversation goes idle, so idle conversations, the many, keep none,
/// and a turn's hook calls still share one.
///
/// A new view starts with an empty one (`RecordCache::default()`); cloned,
/// the clone starts empty; it takes no part in comparing views.
#[derive(Default)]
pub struct RecordCache(std::sync::Mutex<Option<Arc<bindings::Conversation>>>);

impl RecordCache {
    /// Drops the kept record; the next hook call makes it anew.
    pub fn forget(&self) {
        self.0.lock().expect("not poisoned").take();
    }

    /// True while a record is kept.
    pub fn is_kept(&self) -> bool {
        self.0.lock().expect("not poisoned").is_some()
    }
}

impl Clone for RecordCache {
    fn clone(&self) -> Self {
        RecordCache::default()
    }
}

impl PartialEq for RecordCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for RecordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordCache")
    }
}

impl ConversationView {
    /// The contract's record of this view: the kept one while it matches.
    fn wit(&self) -> Arc<bindings::Conversation> {
        let mut kept = self.record.0.lock().expect("not poisoned");
        if let Some(record) = &*kept
            && chain::matches(record, self)
        {
            return record.clone();
        }
        let record = Arc::new(chain::to_wit(self));
        *kept = Some(record.clone());
        record
    }
}

/// Why a plugin could not be loaded or a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("plugin {path}: cannot read the file: {source}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a component of the `switchboard:connector/plugin` world.
    #[error("plugin {path}: not a valid switchboard plugin component: {reason}")]
    Invalid {
        /// The plugin file.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The engine could not be set up.
    #[error("plugin engine: {0}")]
    Engine(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ConversationView {
        ConversationView {
            id: "conv-1".into(),
            connector_id: "c0".into(),
            bot_id: "echo".into(),
            skill_id: Some("1".into()),
            consumer_id: "consumer-1".into(),
            authenticated: false,
            conversation_type: ConversationType::Messaging,
            accessibility: true,
            custom_fields: Arc::from(vec![("messageDelay".to_owned(), "0".to_owned())]),
            record: RecordCache::default(),
        }
    }

    #[test]
    fn a_kept_record_serves_every_hook_call_until_forgotten() {
        let view = view();
        assert!(!view.record.is_kept(), "a new view keeps no record");
        let first = view.wit();
        assert!(view.record.is_kept());
        assert!(
            Arc::ptr_eq(&first, &view.wit()),
            "the kept record is reused"
        );
        view.record.forget();
        assert!(
            !view.record.is_kept(),
            "an idle conversation keeps no record"
        );
    }

    #[test]
    fn a_forgotten_record_is_made_anew_from_the_view_as_it_is_now() {
        let mut view = view();
        let before = view.wit();
        view.record.forget();
        view.authenticated = true;
        view.consumer_id = "consumer-2".into();
        let after = view.wit();
        assert!(!Arc::ptr_eq(&before, &after));
        assert!(chain::matches(&after, &view));
        assert_eq!(after.custom_fields, view.custom_fields.to_vec());
        assert_eq!(after.consumer_id, "consumer-2");
        assert!(after.authenticated);
    }
}
