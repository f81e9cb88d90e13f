//! # switchboard-sdk
//!
//! Everything a plugin author needs to customise a switchboard connector
//! through contract `switchboard:connector@0.2.0`:
//!
//! - [`Plugin`]: a trait with a built-in default for every hook, so a plugin
//!   implements only the hooks it needs;
//! - [`plugin`]: the attribute on the `impl Plugin` block. It reads which
//!   hooks the block defines and lists them for the host (which calls those
//!   and no others), and it exports the type as the component's `hooks`;
//! - [`content`]: typed builders for LivePerson structured content and quick
//!   replies that serialize to the JSON LivePerson's schemas accept;
//! - [`host`]: what the gateway offers (log, settings, key-value store, clock).
//!
//! A plugin is a `cdylib` crate built for `wasm32-wasip2` (the crate's
//! README walks through it, from `cargo new` to a connector running it):
//!
//! ```
//! use switchboard_sdk::{
//!     BotFailure, ConsumerAction, Conversation, FailureAction, Hook, Message, Plugin,
//! };
//!
//! struct Shout;
//!
//! #[switchboard_sdk::plugin]
//! impl Plugin for Shout {
//!     fn on_consumer_message(_conv: &Conversation, text: String) -> ConsumerAction {
//!         ConsumerAction::Rewrite(text.to_uppercase())
//!     }
//!
//!     fn on_bot_error(_conv: &Conversation, _text: String, failure: BotFailure) -> FailureAction {
//!         match failure {
//!             BotFailure::Empty => FailureAction::Reply(vec![Message::text("SAY AGAIN?")]),
//!             _ => FailureAction::DefaultBehaviour,
//!         }
//!     }
//! }
//!
//! // What the block defines is what the host will call.
//! assert_eq!(Shout::HOOKS.as_slice(), [Hook::ConsumerMessage, Hook::BotError]);
//! ```
//!
//! Built natively (for unit tests), the attribute exports nothing, so a
//! plugin's logic can be tested with `cargo test` and several plugins can
//! link into one binary.
//!
//! The hook list cannot be written by hand: an `impl Plugin` without the
//! attribute lacks `HOOKS`, and only the attribute makes an
//! [`ImplementedHooks`]:
//!
//! ```compile_fail
//! use switchboard_sdk::{Conversation, Plugin};
//!
//! struct Forgotten;
//!
//! impl Plugin for Forgotten {
//!     fn on_step_up(_conv: &Conversation, text: String) -> Option<String> {
//!         Some(text)
//!     }
//! }
//! ```
//!
//! A method named `on_*` that is no hook is an error that names the hooks:
//!
//! ```compile_fail
//! use switchboard_sdk::{Conversation, Plugin};
//!
//! struct Typo;
//!
//! #[switchboard_sdk::plugin]
//! impl Plugin for Typo {
//!     fn on_stepup(_conv: &Conversation, text: String) -> Option<String> {
//!         Some(text)
//!     }
//! }
//! ```

pub mod content;

// The README's Rust example is compiled as a doctest, so it cannot drift
// from the SDK it documents.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;

/// Bindings generated from the crate's `wit/` by wit-bindgen. Plugin code rarely needs
/// them directly; the crate root re-exports the useful types.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        // The crate's own copy of the contract, so the package builds on its
        // own; tests/wit_copy.rs keeps it equal to the workspace's wit/.
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "switchboard_sdk::bindings",
    });
}

pub use bindings::switchboard::connector::types::{
    BotFailure, ConsumerAction, Content, Conversation, ConversationType, EndReason, FailureAction,
    Hook, Message,
};

/// The gateway's imports: logging, settings, key-value store, clock.
pub mod host {
    pub use crate::bindings::switchboard::connector::host::{
        Level, kv_delete, kv_get, kv_set, log, now_ms, setting,
    };
}

#[doc(inline)]
pub use switchboard_sdk_macros::plugin;

/// The hooks a plugin implements, as [`plugin`] read them from its
/// `impl Plugin` block; the host calls these and never the others.
///
/// Nothing else makes one, so the list and the hooks cannot drift apart:
///
/// ```compile_fail
/// use switchboard_sdk::{Hook, ImplementedHooks, Plugin};
///
/// struct Handmade;
///
/// impl Plugin for Handmade {
///     const HOOKS: ImplementedHooks = ImplementedHooks(&[Hook::StepUp]);
/// }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ImplementedHooks(&'static [Hook]);

impl ImplementedHooks {
    /// The hooks, in the contract's order.
    pub const fn as_slice(self) -> &'static [Hook] {
        self.0
    }

    /// True when the plugin implements `hook`.
    pub fn contains(self, hook: Hook) -> bool {
        self.0.contains(&hook)
    }
}

/// What the code [`plugin`] writes refers to; not for plugin code.
#[doc(hidden)]
pub mod __private {
    use crate::{Hook, ImplementedHooks};

    /// The one way to make an [`ImplementedHooks`]: the attribute's.
    pub const fn implemented_hooks(hooks: &'static [Hook]) -> ImplementedHooks {
        ImplementedHooks(hooks)
    }
}

/// A connector plugin. Every hook has a default, which is also what the host
/// does when the hook fails: the input passes through unchanged, a bot's
/// failure gets the connector's default behaviour (resend, then fallback
/// escalation), and the end of a conversation is ignored.
///
/// Implement it in a block marked [`plugin`]; the attribute writes
/// [`Plugin::HOOKS`] and exports the type.
pub trait Plugin {
    /// The hooks this plugin implements; the host never calls the others.
    /// [`plugin`] writes it from the hook methods the `impl` block defines.
    const HOOKS: ImplementedHooks;

    /// Chooses the greeting sent to the bot when a conversation starts and the
    /// consumer has been silent for 3 s. `None` sends no greeting.
    fn on_conversation_start(_conv: &Conversation, greeting: String) -> Option<String> {
        Some(greeting)
    }

    /// Chooses the text sent to the bot after the consumer steps up. `None` sends nothing.
    fn on_step_up(_conv: &Conversation, text: String) -> Option<String> {
        Some(text)
    }

    /// Decides what happens to a consumer message on its way to the bot.
    fn on_consumer_message(_conv: &Conversation, _text: String) -> ConsumerAction {
        ConsumerAction::Forward
    }

    /// Rewrites the bot's answer before it is published to the consumer.
    fn on_bot_message(_conv: &Conversation, messages: Vec<Message>) -> Vec<Message> {
        messages
    }

    /// Chooses what happens when the bot failed `text` (an error, a timeout
    /// or an empty answer). The first plugin in the chain that does not
    /// answer [`FailureAction::DefaultBehaviour`] decides.
    fn on_bot_error(_conv: &Conversation, _text: String, _failure: BotFailure) -> FailureAction {
        FailureAction::DefaultBehaviour
    }

    /// Hears that the conversation is over for the connector (closed or
    /// transferred away), to forget what the plugin kept for it.
    fn on_conversation_end(_conv: &Conversation, _reason: EndReason) {}
}

impl Conversation {
    /// The effective value of one of the connector's custom fields
    /// (`tileDisplay`, `defaultGreetingMessage`, ...).
    pub fn custom_field(&self, name: &str) -> Option<&str> {
        self.custom_fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl Message {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message {
            body: Content::Text(text.into()),
            quick_replies: None,
        }
    }

    /// A structured-content message.
    pub fn structured(element: &content::Element) -> Self {
        Message {
            body: Content::Structured(element.to_json()),
            quick_replies: None,
        }
    }

    /// Attaches quick replies to this message.
    pub fn with_quick_replies(mut self, replies: &content::QuickReplies) -> Self {
        self.quick_replies = Some(replies.to_json());
        self
    }
}

/// Exports a [`Plugin`] implementation as the component's `hooks`; the
/// code [`plugin`] writes calls it after the `impl` block.
///
/// Only a WebAssembly build exports anything: compiled natively (for a
/// plugin's unit tests, or several plugins linked into one benchmark) the
/// call expands to nothing, so the exports' symbols never clash.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct SwitchboardExport;

            impl $crate::bindings::exports::switchboard::connector::hooks::Guest
                for SwitchboardExport
            {
                fn implemented() -> ::std::vec::Vec<$crate::Hook> {
                    <$plugin as $crate::Plugin>::HOOKS.as_slice().to_vec()
                }
                fn on_conversation_start(
                    conv: $crate::Conversation,
                    greeting: ::std::string::String,
                ) -> ::std::option::Option<::std::string::String> {
                    <$plugin as $crate::Plugin>::on_conversation_start(&conv, greeting)
                }
                fn on_step_up(
                    conv: $crate::Conversation,
                    text: ::std::string::String,
                ) -> ::std::option::Option<::std::string::String> {
                    <$plugin as $crate::Plugin>::on_step_up(&conv, text)
                }
                fn on_consumer_message(
                    conv: $crate::Conversation,
                    text: ::std::string::String,
                ) -> $crate::ConsumerAction {
                    <$plugin as $crate::Plugin>::on_consumer_message(&conv, text)
                }
                fn on_bot_message(
                    conv: $crate::Conversation,
                    messages: ::std::vec::Vec<$crate::Message>,
                ) -> ::std::vec::Vec<$crate::Message> {
                    <$plugin as $crate::Plugin>::on_bot_message(&conv, messages)
                }
                fn on_bot_error(
                    conv: $crate::Conversation,
                    text: ::std::string::String,
                    failure: $crate::BotFailure,
                ) -> $crate::FailureAction {
                    <$plugin as $crate::Plugin>::on_bot_error(&conv, text, failure)
                }
                fn on_conversation_end(conv: $crate::Conversation, reason: $crate::EndReason) {
                    <$plugin as $crate::Plugin>::on_conversation_end(&conv, reason)
                }
            }

            $crate::bindings::export_bindings!(SwitchboardExport with_types_in $crate::bindings);
        };
    };
}
