//! Contract 0.1.0 (`wit/v0.1/`), linked beside the newest so components
//! built against it keep working unchanged: its host imports are served by
//! the same [`PluginState`], and its four hooks are called with the newest
//! contract's values converted at the edge. It has no `on-bot-error` and
//! no `on-conversation-end`: such a component never says it implements
//! them, so they are never called.

use wasmtime::Store;

use super::super::call::{Call, HookName, Outcome};
use super::PluginState;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.1",
    imports: { default: trappable },
    exports: { default: async },
});

use self::switchboard::connector::host::Level;
use self::switchboard::connector::types::{Content, ConversationType};
use exports::switchboard::connector::hooks::{ConsumerAction, Conversation, Hook, Message};

use super::switchboard::connector::host as newest_host;
use super::switchboard::connector::types as newest;

impl self::switchboard::connector::types::Host for PluginState {}

impl self::switchboard::connector::host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => newest_host::Level::Trace,
            Level::Debug => newest_host::Level::Debug,
            Level::Info => newest_host::Level::Info,
            Level::Warn => newest_host::Level::Warn,
            Level::Error => newest_host::Level::Error,
        };
        newest_host::Host::log(self, level, message)
    }

    fn setting(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        newest_host::Host::setting(self, key)
    }

    fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        newest_host::Host::kv_get(self, key)
    }

    fn kv_set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        newest_host::Host::kv_set(self, key, value)
    }

    fn kv_delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        newest_host::Host::kv_delete(self, key)
    }

    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        newest_host::Host::now_ms(self)
    }
}

/// The hooks a 0.1 instance implements.
pub async fn implemented(
    plugin: &Plugin,
    store: &mut Store<PluginState>,
) -> wasmtime::Result<Vec<HookName>> {
    let hooks = plugin
        .switchboard_connector_hooks()
        .call_implemented(store)
        .await?;
    Ok(hooks
        .into_iter()
        .map(|hook| match hook {
            Hook::ConversationStart => HookName::ConversationStart,
            Hook::StepUp => HookName::StepUp,
            Hook::ConsumerMessage => HookName::ConsumerMessage,
            Hook::BotMessage => HookName::BotMessage,
        })
        .collect())
}

/// Runs one of the four 0.1 hooks.
pub async fn call(
    plugin: &Plugin,
    store: &mut Store<PluginState>,
    conv: &newest::Conversation,
    call: Call<'_>,
) -> wasmtime::Result<Outcome> {
    let hooks = plugin.switchboard_connector_hooks();
    let conv = &conversation(conv);
    Ok(match call {
        Call::Start(greeting) => Outcome::Text(
            hooks
                .call_on_conversation_start(store, conv, greeting)
                .await?,
        ),
        Call::StepUp(text) => Outcome::Text(hooks.call_on_step_up(store, conv, text).await?),
        Call::Consumer(text) => Outcome::Action(
            match hooks.call_on_consumer_message(store, conv, text).await? {
                ConsumerAction::Forward => newest::ConsumerAction::Forward,
                ConsumerAction::Rewrite(text) => newest::ConsumerAction::Rewrite(text),
                ConsumerAction::Drop => newest::ConsumerAction::Drop,
                ConsumerAction::Reply(messages) => {
                    newest::ConsumerAction::Reply(messages.into_iter().map(from_0_1).collect())
                }
                ConsumerAction::Escalate(skill) => newest::ConsumerAction::Escalate(skill),
            },
        ),
        Call::Bot(messages) => {
            let messages: Vec<Message> = messages.iter().map(to_0_1).collect();
            let answer = hooks.call_on_bot_message(store, conv, &messages).await?;
            Outcome::Messages(answer.into_iter().map(from_0_1).collect())
        }
        Call::BotError(..) | Call::End(_) => {
            return Err(wasmtime::Error::msg(format!(
                "{} is not in contract 0.1.0",
                call.hook()
            )));
        }
    })
}

fn conversation(conv: &newest::Conversation) -> Conversation {
    Conversation {
        id: conv.id.clone(),
        connector_id: conv.connector_id.clone(),
        bot_id: conv.bot_id.clone(),
        skill_id: conv.skill_id.clone(),
        consumer_id: conv.consumer_id.clone(),
        authenticated: conv.authenticated,
        conversation_type: match conv.conversation_type {
            newest::ConversationType::Messaging => ConversationType::Messaging,
            newest::ConversationType::Chat => ConversationType::Chat,
        },
        accessibility: conv.accessibility,
        custom_fields: conv.custom_fields.clone(),
    }
}

fn to_0_1(message: &newest::Message) -> Message {
    Message {
        body: match &message.body {
            newest::Content::Text(text) => Content::Text(text.clone()),
            newest::Content::Structured(json) => Content::Structured(json.clone()),
        },
        quick_replies: message.quick_replies.clone(),
    }
}

fn from_0_1(message: Message) -> newest::Message {
    newest::Message {
        body: match message.body {
            Content::Text(text) => newest::Content::Text(text),
            Content::Structured(json) => newest::Content::Structured(json),
        },
        quick_replies: message.quick_replies,
    }
}
