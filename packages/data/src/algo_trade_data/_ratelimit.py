"""Request-weight rate limiting for Hyperliquid's REST API (HYPERLIQUID-API.md section 4).

Hyperliquid gives each IP a budget of 1200 *weight* per minute across every REST request. The
weights live here, once, so the client and the fake exchange charge by the same rules:

* 20 for ``candleSnapshot``, ``meta``, ``metaAndAssetCtxs`` and the other documented info requests;
  2 for the cheap ones (``allMids``, ``l2Book``...), 60 for ``userRole``;
* plus, for ``candleSnapshot``, 1 per 60 candles returned (``ceil(n / 60)``: the docs' worked example
  puts a 5000-candle page at 20 + 84 and a 24-candle one at 21).

:class:`WeightRateLimiter` is a token bucket holding at most ``weight_per_minute`` weight and refilled
continuously at ``weight_per_minute / 60`` per second. All requests of a process must draw from one
bucket, so :func:`shared_limiter` hands out one instance per API URL.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from algo_trade_core import HyperliquidConfig

__all__ = [
    "CANDLES_PER_EXTRA_WEIGHT",
    "CANDLE_HISTORY_LIMIT",
    "WeightRateLimiter",
    "candle_snapshot_weight",
    "info_request_weight",
    "shared_limiter",
]

# Only the most recent 5000 candles per coin and interval exist; one response holds at most 5000.
CANDLE_HISTORY_LIMIT = 5000
CANDLES_PER_EXTRA_WEIGHT = 60

_DEFAULT_INFO_WEIGHT = 20
_INFO_WEIGHTS: dict[str, int] = {
    "l2Book": 2,
    "allMids": 2,
    "clearinghouseState": 2,
    "orderStatus": 2,
    "spotClearinghouseState": 2,
    "exchangeStatus": 2,
    "userRole": 60,
}


def info_request_weight(request_type: str) -> int:
    """Return the base weight of one ``POST /info`` request of ``request_type``."""
    return _INFO_WEIGHTS.get(request_type, _DEFAULT_INFO_WEIGHT)


def candle_snapshot_weight(candles: int) -> int:
    """Return the weight of a ``candleSnapshot`` response holding ``candles`` candles."""
    if candles < 0:
        raise ValueError(f"expected a candle count >= 0, got {candles}")
    return info_request_weight("candleSnapshot") + math.ceil(candles / CANDLES_PER_EXTRA_WEIGHT)


class WeightRateLimiter:
    """Token bucket of request weight, shared by every request of a process.

    ``acquire`` waits (first come, first served) until the weight fits, then takes it. ``charge`` and
    ``refund`` settle the difference once a response's real weight is known; a charge may leave the
    bucket in debt, which later ``acquire`` calls wait out. ``penalize`` pauses every caller, used
    after an HTTP 429 because then someone else on the same IP is spending the budget too.

    The clock and the sleep are injectable so tests can run minutes of budget in no real time.
    """

    def __init__(
        self,
        weight_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if weight_per_minute < 1:
            raise ValueError(f"expected weight_per_minute >= 1, got {weight_per_minute}")
        self.capacity = float(weight_per_minute)
        self.rate_per_s = weight_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._updated = clock()
        self._paused_until = -math.inf
        # asyncio.Lock binds to the loop that first waits on it; one limiter may outlive a loop
        # (module-level shared instance, several asyncio.run calls), so keep one lock per loop.
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    @property
    def available(self) -> float:
        """Weight that could be taken right now (negative while in debt)."""
        self._refill()
        return self._level

    @property
    def paused_for(self) -> float:
        """Seconds left of the current :meth:`penalize` pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self, weight: float) -> None:
        """Wait until ``weight`` fits in the bucket (and any pause is over), then take it.

        A weight above the capacity waits for a full bucket and leaves it in debt rather than
        waiting forever.
        """
        if weight < 0:
            raise ValueError(f"expected a weight >= 0, got {weight}")
        async with self._get_lock():
            needed = min(float(weight), self.capacity)
            while True:
                pause = self._paused_until - self._clock()
                if pause > 0:
                    await self._sleep(pause)
                    continue
                self._refill()
                if self._level >= needed:
                    self._level -= weight
                    return
                await self._sleep((needed - self._level) / self.rate_per_s)

    def charge(self, weight: float) -> None:
        """Take ``weight`` now without waiting (may leave the bucket in debt)."""
        self._refill()
        self._level -= weight

    def refund(self, weight: float) -> None:
        """Give back weight that was acquired but not spent (capped at the capacity)."""
        self._refill()
        self._level = min(self.capacity, self._level + weight)

    def penalize(self, seconds: float) -> None:
        """Pause every ``acquire`` for ``seconds`` from now (extends, never shortens, a pause)."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._level = min(self.capacity, self._level + elapsed * self.rate_per_s)
        self._updated = now

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock


_SHARED: dict[tuple[str, int], WeightRateLimiter] = {}


def shared_limiter(config: HyperliquidConfig) -> WeightRateLimiter:
    """Return this process's limiter for ``config.api_url`` (created on first use).

    The budget belongs to the IP and the server, so clients of the same API URL share one bucket;
    a different URL (testnet, a fake server in tests) gets its own.
    """
    key = (config.api_url.rstrip("/"), config.weight_per_minute)
    limiter = _SHARED.get(key)
    if limiter is None:
        limiter = _SHARED[key] = WeightRateLimiter(config.weight_per_minute)
    return limiter
