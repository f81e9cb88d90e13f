"""The hooks, run by Python's own test runner (`python -m unittest`)
against a host patched here: no gateway, no build."""

import sys
import unittest
from pathlib import Path
from unittest import mock

# The contract's bindings, which every `switchboard plugin build` writes.
sys.path.insert(0, str(Path(__file__).parent / "bindings"))

import app  # noqa: E402
from wit_world.imports import host, types  # noqa: E402

CONV = types.Conversation(
    id="conv-1",
    connector_id="conn-1",
    bot_id="bot",
    skill_id=None,
    consumer_id="consumer-1",
    authenticated=False,
    conversation_type=types.ConversationType.MESSAGING,
    accessibility=False,
    custom_fields=[],
)


def settings(values):
    """Patches the host's settings to `values`."""
    return mock.patch.object(host, "setting", lambda key: values.get(key))


class ConsumerMessage(unittest.TestCase):
    def test_ping_is_answered_with_the_pong_setting_and_the_bot_is_not_asked(self):
        with settings({"pong": "PONG!"}):
            action = app.on_consumer_message(CONV, " Ping ")
        reply = types.Message(types.Content_Text("PONG!"), None)
        self.assertEqual(action, types.ConsumerAction_Reply([reply]))

    def test_without_the_setting_the_answer_is_pong(self):
        with settings({}):
            action = app.on_consumer_message(CONV, "ping")
        self.assertEqual(action.value[0].body, types.Content_Text("pong"))

    def test_anything_else_goes_to_the_bot_unchanged(self):
        with settings({}):
            action = app.on_consumer_message(CONV, "hello")
        self.assertEqual(action, types.ConsumerAction_Forward())


if __name__ == "__main__":
    unittest.main()
