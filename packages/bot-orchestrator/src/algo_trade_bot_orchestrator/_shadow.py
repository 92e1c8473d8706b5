"""Shadow bots and cooldowns, as bot sync applies them (pure rules; the registry does the I/O).

- A token that leaves the approved list keeps a *shadow* paper bot for ``[bots] shadow_days``: id
  ``shadow:{live bot id}``, marked shadow in every listing, not counted against ``max_bots``, no
  protections, never taken for the token's live bot by sync. It ends itself (closing its position) on
  the first bar closing at or after ``shadow_until_ms``; sync also ends it when that time has passed
  (no bars) or when the token is approved again (then the live bot starts).
- A token whose live bot a protection stopped is not restarted by sync for ``[bots.protection]
  cooldown_hours`` after the stop, even while approved; the stop is the latest ``stop`` row of
  ``bot_events`` for the (strategy, symbol), so the cooldown survives a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from algo_trade_data import BotEventRecord

__all__ = [
    "SHADOW_ENDED",
    "SHADOW_STARTED",
    "STOP",
    "cooling_down",
    "shadow_id",
    "shadow_until_ms",
]

STOP = "stop"
SHADOW_STARTED = "shadow_started"
SHADOW_ENDED = "shadow_ended"
_DAY_MS = 86_400_000


def shadow_id(live_bot_id: str) -> str:
    """The id of the shadow of the live bot ``live_bot_id`` (``shadow:quad_ma:BTC``)."""
    return f"shadow:{live_bot_id}"


def shadow_until_ms(now_ms: int, shadow_days: float) -> int:
    """When a shadow bot started at ``now_ms`` ends."""
    return now_ms + round(shadow_days * _DAY_MS)


def cooling_down(
    stops: Mapping[str, BotEventRecord], now: datetime, cooldown_hours: float
) -> dict[str, datetime]:
    """The symbols whose latest protection stop is less than ``cooldown_hours`` before ``now``, each with
    the time its cooldown ends."""
    length = timedelta(hours=cooldown_hours)
    return {symbol: e.time + length for symbol, e in stops.items() if e.time + length > now}
