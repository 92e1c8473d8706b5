"""`algo-trade backtest`: one token, from the candle store or a file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
import typer

from algo_trade_backtest import params_from_mapping, run_backtest_frame
from algo_trade_backtest_scheduler import Window, window_for
from algo_trade_cli._common import (
    ConfigOption,
    JsonOption,
    fail,
    parse_time,
    resolve_config,
    run_async,
)
from algo_trade_core import INTERVALS, AlgoTradeError, AppConfig, interval_to_ms, strategy_params

__all__ = ["backtest"]


def _parse_params(items: list[str], strategy: str, cfg: AppConfig) -> dict[str, Any]:
    params = strategy_params(cfg, strategy)
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            fail(f"--param: expected key=value, got {item!r}", 2)
        key = key.strip()
        if key not in params:
            fail(
                f"--param {key}: unknown {strategy} parameter; expected one of {', '.join(sorted(params))}", 2
            )
        default = params[key]
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                params[key] = raw.lower() in ("true", "1", "yes")
            elif isinstance(default, int):
                params[key] = int(raw)
            else:
                params[key] = float(raw)
        except ValueError:
            fail(f"--param {key}: expected {type(default).__name__}, got {raw!r}", 2)
    return params


async def _load_from_store(
    cfg: AppConfig, symbol: str, interval: str, start: datetime | None, end: datetime | None
) -> tuple[pl.DataFrame, Window]:
    """The stored bars of the window and the window itself (the sweep's when no bound is given)."""
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        if end is None:  # the closed bars up to now, like a sweep's window
            end = window_for(datetime.now(UTC), 0, interval).end
        start = start or end - timedelta(days=cfg.scheduler.backtest_window_days)
        return await db.query_candles(symbol, interval, start, end), Window(start, end, interval)


def _file_window(frame: pl.DataFrame, interval: str, start: datetime | None, end: datetime | None) -> Window:
    """The window asked of a file: the given bounds, else its first bar to the close of its last."""
    step = timedelta(milliseconds=interval_to_ms(interval))
    return Window(start or frame["timestamp"][0], end or frame["timestamp"][-1] + step, interval)


def _load_file(
    path: Path, symbol: str, interval: str, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    from algo_trade_data import read_candle_file

    frame = read_candle_file(path, symbol=symbol, interval=interval)
    if start is not None:
        frame = frame.filter(pl.col("timestamp") >= start)
    if end is not None:
        frame = frame.filter(pl.col("timestamp") < end)
    return frame


def backtest(
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Coin, e.g. BTC or kPEPE.")],
    interval: Annotated[str, typer.Option("--interval", "-i", help="Bar interval.")] = "1h",
    data: Annotated[
        Path | None,
        typer.Option("--data", help="CSV, Parquet or freqtrade Feather file (default: the candle store)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First bar open time (inclusive), ISO.")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="End of the window (exclusive), ISO.")] = None,
    strategy: Annotated[Literal["quad_ma", "ma_crossover"], typer.Option("--strategy")] = "quad_ma",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value override, repeatable.")
    ] = None,
    fee_rate: Annotated[
        float | None, typer.Option("--fee-rate", help="Fee on every fill's notional.")
    ] = None,
    slippage_bps: Annotated[float | None, typer.Option("--slippage-bps", help="Adverse slippage.")] = None,
    as_json: JsonOption = False,
    trades: Annotated[bool, typer.Option("--trades", help="List every closed trade.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write a PNG: price with the averages and trades, equity, drawdown."),
    ] = None,
    trades_csv: Annotated[
        Path | None, typer.Option("--trades-csv", help="Write every closed trade to this CSV file.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Backtest one token: the window is the bars with start <= open time < end."""
    cfg = resolve_config(config)
    if interval not in INTERVALS:
        fail(f"--interval: expected one of {', '.join(INTERVALS)}, got {interval!r}", 2)
    t0, t1 = parse_time(start, "--start"), parse_time(end, "--end")
    params = _parse_params(param or [], strategy, cfg)
    execution = cfg.backtest
    if fee_rate is not None:
        execution = replace(execution, fee_rate=fee_rate)
    if slippage_bps is not None:
        execution = replace(execution, slippage_bps=slippage_bps)
    if data is not None:
        try:
            frame = _load_file(data, symbol, interval, t0, t1)
        except AlgoTradeError as exc:
            fail(f"{type(exc).__name__}: {exc}")
        source = str(data)
    else:
        frame, window = run_async(_load_from_store(cfg, symbol, interval, t0, t1))
        source = "candle store"
    if frame.height == 0:
        fail(f"no {interval} candles for {symbol} in the requested window ({source})")
    if data is not None:
        window = _file_window(frame, interval, t0, t1)
    try:
        result = run_backtest_frame(
            frame,
            strategy=strategy,
            params=params_from_mapping(strategy, params),
            execution=execution,
            interval=interval,
            window_coverage=window.coverage(frame.height),  # the sweep's definition, one function
        )
    except ValueError as exc:
        fail(str(exc), 2)
    from algo_trade_cli._backtest_output import show_backtest

    show_backtest(
        result,
        frame,
        symbol=symbol,
        source=source,
        as_json=as_json,
        show_trades=trades,
        plot=plot,
        trades_csv=trades_csv,
        window=window,
    )
