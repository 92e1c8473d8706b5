"""Six-field cron expressions (seconds first), built once as the APScheduler trigger that fires them.

``"0 0 3 * * *"`` = second minute hour day-of-month month day-of-week, in UTC. There is one
implementation: :func:`cron_trigger` builds the trigger, validation is building it, and the next fire
times shown anywhere (``config validate``, ``config show``, the daemon's log) come from the trigger.

Two places where APScheduler's ``CronTrigger`` differs from classic (Vixie) cron are bridged here:

- Day of week: cron counts 0 or 7 = Sunday, 1 = Monday ... 6 = Saturday; APScheduler counts Monday = 0.
  The day-of-week field is therefore translated to names (``mon,tue``) before APScheduler sees it.
- Day of month *and* day of week: when both are restricted (neither starts with ``*``), classic cron
  fires when *either* matches; one ``CronTrigger`` requires both. Such an expression becomes an
  ``OrTrigger`` of one trigger per day field.

Why APScheduler in core: the trigger classes are pure (no scheduler, no event loop, no I/O) and are the
only correct definition of when the daemon fires, so the configuration check and every display of fire
times must use them. They are imported lazily so that importing core stays cheap.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

__all__ = ["CRON_FIELDS", "cron_trigger", "next_fire_times"]

CRON_FIELDS: tuple[str, ...] = ("second", "minute", "hour", "day", "month", "day_of_week")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_TERM = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")
# Any instant works: an expression without a year field that fires at all fires within 28 years of it.
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
_TZ = "UTC"  # a name, not datetime.UTC: APScheduler 3.10 accepts only names or pytz zones


def _dow_value(token: str) -> int:
    if token in _DAY_NAMES:
        return _DAY_NAMES.index(token)
    if not token.isdigit():
        raise ValueError(f"day_of_week field: {token!r} is neither 0-7 nor a day name (sun..sat)")
    value = int(token)
    if value > 7:
        raise ValueError(f"day_of_week field: {value} is outside 0-7 (0 and 7 are Sunday)")
    return value % 7


def _day_of_week_names(text: str) -> str:
    """Translate a cron day-of-week field (0/7 = Sunday, names, ranges, steps) to APScheduler names."""
    days: set[int] = set()
    for term in text.lower().split(","):
        m = _DOW_TERM.match(term)
        if m is None:
            raise ValueError(f"day_of_week field: cannot parse {term!r}")
        base, step_text = m.group(1), m.group(2)
        step = int(step_text) if step_text else 1
        if step == 0:
            raise ValueError(f"day_of_week field: step must be at least 1 in {term!r}")
        if base == "*":
            start, end = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            # 7 closes a range as Sunday (``5-7`` = fri,sat,sun), as in classic cron.
            start, end = _dow_value(a), (7 if b == "7" else _dow_value(b))
            if start > end:
                raise ValueError(f"day_of_week field: range {term!r} runs backwards")
        else:
            start = _dow_value(base)
            end = 6 if step_text else start
        days.update(d % 7 for d in range(start, end + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days, key=lambda d: (d + 6) % 7))


def _restricted(field: str) -> bool:
    # Vixie cron: a day field that starts with "*" (including "*/2") counts as unrestricted.
    return not field.startswith(("*", "?"))


def cron_trigger(expression: str) -> BaseTrigger:
    """Build the APScheduler trigger (UTC) of a 6-field, seconds-first cron expression.

    Args:
        expression: ``"second minute hour day month day_of_week"``; day of week 0 or 7 = Sunday or
            names ``sun``..``sat``; when day and day of week are both restricted, either may match.

    Returns:
        A ``CronTrigger``, or an ``OrTrigger`` of two when both day fields are restricted.

    Raises:
        ValueError: the expression does not have 6 fields, a field is invalid, or it never fires; the
            message names the field.
    """
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 6:
        raise ValueError(
            f"expected 6 fields 'second minute hour day month day_of_week', got {len(fields)} "
            f"in {expression!r}"
        )
    values = dict(zip(CRON_FIELDS, fields, strict=True))
    for name in ("day", "day_of_week"):
        if values[name] == "?":
            values[name] = "*"
    if values["day_of_week"] != "*":  # "*/2" too: every other day counted from Sunday, as in cron
        values["day_of_week"] = _day_of_week_names(values["day_of_week"])
    for name, text in values.items():  # APScheduler's messages do not say which field they are about
        try:
            CronTrigger(timezone=_TZ, **{name: text})
        except ValueError as exc:
            reason = re.sub(r"^Error validating expression '[^']*': ", "", str(exc))
            raise ValueError(f"{name} field {text!r}: {reason}") from None
    trigger: BaseTrigger
    if _restricted(fields[3]) and _restricted(fields[5]):
        by_day = CronTrigger(timezone=_TZ, **{**values, "day_of_week": "*"})
        by_weekday = CronTrigger(timezone=_TZ, **{**values, "day": "*"})
        trigger = OrTrigger([by_day, by_weekday])
    else:
        trigger = CronTrigger(timezone=_TZ, **values)
    if trigger.get_next_fire_time(None, _REFERENCE) is None:
        raise ValueError(f"{expression!r} never fires (no such date)")
    return trigger


def next_fire_times(trigger: BaseTrigger | str, after: datetime, count: int = 3) -> list[datetime]:
    """Return the next ``count`` fire times strictly after ``after`` (UTC), as the trigger fires them.

    Raises:
        ValueError: ``trigger`` is an invalid expression, or ``after`` is naive.
    """
    if after.tzinfo is None:
        raise ValueError(f"after: expected a timezone-aware datetime, got {after!r}")
    if isinstance(trigger, str):
        trigger = cron_trigger(trigger)
    fires: list[datetime] = []
    previous = after.astimezone(UTC)
    while len(fires) < count:
        # (previous, now) = (t, t) asks for the first fire strictly after t, as the scheduler does.
        fire = trigger.get_next_fire_time(previous, previous)
        if fire is None:
            break
        fires.append(fire.astimezone(UTC))
        previous = fire
    return fires
