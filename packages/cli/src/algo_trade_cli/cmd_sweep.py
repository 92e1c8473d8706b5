"""`algo-trade sweep`, `algo-trade token-selection` and the daemon `algo-trade scheduled-backtest`."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

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
    valid_symbols,
)
from algo_trade_cli._runtime import open_runtime
from algo_trade_cli._tables import selection_footnotes, selection_table, sweep_table
from algo_trade_core import AppConfig, ConfigError

if TYPE_CHECKING:  # the scheduler imports the engine (numba) and APScheduler: loaded when a sweep runs
    from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary
    from algo_trade_pipeline import Cycle
    from algo_trade_token_selector import Selection

__all__ = ["print_cycle_selection", "print_selection", "scheduled_backtest", "sweep", "token_selection"]


def print_summary(summary: RunSummary) -> None:
    console.print(sweep_table(summary))
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items())
    line = (
        f"run [bold]{summary.run_id}[/]: {summary.status} — {summary.tokens_ok} token(s) ok, "
        f"{summary.tokens_failed} failed in {summary.seconds:.2f}s ({phases})"
    )
    console.print(line)
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
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
    from algo_trade_pipeline import Pipeline

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
        # The cycle after the sweep, without bots (the daemon runs those): the same selection rule.
        cycle = await Pipeline(cfg, rt.db).after_sweep(summary)
    if as_json:
        from algo_trade_cli._export import token_json

        print(
            json.dumps(
                {
                    "run_id": summary.run_id,
                    "status": summary.status,
                    "tokens_ok": summary.tokens_ok,
                    "tokens_failed": summary.tokens_failed,
                    "errors": summary.errors,
                    "notes": summary.notes,
                    "seconds": summary.seconds,
                    "timings": summary.timings,
                    "window": {
                        "start": summary.window.start.isoformat(),
                        "end": summary.window.end.isoformat(),
                        "interval": summary.window.interval,
                    },
                    "tokens": [token_json(t) for t in summary.tokens],
                    "optimisation": _optimisation_json(cycle),
                    "selection": None if cycle.selection is None else cycle.selection.to_json(),
                    "selection_skipped": cycle.skipped,
                    "selection_error": cycle.error,
                }
            )
        )
    else:
        print_summary(summary)
        print_cycle_selection(cycle)
    return 0 if summary.status != "failed" else 1


def _optimisation_json(cycle: Cycle) -> dict[str, Any] | None:
    run = cycle.optimisation
    if run is None:
        return None
    return {
        "run_id": run.run_id,
        "status": run.status,
        "executor": run.executor,
        "parameter_sets": len(run.space),
        "trials": sum(t.computed + t.reused for t in run.tokens),
        "seconds": run.seconds,
    }


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
        scheduler_cfg = replace(scheduler_cfg, token_universe=tuple(dict.fromkeys(valid_symbols(symbol))))
    cfg = replace(cfg, scheduler=scheduler_cfg)
    symbols = list(scheduler_cfg.token_universe) if symbol else None
    raise typer.Exit(run_async(_sweep(cfg, parse_time(as_of, "--as-of"), refresh, as_json, symbols)))


def print_cycle_selection(cycle: Cycle) -> None:
    """The optimisation and selection that followed a sweep, or why there was none."""
    run = cycle.optimisation
    if run is not None:
        trials = sum(t.computed + t.reused for t in run.tokens)
        console.print(
            f"optimisation run {run.run_id}: {run.status}, {trials:,} trials stored "
            f"({len(run.space):,} parameter sets x {len(run.tokens)} tokens, {run.executor}) in "
            f"{run.seconds:.1f}s"
        )
    if cycle.selection is not None:
        print_selection(cycle.selection)
    elif cycle.skipped is not None:
        console.print(f"[yellow]no selection, bots unchanged:[/] {cycle.skipped}")
    if cycle.error:
        console.print(f"[red]{cycle.error}[/]")


async def _selection(
    cfg: AppConfig,
    strategy: str | None,
    as_of: datetime | None,
    widen: dict[str, Any],
    as_json: bool,
) -> None:
    async with open_runtime(cfg, exchange=False) as rt:
        from algo_trade_pipeline import Pipeline

        pipeline = Pipeline(cfg, rt.db)
        scope = await pipeline.scope(strategy=strategy, **widen)
        # Only the product's own scope is a selection worth storing; a widened one is a look around.
        widened = any(widen.values())
        selection = await pipeline.select(scope, now=as_of, record=not widened)
    if as_json:
        print(json.dumps({**selection.to_json(), "stored": not widened}))
    else:
        print_selection(selection, stored=not widened)


def print_selection(selection: Selection, *, stored: bool = True) -> None:
    """Thresholds and scope, the explanation table, the approved tokens, and the footnotes."""
    from algo_trade_token_selector import criteria_text

    thresholds = criteria_text(selection.criteria, selection.min_dsr)
    console.print(f"[dim]thresholds:[/] {thresholds}", highlight=False)
    if selection.scope is not None:
        console.print(f"[dim]scope:[/] {selection.scope.describe()}", highlight=False)
    if not selection.tokens:
        if selection.min_dsr is not None:  # a selection among per-token choices
            console.print(
                "no optimisation choice stored in this scope: run `algo-trade sweep` (with [optimisation] "
                "enabled) or `algo-trade optimise` first, or select on one strategy with --strategy"
            )
            return
        console.print(
            f"no backtest results stored for {selection.strategy_name} in this scope: run `algo-trade sweep` "
            "first, or widen the scope (--all-symbols, --interval, --all-params)"
        )
        return
    console.print(selection_table(selection))
    for line in selection_footnotes(selection):
        console.print(line, highlight=False)
    if all("max_result_age_hours" in t.failed_criteria for t in selection.tokens):
        newest = max(t.window_end for t in selection.tokens)
        max_age = selection.criteria.max_result_age_hours
        console.print(
            f"[yellow]every result is older than {max_age:g} h[/] (the newest window ended "
            f"{newest:%Y-%m-%d %H:%M} UTC): run `algo-trade sweep`, or select on that history with "
            f"--as-of {newest:%Y-%m-%dT%H:%M}Z",
            highlight=False,
        )
    names = ", ".join(selection.approved) or "none"
    label = " [bold yellow](FALLBACK)[/]" if selection.fallback_used else ""
    note = "" if stored else " [dim](widened scope: not stored)[/]"
    console.print(f"approved{label}: [bold]{names}[/]{note}")


def token_selection(
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Default: [token_selection] strategy.")
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval", "-i", help="Rank results of this interval (default: [scheduler] interval)."
        ),
    ] = None,
    all_intervals: Annotated[
        bool, typer.Option("--all-intervals", help="Rank each token's latest result of any interval.")
    ] = False,
    params_hash: Annotated[
        str | None,
        typer.Option("--params-hash", help="Rank this parameter set (default: the one the bots trade)."),
    ] = None,
    all_params: Annotated[
        bool, typer.Option("--all-params", help="Rank each token's latest result of any parameter set.")
    ] = False,
    all_symbols: Annotated[
        bool,
        typer.Option("--all-symbols", help="Rank every stored token, not only the configured universe."),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Select as of this time (ISO; default now): ages are measured to it."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Select tokens from the latest results and explain each decision.

    By default it ranks what the daemon ranks: the parameter set the bots trade, at [scheduler]
    interval, over the configured universe; that selection is stored. Widened selections are not.
    """
    cfg = resolve_config(config)
    widen: dict[str, Any] = {
        "interval": interval,
        "all_intervals": all_intervals,
        "params_hash": params_hash,
        "all_params": all_params,
        "all_symbols": all_symbols,
    }
    run_async(_selection(cfg, strategy, parse_time(as_of, "--as-of"), widen, as_json))


async def _daemon(cfg: AppConfig, run_now: bool, max_runs: int | None) -> None:
    from algo_trade_pipeline import Daemon

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def show(cycle: Cycle) -> None:
        print_summary(cycle.summary)
        print_cycle_selection(cycle)
        if not cycle.error and cycle.selection is not None and cfg.bots.enabled:
            console.print(
                f"bots: started {', '.join(cycle.started) or 'none'}; "
                f"stopped {', '.join(cycle.stopped) or 'none'}"
            )
        if max_runs is not None and daemon.cycle_count >= max_runs:
            stop.set()

    async with open_runtime(cfg, exchange=True) as rt:
        daemon = Daemon(cfg, rt.db, rt.hyperliquid, on_cycle=show)
        dashboard = None
        if cfg.server.enabled:  # [server] enabled: the daemon serves the dashboard on its own store
            from algo_trade_dashboard import DashboardServer

            dashboard = DashboardServer(cfg, db=rt.db)
            daemon.serve(dashboard)
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
            if dashboard is not None:
                console.print(f"dashboard at {dashboard.url}", highlight=False)
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
    if cfg.server.enabled:
        from algo_trade_dashboard import check_bind

        try:
            check_bind(cfg.server.host, cfg.server.token)
        except ConfigError as exc:
            fail(str(exc), 2)
    run_async(_daemon(cfg, run_now, max_runs))
