"""Jinja filters: numbers, percentages and times as a trader reads them (dense, never ambiguous)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

__all__ = ["FILTERS"]


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def num(value: Any, digits: int = 2) -> str:
    number = _finite(value)
    return "–" if number is None else f"{number:,.{digits}f}"


def pct(value: Any, digits: int = 1) -> str:
    number = _finite(value)
    return "–" if number is None else f"{number * 100:,.{digits}f} %"


def signed_pct(value: Any, digits: int = 1) -> str:
    number = _finite(value)
    return "–" if number is None else f"{number * 100:+,.{digits}f} %"


def when(value: Any) -> str:
    """ISO text or a datetime as ``2025-07-01 03:00`` (UTC, as stored)."""
    if value is None or value == "":
        return "–"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime("%Y-%m-%d %H:%M")


def duration(seconds: Any) -> str:
    number = _finite(seconds)
    if number is None:
        return "–"
    if number < 10:
        return f"{number:.2f} s"
    if number < 60:
        return f"{number:.1f} s"
    minutes, secs = divmod(round(number), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short(value: Any, length: int = 8) -> str:
    return "–" if value is None else str(value)[:length]


FILTERS = {
    "num": num,
    "pct": pct,
    "signed_pct": signed_pct,
    "when": when,
    "duration": duration,
    "short": short,
}
