"""{{name}}: a switchboard connector plugin.

Write the hooks you need as module-level functions; `switchboard plugin
build` makes the component's hook list from them and gives the others
their defaults. The hooks (types in bindings/, generated from
wit/connector.wit):

    on_conversation_start(conv, greeting) -> str | None
    on_step_up(conv, text)                -> str | None
    on_consumer_message(conv, text)       -> types.ConsumerAction
    on_bot_message(conv, messages)        -> list[types.Message]
    on_bot_error(conv, text, failure)     -> types.FailureAction
    on_conversation_end(conv, reason)     -> None

A function whose name starts with `on_` and is no hook fails the build.
"""

from wit_world.imports import host, types


def on_consumer_message(conv: types.Conversation, text: str) -> types.ConsumerAction:
    """A consumer message on its way to the bot: "ping" is answered here
    (the `pong` setting, "pong" without it) and the bot never sees it;
    anything else goes on unchanged."""
    if text.strip().lower() == "ping":
        answer = host.setting("pong") or "pong"
        return types.ConsumerAction_Reply([types.Message(types.Content_Text(answer), None)])
    return types.ConsumerAction_Forward()
