//! The rules that span the files of a configuration directory: ids used
//! once, bots that exist, plugin files that exist, one agent user per
//! connector, and the same custom fields on every connector of one bot.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::custom;
use super::diagnostic::Diagnostic;
use super::located::Located;
use super::schema::{BotConfig, ConnectorConfig, GatewayConfig};

/// Checks the parsed files together; each file comes with its text.
pub(super) fn check(
    gateway: &GatewayConfig,
    connectors: &[(ConnectorConfig, String)],
    bots: &[(BotConfig, String)],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut bot_ids: HashMap<&str, &Path> = HashMap::new();
    for (bot, source) in bots {
        if let Some(first) = bot_ids.insert(&bot.id, &bot.file) {
            diagnostics.push(Diagnostic::error(
                &bot.file,
                source,
                bot.id.span(),
                format!("bot id `{}` is already used by {}", bot.id, first.display()),
            ));
        }
    }
    let mut connector_ids: HashMap<&str, &Path> = HashMap::new();
    let mut agent_users: HashMap<(&str, &str), &str> = HashMap::new();
    let mut first_of_bot: BTreeMap<&str, &ConnectorConfig> = BTreeMap::new();
    for (connector, source) in connectors {
        let at = |span: std::ops::Range<usize>, message: String| {
            Diagnostic::error(&connector.file, source, span, message)
        };
        let identity = &connector.identity;
        if let Some(first) = connector_ids.insert(&connector.id, &connector.file) {
            diagnostics.push(at(
                connector.id.span(),
                format!(
                    "connector id `{}` is already used by {}",
                    connector.id,
                    first.display()
                ),
            ));
        }
        if let Some(other) =
            agent_users.insert((&identity.account, &identity.agent_user_id), &connector.id)
        {
            diagnostics.push(at(
                connector.id.span(),
                format!(
                    "agent user `{}` is already used by connector `{other}`; a second login would log the first out, \
                     so each connector needs its own bot user",
                    identity.agent_user_id
                ),
            ));
        }
        if !bot_ids.contains_key(identity.bot.as_str()) {
            let known: Vec<&str> = bot_ids.keys().copied().collect();
            diagnostics.push(at(
                identity.bot.span(),
                format!(
                    "no bot `{}` in bots/ (known: {})",
                    identity.bot,
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        for plugin in &connector.behaviour.plugins {
            if gateway.find_plugin(&plugin.file).is_none() {
                let searched: Vec<String> = gateway
                    .plugin_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect();
                diagnostics.push(at(
                    plugin.file.span(),
                    format!(
                        "unknown plugin file `{}` (searched {})",
                        plugin.file,
                        searched.join(", ")
                    ),
                ));
            }
        }
        let Some(first) = first_of_bot.get(identity.bot.as_str()) else {
            first_of_bot.insert(&identity.bot, connector);
            continue;
        };
        let (mine, theirs) = (&connector.behaviour.custom, &first.behaviour.custom);
        if let Some((field, value, other)) = custom::first_difference(&mine.fields, &theirs.fields)
        {
            // At the field if this file sets it, else at the bot they share.
            let span = mine
                .written
                .iter()
                .find(|name| **name.get() == field)
                .map_or_else(|| identity.bot.span(), Located::span);
            diagnostics.push(at(
                span,
                format!(
                    "`{field}` is {value} here but {other} on connector `{}` ({}) of the same bot `{}`; \
                     connectors of one bot must share their custom fields",
                    first.id,
                    first.file.display(),
                    identity.bot
                ),
            ));
        }
    }
}
