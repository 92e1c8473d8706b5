"""Six-field cron parsing and next-fire arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from algo_trade_core import parse_cron


def dt(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_daily_at_three() -> None:
    spec = parse_cron("0 0 3 * * *")
    assert spec.next_fire_time(dt(2026, 11, 25, 15, 0, 0)) == dt(2026, 11, 26, 3, 0, 0)
    assert spec.next_fire_time(dt(2026, 11, 25, 2, 59, 59)) == dt(2026, 11, 25, 3, 0, 0)
    # strictly after: a fire time itself is not returned again
    assert spec.next_fire_time(dt(2026, 11, 25, 3, 0, 0)) == dt(2026, 11, 26, 3, 0, 0)


def test_every_two_seconds() -> None:
    spec = parse_cron("*/2 * * * * *")
    assert spec.next_fire_time(dt(2026, 1, 1, 0, 0, 0)) == dt(2026, 1, 1, 0, 0, 2)
    assert spec.next_fire_time(dt(2026, 1, 1, 0, 0, 59)) == dt(2026, 1, 1, 0, 1, 0)


def test_day_of_week_is_classic_cron_sunday_zero() -> None:
    spec = parse_cron("0 30 9 * * 1")  # Mondays
    nxt = spec.next_fire_time(dt(2026, 11, 25, 0, 0, 0))  # a Wednesday
    assert nxt == dt(2026, 11, 30, 9, 30, 0)
    assert nxt.isoweekday() == 1
    assert parse_cron("0 0 0 * * 7").values[5] == parse_cron("0 0 0 * * sun").values[5] == frozenset({0})
    # APScheduler counts Monday = 0, so it gets names
    assert parse_cron("0 30 9 * * 1-5").apscheduler_fields()["day_of_week"] == "mon,tue,wed,thu,fri"
    assert parse_cron("0 0 3 * * *").apscheduler_fields() == {
        "second": "0",
        "minute": "0",
        "hour": "3",
        "day": "*",
        "month": "*",
        "day_of_week": "*",
    }


def test_month_rollover_and_leap_day() -> None:
    assert parse_cron("0 0 0 29 2 *").next_fire_time(dt(2026, 3, 1)) == dt(2028, 2, 29)
    assert parse_cron("0 0 12 31 * *").next_fire_time(dt(2026, 4, 1)) == dt(2026, 5, 31, 12)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("0 0 3 * *", "6 fields"),
        ("0 0 3 * * * *", "6 fields"),
        ("60 0 3 * * *", "second field: 60"),
        ("0 0 24 * * *", "hour field: 24"),
        ("0 0 3 0 * *", "day field: 0"),
        ("0 0 3 * 13 *", "month field: 13"),
        ("0 0 3 * * 8", "day_of_week field: 8"),
        ("*/0 * * * * *", "step"),
        ("0 5-1 * * * *", "backwards"),
        ("x 0 3 * * *", "second field"),
    ],
)
def test_invalid_expressions_say_which_field(expression: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_cron(expression)
