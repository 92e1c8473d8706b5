"""The bars `algo-trade backtest` runs on: from a candle file or from the store, and why not when none.

A file says what it holds: a freqtrade name (``SOL_USDC_USDC-4h-futures.feather``) gives the symbol and
the interval, which ``--symbol``/``--interval`` may repeat but not contradict, and the bar spacing must
match the interval. From the store, a window with no bars is explained: the window that was tried,
what is stored for the symbol at each interval, and a ``--start/--end`` to paste; a misspelt symbol
(``btc``, ``BTCUSDT``) is mapped to the exchange's name or answered with "did you mean ...?". Without
an explicit window, a store whose history ends in the past backtests its latest window and says so.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from algo_trade_cli._format import fmt_time
from algo_trade_cli._inputs import InputError, match_symbol, timerange_text
from algo_trade_core import INTERVALS, AppConfig, DataError, interval_to_ms

if TYPE_CHECKING:
    import polars as pl

    from algo_trade_data import CandleStatus, DatabaseClient

__all__ = ["BacktestInput", "NoBars", "bar_spacing_ms", "from_file", "from_store"]


class NoBars(DataError):
    """The store has no bars for the request; the message says what it has instead."""


@dataclass(slots=True)
class BacktestInput:
    """The bars of one backtest and where they came from."""

    frame: pl.DataFrame
    symbol: str
    interval: str
    source: str
    start: datetime | None  # the window asked for (None: from the first bar / to the last one)
    end: datetime | None
    notes: list[str] = field(default_factory=list)


def bar_spacing_ms(times_ms: Sequence[int]) -> int | None:
    """The most common step between consecutive bars (gaps do not change it), or None for < 2 bars."""
    steps = Counter(b - a for a, b in itertools.pairwise(times_ms))
    return steps.most_common(1)[0][0] if steps else None


def _interval_of(ms: int) -> str | None:
    return next((name for name, step in INTERVALS.items() if step == ms), None)


def from_file(
    path: Path,
    symbol: str | None,
    interval: str | None,
    start: datetime | None,
    end: datetime | None,
) -> BacktestInput:
    """Read a candle file for a backtest, taking symbol and interval from a freqtrade file name.

    Raises:
        InputError: ``--symbol``/``--interval`` contradict the file, or the bars are spaced for another
            interval.
        DataError: the file cannot be read or holds invalid bars (the message names file and row).
    """
    import polars as pl

    from algo_trade_data import parse_freqtrade_name, read_candle_file

    name = parse_freqtrade_name(path.name)
    if name is not None:
        if symbol is not None and symbol.casefold() != name.symbol.casefold():
            raise InputError(
                f"--symbol {symbol} contradicts {path.name}, which holds {name.symbol} candles "
                f"(freqtrade names the pair first): drop --symbol or pass the {symbol} file"
            )
        if interval is not None and interval != name.interval:
            raise InputError(
                f"--interval {interval} contradicts {path.name}, which holds {name.interval} bars: "
                f"drop --interval or pass the {interval} file"
            )
        symbol, interval = name.symbol, name.interval
    frame = read_candle_file(path, symbol=symbol, interval=interval)
    if frame.height == 0:
        raise DataError(f"{path}: no bars")
    symbols = frame["symbol"].unique().to_list()
    if len(symbols) != 1:
        raise InputError(f"{path} holds {len(symbols)} symbols ({', '.join(sorted(symbols)[:5])}): pass one")
    intervals = frame["interval"].unique().to_list()
    if len(intervals) != 1:
        raise InputError(f"{path} holds bars of {len(intervals)} intervals: split the file")
    symbol, interval = str(symbols[0]), str(intervals[0])
    spacing = bar_spacing_ms(frame["timestamp"].dt.epoch("ms").to_list())
    if spacing is not None and spacing != interval_to_ms(interval):
        actual = _interval_of(spacing)
        found = actual or f"{spacing / 60_000:g} minutes"
        fix = f"pass --interval {actual}" if actual else "resample it to one of the exchange's intervals"
        raise InputError(f"{path}: the bars are {found} apart (the most common step), not {interval}: {fix}")
    if start is not None:
        frame = frame.filter(pl.col("timestamp") >= start)
    if end is not None:
        frame = frame.filter(pl.col("timestamp") < end)
    return BacktestInput(frame, symbol, interval, str(path), start, end)


def _describe(series: Sequence[CandleStatus]) -> str:
    return "; ".join(
        f"{s.interval}{'' if s.exchange == 'hyperliquid' else f' ({s.exchange})'} "
        f"{fmt_time(s.first)} → {fmt_time(s.last)} ({s.bars:,} bars)"
        for s in series
    )


def _span(start: datetime, end: datetime) -> str:
    return f"{fmt_time(start)} → {fmt_time(end)}"


def _paste(start: datetime, end: datetime) -> str:
    def iso(t: datetime) -> str:
        return (
            f"{t:%Y-%m-%d}"
            if t == t.replace(hour=0, minute=0, second=0, microsecond=0)
            else (f"{t:%Y-%m-%dT%H:%M}")
        )

    return f"--start {iso(start)} --end {iso(end)}  (or --timerange {timerange_text(start, end)})"


async def from_store(
    cfg: AppConfig,
    db: DatabaseClient,
    symbol: str,
    interval: str,
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime | None = None,
) -> BacktestInput:
    """Load a backtest window from the store, explaining an empty one.

    Without ``start``/``end`` the window is the last ``[scheduler] backtest_window_days`` of closed bars;
    when the stored history of the symbol ends before that window, the window ends at the latest stored
    bar instead (a note says so).

    Raises:
        InputError: the symbol is unknown (with "did you mean ...?").
        NoBars: nothing stored at this interval, or nothing in the window asked for (the message lists
            what is stored and a window to paste).
    """
    from algo_trade_backtest_scheduler import window_for

    exchange = cfg.scheduler.exchange
    days = cfg.scheduler.backtest_window_days
    step = timedelta(milliseconds=interval_to_ms(interval))
    explicit = start is not None or end is not None
    window_end = end or window_for(now or datetime.now(UTC), 0, interval).end
    window_start = start or window_end - timedelta(days=days)
    notes: list[str] = []

    frame = await db.query_candles(symbol, interval, window_start, window_end, exchange)
    if frame.height:
        return BacktestInput(frame, symbol, interval, "candle store", window_start, window_end, notes)
    series = await db.candle_status(symbol=symbol)
    if not series:
        known = set(await db.candle_symbols()) | set(cfg.scheduler.token_universe)
        match = match_symbol(symbol, known)
        if match.note:
            notes.append(match.note)
        symbol = match.symbol
        frame = await db.query_candles(symbol, interval, window_start, window_end, exchange)
        if frame.height:
            return BacktestInput(frame, symbol, interval, "candle store", window_start, window_end, notes)
        series = await db.candle_status(symbol=symbol)
    mine = [s for s in series if s.interval == interval and s.exchange == exchange]
    if not mine:
        if not series:
            raise NoBars(
                f"no candles stored for {symbol}: `algo-trade data import FILES` or "
                f"`algo-trade data fetch -s {symbol} -i {interval}`"
            )
        others = sorted({s.interval for s in series if s.exchange == exchange}, key=interval_to_ms)
        hint = f"pass --interval {' or '.join(others)}" if others else f"import {interval} history"
        raise NoBars(
            f"no {interval} candles stored for {symbol} ({exchange}); stored: {_describe(series)}. "
            f"{hint.capitalize()}, or `algo-trade data import` a {interval} file"
        )
    stored = mine[0]
    latest_end = stored.last + step
    if not explicit and stored.last < window_start:
        window_end, window_start = latest_end, latest_end - timedelta(days=days)
        notes.append(
            f"no {interval} bars of {symbol} in the last {days} days (the stored history ends "
            f"{fmt_time(stored.last)}): backtesting the latest stored window "
            f"{_span(window_start, window_end)} instead; pass --start/--end or --timerange to choose"
        )
        frame = await db.query_candles(symbol, interval, window_start, window_end, exchange)
        return BacktestInput(frame, symbol, interval, "candle store", window_start, window_end, notes)
    suggest_end = min(latest_end, window_end) if window_end > stored.first else latest_end
    suggest_start = max(stored.first, suggest_end - timedelta(days=days))
    raise NoBars(
        f"no {interval} candles for {symbol} in {_span(window_start, window_end)} "
        f"(start <= open time < end); stored for {symbol}: {_describe(series)}. "
        f"Try {_paste(suggest_start, suggest_end)}"
    )
