"""Six-field cron expressions (seconds first), as pure functions.

``"0 0 3 * * *"`` = second minute hour day-of-month month day-of-week. Day-of-week follows classic
cron: 0 or 7 = Sunday, 1 = Monday ... 6 = Saturday, or the names ``sun``..``sat``. APScheduler counts
Monday = 0, so :meth:`CronSpec.apscheduler_fields` hands it names, never numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["CronSpec", "parse_cron"]

_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("day_of_week", 0, 7),
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_TERM = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A validated 6-field cron expression with the set of values each field matches."""

    expression: str
    fields: tuple[str, ...]
    values: tuple[frozenset[int], ...]
    day_is_wild: bool
    dow_is_wild: bool

    def _day_ok(self, when: datetime, day: frozenset[int], dow_set: frozenset[int]) -> bool:
        dom_ok = when.day in day
        dow_ok = (when.isoweekday() % 7) in dow_set
        # Classic cron: when both day fields are restricted, either may match.
        if self.day_is_wild or self.dow_is_wild:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next_fire_time(self, after: datetime) -> datetime:
        """Return the first fire time strictly after ``after`` (UTC, whole seconds)."""
        t = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        second, minute, hour, day, month, dow_set = self.values
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in month:
                t = (t.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_ok(t, day, dow_set):
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
                continue
            if t.hour not in hour:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if t.minute not in minute:
                t = t.replace(second=0) + timedelta(minutes=1)
                continue
            if t.second not in second:
                t += timedelta(seconds=1)
                continue
            return t
        raise ValueError(f"cron expression {self.expression!r} never fires")

    def apscheduler_fields(self) -> dict[str, str]:
        """Return keyword arguments for APScheduler's ``CronTrigger`` (day-of-week as names)."""
        names = ("second", "minute", "hour", "day", "month")
        out = dict(zip(names, self.fields[:5], strict=True))
        if self.dow_is_wild:
            out["day_of_week"] = "*"
        else:
            out["day_of_week"] = ",".join(_DAY_NAMES[d] for d in sorted(self.values[5]))
        return out


def _parse_value(token: str, name: str, lo: int, hi: int) -> int:
    if name == "month" and token in _MONTHS:
        return _MONTHS[token]
    if name == "day_of_week" and token in _DAYS:
        return _DAYS[token]
    if not token.isdigit():
        raise ValueError(f"{name} field: {token!r} is not a number")
    value = int(token)
    if not lo <= value <= hi:
        raise ValueError(f"{name} field: {value} is outside {lo}-{hi}")
    return value


def _parse_field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    result: set[int] = set()
    for part in text.lower().split(","):
        m = _TERM.match(part)
        if m is None:
            raise ValueError(f"{name} field: cannot parse {part!r}")
        base, step_text = m.group(1), m.group(2)
        step = int(step_text) if step_text else 1
        if step == 0:
            raise ValueError(f"{name} field: step must be at least 1 in {part!r}")
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _parse_value(a, name, lo, hi), _parse_value(b, name, lo, hi)
            if start > end:
                raise ValueError(f"{name} field: range {part!r} runs backwards")
        else:
            start = _parse_value(base, name, lo, hi)
            end = hi if step_text else start
        result.update(range(start, end + 1, step))
    if name == "day_of_week" and 7 in result:
        result.discard(7)
        result.add(0)
    return frozenset(result)


def parse_cron(expression: str) -> CronSpec:
    """Parse and validate a 6-field cron expression (seconds first).

    Raises:
        ValueError: the expression does not have 6 fields or a field is invalid; the message says which.
    """
    fields = tuple(expression.split())
    if len(fields) != 6:
        raise ValueError(
            f"expected 6 fields 'second minute hour day month day_of_week', got {len(fields)} "
            f"in {expression!r}"
        )
    values = tuple(
        _parse_field(text, name, lo, hi) for text, (name, lo, hi) in zip(fields, _FIELDS, strict=True)
    )
    return CronSpec(
        expression=expression,
        fields=fields,
        values=values,
        day_is_wild=fields[3] in ("*", "?"),
        dow_is_wild=fields[5] in ("*", "?"),
    )
