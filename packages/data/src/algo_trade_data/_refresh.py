"""Incremental candle refresh: ask Hyperliquid only for the bars the store lacks, holes included.

The store is the source of truth (the exchange keeps only the most recent 5000 bars per coin and
interval), so a refresh of ``[start, end]``:

* fetches the *tail* after the newest stored bar, from ``max(start, latest stored bar)``. The latest
  stored bar is fetched again on purpose: it may have been written while still forming (the live
  recorder stores forming bars), and the upsert heals it for the price of one extra candle in a
  request that is made anyway. No request at all when the bar after the latest stored one has not
  closed yet (or lies past ``end``);
* **repairs the holes** before the latest stored bar (bars missed while a daemon was down, a recorder
  buffer lost to a kill, a failed backfill): the store's gap finder
  (:meth:`~algo_trade_data.DatabaseClient.candle_gaps`) lists them, and the parts the exchange still
  serves come in ONE more request (all of them lie within its last 5000 bars, one page);
* reports plainly what can no longer be had: holes older than the exchange's window
  (``unrecoverable``) and a fetch that starts before the oldest bar it serves (``truncated``). Those
  bars can only come from files (``data import``).

:func:`refresh_many` does this for many symbols after ONE probe of the exchange: names that are not
Hyperliquid perps fail at once, and an unreachable exchange (offline, DNS, refused) is reported once
(``unreachable``) instead of being asked again per token and per page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import polars as pl
from loguru import logger

from algo_trade_core import (
    AlgoTradeError,
    ExchangeError,
    ExchangeUnavailable,
    ExchangeUnreachable,
    datetime_to_ms,
    floor_to_interval,
    interval_to_ms,
    ms_to_datetime,
)
from algo_trade_data._candles import EXCHANGE
from algo_trade_data._db_coverage import CandleGap, summarize_gaps
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._ratelimit import CANDLE_HISTORY_LIMIT, earliest_available_ms
from algo_trade_data._symbols import symbol_problem
from algo_trade_data._universe import PerpAsset, symbol_problems

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

    async def candle_gaps(
        self,
        symbols: str | Iterable[str] | None = None,
        interval: str | None = None,
        exchange: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        edges: bool = False,
    ) -> list[CandleGap]:
        """Return the runs of missing bars (see ``DatabaseClient.candle_gaps``)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class RefreshReport:
    """What one (symbol, interval) refresh did.

    ``fetch_start`` is None when no tail had to be fetched. ``fetched`` counts closed bars received
    for the tail, ``new_bars`` those newer than ``latest_before``, ``stored`` what the store reported
    writing (tail and holes). ``truncated`` means the tail fetch started before
    ``earliest_available``, the oldest bar the exchange still serves.

    Holes: ``holes`` lists the missing runs found inside the exchange's window before the refresh,
    ``repaired`` counts the bars that filled them, ``unfilled`` the bars the exchange had none for
    either. ``unrecoverable`` lists the holes of the window older than the exchange keeps.
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
    holes: tuple[CandleGap, ...] = ()
    repaired: int = 0
    unfilled: int = 0
    unrecoverable: tuple[CandleGap, ...] = ()
    repair_error: str | None = None

    @property
    def unrecoverable_bars(self) -> int:
        return sum(g.bars for g in self.unrecoverable)

    @property
    def needs_attention(self) -> bool:
        """Whether the report says something a user should read (history that cannot be had)."""
        return self.truncated or bool(self.unrecoverable) or self.repair_error is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class RefreshSummary:
    """The outcome of :func:`refresh_many`: a report per refreshed symbol, a message per failure.

    ``unreachable`` says why nothing was asked at all (the exchange did not answer the probe, or
    stopped answering: DNS failure, connection refused, timeouts); the symbols then have neither a
    report nor a failure, and the store's candles are all there is.
    """

    reports: dict[str, RefreshReport] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    unreachable: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.unreachable is None

    @property
    def truncated(self) -> list[str]:
        """Symbols whose requested window reached further back than the exchange keeps."""
        return [symbol for symbol, report in self.reports.items() if report.truncated]

    @property
    def repaired(self) -> int:
        """Bars filled into holes, over every symbol."""
        return sum(r.repaired for r in self.reports.values())

    @property
    def unrecoverable(self) -> dict[str, tuple[CandleGap, ...]]:
        """Per symbol, the holes older than the exchange's window."""
        return {s: r.unrecoverable for s, r in self.reports.items() if r.unrecoverable}


def _iso(ms: int) -> str:
    return ms_to_datetime(ms).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(slots=True)
class _Holes:
    found: list[CandleGap] = field(default_factory=list)  # repairable (inside the exchange's window)
    lost: list[CandleGap] = field(default_factory=list)  # older than the exchange keeps
    repaired: int = 0
    unfilled: int = 0
    stored: int = 0
    error: str | None = None

    def message(self, symbol: str, interval: str) -> list[str]:
        parts = []
        if self.found:
            parts.append(
                f"repaired {self.repaired} of {sum(g.bars for g in self.found)} missing bars in "
                f"{len(self.found)} hole(s)"
                + (f" ({self.unfilled} not on the exchange either)" if self.unfilled else "")
            )
        if self.error is not None:
            parts.append(f"holes not repaired: {self.error}")
        if self.lost:
            parts.append(
                f"{summarize_gaps(self.lost)} of {symbol} {interval} are older than the exchange keeps "
                "and cannot be repaired (only `data import` of a file that has them can)"
            )
        return parts


async def _repair_holes(
    client: HyperliquidClient,
    store: CandleStore,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    earliest_ms: int,
    now_ms: int,
) -> _Holes:
    """Find the holes of ``[start_ms, end_ms]`` and fill those the exchange still has (one request)."""
    holes = _Holes()
    edges = interval != "1M"  # calendar months: interior gaps only
    gaps = await store.candle_gaps(
        symbol, interval, EXCHANGE, start=ms_to_datetime(start_ms), end=ms_to_datetime(end_ms), edges=edges
    )
    for gap in gaps:
        old, new = gap.split(earliest_ms)
        if old is not None:
            holes.lost.append(old)
        if new is not None:
            holes.found.append(new)
    if not holes.found:
        return holes
    first = datetime_to_ms(holes.found[0].start)
    last = datetime_to_ms(holes.found[-1].end)
    try:
        frame = await client.candle_snapshot(symbol, interval, first, last, now_ms=now_ms)
    except (ExchangeUnreachable, ExchangeUnavailable):
        raise  # the exchange is gone: the caller stops asking
    except ExchangeError as exc:
        holes.error = f"{type(exc).__name__}: {exc}"
        holes.unfilled = sum(g.bars for g in holes.found)
        return holes
    inside = pl.any_horizontal([pl.col("timestamp").is_between(g.start, g.end) for g in holes.found])
    frame = frame.filter(inside)  # bars between the holes are stored already
    if frame.height:
        holes.stored = await store.upsert_candles(frame)
    holes.repaired = frame.height
    holes.unfilled = sum(g.bars for g in holes.found) - frame.height
    return holes


async def refresh_candles(
    client: HyperliquidClient,
    store: CandleStore,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime | None = None,
    now: datetime | None = None,
    *,
    tail: bool = True,
    repair: bool = True,
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
        tail: fetch the bars after the latest stored one.
        repair: fill the holes before it (see the module docstring).

    Raises:
        ValueError: unknown interval or a naive datetime.
        ExchangeError, DataError: from the client (see :meth:`HyperliquidClient.fetch_candles`).
    """
    step = interval_to_ms(interval)
    now_ms = datetime_to_ms(now) if now is not None else client.now_ms()
    end_ms = now_ms if end is None else min(datetime_to_ms(end), now_ms)
    start_ms = max(0, floor_to_interval(datetime_to_ms(start), interval))
    earliest_ms = earliest_available_ms(interval, now_ms)
    latest = await store.latest_candle_time(symbol, interval, EXCHANGE)
    latest_ms = datetime_to_ms(latest) if latest is not None else None

    holes = _Holes()
    if repair and latest_ms is not None and latest_ms >= start_ms:
        holes = await _repair_holes(
            client, store, symbol, interval, start_ms, min(latest_ms, end_ms), earliest_ms, now_ms
        )

    def report(
        fetch_start: int | None, frame: pl.DataFrame | None, stored: int, message: str
    ) -> RefreshReport:
        fetched = 0 if frame is None else frame.height
        first_bar: datetime | None = frame["timestamp"][0] if frame is not None and fetched else None
        last_bar: datetime | None = frame["timestamp"][-1] if frame is not None and fetched else None
        new = 0
        parts = [message] if message else []
        if frame is not None and fetched:
            new = fetched if latest is None else int((frame["timestamp"] > latest).sum())
        if first_bar is not None and last_bar is not None:
            parts.append(
                f"{symbol} {interval}: fetched {fetched} bars ({_iso(datetime_to_ms(first_bar))} .. "
                f"{_iso(datetime_to_ms(last_bar))}), {new} new, {stored} stored"
            )
        truncated = fetch_start is not None and fetch_start < earliest_ms
        if truncated:
            parts.append(
                f"the window starts {_iso(fetch_start or 0)} but Hyperliquid keeps only the most recent "
                f"{CANDLE_HISTORY_LIMIT} {interval} bars, so nothing before {_iso(earliest_ms)} can be "
                "fetched (older history must come from the store or `data import`)"
            )
        parts += holes.message(symbol, interval)
        return RefreshReport(
            symbol=symbol,
            interval=interval,
            requested_start=ms_to_datetime(start_ms),
            requested_end=ms_to_datetime(end_ms),
            latest_before=latest,
            fetch_start=None if fetch_start is None else ms_to_datetime(fetch_start),
            fetched=fetched,
            new_bars=new,
            stored=stored + holes.stored,
            first_bar=first_bar,
            last_bar=last_bar,
            truncated=truncated,
            earliest_available=ms_to_datetime(earliest_ms),
            message="; ".join(parts),
            holes=tuple(holes.found),
            repaired=holes.repaired,
            unfilled=holes.unfilled,
            unrecoverable=tuple(holes.lost),
            repair_error=holes.error,
        )

    fetch_start = start_ms if latest_ms is None or latest_ms < start_ms else latest_ms
    first_new = fetch_start if latest_ms is None or latest_ms < start_ms else latest_ms + step
    if not tail:
        return report(None, None, 0, f"{symbol} {interval}: tail not asked for")
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


async def _probe(client: HyperliquidClient, symbols: Sequence[str], failures: dict[str, str]) -> str | None:
    """Ask the exchange once; record the names it does not list; return why it cannot be reached."""
    try:
        universe: list[PerpAsset] | None = await client.probe()
    except ExchangeUnavailable as exc:  # unreachable, timed out, 5xx: nothing to ask it for now
        return str(exc)
    except ExchangeError as exc:  # a 429 or an odd answer: it is there; let the requests find out
        logger.debug("probe of {} inconclusive: {}", client.api_url, exc)
        universe = None
    if universe is not None:
        for symbol, problem in symbol_problems(symbols, universe).items():
            failures[symbol] = f"UnknownSymbol: {problem}"
    return None


async def refresh_many(
    client: HyperliquidClient,
    store: CandleStore,
    symbols: Iterable[str],
    interval: str,
    start: datetime | Mapping[str, datetime],
    end: datetime | None = None,
    now: datetime | None = None,
    *,
    concurrency: int | None = None,
    probe: bool = True,
    on_done: Callable[[str], None] | None = None,
) -> RefreshSummary:
    """Refresh several symbols, at most ``concurrency`` at a time (default: the client's cap).

    First the names are checked (the exchange's naming) and, with ``probe``, the exchange is asked
    once whether it answers and which perps it lists: unknown or delisted names fail with a message
    naming them and the current name when there is one, and an unreachable exchange ends the refresh
    at once (``RefreshSummary.unreachable``). A symbol that fails is recorded in ``failures`` (with the
    error's message) and the others go on. Every symbol uses the same ``now``, so one run has one
    notion of "closed". ``start`` may differ per symbol (a mapping). ``on_done(symbol)`` is called once
    per symbol, whatever happened to it (progress bars).
    """
    symbols = list(dict.fromkeys(symbols))
    limit = concurrency if concurrency is not None else client.config.max_concurrency
    if limit < 1:
        raise ValueError(f"expected concurrency >= 1, got {limit}")
    now = now if now is not None else ms_to_datetime(client.now_ms())
    done = on_done or (lambda symbol: None)
    reports: dict[str, RefreshReport] = {}
    failures: dict[str, str] = {}
    for symbol in symbols:
        problem = symbol_problem(symbol)
        if problem is not None:
            failures[symbol] = f"DataError: {problem}"
    unreachable = await _probe(client, [s for s in symbols if s not in failures], failures) if probe else None
    semaphore = asyncio.Semaphore(limit)

    async def one(symbol: str) -> None:
        nonlocal unreachable
        async with semaphore:
            if unreachable is not None or symbol in failures:
                return
            begin = start[symbol] if isinstance(start, Mapping) else start
            try:
                reports[symbol] = await refresh_candles(client, store, symbol, interval, begin, end, now)
            except ExchangeUnreachable as exc:  # no point asking for the others
                unreachable = str(exc)
            except AlgoTradeError as exc:
                logger.warning("refresh {} {} failed: {}", symbol, interval, exc)
                failures[symbol] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug for one symbol must not stop the others; logged in full
                logger.exception("refresh {} {} failed unexpectedly", symbol, interval)
                failures[symbol] = f"{type(exc).__name__}: {exc}"

    async def tracked(symbol: str) -> None:
        try:
            await one(symbol)
        finally:
            done(symbol)

    await asyncio.gather(*(tracked(s) for s in symbols))
    order = {s: i for i, s in enumerate(symbols)}
    return RefreshSummary(
        reports=dict(sorted(reports.items(), key=lambda kv: order[kv[0]])),
        failures=dict(sorted(failures.items(), key=lambda kv: order[kv[0]])),
        unreachable=unreachable,
    )
