"""Repair the stored history: fill every hole the exchange can still fill, name the ones it cannot.

The exchange serves only its most recent 5000 bars per coin and interval (1m: 3.5 days). A hole in
the store (a daemon down over a weekend, a kill, a failed backfill) must be filled while it is inside
that window, or it is gone for good. :func:`repair_candles` refreshes each stored series over
``[min(first stored bar, earliest available bar), now]``: the holes inside the exchange's window and
the tail are fetched (one request per series for the holes), and the holes older than the window are
reported as unrecoverable. It is what ``algo-trade data repair`` runs; :class:`BackgroundRepair`
runs it at daemon start without delaying the start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from loguru import logger

from algo_trade_core import INTERVALS, datetime_to_ms, ms_to_datetime
from algo_trade_data._candles import EXCHANGE
from algo_trade_data._db_coverage import CandleGap, CandleStatus
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._ratelimit import earliest_available_ms
from algo_trade_data._refresh import CandleStore, RefreshSummary, refresh_many

__all__ = ["BackgroundRepair", "RepairStore", "RepairSummary", "repair_candles", "stored_series"]

Series = tuple[str, str]  # (symbol, interval)


class RepairStore(CandleStore, Protocol):
    """The candle store plus what a repair needs to know about the stored series and bots."""

    async def candle_status(
        self,
        symbol: str | None = None,
        interval: str | None = None,
        exchange: str | None = None,
        *,
        now: datetime | None = None,
    ) -> list[CandleStatus]: ...

    async def list_bots(self) -> Any: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class RepairSummary:
    """What a repair did, per interval (each a :class:`~algo_trade_data.RefreshSummary`)."""

    by_interval: dict[str, RefreshSummary] = field(default_factory=dict)

    @property
    def unreachable(self) -> str | None:
        return next((s.unreachable for s in self.by_interval.values() if s.unreachable), None)

    @property
    def repaired(self) -> int:
        """Bars filled into holes."""
        return sum(s.repaired for s in self.by_interval.values())

    @property
    def fetched(self) -> int:
        """Bars fetched after the latest stored one (the tail)."""
        return sum(r.fetched for s in self.by_interval.values() for r in s.reports.values())

    @property
    def unrecoverable(self) -> dict[Series, tuple[CandleGap, ...]]:
        """Per (symbol, interval), the holes older than the exchange's window."""
        return {
            (symbol, interval): gaps
            for interval, s in self.by_interval.items()
            for symbol, gaps in s.unrecoverable.items()
        }

    @property
    def failures(self) -> dict[Series, str]:
        return {
            (symbol, interval): reason
            for interval, s in self.by_interval.items()
            for symbol, reason in s.failures.items()
        }


async def stored_series(
    store: RepairStore, symbols: Iterable[str] | None = None, intervals: Iterable[str] | None = None
) -> dict[Series, datetime | None]:
    """Return the stored Hyperliquid series (filtered) with their first bar.

    A symbol asked for by name with an interval asked for by name is included even when nothing of
    it is stored yet (its first bar is then None): repairing it fetches what the exchange has.
    """
    wanted_symbols = None if symbols is None else list(dict.fromkeys(symbols))
    wanted_intervals = None if intervals is None else list(dict.fromkeys(intervals))
    out: dict[Series, datetime | None] = {}
    for status in await store.candle_status(exchange=EXCHANGE):
        if wanted_symbols is not None and status.symbol not in wanted_symbols:
            continue
        if wanted_intervals is not None and status.interval not in wanted_intervals:
            continue
        out[(status.symbol, status.interval)] = status.first
    if wanted_symbols is not None and wanted_intervals is not None:
        for symbol in wanted_symbols:
            for interval in wanted_intervals:
                out.setdefault((symbol, interval), None)
    return out


async def repair_candles(
    client: HyperliquidClient,
    store: CandleStore,
    series: Mapping[Series, datetime | None] | Iterable[Series],
    *,
    now: datetime | None = None,
    concurrency: int | None = None,
    on_done: Callable[[str, str], None] | None = None,
) -> RepairSummary:
    """Repair each (symbol, interval) series: its holes, its tail, and the exchange's older bars.

    Args:
        client: an open Hyperliquid client (the exchange is probed once, first).
        store: the candle store.
        series: the series to repair; as a mapping, each with its first stored bar (the holes
            between it and the exchange's window are reported as unrecoverable), else the repair
            looks at the exchange's window only.
        now: the current time (default: the client's clock).
        concurrency: symbols refreshed at once (default: the client's cap).
        on_done: called with (symbol, interval) when a series is done (progress bars).
    """
    now = now if now is not None else ms_to_datetime(client.now_ms())
    first_bars: Mapping[Series, datetime | None] = (
        series if isinstance(series, Mapping) else dict.fromkeys(series)
    )
    by_interval: dict[str, dict[str, datetime | None]] = {}
    for (symbol, interval), first in first_bars.items():
        if interval not in INTERVALS:
            raise ValueError(
                f"{symbol}: unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}"
            )
        by_interval.setdefault(interval, {})[symbol] = first
    summaries: dict[str, RefreshSummary] = {}
    probe = True
    for interval, symbols in sorted(by_interval.items(), key=lambda kv: INTERVALS[kv[0]]):
        earliest = earliest_available_ms(interval, datetime_to_ms(now))
        starts = {
            symbol: ms_to_datetime(earliest if first is None else min(datetime_to_ms(first), earliest))
            for symbol, first in symbols.items()
        }
        done = None if on_done is None else (lambda symbol, iv=interval: on_done(symbol, iv))
        summary = await refresh_many(
            client,
            store,
            list(symbols),
            interval,
            starts,
            None,
            now,
            concurrency=concurrency,
            probe=probe,
            on_done=done,
        )
        summaries[interval] = summary
        probe = False  # one probe per repair
        if summary.unreachable is not None:
            for rest in (iv for iv in by_interval if iv not in summaries):
                summaries[rest] = RefreshSummary(unreachable=summary.unreachable)
            break
    return RepairSummary(by_interval=summaries)


class BackgroundRepair:
    """Repair a daemon's series in the background, so starting it never waits for the exchange.

    The series are the given symbols at ``interval`` plus those of the stored bots that are not
    stopped. Use as an async context manager (``AsyncExitStack.enter_async_context``): leaving it
    cancels a repair still running. :attr:`summary` holds the result once :meth:`wait` returns.
    """

    def __init__(
        self, client: HyperliquidClient, store: RepairStore, symbols: Iterable[str], interval: str
    ) -> None:
        self._client = client
        self._store = store
        self._symbols = list(symbols)
        self._interval = interval
        self._task: asyncio.Task[RepairSummary] | None = None
        self.summary: RepairSummary | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="candle repair")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait(self) -> RepairSummary | None:
        """Wait for the repair to end; return its summary (None when it failed)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        return self.summary

    async def _run(self) -> RepairSummary:
        try:
            series: dict[Series, datetime | None] = dict.fromkeys((s, self._interval) for s in self._symbols)
            for bot in await self._store.list_bots():
                if getattr(bot, "state", "stopped") != "stopped":
                    series[(bot.symbol, bot.interval)] = None
            summary = await repair_candles(self._client, self._store, series)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed repair must not take the daemon down; the next refresh repairs
            logger.exception("candle repair at start failed")
            raise
        self.summary = summary
        _log(summary)
        return summary


def _log(summary: RepairSummary) -> None:
    if summary.unreachable is not None:
        logger.warning("candle repair skipped: {}", summary.unreachable)
        return
    logger.info(
        "candle repair: {} bars filled into holes, {} new bars fetched", summary.repaired, summary.fetched
    )
    for (symbol, interval), gaps in summary.unrecoverable.items():
        logger.warning(
            "{} {}: {} bars in {} hole(s) are older than the exchange keeps; only a file can fill them",
            symbol,
            interval,
            sum(g.bars for g in gaps),
            len(gaps),
        )
    for (symbol, interval), reason in summary.failures.items():
        logger.warning("candle repair of {} {} failed: {}", symbol, interval, reason)
