"""`algo-trade sweep`, `algo-trade token-selection` and the daemon `algo-trade scheduled-backtest`."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from algo_trade_cli._common import (
    ConfigOption,
    IntervalOption,
    JsonOption,
    console,
    fail,
    parse_time,
    progress_bar,
    resolve_config,
    resolve_interval,
    run_async,
)
from algo_trade_cli._runtime import open_runtime
from algo_trade_cli._tables import selection_table, sweep_table
from algo_trade_core import AppConfig

if TYPE_CHECKING:  # the scheduler imports the engine (numba) and APScheduler: loaded when a sweep runs
    from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary
    from algo_trade_token_selector import Selection

__all__ = ["scheduled_backtest", "sweep", "token_selection"]


def print_summary(summary: RunSummary) -> None:
    console.print(sweep_table(summary))
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items())
    line = (
        f"run [bold]{summary.run_id}[/]: {summary.status} — {summary.tokens_ok} token(s) ok, "
        f"{summary.tokens_failed} failed in {summary.seconds:.2f}s ({phases})"
    )
    console.print(line)
    if summary.error:
        console.print(f"[red]{summary.error}[/]")


async def run_sweep_with_progress(
    scheduler: BacktestScheduler,
    as_of: datetime | None,
    refresh: bool | None,
    symbols: list[str] | None = None,
) -> RunSummary:
    symbols = symbols or await scheduler.universe()
    with progress_bar() as progress:
        steps = (
            len(symbols) * (3 if (refresh if refresh is not None else scheduler.config.refresh_data) else 2)
            + 1
        )
        task = progress.add_task(f"sweep over {len(symbols)} token(s)", total=steps)

        def on_step(phase: str, symbol: str | None) -> None:
            progress.update(task, advance=1, description=f"{phase} {symbol or ''}".strip())

        summary = await scheduler.run_once(as_of, symbols=symbols, refresh=refresh, progress=on_step)
    return summary


async def _sweep(
    cfg: AppConfig,
    as_of: datetime | None,
    refresh: bool | None,
    as_json: bool,
    symbols: list[str] | None = None,
) -> int:
    from algo_trade_backtest_scheduler import BacktestScheduler

    needs_exchange = (refresh if refresh is not None else cfg.scheduler.refresh_data) or (
        cfg.scheduler.universe_mode == "top_volume" and not symbols
    )
    async with open_runtime(cfg, exchange=needs_exchange) as rt:
        scheduler = BacktestScheduler.from_app_config(cfg, rt.db, rt.hyperliquid)
        try:
            if as_json:
                summary = await scheduler.run_once(as_of, symbols=symbols, refresh=refresh)
            else:
                summary = await run_sweep_with_progress(scheduler, as_of, refresh, symbols)
        finally:
            await scheduler.shutdown()
    if as_json:
        print(
            json.dumps(
                {
                    "run_id": summary.run_id,
                    "status": summary.status,
                    "tokens_ok": summary.tokens_ok,
                    "tokens_failed": summary.tokens_failed,
                    "errors": summary.errors,
                    "seconds": summary.seconds,
                    "timings": summary.timings,
                    "window": {
                        "start": summary.window.start.isoformat(),
                        "end": summary.window.end.isoformat(),
                    },
                }
            )
        )
    else:
        print_summary(summary)
    return 0 if summary.status != "failed" else 1


def sweep(
    symbol: Annotated[
        list[str] | None,
        typer.Option(
            "--symbol",
            "-s",
            help="Sweep only this token (repeatable; default: the configured universe).",
            show_default=False,
            metavar="<symbol>",
        ),
    ] = None,
    interval: IntervalOption = None,
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days",
            min=1,
            help="Days of bars each backtest uses. Default: [scheduler] backtest_window_days.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="End of the backtest window (UTC, ISO; default now). Use it to sweep over imported history.",
            metavar="<time>",
        ),
    ] = None,
    refresh: Annotated[
        bool | None,
        typer.Option(
            "--refresh/--no-refresh",
            help="Fetch missing candles first (default: [scheduler] refresh_data).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one backtest sweep over the token universe now and store the results."""
    cfg = resolve_config(config)
    scheduler_cfg = replace(
        cfg.scheduler,
        interval=resolve_interval(interval, cfg),
        backtest_window_days=window_days or cfg.scheduler.backtest_window_days,
    )
    if symbol:
        scheduler_cfg = replace(scheduler_cfg, token_universe=tuple(dict.fromkeys(symbol)))
    cfg = replace(cfg, scheduler=scheduler_cfg)
    symbols = list(scheduler_cfg.token_universe) if symbol else None
    raise typer.Exit(run_async(_sweep(cfg, parse_time(as_of, "--as-of"), refresh, as_json, symbols)))


async def _selection(cfg: AppConfig, strategy: str | None, as_json: bool) -> None:
    from algo_trade_token_selector import TokenSelector

    async with open_runtime(cfg, exchange=False) as rt:
        selection = await TokenSelector(rt.db, cfg.token_selection).select(strategy)
    if as_json:
        print(json.dumps(selection.to_json()))
    else:
        print_selection(selection)


def print_selection(selection: Selection) -> None:
    if not selection.tokens:
        console.print(
            f"no backtest results stored for {selection.strategy_name}: run `algo-trade sweep` first"
        )
        return
    console.print(selection_table(selection))
    names = ", ".join(selection.approved) or "none"
    label = " [bold yellow](FALLBACK)[/]" if selection.fallback_used else ""
    console.print(f"approved{label}: [bold]{names}[/]")


def token_selection(
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Default: [token_selection] strategy.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Select tokens from the latest results and explain each decision (the selection is stored)."""
    cfg = resolve_config(config)
    run_async(_selection(cfg, strategy, as_json))


async def _daemon(cfg: AppConfig, run_now: bool, max_runs: int | None) -> None:
    from algo_trade_cli._daemon import Cycle, Daemon

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def show(cycle: Cycle) -> None:
        print_summary(cycle.summary)
        if cycle.selection is not None:
            print_selection(cycle.selection)
        if cycle.error:
            console.print(f"[red]{cycle.error}[/]")
        elif cfg.bots.enabled:
            console.print(
                f"bots: started {', '.join(cycle.started) or 'none'}; "
                f"stopped {', '.join(cycle.stopped) or 'none'}"
            )
        if max_runs is not None and daemon.cycle_count >= max_runs:
            stop.set()

    async with open_runtime(cfg, exchange=True) as rt:
        daemon = Daemon(cfg, rt.db, rt.hyperliquid, on_cycle=show)
        restored = await daemon.start()
        try:
            if restored:
                console.print(
                    f"restored {len(restored)} bot(s) with their paper positions: {', '.join(restored)}"
                )
            s = cfg.scheduler
            universe = (
                f"{len(s.token_universe)} tokens" if s.universe_mode == "static" else f"top {s.top_volume_n}"
            )
            console.print(
                f"scheduler: cron '{s.cron_expression}' (UTC), {universe}, "
                f"next fire {daemon.next_fire_time()}; Ctrl+C stops"
            )
            first = asyncio.create_task(daemon.scheduler.run_once()) if run_now else None
            await stop.wait()
        finally:
            console.print("stopping: a running sweep commits first; bots keep their paper positions …")
            await daemon.stop()  # waits for a sweep in progress, the --run-now one included
            if first is not None:
                await first
    console.print("stopped cleanly")


def scheduled_backtest(
    run_now: Annotated[bool, typer.Option("--run-now", help="Also run one sweep right away.")] = False,
    max_runs: Annotated[
        int | None, typer.Option("--max-runs", min=1, help="Stop after this many sweeps.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """The daemon: sweeps on the cron schedule; after each, selection and bot sync."""
    cfg = resolve_config(config)
    if not cfg.scheduler.enabled:
        fail("the scheduler is disabled in the configuration ([scheduler] enabled = false)", 2)
    run_async(_daemon(cfg, run_now, max_runs))
