"""Small formatting helpers shared by the commands' tables."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

__all__ = ["fmt_age", "fmt_num", "fmt_pct", "fmt_time"]


def fmt_pct(value: float | Decimal | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def fmt_num(value: float | Decimal | int | None, digits: int = 2) -> str:
    if value is None:
        return "∞"
    v = float(value)
    if math.isinf(v):
        return "∞"
    if abs(v) < 0.5 * 10**-digits:
        v = 0.0  # no "-0.00"
    return f"{v:,.{digits}f}"


def fmt_time(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M")


def fmt_age(seconds: float | None) -> str:
    """A duration as people say it: "45s", "12m", "3h 05m", "4d 02h"."""
    if seconds is None:
        return "–"
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86_400}d {s % 86_400 // 3600:02d}h"
