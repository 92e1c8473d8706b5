"""Incremental candle refresh: ask Hyperliquid only for the bars the store lacks.

The store is the source of truth (the exchange keeps only the most recent 5000 bars per coin and
interval), so a refresh fetches the *tail* after the newest stored bar:

* fetch from ``max(start, latest stored bar)``. The latest stored bar is fetched again on purpose: it
  may have been written while still forming (the live WebSocket recorder stores forming bars), and
  the upsert heals it for the price of one extra candle in a request that is made anyway;
* no request at all when the bar after the latest stored one has not closed yet (or lies past
  ``end``);
* the report says plainly when the fetch starts before the oldest bar the exchange still serves
  (``truncated``, with that time), because those bars can only come from the store or from files.

Holes *before* the latest stored bar are not back-filled here (``data status`` shows gaps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import polars as pl
from loguru import logger

from algo_trade_core import AlgoTradeError, datetime_to_ms, floor_to_interval, interval_to_ms, ms_to_datetime
from algo_trade_data._candles import EXCHANGE
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._ratelimit import CANDLE_HISTORY_LIMIT

__all__ = ["CandleStore", "RefreshReport", "RefreshSummary", "refresh_candles", "refresh_many"]


class CandleStore(Protocol):
    """What a refresh needs from the candle store (``DatabaseClient`` implements it)."""

    async def latest_candle_time(
        self, symbol: str, interval: str, exchange: str = "hyperliquid"
    ) -> datetime | None:
        """Return the open time of the newest stored bar, or None when there is none."""
        ...

    async def upsert_candles(self, frame: pl.DataFrame) -> int:
        """Insert or update the bars of ``frame`` (candle frame columns); return the rows written."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class RefreshReport:
    """What one (symbol, interval) refresh did.

    ``fetch_start`` is None when nothing had to be fetched. ``fetched`` counts closed bars received,
    ``new_bars`` those newer than ``latest_before``, ``stored`` what the store reported writing.
    ``truncated`` means the fetch started before ``earliest_available``, the oldest bar the
    exchange still serves; the bars before it are not available from the API.
    """

    symbol: str
    interval: str
    requested_start: datetime
    requested_end: datetime
    latest_before: datetime | None
    fetch_start: datetime | None
    fetched: int
    new_bars: int
    stored: int
    first_bar: datetime | None
    last_bar: datetime | None
    truncated: bool
    earliest_available: datetime
    message: str
    exchange: str = EXCHANGE


@dataclass(frozen=True, kw_only=True, slots=True)
class RefreshSummary:
    """The outcome of :func:`refresh_many`: a report per refreshed symbol, a message per failure."""

    reports: dict[str, RefreshReport] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def truncated(self) -> list[str]:
        """Symbols whose requested window reached further back than the exchange keeps."""
        return [symbol for symbol, report in self.reports.items() if report.truncated]


def _iso(ms: int) -> str:
    return ms_to_datetime(ms).strftime("%Y-%m-%d %H:%M UTC")


async def refresh_candles(
    client: HyperliquidClient,
    store: CandleStore,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime | None = None,
    now: datetime | None = None,
) -> RefreshReport:
    """Fetch the bars of ``symbol``/``interval`` in ``[start, end]`` that the store lacks; upsert them.

    Args:
        client: an open Hyperliquid client.
        store: the candle store.
        symbol: the Hyperliquid coin name (``kPEPE``, not ``PEPE``).
        interval: one of Hyperliquid's 14 intervals.
        start: oldest bar wanted (timezone-aware).
        end: newest bar wanted (default and upper limit: now).
        now: the current time (default: the client's clock); bars not closed by then are skipped.

    Raises:
        ValueError: unknown interval or a naive datetime.
        ExchangeError, DataError: from the client (see :meth:`HyperliquidClient.fetch_candles`).
    """
    step = interval_to_ms(interval)
    now_ms = datetime_to_ms(now) if now is not None else client.now_ms()
    end_ms = now_ms if end is None else min(datetime_to_ms(end), now_ms)
    start_ms = max(0, floor_to_interval(datetime_to_ms(start), interval))
    earliest_ms = max(0, floor_to_interval(now_ms, interval) - (CANDLE_HISTORY_LIMIT - 1) * step)
    latest = await store.latest_candle_time(symbol, interval, EXCHANGE)
    latest_ms = datetime_to_ms(latest) if latest is not None else None

    def report(
        fetch_start: int | None, frame: pl.DataFrame | None, stored: int, message: str
    ) -> RefreshReport:
        fetched = 0 if frame is None else frame.height
        first_bar: datetime | None = frame["timestamp"][0] if frame is not None and fetched else None
        last_bar: datetime | None = frame["timestamp"][-1] if frame is not None and fetched else None
        new = 0
        if frame is not None and fetched:
            new = fetched if latest is None else int((frame["timestamp"] > latest).sum())
        if first_bar is not None and last_bar is not None:
            message += (
                f"{symbol} {interval}: fetched {fetched} bars ({_iso(datetime_to_ms(first_bar))} .. "
                f"{_iso(datetime_to_ms(last_bar))}), {new} new, {stored} stored"
            )
        truncated = fetch_start is not None and fetch_start < earliest_ms
        if truncated:
            message += (
                f"; the window starts {_iso(fetch_start or 0)} but Hyperliquid keeps only the most recent "
                f"{CANDLE_HISTORY_LIMIT} {interval} bars, so nothing before {_iso(earliest_ms)} can be "
                "fetched (older history must come from the store or `data import`)"
            )
        return RefreshReport(
            symbol=symbol,
            interval=interval,
            requested_start=ms_to_datetime(start_ms),
            requested_end=ms_to_datetime(end_ms),
            latest_before=latest,
            fetch_start=None if fetch_start is None else ms_to_datetime(fetch_start),
            fetched=fetched,
            new_bars=new,
            stored=stored,
            first_bar=first_bar,
            last_bar=last_bar,
            truncated=truncated,
            earliest_available=ms_to_datetime(earliest_ms),
            message=message,
        )

    fetch_start = start_ms if latest_ms is None or latest_ms < start_ms else latest_ms
    first_new = fetch_start if latest_ms is None or latest_ms < start_ms else latest_ms + step
    if first_new > end_ms or first_new + step > now_ms:  # the first missing bar has not closed yet
        if first_new > end_ms:
            why = f"nothing to fetch: no bar missing up to {_iso(end_ms)}"
        elif latest_ms is None or latest_ms < start_ms:
            why = f"nothing to fetch yet: the window's first bar ({_iso(fetch_start)}) has not closed"
        else:
            why = f"up to date: latest stored bar {_iso(latest_ms)}, the next one has not closed"
        return report(None, None, 0, f"{symbol} {interval}: {why}")

    frame = await client.candle_snapshot(symbol, interval, fetch_start, end_ms, now_ms=now_ms)
    if frame.height == 0:
        return report(
            fetch_start,
            None,
            0,
            f"{symbol} {interval}: the exchange returned no closed bars for "
            f"{_iso(fetch_start)} .. {_iso(end_ms)} (unlisted or delisted coin, or no history yet)",
        )
    stored = await store.upsert_candles(frame)
    return report(fetch_start, frame, stored, "")


async def refresh_many(
    client: HyperliquidClient,
    store: CandleStore,
    symbols: Iterable[str],
    interval: str,
    start: datetime,
    end: datetime | None = None,
    now: datetime | None = None,
    *,
    concurrency: int | None = None,
) -> RefreshSummary:
    """Refresh several symbols, at most ``concurrency`` at a time (default: the client's cap).

    A symbol that fails is recorded in ``failures`` (with the error's message) and the others go on.
    Every symbol uses the same ``now``, so one run has one notion of "closed".
    """
    symbols = list(dict.fromkeys(symbols))
    limit = concurrency if concurrency is not None else client.config.max_concurrency
    if limit < 1:
        raise ValueError(f"expected concurrency >= 1, got {limit}")
    now = now if now is not None else ms_to_datetime(client.now_ms())
    semaphore = asyncio.Semaphore(limit)
    reports: dict[str, RefreshReport] = {}
    failures: dict[str, str] = {}

    async def one(symbol: str) -> None:
        async with semaphore:
            try:
                reports[symbol] = await refresh_candles(client, store, symbol, interval, start, end, now)
            except AlgoTradeError as exc:
                logger.warning("refresh {} {} failed: {}", symbol, interval, exc)
                failures[symbol] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug for one symbol must not stop the others; logged in full
                logger.exception("refresh {} {} failed unexpectedly", symbol, interval)
                failures[symbol] = f"{type(exc).__name__}: {exc}"

    await asyncio.gather(*(one(s) for s in symbols))
    order = {s: i for i, s in enumerate(symbols)}
    return RefreshSummary(
        reports=dict(sorted(reports.items(), key=lambda kv: order[kv[0]])),
        failures=dict(sorted(failures.items(), key=lambda kv: order[kv[0]])),
    )
