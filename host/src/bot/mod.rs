//! Bot brains: the clients that implement the connector's [`Bot`] trait.
//! Today: the built-in scripted bot (rules from `config/bots/*.toml`), which
//! the embedded default uses so the product runs with no outside bot.
//!
//! Owns: talking to bots and mapping their answers to [`BotAction`]s. May
//! not touch: conversations, plugins or the platform.

mod scripted;

pub use scripted::ScriptedBot;

use std::sync::Arc;

use crate::config::{BotConfig, BotKind};
use crate::connector::Bot;

/// The client for a configured bot.
pub fn from_config(config: &BotConfig) -> Arc<dyn Bot> {
    match &config.kind {
        BotKind::Scripted(rules) => Arc::new(ScriptedBot::new(&config.id, rules.clone())),
    }
}
