"""A small five-field cron expression (minute hour day month weekday), evaluated in UTC.

Fields take `*`, `*/n`, `a`, `a-b`, `a-b/n` and comma-separated lists of those; weekday 0 or 7
is Sunday. A periodic job on a cron expression runs in every minute that matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day", "month", "weekday")


def _parse_field(text: str, low: int, high: int, name: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"cron {name}: bad step {step_text!r}")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            if not (a.isdigit() and b.isdigit()):
                raise ValueError(f"cron {name}: bad range {part!r}")
            start, end = int(a), int(b)
        elif part.isdigit():
            start = end = int(part)
        else:
            raise ValueError(f"cron {name}: bad value {part!r}")
        if not (low <= start <= end <= high):
            raise ValueError(f"cron {name}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronExpression:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_any: bool
    weekday_any: bool

    @classmethod
    def parse(cls, expression: str) -> CronExpression:
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(f"cron expression needs 5 fields, got {len(fields)}: {expression!r}")
        parsed = [
            _parse_field(text, low, high, name)
            for text, (low, high), name in zip(fields, _BOUNDS, _NAMES, strict=True)
        ]
        weekdays = frozenset(d % 7 for d in parsed[4])
        return cls(
            parsed[0], parsed[1], parsed[2], parsed[3], weekdays, fields[2] == "*", fields[4] == "*"
        )

    def matches(self, moment: datetime) -> bool:
        """True if the minute of `moment` (UTC) is one this expression names."""
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        if moment.month not in self.months:
            return False
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        # Classic cron: when both day fields are restricted, either one matching is enough.
        if not self.day_any and not self.weekday_any:
            return day_ok or weekday_ok
        return day_ok and weekday_ok
