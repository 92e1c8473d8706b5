"""The token page and the candle charts: a token's latest backtest re-run with its trades, a bot's fills.

The store keeps a backtest's metrics, not its trades. The token chart therefore re-runs the backtest of
the token's latest stored result: the same window, the same stored candles, the same strategy parameters
and the execution settings its sweep recorded, with the engine the sweep used. The payload says so and
whether the re-run reproduced the stored metrics (candles stored later inside the window would change
them). Re-runs are cached per stored result: a result never changes once stored.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from algo_trade_backtest import (
    BacktestResult,
    drawdown_curve,
    params_from_mapping,
    run_backtest_frame,
    sma,
    strategy_averages,
    trade_return,
)
from algo_trade_bot_orchestrator import read_saved, strategy_warmup_bars
from algo_trade_core import INTERVALS, BacktestConfig, interval_to_ms
from algo_trade_dashboard._charts import Marker, candle_columns, equity_from_fills, line, markers_json
from algo_trade_dashboard._context import BadRequest, Context, NotFound
from algo_trade_dashboard._shapes import bots_json, result_json
from algo_trade_dashboard._views import EXTRA_TOKEN_FIELDS
from algo_trade_data import BacktestResultRecord

__all__ = ["ChartCache", "bot_chart_view", "candles_view", "token_chart_view", "token_view"]

MAX_RANGE_DAYS = 400  # a candle request longer than this is refused: read a year at most at once
BOT_CHART_DAYS = 30  # a bot's chart shows its last 30 days unless asked for more


class ChartCache:
    """The newest ``size`` token charts, keyed by the stored result they re-run."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._size = size

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple[Any, ...], value: dict[str, Any]) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


async def _known(ctx: Context, symbol: str) -> None:
    presence = await ctx.db.symbol_presence(symbol)
    if not presence.known:
        raise NotFound(
            f"no token {symbol!r}: no backtest result, candle or bot is stored for it "
            "(names are exact: kPEPE, not PEPE)"
        )


async def _latest(ctx: Context, symbol: str) -> BacktestResultRecord | None:
    scope = await ctx.rule.scope(ctx.db, (symbol,))
    found = await ctx.db.query_latest_backtest_results(
        scope.strategy, scope.params_hash, interval=scope.interval, symbols=[symbol], until=ctx.now
    )
    return found.get(symbol)


async def token_view(ctx: Context, symbol: str, history_limit: int = 400) -> dict[str, Any]:
    """The token's latest result, how the selection sees it, its metrics across sweeps, its bots."""
    await _known(ctx, symbol)
    scope = await ctx.rule.scope(ctx.db, (symbol,))
    selection, latest, history, bots = await asyncio.gather(
        ctx.selection(),
        _latest(ctx, symbol),
        ctx.db.metric_history(
            symbol,
            scope.strategy,
            params_hash=scope.params_hash,
            interval=scope.interval,
            limit=history_limit,
        ),
        ctx.db.list_bots(symbol=symbol),
    )
    explanation = next((t.to_json() for t in selection.tokens if t.symbol == symbol), None)
    in_universe = (
        selection.scope is None or selection.scope.symbols is None or symbol in selection.scope.symbols
    )
    return {
        "symbol": symbol,
        "as_of": ctx.now.isoformat(),
        "scope": scope.to_json(),
        "scope_text": scope.describe(),
        "in_universe": in_universe,
        "latest": None if latest is None else result_json(latest),
        "selection": explanation,
        "extra_fields": [f for f in EXTRA_TOKEN_FIELDS if explanation and f in explanation],
        "history": [_history_row(r) for r in history],
        "bots": await bots_json(ctx.db, bots),
    }


def _history_row(r: BacktestResultRecord) -> dict[str, Any]:
    return {
        "window_end": r.backtest_window_end.isoformat(),
        "stored_at": r.timestamp.isoformat(),
        "run_id": r.run_id,
        "sharpe_ratio": r.sharpe_ratio,
        "total_return": float(r.total_return),
        "max_drawdown": float(r.max_drawdown),
        "win_rate": r.win_rate,
        "num_trades": r.num_trades,
        "window_coverage": r.window_coverage,
    }


async def _execution(ctx: Context, record: BacktestResultRecord) -> tuple[BacktestConfig, str]:
    """The execution settings the result's sweep recorded, else the configured ones (and which)."""
    run = await ctx.db.get_run(record.run_id) if record.run_id else None
    recorded = run.config.get("execution") if run is not None and isinstance(run.config, dict) else None
    if isinstance(recorded, dict):
        known = {f.name for f in fields(BacktestConfig)}
        try:
            return BacktestConfig(**{k: v for k, v in recorded.items() if k in known}), "its sweep's"
        except (TypeError, ValueError):
            pass
    return ctx.config.backtest, "the configured [backtest] (its sweep recorded none)"


def _result_key(r: BacktestResultRecord) -> tuple[Any, ...]:
    return (r.symbol, r.strategy_name, r.params_hash, r.interval, r.exchange, r.timestamp, r.final_capital)


async def token_chart_view(ctx: Context, symbol: str, cache: ChartCache) -> dict[str, Any]:
    """Candles with the strategy's averages and the trades of the latest backtest, equity, drawdown."""
    await _known(ctx, symbol)
    record = await _latest(ctx, symbol)
    if record is None:
        scope = await ctx.rule.scope(ctx.db, (symbol,))
        return {"symbol": symbol, "available": False, "reason": f"no stored result in {scope.describe()}"}
    key = _result_key(record)
    cached = cache.get(key)
    if cached is not None:
        return cached
    execution, source = await _execution(ctx, record)
    frame = await ctx.db.query_candles(
        symbol, record.interval, record.backtest_window_start, record.backtest_window_end, record.exchange
    )
    if frame.height == 0:
        return {
            "symbol": symbol,
            "available": False,
            "reason": f"the {record.interval} candles of its window are no longer stored",
        }
    params = params_from_mapping(record.strategy_name, dict(record.parameters or {}))
    result = await asyncio.to_thread(
        run_backtest_frame,
        frame,
        strategy=record.strategy_name,  # type: ignore[arg-type]
        params=params,
        execution=execution,
        interval=record.interval,
        window_coverage=record.window_coverage,
    )
    payload = await asyncio.to_thread(_token_chart, record, frame, result, source)
    cache.put(key, payload)
    return payload


def _matches(record: BacktestResultRecord, result: BacktestResult) -> bool:
    m = result.metrics
    return (
        m.num_trades == record.num_trades
        and math.isclose(float(m.total_return), float(record.total_return), abs_tol=1e-6)
        and math.isclose(float(m.max_drawdown), float(record.max_drawdown), abs_tol=1e-6)
    )


def _token_chart(
    record: BacktestResultRecord, frame: pl.DataFrame, result: BacktestResult, source: str
) -> dict[str, Any]:
    times = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
    close = frame["close"].cast(pl.Float64).to_numpy()
    step = interval_to_ms(record.interval)
    candles = candle_columns(frame)
    reductions: dict[str, Any] = {
        "candles": None if candles.reduction is None else candles.reduction.to_json()
    }
    averages = []
    drawn_at = (candles.times_ms // 1000).tolist()
    for name, period in strategy_averages(result.params):
        # One point per drawn candle: the average at the close of the candle's last bar.
        values = sma(close, period)[candles.last]
        averages.append(
            {
                "name": f"SMA {period} ({name})",
                "t": drawn_at,
                "v": [None if v != v else round(v, 10) for v in values.tolist()],
            }
        )
    close_times = times + step
    equity, eq_red = line(close_times, result.equity, name="equity")
    capital = float(result.execution.initial_capital)
    buy_hold, _ = line(close_times, capital * close / float(frame["open"][0]), name="buy & hold")
    dd, dd_red = line(close_times, drawdown_curve(result.equity), name="drawdown")
    reductions["equity"] = None if eq_red is None else eq_red.to_json()
    reductions["drawdown"] = None if dd_red is None else dd_red.to_json()
    markers = []
    for t in result.trades:
        outcome = "win" if t.pnl > 0 else "loss"
        ret = trade_return(t)
        markers.append(Marker(_ms(t.entry_time), t.entry_price, t.side, "entry", outcome, f"{t.side} in"))
        markers.append(
            Marker(
                _ms(t.exit_time), t.exit_price, t.side, "exit", outcome, f"{t.exit_reason} {ret * 100:+.1f}%"
            )
        )
    if result.open_position is not None:
        p = result.open_position
        markers.append(
            Marker(_ms(p.entry_time), p.entry_price, p.side, "entry", "open", f"{p.side} in (open)")
        )
    m = result.metrics
    return {
        "symbol": record.symbol,
        "available": True,
        "strategy": record.strategy_name,
        "interval": record.interval,
        "params_hash": record.params_hash,
        "parameters": record.parameters,
        "window": {
            "start": record.backtest_window_start.isoformat(),
            "end": record.backtest_window_end.isoformat(),
        },
        "rerun": {
            "note": (
                f"trades re-run with the backtest engine from the stored candles of the latest result's "
                f"window ({frame.height} {record.interval} bars), its parameters and {source} execution "
                "settings; the store keeps metrics, not trades"
            ),
            "matches_stored": _matches(record, result),
            "stored": {
                "total_return": float(record.total_return),
                "num_trades": record.num_trades,
                "sharpe_ratio": record.sharpe_ratio,
                "max_drawdown": float(record.max_drawdown),
            },
            "rerun": {
                "total_return": float(m.total_return),
                "num_trades": m.num_trades,
                "sharpe_ratio": m.sharpe_ratio,
                "max_drawdown": float(m.max_drawdown),
            },
        },
        "candles": candles.json,
        "averages": averages,
        "markers": markers_json(markers, candles),
        "equity": equity,
        "buy_hold": buy_hold,
        "drawdown": dd,
        "trades": [{**t.to_dict(), "return": trade_return(t)} for t in result.trades],
        "downsampled": reductions,
    }


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


async def candles_view(
    ctx: Context, symbol: str, interval: str, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """Stored candles of any range, at most 5000 per response (merged into buckets beyond that)."""
    if interval not in INTERVALS:
        raise BadRequest(f"interval: expected one of {', '.join(INTERVALS)}, got {interval!r}")
    end = end or ctx.now
    start = start or end - timedelta(days=30)
    if end <= start:
        raise BadRequest(f"end {end.isoformat()} must be after start {start.isoformat()}")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise BadRequest(f"range of {(end - start).days} days: at most {MAX_RANGE_DAYS} days per request")
    await _known(ctx, symbol)
    frame = await ctx.db.query_candles(symbol, interval, start, end)
    candles = await asyncio.to_thread(candle_columns, frame)
    return {
        "symbol": symbol,
        "interval": interval,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "bars": frame.height,
        "candles": candles.json,
        "downsampled": {"candles": None if candles.reduction is None else candles.reduction.to_json()},
    }


async def bot_chart_view(ctx: Context, bot_id: str, days: int = BOT_CHART_DAYS) -> dict[str, Any]:
    """A bot's candles since it started (its last ``days`` at most) with its fills and equity."""
    if not 1 <= days <= MAX_RANGE_DAYS:
        raise BadRequest(f"days: expected 1 to {MAX_RANGE_DAYS}, got {days}")
    record = await ctx.db.get_bot(bot_id)
    if record is None:
        raise NotFound(f"no bot {bot_id!r} is stored (the bots page lists them)")
    saved = read_saved(record)
    capital = saved.config.execution.initial_capital if saved.config else ctx.config.backtest.initial_capital
    step = timedelta(milliseconds=interval_to_ms(record.interval))
    end = (record.last_candle_time + step) if record.last_candle_time else ctx.now
    warmup = strategy_warmup_bars(record.strategy_name, record.parameters)
    fills = await ctx.db.list_fills(bot_id=bot_id)
    # From its start (its first fill when that is earlier: a replay stamps rows with the wall clock but
    # fills with the bars' times), with the bars it warmed up on; its last `days` at most.
    began = min([record.created_at, end, *(f.timestamp for f in fills[:1])])
    start = max(began - warmup * step, end - timedelta(days=days))
    clipped = start > began - warmup * step
    frame = await ctx.db.query_candles(record.symbol, record.interval, start, end)
    return await asyncio.to_thread(_bot_chart, record, frame, fills, capital, start, end, clipped)


def _bot_chart(
    record: Any,
    frame: pl.DataFrame,
    fills: list[Any],
    capital: float,
    start: datetime,
    end: datetime,
    clipped: bool,
) -> dict[str, Any]:
    base = {
        "bot_id": record.bot_id,
        "symbol": record.symbol,
        "interval": record.interval,
        "range": {"start": start.isoformat(), "end": end.isoformat(), "clipped": clipped},
    }
    if frame.height == 0:
        return {**base, "available": False, "reason": f"no {record.interval} candles stored for its range"}
    times = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
    close = frame["close"].cast(pl.Float64).to_numpy()
    step = interval_to_ms(record.interval)
    candles = candle_columns(frame)
    f_times = np.array([_ms(f.timestamp) for f in fills], dtype=np.int64)
    signed = np.array([float(f.quantity) * (1 if f.side == "buy" else -1) for f in fills], dtype=np.float64)
    prices = np.array([float(f.price) for f in fills], dtype=np.float64)
    fees = np.array([float(f.fee) for f in fills], dtype=np.float64)
    equity_values = equity_from_fills(times + step, close, f_times, signed, prices, fees, capital)
    equity, eq_red = line(times + step, equity_values, name="equity (from fills)")
    in_range = [f for f in fills if start <= f.timestamp < end]
    markers = [
        Marker(
            _ms(f.timestamp),
            float(f.price),
            "long" if f.side == "buy" else "short",
            "entry" if f.reason == "entry" else "exit",
            "open",
            f"{f.side} {f.reason}",
        )
        for f in in_range
    ]
    stored = None if record.equity is None else float(record.equity)
    return {
        **base,
        "available": True,
        "candles": candles.json,
        "markers": markers_json(markers, candles),
        "equity": equity,
        "equity_note": (
            "equity rebuilt from the bot's fills marked at each close (cash + position x close), from "
            f"{capital:,.0f} at its start; the bot's own figure is {stored:,.2f}"
            if stored is not None
            else "equity rebuilt from the bot's fills marked at each close"
        ),
        "fills_in_range": len(in_range),
        "downsampled": {
            "candles": None if candles.reduction is None else candles.reduction.to_json(),
            "equity": None if eq_red is None else eq_red.to_json(),
        },
    }
