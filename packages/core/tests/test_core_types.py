"""Intervals, decimals and candle invariants."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from algo_trade_core import (
    Candle,
    bars_per_year,
    datetime_to_ms,
    floor_to_interval,
    interval_to_ms,
    ms_to_datetime,
    to_decimal,
    to_decimal_or_none,
    validate_candle_values,
)


def test_intervals() -> None:
    assert interval_to_ms("1m") == 60_000
    assert interval_to_ms("1h") == 3_600_000
    assert bars_per_year("1m") == 525_600
    assert bars_per_year("1h") == 8_760
    assert bars_per_year("1d") == 365
    with pytest.raises(ValueError, match="unknown interval '2m'"):
        interval_to_ms("2m")
    assert floor_to_interval(3_600_000 + 59_999, "1m") == 3_600_000 + 0
    t = datetime(2025, 7, 21, 11, 28, tzinfo=UTC)
    assert ms_to_datetime(datetime_to_ms(t)) == t
    with pytest.raises(ValueError, match="timezone-aware"):
        datetime_to_ms(datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test


def test_decimals() -> None:
    assert to_decimal(0.1) == Decimal("0.10000000")
    assert to_decimal(1 / 3) == Decimal("0.33333333")
    assert to_decimal("12.345678915") == Decimal("12.34567892")
    assert to_decimal_or_none(float("inf")) is None
    with pytest.raises(ValueError, match="finite"):
        to_decimal(float("nan"))


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ((1.0, 2.0, 0.5, 1.5, 10.0), None),
        ((1.0, 1.0, 1.0, 1.0, 0.0), None),
        ((0.0, 2.0, 0.5, 1.5, 10.0), "open must be positive"),
        ((1.0, 2.0, 1.2, 1.5, 10.0), "low 1.2 is above min(open, close) 1.0"),
        ((1.0, 1.4, 0.5, 1.5, 10.0), "high 1.4 is below max(open, close) 1.5"),
        ((1.0, 2.0, 0.5, 1.5, -1.0), "volume must be >= 0"),
        ((float("nan"), 2.0, 0.5, 1.5, 1.0), "open is not a finite number"),
    ],
)
def test_candle_invariants(values: tuple[float, ...], fragment: str | None) -> None:
    problem = validate_candle_values(*values)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None
        assert fragment in problem


def test_candle_rejects_bad_bar_naming_symbol_and_time() -> None:
    with pytest.raises(ValueError, match=r"BTC 1m at 2025-07-21T11:28:00\+00:00: high"):
        Candle(
            symbol="BTC",
            interval="1m",
            timestamp=datetime(2025, 7, 21, 11, 28, tzinfo=UTC),
            open=Decimal(2),
            high=Decimal(1),
            low=Decimal("0.5"),
            close=Decimal("1.5"),
            volume=Decimal(0),
        )
