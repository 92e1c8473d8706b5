"""Hyperliquid REST client (``POST {api_url}/info``): candles, the perp universe, symbol checks.

One :class:`HyperliquidClient` owns at most one ``aiohttp.ClientSession`` and every request draws its
weight from the process-wide :class:`~algo_trade_data._ratelimit.WeightRateLimiter`.

Weight accounting for ``candleSnapshot``: the real weight (20 + 1 per 60 candles) is known only from
the response, so the client *acquires an upper bound up front*, estimated from the requested window
(bars in the window, capped at 5000), and refunds the difference once the response is parsed. Taking
only 20 up front and the rest afterwards would let concurrent requests overspend the server's budget
while they are in flight; the up-front bound never does, and the refund keeps long-run throughput.

Retries: 429, 5xx, timeouts, connection errors and a 200 whose body is not JSON (a proxy's error page,
a truncated body) are retried with exponential backoff and full jitter, up to ``max_retries`` times;
a 429 also pauses the shared limiter (``Retry-After`` when given) so every request of the process
backs off. A well-formed JSON answer of the wrong shape, an invalid candle, or another 4xx is not
retried: asking again would get the same answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import aiohttp
import polars as pl

from algo_trade_core import (
    ExchangeError,
    ExchangeUnavailable,
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

__all__ = ["KNOWN_RENAMES", "HyperliquidClient", "PerpAsset", "PerpMarket", "symbol_problems"]

# Coins Hyperliquid delisted in favour of a new ticker (HYPERLIQUID-API.md section 6).
KNOWN_RENAMES: dict[str, str] = {"MATIC": "POL", "FTM": "S", "RNDR": "RENDER"}

_MAX_RETRY_AFTER_S = 600.0  # a Retry-After beyond this is treated as a server bug, not obeyed
_SNIPPET = 300


@dataclass(frozen=True, kw_only=True, slots=True)
class PerpAsset:
    """One entry of ``meta.universe``; ``index`` is the asset id (its position in the list)."""

    name: str
    index: int
    sz_decimals: int
    max_leverage: int
    is_delisted: bool = False
    only_isolated: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class PerpMarket:
    """A perp asset with its current context from ``metaAndAssetCtxs`` (all values exact decimals).

    ``day_ntl_vlm`` is the rolling 24 h notional volume in USDC; ``funding`` the current hourly rate.
    Fields the exchange sent as null (or did not send) are None.
    """

    asset: PerpAsset
    day_ntl_vlm: Decimal
    mark_px: Decimal | None = None
    mid_px: Decimal | None = None
    oracle_px: Decimal | None = None
    prev_day_px: Decimal | None = None
    funding: Decimal | None = None
    open_interest: Decimal | None = None
    premium: Decimal | None = None
    day_base_vlm: Decimal | None = None

    @property
    def name(self) -> str:
        return self.asset.name


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


def _snippet(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"


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


class HyperliquidClient:
    """Async client of Hyperliquid's public ``/info`` endpoint.

    Use as ``async with HyperliquidClient(config) as client: ...``. A session passed in is used and
    left open; otherwise the client creates one on first use and closes it on exit. ``limiter``
    defaults to the process-wide limiter of ``config.api_url`` (:func:`shared_limiter`).

    ``now_ms`` (wall clock, epoch ms) decides which bar is still forming; ``sleep`` and ``rng`` drive
    the retry backoff. All three are seams for tests.
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

    def _backoff_cap(self, attempt: int) -> float:
        return float(min(self.config.backoff_max_s, self.config.backoff_base_s * 2.0**attempt))

    async def _post_once(self, body: dict[str, Any]) -> tuple[int, str | None, bytes]:
        session = self._ensure_session()
        async with session.post(self._url, json=body, timeout=self._timeout) as resp:
            raw = await resp.read()
            return resp.status, resp.headers.get("Retry-After"), raw

    async def info(self, body: dict[str, Any], *, weight: int | None = None, context: str = "") -> Any:
        """POST ``body`` to ``/info`` with rate limiting and retries; return the decoded JSON.

        Args:
            body: the request, e.g. ``{"type": "meta"}``.
            weight: weight to acquire; defaults to the base weight of ``body["type"]``.
            context: what is being fetched, for error messages (defaults to the request type).

        Raises:
            RateLimited: still HTTP 429 after ``max_retries`` retries.
            ExchangeUnavailable: 5xx, timeouts or connection errors after ``max_retries`` retries.
            ExchangeError: another HTTP error (400, 422... with the body text), or no JSON.
        """
        request_type = str(body.get("type", "?"))
        context = context or request_type
        weight = info_request_weight(request_type) if weight is None else weight
        attempts = self.config.max_retries + 1
        kind = ""
        problem = ""
        retry_after: float | None = None
        for attempt in range(attempts):
            if attempt:
                await self._sleep(self._rng.uniform(0.0, self._backoff_cap(attempt - 1)))
            async with self._get_semaphore():
                await self.limiter.acquire(weight)
                try:
                    status, retry_after_header, raw = await self._post_once(body)
                except TimeoutError:
                    kind, problem = "unavailable", f"timed out after {self.config.request_timeout_s:g} s"
                    continue
                except aiohttp.InvalidURL as exc:
                    raise ExchangeError(f"{context}: invalid API URL {self._url!r}: {exc}") from exc
                except aiohttp.ClientError as exc:
                    kind, problem = "unavailable", f"connection failed ({type(exc).__name__}: {exc})"
                    continue
            if status == 200:
                try:
                    return json.loads(raw)
                except ValueError:  # JSONDecodeError and UnicodeDecodeError
                    kind, problem = "garbage", f"HTTP 200 body is not JSON: {_snippet(raw)!r}"
                    continue
            if status == 429:
                retry_after = _parse_retry_after(retry_after_header)
                pause = retry_after if retry_after is not None else self._backoff_cap(attempt)
                # Someone else on this IP spends the budget too: pause every request of the process.
                self.limiter.penalize(pause)
                kind, problem = "rate", "HTTP 429 Too Many Requests"
                continue
            if status >= 500:
                kind, problem = "unavailable", f"HTTP {status}: {_snippet(raw)!r}"
                continue
            raise ExchangeError(f"{context}: HTTP {status} from {self._url}: {_snippet(raw)!r}")
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if kind == "rate":
            raise RateLimited(
                f"{context}: still rate limited ({problem}) {tries}; the budget of "
                f"{self.config.weight_per_minute} weight/min is shared by every client on this IP",
                retry_after=retry_after,
            )
        if kind == "unavailable":
            raise ExchangeUnavailable(f"{context}: exchange unavailable {tries}; last error: {problem}")
        raise ExchangeError(f"{context}: expected a JSON response, {problem} ({tries})")

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
        return candles

    # -- universe --------------------------------------------------------------------------------

    async def meta(self) -> list[PerpAsset]:
        """Return the perp universe (``meta``), delisted coins included (``is_delisted``)."""
        payload = await self.info({"type": "meta"}, context="meta")
        return _parse_universe(payload, context="meta")

    async def meta_and_asset_ctxs(self) -> list[PerpMarket]:
        """Return every perp asset with its current context (``metaAndAssetCtxs``)."""
        context = "metaAndAssetCtxs"
        payload = await self.info({"type": context}, context=context)
        if not (isinstance(payload, list) and len(payload) == 2):
            raise ExchangeError(
                f"{context}: expected a 2-element JSON array [meta, contexts], got {_snippet(repr(payload))}"
            )
        universe = _parse_universe(payload[0], context=context)
        ctxs = payload[1]
        if not isinstance(ctxs, list) or len(ctxs) != len(universe):
            got = f"{len(ctxs)} contexts" if isinstance(ctxs, list) else type(ctxs).__name__
            raise ExchangeError(
                f"{context}: expected one asset context per universe entry ({len(universe)}), got {got}"
            )
        return [_parse_market(asset, ctx, context=context) for asset, ctx in zip(universe, ctxs, strict=True)]

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


def symbol_problems(symbols: Iterable[str], universe: Iterable[PerpAsset]) -> dict[str, str]:
    """Pure part of :meth:`HyperliquidClient.check_symbols`."""
    listed = {a.name for a in universe if not a.is_delisted}
    delisted = {a.name for a in universe if a.is_delisted} - listed
    by_lower = {name.lower(): name for name in listed}
    problems: dict[str, str] = {}
    for symbol in symbols:
        if symbol in listed:
            continue
        suggestion = _suggest(symbol, listed, by_lower)
        hint = f"; use {suggestion}" if suggestion else ""
        if symbol in delisted:
            problems[symbol] = f"{symbol} is delisted on Hyperliquid (isDelisted in meta){hint}"
        else:
            problems[symbol] = (
                f"{symbol} is not a Hyperliquid perp (names are exact and case-sensitive){hint}"
            )
    return problems


def _suggest(symbol: str, listed: set[str], by_lower: dict[str, str]) -> str | None:
    renamed = KNOWN_RENAMES.get(symbol.upper())
    if renamed in listed:
        return f"{renamed} (the successor of {symbol.upper()})"
    base = symbol[4:] if symbol.startswith("1000") else symbol
    for candidate in (f"k{base}", f"k{base.upper()}"):
        if candidate in listed:
            return f"{candidate} (quoted per 1000 tokens)"
    if symbol.lower() in by_lower:
        return by_lower[symbol.lower()]
    return None


def _parse_universe(payload: Any, *, context: str) -> list[PerpAsset]:
    if not isinstance(payload, dict) or not isinstance(payload.get("universe"), list):
        raise ExchangeError(
            f"{context}: expected an object with a 'universe' array, got {_snippet(repr(payload))}"
        )
    assets: list[PerpAsset] = []
    for index, entry in enumerate(payload["universe"]):
        if not isinstance(entry, dict):
            raise ExchangeError(f"{context}: universe[{index}] should be an object, got {entry!r}")
        name = entry.get("name")
        sz = entry.get("szDecimals")
        lev = entry.get("maxLeverage")
        if not isinstance(name, str) or not name:
            raise ExchangeError(
                f"{context}: universe[{index}].name should be a non-empty string, got {name!r}"
            )
        for key, value in (("szDecimals", sz), ("maxLeverage", lev)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ExchangeError(
                    f"{context}: universe[{index}] ({name}).{key} should be an int, got {value!r}"
                )
        assets.append(
            PerpAsset(
                name=name,
                index=index,
                sz_decimals=int(sz),  # type: ignore[arg-type]  # checked above
                max_leverage=int(lev),  # type: ignore[arg-type]
                is_delisted=entry.get("isDelisted") is True,
                only_isolated=entry.get("onlyIsolated") is True,
            )
        )
    return assets


def _ctx_decimal(ctx: dict[str, Any], key: str, *, where: str, required: bool = False) -> Decimal | None:
    raw = ctx.get(key)
    if raw is None:
        if required:
            raise ExchangeError(f"{where}: missing {key!r} (expected a decimal string)")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ExchangeError(f"{where}: {key!r} should be a decimal string, got {raw!r}")
    try:
        value = Decimal(raw if isinstance(raw, str) else repr(raw))
    except InvalidOperation:
        raise ExchangeError(f"{where}: {key!r} is not a number: {raw!r}") from None
    if not value.is_finite():
        raise ExchangeError(f"{where}: {key!r} is not a finite number: {raw!r}")
    return value


def _parse_market(asset: PerpAsset, ctx: Any, *, context: str) -> PerpMarket:
    where = f"{context}: context of {asset.name} (#{asset.index})"
    if not isinstance(ctx, dict):
        raise ExchangeError(f"{where}: expected an object, got {ctx!r}")
    volume = _ctx_decimal(ctx, "dayNtlVlm", where=where, required=True)
    assert volume is not None  # required=True raised otherwise
    return PerpMarket(
        asset=asset,
        day_ntl_vlm=volume,
        mark_px=_ctx_decimal(ctx, "markPx", where=where),
        mid_px=_ctx_decimal(ctx, "midPx", where=where),
        oracle_px=_ctx_decimal(ctx, "oraclePx", where=where),
        prev_day_px=_ctx_decimal(ctx, "prevDayPx", where=where),
        funding=_ctx_decimal(ctx, "funding", where=where),
        open_interest=_ctx_decimal(ctx, "openInterest", where=where),
        premium=_ctx_decimal(ctx, "premium", where=where),
        day_base_vlm=_ctx_decimal(ctx, "dayBaseVlm", where=where),
    )
