"""Interval arithmetic: Hyperliquid interval names to milliseconds and bars per 365-day year."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "INTERVALS",
    "bars_per_year",
    "datetime_to_ms",
    "floor_to_interval",
    "interval_to_ms",
    "ms_to_datetime",
]

_MINUTE = 60_000
_DAY = 1440 * _MINUTE

# The 14 candle intervals Hyperliquid serves (REST and WebSocket), in milliseconds.
# "1M" (a calendar month) is taken as 30 days for arithmetic; bars are still keyed by their open time.
INTERVALS: dict[str, int] = {
    "1m": _MINUTE,
    "3m": 3 * _MINUTE,
    "5m": 5 * _MINUTE,
    "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE,
    "1h": 60 * _MINUTE,
    "2h": 120 * _MINUTE,
    "4h": 240 * _MINUTE,
    "8h": 480 * _MINUTE,
    "12h": 720 * _MINUTE,
    "1d": _DAY,
    "3d": 3 * _DAY,
    "1w": 7 * _DAY,
    "1M": 30 * _DAY,
}

_YEAR_MS = 365 * _DAY


def interval_to_ms(interval: str) -> int:
    """Return the length of one bar of ``interval`` in milliseconds.

    Raises:
        ValueError: the interval is not one of Hyperliquid's 14 names.
    """
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValueError(f"unknown interval {interval!r}: expected one of {', '.join(INTERVALS)}") from None


def bars_per_year(interval: str) -> float:
    """Return the number of bars in a 365-day year (crypto trades every day): 525,600 for 1m, 8,760 for 1h."""
    return _YEAR_MS / interval_to_ms(interval)


def datetime_to_ms(value: datetime) -> int:
    """Convert a timezone-aware datetime to epoch milliseconds."""
    if value.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {value.isoformat()}")
    return int(value.timestamp() * 1000)


def ms_to_datetime(ms: int) -> datetime:
    """Convert epoch milliseconds to a UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def floor_to_interval(ms: int, interval: str) -> int:
    """Round epoch milliseconds down to the open time of the bar of ``interval`` that contains it."""
    step = interval_to_ms(interval)
    return ms - ms % step
