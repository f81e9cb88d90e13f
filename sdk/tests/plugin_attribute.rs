//! `#[switchboard_sdk::plugin]` as a plugin author uses it, compiled
//! natively: the hook list it writes is the hooks the block defines, the
//! trait's defaults serve the rest, and every hook of the contract is one
//! the attribute knows.

use switchboard_sdk::{
    BotFailure, ConsumerAction, Conversation, ConversationType, EndReason, FailureAction, Hook,
    Message, Plugin,
};

struct Quiet;

#[switchboard_sdk::plugin]
impl Plugin for Quiet {}

struct StepUpAndEnd;

#[switchboard_sdk::plugin]
impl Plugin for StepUpAndEnd {
    fn on_conversation_end(_conv: &Conversation, _reason: EndReason) {}

    fn on_step_up(_conv: &Conversation, text: String) -> Option<String> {
        Some(format!("stepped up: {text}"))
    }
}

struct Every;

#[switchboard_sdk::plugin]
impl Plugin for Every {
    fn on_conversation_start(_: &Conversation, greeting: String) -> Option<String> {
        Some(greeting)
    }
    fn on_step_up(_: &Conversation, text: String) -> Option<String> {
        Some(text)
    }
    fn on_consumer_message(_: &Conversation, _: String) -> ConsumerAction {
        ConsumerAction::Forward
    }
    fn on_bot_message(_: &Conversation, messages: Vec<Message>) -> Vec<Message> {
        messages
    }
    fn on_bot_error(_: &Conversation, _: String, _: BotFailure) -> FailureAction {
        FailureAction::DefaultBehaviour
    }
    fn on_conversation_end(_: &Conversation, _: EndReason) {}
}

/// Every case of the contract's `hook` enum, in its order. The match is
/// exhaustive, so a hook added to the contract fails to compile here until
/// it is added to this list, to `Every` and (for `Every` to compile) to the
/// trait and the attribute.
fn contract_hooks() -> Vec<Hook> {
    let all = [
        Hook::ConversationStart,
        Hook::StepUp,
        Hook::ConsumerMessage,
        Hook::BotMessage,
        Hook::BotError,
        Hook::ConversationEnd,
    ];
    for hook in all {
        match hook {
            Hook::ConversationStart
            | Hook::StepUp
            | Hook::ConsumerMessage
            | Hook::BotMessage
            | Hook::BotError
            | Hook::ConversationEnd => {}
        }
    }
    all.to_vec()
}

fn conversation() -> Conversation {
    Conversation {
        id: "conv-1".into(),
        connector_id: "demo-1".into(),
        bot_id: "demo".into(),
        skill_id: None,
        consumer_id: "consumer-1".into(),
        authenticated: false,
        conversation_type: ConversationType::Messaging,
        accessibility: false,
        custom_fields: Vec::new(),
    }
}

#[test]
fn the_list_is_the_hooks_the_block_defines_in_the_contract_s_order() {
    assert_eq!(Quiet::HOOKS.as_slice(), []);
    assert_eq!(
        StepUpAndEnd::HOOKS.as_slice(),
        [Hook::StepUp, Hook::ConversationEnd]
    );
    assert!(StepUpAndEnd::HOOKS.contains(Hook::StepUp));
    assert!(!StepUpAndEnd::HOOKS.contains(Hook::BotMessage));
}

#[test]
fn every_hook_of_the_contract_is_one_the_attribute_knows() {
    assert_eq!(Every::HOOKS.as_slice(), contract_hooks());
}

#[test]
fn hooks_left_out_keep_their_defaults() {
    let conv = conversation();
    assert_eq!(
        StepUpAndEnd::on_step_up(&conv, "hi".into()).as_deref(),
        Some("stepped up: hi")
    );
    assert_eq!(
        StepUpAndEnd::on_conversation_start(&conv, "hello".into()).as_deref(),
        Some("hello")
    );
    assert!(matches!(
        StepUpAndEnd::on_consumer_message(&conv, "x".into()),
        ConsumerAction::Forward
    ));
    assert!(matches!(
        Quiet::on_bot_error(&conv, "x".into(), BotFailure::TimedOut("3 s".into())),
        FailureAction::DefaultBehaviour
    ));
    let messages = Quiet::on_bot_message(&conv, vec![Message::text("as sent")]);
    assert_eq!(messages.len(), 1);
    Quiet::on_conversation_end(&conv, EndReason::Closed);
}
