"""Small formatting helpers shared by the commands' tables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = ["fmt_age", "fmt_duration", "fmt_num", "fmt_params", "fmt_pct", "fmt_time"]


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


def fmt_duration(value: timedelta | float | None) -> str:
    """``2d 03h 15m``, ``3h 20m``, ``45m``, ``30s``; a float is seconds."""
    if value is None:
        return "–"
    seconds = round(value.total_seconds() if isinstance(value, timedelta) else value)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m" + (f" {secs:02d}s" if secs else "")
    return f"{secs}s"


def _number(value: Any) -> float | None:
    try:
        return float(value)  # stored parameters hold Decimals as exact strings
    except (TypeError, ValueError):
        return None


def _period(value: Any) -> str:
    number = _number(value)
    return f"{number:g}" if number is not None else str(value)  # 12.0 (a TOML float) reads as 12


def fmt_params(strategy: str, params: Mapping[str, Any] | None) -> str:
    """A short summary of a parameter set: ``MA 5/10/20/50/100, TP 2%, SL 1%`` or ``MA 10/30``."""
    p = dict(params or {})
    if strategy == "quad_ma" and all(k in p for k in ("short_1", "short_2", "long_1", "long_2", "trend")):
        periods = "/".join(_period(p[k]) for k in ("short_1", "short_2", "long_1", "long_2", "trend"))
        out = f"MA {periods}"
        for key, label in (("take_profit", "TP"), ("stop_loss", "SL")):
            value = _number(p.get(key))
            if value is not None:
                out += f", {label} {value * 100:g}%"
        return out
    if strategy == "ma_crossover" and "fast" in p and "slow" in p:
        return f"MA {_period(p['fast'])}/{_period(p['slow'])}"
    return ", ".join(f"{k}={v}" for k, v in list(p.items())[:4]) or "defaults"


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
