//! Bot brains: the clients that implement the connector's [`Bot`] trait.
//! The built-in scripted bot (rules from `config/bots/*.toml`), which the
//! embedded default uses so the product runs with no outside bot, and HTTP
//! bots in Rasa's REST format (Rasa and the generic webhook), and Bot
//! Framework bots (the Activity protocol).
//!
//! Owns: talking to bots and mapping their answers to [`BotAction`]s. May
//! not touch: conversations, plugins or the platform.

mod botframework;
mod scripted;
pub mod third_party;
mod webhook;

pub use botframework::BotFrameworkBot;
pub use scripted::ScriptedBot;
pub use webhook::WebhookBot;

use std::sync::Arc;

use crate::config::{BotConfig, BotKind};
use crate::ports::Bot;

/// The client for a configured bot. A Bot Framework bot's callback server
/// starts here, so this runs inside the tokio runtime.
pub fn from_config(config: &BotConfig) -> std::io::Result<Arc<dyn Bot>> {
    let engagement = config.engagement_attributes;
    Ok(match &config.kind {
        BotKind::Scripted(rules) => Arc::new(ScriptedBot::new(&config.id, rules.clone())),
        BotKind::Rasa { url, timeout } => Arc::new(
            WebhookBot::rasa(&config.id, url, *timeout).with_engagement_attributes(engagement),
        ),
        BotKind::Webhook { url, timeout } => Arc::new(
            WebhookBot::webhook(&config.id, url, *timeout).with_engagement_attributes(engagement),
        ),
        BotKind::BotFramework {
            url,
            timeout,
            callback,
        } => Arc::new(
            BotFrameworkBot::new(&config.id, url, *timeout, *callback)?
                .with_engagement_attributes(engagement),
        ),
    })
}
