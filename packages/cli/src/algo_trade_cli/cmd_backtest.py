"""`algo-trade backtest`: one token, from the candle store or a file."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from algo_trade_cli._backtest_input import BacktestInput, from_file, from_store
from algo_trade_cli._common import (
    ConfigOption,
    IntervalOption,
    JsonOption,
    console,
    err_console,
    fail,
    resolve_config,
    resolve_interval,
    run_async,
    valid_symbols,
)
from algo_trade_cli._inputs import InputError, pair_base, resolve_window
from algo_trade_core import AlgoTradeError, AppConfig, interval_to_ms, strategy_params

if TYPE_CHECKING:  # the engine (numba) and polars load when a backtest runs, not for `--help`
    pass

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
) -> BacktestInput:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        return await from_store(cfg, db, symbol, interval, start, end)


def backtest(
    symbol: Annotated[
        str | None,
        typer.Option(
            "--symbol",
            "-s",
            help="Coin as Hyperliquid names it, e.g. BTC or kPEPE (btc and BTCUSDT are understood). "
            "With --data, the file name says it.",
            show_default=False,
            metavar="<symbol>",
        ),
    ] = None,
    interval: IntervalOption = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="CSV, Parquet or freqtrade Feather file (default: the candle store); a freqtrade "
            "name gives the symbol and interval.",
            metavar="<file>",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start", help="First bar open time (inclusive), UTC, ISO: 2025-01-01.", metavar="<time>"
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="End of the window (exclusive), UTC, ISO: 2025-04-01.", metavar="<time>"),
    ] = None,
    timerange: Annotated[
        str | None,
        typer.Option(
            "--timerange",
            help="freqtrade's START-END as YYYYMMDD, end exclusive: 20250101-20250401, 20250101-, "
            "-20250401 (instead of --start/--end).",
            metavar="<range>",
        ),
    ] = None,
    strategy: Annotated[
        Literal["quad_ma", "ma_crossover"], typer.Option("--strategy", help="Strategy to run.")
    ] = "quad_ma",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Strategy parameter override, repeatable: -p short_1=8 -p volume_filter=false. "
            "Default: [strategy.<name>].",
            show_default=False,
            metavar="<key=value>",
        ),
    ] = None,
    fee_rate: Annotated[
        float | None,
        typer.Option(
            "--fee-rate",
            help="Fee on every fill's notional. Default: [backtest] fee_rate.",
            show_default=False,
        ),
    ] = None,
    slippage_bps: Annotated[
        float | None,
        typer.Option(
            "--slippage-bps",
            help="Adverse slippage per fill in basis points. Default: [backtest] slippage_bps.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    trades: Annotated[bool, typer.Option("--trades", help="List every closed trade.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Write a PNG: price with the averages and trades, equity, drawdown.",
            metavar="<png>",
        ),
    ] = None,
    trades_csv: Annotated[
        Path | None,
        typer.Option("--trades-csv", help="Write every closed trade to this CSV file.", metavar="<csv>"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Backtest one token: the window is the bars with start <= open time < end."""
    from algo_trade_backtest import params_from_mapping, run_backtest_frame

    cfg = resolve_config(config)
    if symbol is not None:  # BTCUSDT or BTC/USDC:USDC map to BTC below; quotes and spaces never do
        valid_symbols([pair_base(symbol)])
    try:
        t0, t1 = resolve_window(start, end, timerange)
    except InputError as exc:
        fail(str(exc), 2)
    params = _parse_params(param or [], strategy, cfg)
    execution = cfg.backtest
    if fee_rate is not None:
        execution = replace(execution, fee_rate=fee_rate)
    if slippage_bps is not None:
        execution = replace(execution, slippage_bps=slippage_bps)
    notes = err_console if as_json else console
    try:
        if data is not None:
            loaded = from_file(
                data, symbol, None if interval is None else resolve_interval(interval, cfg), t0, t1
            )
        else:
            if symbol is None:
                fail("--symbol: which token? e.g. -s BTC (or --data FILE)", 2)
            loaded = run_async(_load_from_store(cfg, symbol, resolve_interval(interval, cfg), t0, t1))
    except InputError as exc:
        fail(str(exc), 2)
    except AlgoTradeError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    for note in loaded.notes:
        notes.print(f"[yellow]note:[/] {note}", highlight=False)
    frame, symbol, interval, source = loaded.frame, loaded.symbol, loaded.interval, loaded.source
    if frame.height == 0:
        fail(f"no {interval} candles for {symbol} in the requested window ({source})")
    from algo_trade_backtest_scheduler import Window

    step = timedelta(milliseconds=interval_to_ms(interval))
    # The window asked for (the sweep's coverage rule, one function): else first bar to last close.
    window = Window(
        loaded.start or frame["timestamp"][0], loaded.end or frame["timestamp"][-1] + step, interval
    )
    try:
        result = run_backtest_frame(
            frame,
            strategy=strategy,
            params=params_from_mapping(strategy, params),
            execution=execution,
            interval=interval,
            window_coverage=window.coverage(frame.height),
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
