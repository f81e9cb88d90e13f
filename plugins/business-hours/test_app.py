"""business-hours' hours and its hook, run by Python's own test runner
(`python -m unittest`) against a host patched here."""

import sys
import unittest
from datetime import datetime, timezone
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


def at(text: str) -> int:
    """Milliseconds since the epoch of a UTC time "YYYY-MM-DD HH:MM"."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def hours(**settings) -> app.Hours:
    return app.read_hours(settings.get)


class Hours(unittest.TestCase):
    # 2026-03-02 is a Monday; 2026-03-07 a Saturday.

    def test_the_defaults_are_nine_to_five_monday_to_friday_utc(self):
        default = hours()
        self.assertTrue(default.is_open(at("2026-03-02 09:00")))
        self.assertTrue(default.is_open(at("2026-03-06 16:59")))
        self.assertFalse(default.is_open(at("2026-03-02 08:59")))
        self.assertFalse(default.is_open(at("2026-03-02 17:00")))
        self.assertFalse(default.is_open(at("2026-03-07 12:00")))

    def test_the_offset_moves_local_time_and_the_day(self):
        tokyo = hours(utc_offset="+09:00")
        self.assertTrue(tokyo.is_open(at("2026-03-02 00:00")))  # 09:00 Monday in Tokyo
        self.assertFalse(tokyo.is_open(at("2026-03-01 23:59")))  # 08:59 Monday in Tokyo
        self.assertTrue(tokyo.is_open(at("2026-03-06 07:59")))  # 16:59 Friday in Tokyo
        new_york = hours(utc_offset="-5")
        self.assertTrue(new_york.is_open(at("2026-03-02 14:00")))
        self.assertFalse(new_york.is_open(at("2026-03-07 01:00")))  # 20:00 Friday there
        self.assertTrue(hours(utc_offset="+05:30").is_open(at("2026-03-02 03:30")))

    def test_days_take_lists_ranges_that_wrap_and_full_names(self):
        self.assertEqual(hours(days="mon-fri,sun").days, {0, 1, 2, 3, 4, 6})
        self.assertEqual(hours(days="fri-mon").days, {4, 5, 6, 0})
        self.assertEqual(hours(days="Saturday, sunday").days, {5, 6})
        self.assertTrue(hours(days="sat").is_open(at("2026-03-07 12:00")))

    def test_an_overnight_shift_belongs_to_the_day_it_opens(self):
        night = hours(open="22:00", close="06:00", days="fri")
        self.assertTrue(night.is_open(at("2026-03-06 22:00")))  # Friday evening
        self.assertTrue(night.is_open(at("2026-03-07 05:59")))  # Saturday morning
        self.assertFalse(night.is_open(at("2026-03-07 06:00")))
        self.assertFalse(night.is_open(at("2026-03-06 05:00")))  # Friday morning: Thursday's
        self.assertFalse(night.is_open(at("2026-03-07 22:00")))  # Saturday evening

    def test_equal_times_mean_all_day(self):
        always = hours(open="00:00", close="00:00", days="mon-sun")
        self.assertTrue(always.is_open(at("2026-03-07 03:17")))

    def test_a_bad_setting_is_named(self):
        for settings, named in [
            ({"open": "9am"}, "open"),
            ({"close": "24:00"}, "close"),
            ({"days": "mon-fry"}, "days"),
            ({"days": "mon,"}, "days"),
            ({"utc_offset": "+15:00"}, "utc_offset"),
            ({"utc_offset": "CET"}, "utc_offset"),
        ]:
            with self.assertRaises(ValueError) as raised:
                hours(**settings)
            self.assertIn(f"setting {named} is", str(raised.exception))


class ConsumerMessage(unittest.TestCase):
    def run_hook(self, now: str, settings: dict):
        with mock.patch.object(host, "setting", settings.get), mock.patch.object(
            host, "now_ms", lambda: at(now)
        ):
            return app.on_consumer_message(CONV, "hello")

    def test_inside_the_hours_the_message_goes_to_the_bot(self):
        self.assertEqual(self.run_hook("2026-03-02 10:00", {}), types.ConsumerAction_Forward())

    def test_outside_the_hours_the_consumer_is_answered_and_the_bot_not_asked(self):
        action = self.run_hook("2026-03-07 10:00", {"message": "Closed until {open} ({days})."})
        reply = types.Message(types.Content_Text("Closed until 09:00 (mon-fri)."), None)
        self.assertEqual(action, types.ConsumerAction_Reply([reply]))

    def test_the_default_message_names_the_hours(self):
        action = self.run_hook("2026-03-02 18:00", {"close": "17:30"})
        self.assertIn("09:00 to 17:30, mon-fri (UTC+00:00)", action.value[0].body.value)

    def test_a_bad_setting_is_logged_and_the_hook_fails(self):
        logged = []
        with mock.patch.object(host, "log", lambda level, text: logged.append((level, text))):
            with self.assertRaises(ValueError):
                self.run_hook("2026-03-02 10:00", {"days": "weekdays"})
        self.assertEqual(logged[0][0], host.Level.ERROR)
        self.assertIn("setting days is 'weekdays'", logged[0][1])


if __name__ == "__main__":
    unittest.main()
