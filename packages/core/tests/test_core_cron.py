"""Cron expressions: one APScheduler trigger, classic-cron day semantics, fire times from the trigger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from algo_trade_core import cron_trigger, next_fire_times


def dt(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_daily_at_three() -> None:
    assert next_fire_times("0 0 3 * * *", dt(2026, 11, 25, 15, 0, 0), 2) == [
        dt(2026, 11, 26, 3, 0, 0),
        dt(2026, 11, 27, 3, 0, 0),
    ]
    assert next_fire_times("0 0 3 * * *", dt(2026, 11, 25, 2, 59, 59), 1) == [dt(2026, 11, 25, 3, 0, 0)]
    # strictly after: a fire time itself is not returned again
    assert next_fire_times("0 0 3 * * *", dt(2026, 11, 25, 3, 0, 0), 1) == [dt(2026, 11, 26, 3, 0, 0)]


def test_day_of_month_or_day_of_week_as_classic_cron() -> None:
    # Both day fields restricted: either may match (the 1st OR a Monday), not both at once.
    # 2026-11-30 is a Monday, 2026-12-01 a Tuesday; a plain CronTrigger would wait for 2027-02-01.
    fires = next_fire_times("0 0 3 1 * mon", dt(2026, 11, 25), 4)
    assert fires == [dt(2026, 11, 30, 3), dt(2026, 12, 1, 3), dt(2026, 12, 7, 3), dt(2026, 12, 14, 3)]
    # The trigger the daemon schedules fires exactly there too.
    trigger = cron_trigger("0 0 3 1 * mon")
    assert trigger.get_next_fire_time(None, dt(2026, 11, 25)) == dt(2026, 11, 30, 3)
    # One day field wild (or starting with "*"): both must match, as in cron.
    assert next_fire_times("0 0 3 * * mon", dt(2026, 11, 25), 1) == [dt(2026, 11, 30, 3)]
    assert next_fire_times("0 0 3 1 * *", dt(2026, 11, 25), 1) == [dt(2026, 12, 1, 3)]


def test_every_fifteen_seconds() -> None:
    assert next_fire_times("*/15 * * * * *", dt(2026, 1, 1, 0, 0, 7), 5) == [
        dt(2026, 1, 1, 0, 0, 15),
        dt(2026, 1, 1, 0, 0, 30),
        dt(2026, 1, 1, 0, 0, 45),
        dt(2026, 1, 1, 0, 1, 0),
        dt(2026, 1, 1, 0, 1, 15),
    ]


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN"])
def test_sunday_is_zero_or_seven(sunday: str) -> None:
    # 2026-11-25 is a Wednesday; APScheduler itself would read 0 as Monday and 7 as invalid.
    fires = next_fire_times(f"0 30 9 * * {sunday}", dt(2026, 11, 25), 2)
    assert fires == [dt(2026, 11, 29, 9, 30), dt(2026, 12, 6, 9, 30)]
    assert all(f.isoweekday() == 7 for f in fires)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("1-5", {1, 2, 3, 4, 5}),
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("5-7", {5, 6, 7}),
        ("0,6", {6, 7}),
        ("*/2", {7, 2, 4, 6}),  # every other day from Sunday, as cron counts
        ("1-5/2", {1, 3, 5}),
    ],
)
def test_day_of_week_lists_ranges_and_steps(field: str, days: set[int]) -> None:
    fires = next_fire_times(f"0 0 12 * * {field}", dt(2026, 11, 22), 14)  # two weeks from a Sunday
    assert {f.isoweekday() for f in fires} == days


def test_month_rollover_leap_day_and_names() -> None:
    assert next_fire_times("0 0 0 29 2 *", dt(2026, 3, 1), 1) == [dt(2028, 2, 29)]
    assert next_fire_times("0 0 12 31 * *", dt(2026, 4, 1), 1) == [dt(2026, 5, 31, 12)]
    assert next_fire_times("0 0 3 * jan-feb *", dt(2026, 11, 25), 1) == [dt(2027, 1, 1, 3)]


def test_next_fire_times_take_a_trigger_and_need_aware_times() -> None:
    trigger = cron_trigger("0 */20 * * * *")
    assert next_fire_times(trigger, dt(2026, 1, 1, 0, 5), 3) == [
        dt(2026, 1, 1, 0, 20),
        dt(2026, 1, 1, 0, 40),
        dt(2026, 1, 1, 1, 0),
    ]
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(trigger, datetime(2026, 1, 1), 1)  # noqa: DTZ001 - the naive time is the point


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("0 0 3 * *", "expected 6 fields .* got 5"),
        ("0 0 3 * * * *", "got 7"),
        ("60 0 3 * * *", r"second field '60'.*maximum value \(59\)"),
        ("0 61 3 * * *", r"minute field '61'"),
        ("0 0 24 * * *", "hour field '24'"),
        ("0 0 3 0 * *", r"day field '0'.*minimum value \(1\)"),
        ("0 0 3 * 13 *", "month field '13'"),
        ("0 0 3 * foo *", "month field 'foo'"),
        ("0 0 3 * * 8", "day_of_week field: 8 is outside 0-7"),
        ("0 0 3 * * funday", "day_of_week field: 'funday' is neither"),
        ("0 0 3 * * 5-1", "day_of_week field: range '5-1' runs backwards"),
        ("*/0 * * * * *", "second field '\\*/0'.*Increment"),
        ("0 5-1 * * * *", "minute field '5-1'"),
        ("x 0 3 * * *", "second field 'x'"),
        ("0 0 0 31 2 *", "never fires"),
    ],
)
def test_invalid_expressions_say_which_field(expression: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        cron_trigger(expression)
