//! Bot brains: the clients that implement the connector's [`Bot`] trait.
//! The built-in scripted bot (rules from `config/bots/*.toml`), which the
//! embedded default uses so the product runs with no outside bot, and HTTP
//! bots in Rasa's REST format (Rasa and the generic webhook).
//!
//! Owns: talking to bots and mapping their answers to [`BotAction`]s. May
//! not touch: conversations, plugins or the platform.

mod scripted;
mod webhook;

pub use scripted::ScriptedBot;
pub use webhook::WebhookBot;

use std::sync::Arc;

use crate::config::{BotConfig, BotKind};
use crate::connector::Bot;

/// The client for a configured bot.
pub fn from_config(config: &BotConfig) -> Arc<dyn Bot> {
    match &config.kind {
        BotKind::Scripted(rules) => Arc::new(ScriptedBot::new(&config.id, rules.clone())),
        BotKind::Rasa { url, timeout } => Arc::new(WebhookBot::rasa(&config.id, url, *timeout)),
        BotKind::Webhook { url, timeout } => {
            Arc::new(WebhookBot::webhook(&config.id, url, *timeout))
        }
    }
}
