"""`algo-trade backtest`: one token, from the candle store or a file."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

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
)
from algo_trade_cli._format import fmt_num, fmt_pct, fmt_time
from algo_trade_cli._inputs import InputError, resolve_window
from algo_trade_core import AlgoTradeError, AppConfig, interval_to_ms, strategy_params

if TYPE_CHECKING:  # the engine (numba) and polars load when a backtest runs, not for `--help`
    import polars as pl

    from algo_trade_backtest import BacktestResult

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


def _coverage(frame: pl.DataFrame, interval: str, start: datetime | None, end: datetime | None) -> float:
    """Bars present / bars the requested window holds (first to last bar when it was not given)."""
    step = timedelta(milliseconds=interval_to_ms(interval))
    first = start or frame["timestamp"][0]
    stop = end or frame["timestamp"][-1] + step
    expected = -(-(stop - first) // step)
    return frame.height / expected if expected > 0 else 0.0


def _report(result: BacktestResult, symbol: str, frame: pl.DataFrame, source: str, show_trades: bool) -> None:
    m = result.metrics
    first, last = frame["timestamp"][0], frame["timestamp"][-1]
    table = Table(title=f"{result.strategy} on {symbol} {result.interval} ({source})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("period", f"{fmt_time(first)} → {fmt_time(last)}  ({m.num_bars} bars)"),
        ("capital", f"{fmt_num(m.initial_capital)} → {fmt_num(m.final_capital)}"),
        ("total return", fmt_pct(m.total_return)),
        ("buy & hold return", fmt_pct(m.buy_hold_return)),
        ("max drawdown", fmt_pct(m.max_drawdown)),
        ("exposure", fmt_pct(m.exposure, 1)),
        ("Sharpe", fmt_num(m.sharpe_ratio)),
        ("Sortino", fmt_num(m.sortino_ratio)),
        ("Calmar", fmt_num(m.calmar_ratio)),
        ("trades", str(m.num_trades)),
        ("win rate", fmt_pct(m.win_rate, 1)),
        ("profit factor", fmt_num(m.profit_factor)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    if result.open_position is not None:
        p = result.open_position
        table.add_row(
            "open position",
            f"{p.side} {p.qty:.6g} @ {p.entry_price:.6g} (unrealised {fmt_num(p.unrealized_pnl)})",
        )
    console.print(table)
    if m.window_coverage is not None and m.window_coverage < 0.999:
        console.print(
            f"[yellow]warning:[/] the window is only {m.window_coverage:.1%} covered by stored bars "
            "(`algo-trade data status` shows the gaps; `data import` loads longer history)"
        )
    if m.num_trades == 0:
        console.print(
            "[yellow]warning:[/] no trade was made in this window "
            "(too few bars for the warm-up, or no setup passed the filters)"
        )
    if show_trades and result.trades:
        tt = Table(title="trades")
        for col in ("entry", "exit", "side", "entry px", "exit px", "qty", "pnl", "reason"):
            tt.add_column(col, justify="right" if col not in ("side", "reason") else "left")
        for t in result.trades:
            tt.add_row(
                fmt_time(t.entry_time),
                fmt_time(t.exit_time),
                t.side,
                f"{t.entry_price:.6g}",
                f"{t.exit_price:.6g}",
                f"{t.qty:.6g}",
                fmt_num(t.pnl),
                t.exit_reason,
            )
        console.print(tt)


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
        Path | None, typer.Option("--plot", help="Write a PNG of equity vs buy & hold.", metavar="<png>")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Backtest one token: the window is the bars with start <= open time < end."""
    from algo_trade_backtest import params_from_mapping, run_backtest_frame

    cfg = resolve_config(config)
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
    try:
        result = run_backtest_frame(
            frame,
            strategy=strategy,
            params=params_from_mapping(strategy, params),
            execution=execution,
            interval=interval,
            window_coverage=_coverage(frame, interval, loaded.start, loaded.end),
        )
    except ValueError as exc:
        fail(str(exc), 2)
    if as_json:
        print(json.dumps(result.to_json_dict()))
    else:
        _report(result, symbol, frame, source, trades)
    if plot is not None:
        _write_plot(plot, result, symbol, frame)
        (err_console if as_json else console).print(f"wrote {plot}")


def _write_plot(path: Path, result: BacktestResult, symbol: str, frame: pl.DataFrame) -> None:
    import polars as pl

    from algo_trade_cli._plots import plot_equity

    times = frame["timestamp"].to_list()
    closes = frame["close"].cast(pl.Float64).to_numpy()
    first_open = float(frame["open"][0])
    buy_hold = float(result.metrics.initial_capital) * closes / first_open
    entries = [(t.entry_time, float(result.equity[t.entry_index]), t.side) for t in result.trades]
    exits = [(t.exit_time, float(result.equity[t.exit_index]), t.side) for t in result.trades]
    if result.open_position is not None:
        p = result.open_position
        entries.append((p.entry_time, float(result.equity[p.entry_index]), p.side))
    plot_equity(
        path,
        title=f"{result.strategy} on {symbol} {result.interval}",
        times=times,
        equity=result.equity,
        buy_hold=buy_hold,
        entries=entries,
        exits=exits,
    )
