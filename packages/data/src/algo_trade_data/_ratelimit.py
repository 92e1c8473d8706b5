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
from collections import deque
from collections.abc import Awaitable, Callable

from algo_trade_core import HyperliquidConfig, floor_to_interval, interval_to_ms

__all__ = [
    "CANDLES_PER_EXTRA_WEIGHT",
    "CANDLE_HISTORY_LIMIT",
    "WeightRateLimiter",
    "candle_snapshot_weight",
    "earliest_available_ms",
    "info_request_weight",
    "shared_limiter",
]

# Only the most recent 5000 candles per coin and interval exist; one response holds at most 5000.
CANDLE_HISTORY_LIMIT = 5000
CANDLES_PER_EXTRA_WEIGHT = 60
_MINUTE_S = 60.0
_MIN_ADAPTED_BUDGET = 60.0
_MIN_WAIT_S = 0.001

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


def earliest_available_ms(interval: str, now_ms: int | None = None) -> int:
    """Open time of the oldest bar of ``interval`` the exchange still serves at ``now_ms`` (default: now).

    Only the most recent 5000 bars exist, counting the one still forming: 1m bars reach back about
    3.5 days, 5m 17 days, 1h 208 days.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    step = interval_to_ms(interval)
    return max(0, floor_to_interval(now, interval) - (CANDLE_HISTORY_LIMIT - 1) * step)


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
    bucket in debt, which later ``acquire`` calls wait out. ``penalize`` pauses every caller.

    **Adapting to a stricter server.** The configured budget is what the exchange documents; the server
    may grant less (another process on the same IP, a stricter limit). :meth:`rate_limited` (called on
    an HTTP 429) empties the bucket, pauses every caller for the server's ``Retry-After``, and lowers the
    budget towards 90 % of the weight the server accepted in the minute before (:attr:`observed_per_minute`,
    from :meth:`accepted`), by 10 % at least and by half at most: a few 429s bring a bucket refilled at
    the server's own pace, which stops provoking them. Concurrent 429s of one burst lower it once. After
    a full minute without a 429 the budget grows back by 10 % a minute, up to the configured one.

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
        self.configured = float(weight_per_minute)
        self.capacity = float(weight_per_minute)
        self.rate_per_s = weight_per_minute / 60.0
        # Never adapt below this: a few requests a minute still make progress between Retry-After pauses.
        self.floor = min(self.configured, max(_MIN_ADAPTED_BUDGET, self.configured / 20.0))
        self.observed_per_minute: float | None = None  # weight accepted in the minute before the last 429
        self.rate_limited_count = 0
        self.clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._updated = clock()
        self._paused_until = -math.inf
        self._accepted: deque[tuple[float, float]] = deque()
        self._last_429 = -math.inf
        self._cut_until = -math.inf  # 429s before this belong to the burst that already lowered the budget
        self._grown_at = -math.inf
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
        return max(0.0, self._paused_until - self.clock())

    @property
    def adapted(self) -> bool:
        """Whether the budget is below the configured one because the server answered 429."""
        return self.capacity < self.configured

    def describe(self) -> str:
        """The budget in words, for messages: the server's observed budget when it differs."""
        configured = f"{self.configured:.0f} weight/min"
        if self.observed_per_minute is None:
            return f"the budget of {configured} is shared by every client on this IP"
        return (
            f"the server accepted only about {self.observed_per_minute:.0f} weight in the minute before "
            f"its last 429 (configured: {configured}); the local budget is now {self.capacity:.0f}/min"
        )

    async def acquire(self, weight: float) -> None:
        """Wait until ``weight`` fits in the bucket (and any pause is over), then take it.

        A weight above the capacity waits for a full bucket and leaves it in debt rather than
        waiting forever.
        """
        if weight < 0:
            raise ValueError(f"expected a weight >= 0, got {weight}")
        async with self._get_lock():
            while True:
                pause = self._paused_until - self.clock()
                if pause > 0:
                    await self._sleep(pause)
                    continue
                self._refill()
                needed = min(float(weight), self.capacity)
                if self._level >= needed:
                    self._level -= weight
                    return
                # At least a millisecond: a deficit of 1e-13 would not move a clock reading of 1e3 s.
                await self._sleep(max(_MIN_WAIT_S, (needed - self._level) / self.rate_per_s))

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
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    def accepted(self, weight: float) -> None:
        """Record weight the server accepted (a 200); corrections of an estimate may be negative."""
        now = self.clock()
        self._accepted.append((now, weight))
        self._forget(now)

    def rate_limited(self, pause_s: float) -> None:
        """The server answered 429: empty the bucket, pause everyone ``pause_s``, adapt the budget."""
        now = self.clock()
        self.rate_limited_count += 1
        self._last_429 = now
        self._refill()
        self._level = min(self._level, 0.0)
        self.penalize(pause_s)
        self._forget(now)
        observed = max(0.0, sum(weight for _, weight in self._accepted))
        if now < self._cut_until:
            return  # the same burst: the budget was lowered already
        self.observed_per_minute = observed
        # Aim just below what the server accepted, but move by 10 % at least and 50 % at most per burst:
        # a 429 after little traffic (someone else on the IP) halves the budget rather than zeroing it.
        self._set_capacity(min(max(0.9 * observed, 0.5 * self.capacity), 0.9 * self.capacity))
        self._cut_until = now + max(pause_s, 1.0)

    def _set_capacity(self, capacity: float) -> None:
        self.capacity = min(self.configured, max(self.floor, capacity))
        self.rate_per_s = self.capacity / 60.0
        self._level = min(self._level, self.capacity)

    def _forget(self, now: float) -> None:
        while self._accepted and now - self._accepted[0][0] > _MINUTE_S:
            self._accepted.popleft()

    def _refill(self) -> None:
        now = self.clock()
        if (
            self.capacity < self.configured
            and now - self._last_429 >= _MINUTE_S
            and now - self._grown_at >= _MINUTE_S
        ):
            self._grown_at = now
            self._set_capacity(self.capacity * 1.1)
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
