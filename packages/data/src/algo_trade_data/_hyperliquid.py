"""Hyperliquid REST client (``POST {api_url}/info``): candles, the perp universe, symbol checks.

One :class:`HyperliquidClient` owns at most one ``aiohttp.ClientSession`` and every request draws its
weight from the process-wide :class:`~algo_trade_data._ratelimit.WeightRateLimiter`.

Weight accounting for ``candleSnapshot``: the real weight (20 + 1 per 60 candles) is known only from
the response, so the client *acquires an upper bound up front*, estimated from the requested window
(bars in the window, capped at 5000), and refunds the difference once the response is parsed. Taking
only 20 up front and the rest afterwards would let concurrent requests overspend the server's budget
while they are in flight; the up-front bound never does, and the refund keeps long-run throughput.

Failures, by what to do about them:

* **429** (rate limited): wait for the budget to recover, however often it takes, until the request is
  ``retry_deadline_s`` old. The limiter pauses every request of the process for the server's
  ``Retry-After`` and lowers its budget to what the server was seen to accept (a stricter server, or
  another process on the IP); messages quote that observed budget, not the configured one.
* **5xx, timeouts, dropped connections, a 200 whose body is not JSON** (a proxy's error page, a
  truncated body): retried with exponential backoff and full jitter, up to ``max_retries`` times.
* **DNS failure, connection refused, no route** (:class:`ExchangeUnreachable`): raised at once. The
  exchange is not there; asking again per page and per token is how an offline sweep used to hang
  for minutes. :meth:`HyperliquidClient.probe` asks once, with a short timeout, before a batch.
* A well-formed JSON answer of the wrong shape, an invalid candle, or another 4xx: raised at once,
  since asking again would get the same answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
import polars as pl

from algo_trade_core import (
    ExchangeError,
    ExchangeUnavailable,
    ExchangeUnreachable,
    HyperliquidConfig,
    RateLimited,
    floor_to_interval,
    interval_to_ms,
    ms_to_datetime,
)
from algo_trade_data._candles import HyperliquidCandle, candles_to_frame, parse_candles
from algo_trade_data._ratelimit import (
    CANDLE_HISTORY_LIMIT,
    WeightRateLimiter,
    candle_snapshot_weight,
    info_request_weight,
    shared_limiter,
)
from algo_trade_data._retry import backoff_delay
from algo_trade_data._universe import (
    KNOWN_RENAMES,
    PerpAsset,
    PerpMarket,
    parse_market,
    parse_universe,
    snippet,
    symbol_problems,
)

__all__ = [
    "KNOWN_RENAMES",
    "HyperliquidClient",
    "PerpAsset",
    "PerpMarket",
    "symbol_problems",
]

_MAX_RETRY_AFTER_S = 600.0  # a Retry-After beyond this is treated as a server bug, not obeyed
PROBE_TIMEOUT_S = 5.0


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def _unreachable_reason(url: str, exc: aiohttp.ClientConnectorError) -> str:
    host = urlsplit(url).hostname or url
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"the host name {host!r} does not resolve (DNS failure: offline, or a wrong api_url)"
    if isinstance(exc.os_error, ConnectionRefusedError):
        return f"connection refused by {host}:{exc.port} (nothing listens there)"
    return f"cannot connect to {host}:{exc.port} ({exc.os_error or exc})"


class HyperliquidClient:
    """Async client of Hyperliquid's public ``/info`` endpoint.

    Use as ``async with HyperliquidClient(config) as client: ...``. A session passed in is used and
    left open; otherwise the client creates one on first use and closes it on exit. ``limiter``
    defaults to the process-wide limiter of ``config.api_url`` (:func:`shared_limiter`).

    ``now_ms`` (wall clock, epoch ms) decides which bar is still forming; ``sleep`` and ``rng`` drive
    the retry backoff; the limiter's ``clock`` measures the retry deadline. All are seams for tests.
    """

    def __init__(
        self,
        config: HyperliquidConfig,
        session: aiohttp.ClientSession | None = None,
        limiter: WeightRateLimiter | None = None,
        *,
        now_ms: Callable[[], int] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.limiter = limiter if limiter is not None else shared_limiter(config)
        self._session = session
        self._owns_session = session is None
        self._now_ms = now_ms if now_ms is not None else _wall_clock_ms
        self._sleep = sleep if sleep is not None else asyncio.sleep
        # Jitter only spreads retries; it is not security-relevant.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._url = config.api_url.rstrip("/") + "/info"
        self._timeout = aiohttp.ClientTimeout(total=config.request_timeout_s)
        self._semaphore: asyncio.Semaphore | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._ensure_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it (a session passed in stays open)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def now_ms(self) -> int:
        """Return the client's notion of now (epoch ms)."""
        return self._now_ms()

    @property
    def api_url(self) -> str:
        return self.config.api_url

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise ExchangeError("the aiohttp session passed to HyperliquidClient is closed")
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _get_semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.config.max_concurrency)
        return self._semaphore

    # -- transport with retries ------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(
            attempt, base_s=self.config.backoff_base_s, max_s=self.config.backoff_max_s, rng=self._rng
        )

    async def _post_once(
        self, body: dict[str, Any], client_timeout: aiohttp.ClientTimeout
    ) -> tuple[int, str | None, bytes]:
        session = self._ensure_session()
        async with session.post(self._url, json=body, timeout=client_timeout) as resp:
            raw = await resp.read()
            return resp.status, resp.headers.get("Retry-After"), raw

    async def info(
        self,
        body: dict[str, Any],
        *,
        weight: int | None = None,
        context: str = "",
        attempts: int | None = None,
        deadline_s: float | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        """POST ``body`` to ``/info`` with rate limiting and retries; return the decoded JSON.

        Args:
            body: the request, e.g. ``{"type": "meta"}``.
            weight: weight to acquire; defaults to the base weight of ``body["type"]``.
            context: what is being fetched, for error messages (defaults to the request type).
            attempts: tries for 5xx/timeouts/dropped connections (default ``max_retries + 1``).
            deadline_s: give up on 429s once the request is this old (default ``retry_deadline_s``).
            timeout_s: per-attempt timeout (default ``request_timeout_s``).

        Raises:
            ExchangeUnreachable: DNS failure, connection refused (not retried).
            RateLimited: still HTTP 429 when the deadline came; the message gives the budget the
                server was seen to accept.
            ExchangeUnavailable: 5xx, timeouts or dropped connections after every attempt.
            ExchangeError: another HTTP error (400, 422... with the body text), or no JSON.
        """
        request_type = str(body.get("type", "?"))
        context = context or request_type
        weight = info_request_weight(request_type) if weight is None else weight
        attempts = self.config.max_retries + 1 if attempts is None else max(1, attempts)
        deadline_s = self.config.retry_deadline_s if deadline_s is None else deadline_s
        timeout = self._timeout if timeout_s is None else aiohttp.ClientTimeout(total=timeout_s)
        per_try_s = self.config.request_timeout_s if timeout_s is None else timeout_s
        clock = self.limiter.clock
        started = clock()
        failures = 0  # 5xx, timeouts, dropped connections, garbage: bounded by `attempts`
        limited = 0  # 429 answers: bounded by the deadline
        kind = problem = ""
        retry_after: float | None = None
        while True:
            async with self._get_semaphore():
                await self.limiter.acquire(weight)
                status = 0
                try:
                    status, retry_after_header, raw = await self._post_once(body, timeout)
                except TimeoutError:
                    kind, problem = "unavailable", f"timed out after {per_try_s:g} s"
                except aiohttp.InvalidURL as exc:
                    raise ExchangeError(f"{context}: invalid API URL {self._url!r}: {exc}") from exc
                except aiohttp.ClientConnectorError as exc:
                    self.limiter.refund(weight)  # nothing reached the server
                    reason = _unreachable_reason(self._url, exc)
                    raise ExchangeUnreachable(f"{context}: Hyperliquid is unreachable: {reason}") from exc
                except aiohttp.ClientError as exc:
                    kind, problem = "unavailable", f"connection failed ({type(exc).__name__}: {exc})"
            if status == 200:
                try:
                    payload = json.loads(raw)
                except ValueError:  # JSONDecodeError and UnicodeDecodeError
                    kind, problem = "garbage", f"HTTP 200 body is not JSON: {snippet(raw)!r}"
                else:
                    self.limiter.accepted(weight)
                    return payload
            elif status == 429:
                limited += 1
                retry_after = _parse_retry_after(retry_after_header)
                pause = retry_after if retry_after is not None else self._backoff(min(limited - 1, 16))
                # Pause every request of the process and adapt the budget to what the server grants.
                self.limiter.rate_limited(pause)
                waited = clock() - started
                if waited + pause <= deadline_s:
                    continue  # the limiter waits out the pause and the refill before the next try
                raise RateLimited(
                    f"{context}: still rate limited (HTTP 429, {limited} time(s)) after {waited:.0f} s; "
                    f"the next try would pass the {deadline_s:g} s deadline (retry_deadline_s); "
                    f"{self.limiter.describe()}",
                    retry_after=retry_after,
                )
            elif status >= 500:
                kind, problem = "unavailable", f"HTTP {status}: {snippet(raw)!r}"
            elif status:
                raise ExchangeError(f"{context}: HTTP {status} from {self._url}: {snippet(raw)!r}")
            failures += 1
            if failures >= attempts:
                break
            await self._sleep(self._backoff(failures - 1))
        tries = f"after {failures} attempt{'s' if failures != 1 else ''}"
        if kind == "unavailable":
            raise ExchangeUnavailable(f"{context}: exchange unavailable {tries}; last error: {problem}")
        raise ExchangeError(f"{context}: expected a JSON response, {problem} ({tries})")

    async def probe(self, timeout_s: float = PROBE_TIMEOUT_S) -> list[PerpAsset]:
        """Ask once, with a short timeout and no retry, whether the exchange answers; return ``meta``.

        Commands that talk to the exchange for many tokens call this first, so an offline machine
        learns it in at most ``timeout_s`` seconds instead of after retries per page and per token.

        Raises:
            ExchangeUnreachable: DNS failure or connection refused.
            ExchangeUnavailable: no answer within ``timeout_s``, or a 5xx.
            RateLimited: a 429 (the exchange is there, but the budget is spent).
            ExchangeError: an answer that is not the universe.
        """
        timeout = min(timeout_s, self.config.request_timeout_s)
        payload = await self.info(
            {"type": "meta"}, context="meta (probe)", attempts=1, deadline_s=0.0, timeout_s=timeout
        )
        return parse_universe(payload, context="meta")

    # -- candles ---------------------------------------------------------------------------------

    async def fetch_candles(
        self, coin: str, interval: str, start_ms: int, end_ms: int, *, now_ms: int | None = None
    ) -> list[HyperliquidCandle]:
        """Return the closed bars overlapping ``[start_ms, end_ms]``, exact, ascending, one per ``t``.

        Paginates defensively: while a response is non-empty and the next bar (last ``t`` plus one
        interval) is inside the window and has opened, ask again from there. Bars whose close time
        ``T`` is not before ``now_ms`` (default: the client's clock) are still forming and dropped.
        Only the most recent 5000 bars exist on the exchange; older parts of the window come back
        empty (see :func:`~algo_trade_data._refresh.refresh_candles` for the report).

        Raises:
            ValueError: unknown interval, negative ``start_ms`` or ``end_ms < start_ms``.
            ExchangeError: see :meth:`info`; also a response that is not an array of candles.
            CandleValidationError: a candle's values are not a valid OHLCV bar.
        """
        step = interval_to_ms(interval)
        if start_ms < 0:
            raise ValueError(f"expected start_ms >= 0 (the API answers 422 otherwise), got {start_ms}")
        if end_ms < start_ms:
            raise ValueError(f"expected end_ms >= start_ms, got {end_ms} < {start_ms}")
        now = self.now_ms() if now_ms is None else now_ms
        by_t: dict[int, HyperliquidCandle] = {}
        cursor = start_ms
        previous_last = -1
        while True:
            page = await self._candle_page(coin, interval, cursor, end_ms, step)
            if not page:
                break
            for candle in page:
                by_t[candle.t] = candle  # a later page has the fresher copy of an overlapping bar
            last_t = max(candle.t for candle in page)
            if last_t <= previous_last:  # no progress ("1M" bars are calendar months, not 30 days)
                break
            previous_last = last_t
            cursor = last_t + step
            if cursor > end_ms or cursor > now:  # the next bar is outside the window or not open yet
                break
        return [by_t[t] for t in sorted(by_t) if by_t[t].T < now and t <= end_ms and by_t[t].T >= start_ms]

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int, *, now_ms: int | None = None
    ) -> pl.DataFrame:
        """Like :meth:`fetch_candles`, as the project's candle frame (float64 prices).

        Columns: timestamp (Datetime ms UTC, bar open), symbol, exchange ("hyperliquid"), interval,
        open, high, low, close, volume (Float64), trades (Int64); sorted by timestamp, unique.
        """
        candles = await self.fetch_candles(coin, interval, start_ms, end_ms, now_ms=now_ms)
        return candles_to_frame(candles, symbol=coin, interval=interval)

    async def _candle_page(
        self, coin: str, interval: str, start_ms: int, end_ms: int, step: int
    ) -> list[HyperliquidCandle]:
        body = {
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
        }
        # Upper bound of the bars overlapping the window (+1: "1M" months can be shorter than 30 d).
        estimate = min(CANDLE_HISTORY_LIMIT, (end_ms - floor_to_interval(start_ms, interval)) // step + 2)
        weight = candle_snapshot_weight(estimate)
        context = (
            f"candleSnapshot {coin} {interval} "
            f"[{ms_to_datetime(start_ms).isoformat()} .. {ms_to_datetime(end_ms).isoformat()}]"
        )
        payload = await self.info(body, weight=weight, context=context)
        candles = parse_candles(payload, coin=coin, interval=interval)
        actual = candle_snapshot_weight(len(candles))
        if actual > weight:
            self.limiter.charge(actual - weight)
        elif actual < weight:
            self.limiter.refund(weight - actual)
        self.limiter.accepted(actual - weight)  # the server charged the real weight, not the estimate
        return candles

    # -- universe --------------------------------------------------------------------------------

    async def meta(self) -> list[PerpAsset]:
        """Return the perp universe (``meta``), delisted coins included (``is_delisted``)."""
        payload = await self.info({"type": "meta"}, context="meta")
        return parse_universe(payload, context="meta")

    async def meta_and_asset_ctxs(self) -> list[PerpMarket]:
        """Return every perp asset with its current context (``metaAndAssetCtxs``)."""
        context = "metaAndAssetCtxs"
        payload = await self.info({"type": context}, context=context)
        if not (isinstance(payload, list) and len(payload) == 2):
            raise ExchangeError(
                f"{context}: expected a 2-element JSON array [meta, contexts], got {snippet(repr(payload))}"
            )
        universe = parse_universe(payload[0], context=context)
        ctxs = payload[1]
        if not isinstance(ctxs, list) or len(ctxs) != len(universe):
            got = f"{len(ctxs)} contexts" if isinstance(ctxs, list) else type(ctxs).__name__
            raise ExchangeError(
                f"{context}: expected one asset context per universe entry ({len(universe)}), got {got}"
            )
        return [parse_market(asset, ctx, context=context) for asset, ctx in zip(universe, ctxs, strict=True)]

    async def top_by_volume(self, n: int) -> list[PerpMarket]:
        """Return the ``n`` listed (not delisted) perps with the largest 24 h notional volume."""
        if n < 0:
            raise ValueError(f"expected n >= 0, got {n}")
        markets = [m for m in await self.meta_and_asset_ctxs() if not m.asset.is_delisted]
        markets.sort(key=lambda m: float(m.day_ntl_vlm), reverse=True)
        return markets[:n]

    async def check_symbols(self, symbols: Iterable[str]) -> dict[str, str]:
        """Return ``{symbol: problem}`` for each symbol that is unknown or delisted (one ``meta`` call).

        Symbols that trade are absent from the result. Messages suggest the current name where one is
        known (POL for MATIC, S for FTM, kPEPE for PEPE, a case fix for "btc").
        """
        universe = await self.meta()
        return symbol_problems(symbols, universe)
