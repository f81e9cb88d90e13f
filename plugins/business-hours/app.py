"""business-hours: outside the brand's business hours, answers the consumer
directly with the brand's message, and the bot is not asked; inside them,
consumer messages go on to the bot unchanged.

Settings (the connector's `[[plugins]]` entry), all optional:

- `open`, `close`: local times, "HH:MM" (default "09:00" and "17:00"). A
  close before the open is an overnight shift (open 22:00, close 06:00:
  from 22:00 on an opening day to 06:00 the morning after); equal times
  mean open all day.
- `days`: the opening days, names or ranges of "mon" to "sun" joined by
  commas (default "mon-fri"; "mon-fri,sun", "fri-mon").
- `utc_offset`: local time's offset from UTC, "+HH:MM" or "-HH:MM"
  (default "+00:00"). Daylight saving is not followed: change it when the
  clocks change.
- `message`: what the consumer is told when closed; `{open}`, `{close}`,
  `{days}` and `{utc_offset}` are replaced with the settings.

The time is the gateway's clock (`host.now_ms()`). A setting that cannot
be read is logged and the hook fails, so the gateway forwards the message
(its default) and shows the fault.
"""

import re
from dataclasses import dataclass

from wit_world.imports import host, types

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
FULL_DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
DEFAULTS = {
    "open": "09:00",
    "close": "17:00",
    "days": "mon-fri",
    "utc_offset": "+00:00",
    "message": "Thank you for your message. We are closed now; our hours are "
    "{open} to {close}, {days} (UTC{utc_offset}), and we will answer then.",
}
MINUTES_A_DAY = 24 * 60


@dataclass(frozen=True)
class Hours:
    """The opening hours, read from the settings."""

    opens: int  # minutes after local midnight
    closes: int
    days: frozenset  # indexes into DAY_NAMES
    offset: int  # minutes east of UTC

    def is_open(self, now_ms: int) -> bool:
        """Whether `now_ms` (milliseconds since the Unix epoch) falls in them."""
        local_minutes = now_ms // 60_000 + self.offset
        day_number, minute = divmod(local_minutes, MINUTES_A_DAY)
        # 1 January 1970, day 0, was a Thursday.
        weekday = (day_number + 3) % 7
        yesterday = (weekday - 1) % 7
        if self.opens == self.closes:
            return weekday in self.days
        if self.opens < self.closes:
            return weekday in self.days and self.opens <= minute < self.closes
        # Overnight: the evening of an opening day, or the morning after one.
        return (minute >= self.opens and weekday in self.days) or (
            minute < self.closes and yesterday in self.days
        )


def parse_time(key: str, text: str) -> int:
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise ValueError(f"setting {key} is {text!r}, not a time HH:MM from 00:00 to 23:59")
    return int(found[1]) * 60 + int(found[2])


def parse_days(text: str) -> frozenset:
    days = set()
    for part in text.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAY_NAMES and e not in FULL_DAY_NAMES for e in ends):
            raise ValueError(
                f"setting days is {text!r}: use day names or ranges of mon to sun joined by "
                f"commas, e.g. mon-fri,sun"
            )
        first, last = DAY_NAMES.index(ends[0][:3]), DAY_NAMES.index(ends[-1][:3])
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(days)


def parse_offset(text: str) -> int:
    found = re.fullmatch(r"([+-])(\d{1,2})(?::?(\d{2}))?", text.strip())
    minutes = found and int(found[2]) * 60 + int(found[3] or 0)
    if not found or minutes > 14 * 60 or int(found[3] or 0) > 59:
        raise ValueError(f"setting utc_offset is {text!r}, not an offset from -14:00 to +14:00")
    return minutes if found[1] == "+" else -minutes


def read_hours(setting) -> Hours:
    """The hours from a settings lookup (`setting(key)`: a text or None)."""
    value = lambda key: setting(key) or DEFAULTS[key]  # noqa: E731
    return Hours(
        opens=parse_time("open", value("open")),
        closes=parse_time("close", value("close")),
        days=parse_days(value("days")),
        offset=parse_offset(value("utc_offset")),
    )


def closed_message(setting) -> str:
    text = setting("message") or DEFAULTS["message"]
    for key in ("open", "close", "days", "utc_offset"):
        text = text.replace("{" + key + "}", setting(key) or DEFAULTS[key])
    return text


def on_consumer_message(conv: types.Conversation, text: str) -> types.ConsumerAction:
    try:
        hours = read_hours(host.setting)
    except ValueError as error:
        host.log(host.Level.ERROR, f"business-hours: {error}")
        raise
    if hours.is_open(host.now_ms()):
        return types.ConsumerAction_Forward()
    answer = types.Message(types.Content_Text(closed_message(host.setting)), None)
    return types.ConsumerAction_Reply([answer])
