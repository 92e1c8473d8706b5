"""`algo-trade demo`: the main job end to end on the embedded defaults."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel

from algo_trade_cli._common import ConfigOption, console, resolve_config, run_async
from algo_trade_cli.cmd_data import expand_paths
from algo_trade_cli.cmd_sweep import print_cycle_selection, print_summary
from algo_trade_core import AlgoTradeError, AppConfig, interval_to_ms, redact_url

if TYPE_CHECKING:  # the demo's heavy parts (engine, polars, aiohttp) load when it runs
    from algo_trade_data import DatabaseClient

__all__ = ["demo"]


def _clock(present: datetime | None) -> Callable[[], datetime] | None:
    return None if present is None else (lambda: present)


async def _exchange_reachable(cfg: AppConfig) -> bool:
    from algo_trade_data import HyperliquidClient

    # A probe: one short try, and a 429 (the budget spent) is an answer, not a reason to wait.
    probe = replace(cfg.hyperliquid, request_timeout_s=3.0, max_retries=0, retry_deadline_s=3.0)
    try:
        async with HyperliquidClient(probe) as hl:
            await hl.meta()
    except (AlgoTradeError, OSError):
        return False
    return True


async def _from_exchange(cfg: AppConfig, db: DatabaseClient) -> tuple[str, datetime | None]:
    from algo_trade_data import HyperliquidClient, refresh_many

    now = datetime.now(UTC)
    start = now - timedelta(days=cfg.scheduler.backtest_window_days)
    async with HyperliquidClient(cfg.hyperliquid) as hl:
        with console.status(
            f"fetching {cfg.scheduler.interval} candles of {len(cfg.scheduler.token_universe)} "
            "tokens from Hyperliquid (only the missing tail) …"
        ):
            summary = await refresh_many(
                hl, db, list(cfg.scheduler.token_universe), cfg.scheduler.interval, start, now
            )
    if summary.unreachable is not None:  # went away after the probe: the store's candles are used
        console.print(f"[red]nothing fetched:[/] {summary.unreachable}", highlight=False)
    for symbol, reason in summary.failures.items():
        console.print(f"[red]{symbol}[/]: {reason}")
    if summary.truncated:
        console.print(
            f"[yellow]note:[/] Hyperliquid keeps only the latest 5000 candles: the {cfg.scheduler.interval} "
            f"window of {len(summary.truncated)} token(s) is only partly covered (results say how much)"
        )
    return "hyperliquid", None


async def _from_files(cfg: AppConfig, db: DatabaseClient, data_dir: Path) -> tuple[str, datetime | None]:
    from algo_trade_data import import_candle_files

    files = expand_paths([data_dir], cfg.scheduler.interval)
    wanted = set(cfg.scheduler.token_universe)
    files = [f for f in files if f.name.split("_")[0] in wanted] or files
    with console.status(f"importing {len(files)} {cfg.scheduler.interval} candle file(s) from {data_dir} …"):
        results = await import_candle_files(db, files, interval=cfg.scheduler.interval)
    bad = [r for r in results if not r.ok]
    for r in bad:
        console.print(f"[red]rejected[/] {r.path.name}: {r.error}")
    last = max((r.last for r in results if r.ok and r.last is not None), default=None)
    console.print(
        f"imported {sum(r.rows for r in results if r.ok):,} bars from {len(results) - len(bad)} file(s)"
    )
    as_of = None if last is None else last + timedelta(milliseconds=interval_to_ms(cfg.scheduler.interval))
    return "hyperliquid", as_of


async def _synthetic(cfg: AppConfig, db: DatabaseClient) -> tuple[str, datetime | None]:
    import polars as pl

    from algo_trade_data import SYNTHETIC_EXCHANGE, synthetic_candles

    interval = cfg.scheduler.interval
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    bars = cfg.scheduler.backtest_window_days * 86_400_000 // interval_to_ms(interval)
    with console.status(
        f"generating {bars:,} SYNTHETIC {interval} bars for each of "
        f"{len(cfg.scheduler.token_universe)} tokens …"
    ):
        frames = [synthetic_candles(s, interval, end, bars) for s in cfg.scheduler.token_universe]
        await db.upsert_candles(pl.concat(frames))
    return SYNTHETIC_EXCHANGE, end


async def _demo(cfg: AppConfig, data_dir: Path | None, offline: bool) -> None:
    from algo_trade_backtest_scheduler import BacktestScheduler
    from algo_trade_cli._demo_bots import REPLAY_BARS, live_bots, replay_bots
    from algo_trade_data import SYNTHETIC_EXCHANGE, DatabaseClient
    from algo_trade_pipeline import Pipeline

    t0 = time.perf_counter()
    async with await DatabaseClient.connect(cfg.database) as db:
        console.print(
            f"database: {db.url} (TimescaleDB {'enabled' if db.timescaledb_enabled else 'not installed'})"
        )
        if not offline and await _exchange_reachable(cfg):
            exchange, as_of = await _from_exchange(cfg, db)
        else:
            why = (
                "--offline given" if offline else f"Hyperliquid is not reachable at {cfg.hyperliquid.api_url}"
            )
            if data_dir is not None:
                console.print(f"[yellow]{why}[/]: using the candle files in {data_dir}")
                exchange, as_of = await _from_files(cfg, db, data_dir)
            else:
                console.print(
                    Panel(
                        f"{why} and no --data-dir was given: the demo runs on [bold]SYNTHETIC[/] "
                        "generated candles, stored and reported as exchange 'synthetic'. "
                        "They say nothing about real markets.",
                        style="yellow",
                    )
                )
                exchange, as_of = await _synthetic(cfg, db)
        scheduler_cfg = replace(cfg.scheduler, exchange=exchange, refresh_data=False, universe_mode="static")
        from algo_trade_cli.cmd_sweep import run_sweep_with_progress

        # Offline, the last stored bars are kept out of the sweep and replayed to the bots afterwards.
        step = timedelta(milliseconds=interval_to_ms(cfg.scheduler.interval))
        sweep_as_of = None if as_of is None else as_of - REPLAY_BARS * step
        scheduler = BacktestScheduler(
            scheduler_cfg,
            db,
            None,
            execution=cfg.backtest,
            strategies=cfg.strategy,
            regime_lookback_days=cfg.token_selection.regime_lookback_days,
        )
        try:
            summary = await run_sweep_with_progress(scheduler, sweep_as_of, refresh=False)
        finally:
            await scheduler.shutdown()
        if exchange == SYNTHETIC_EXCHANGE:
            console.print("[bold yellow]SYNTHETIC DATA[/]: the results below come from generated candles")
        print_summary(summary)
        # The daemon's rule (parameter set the bots trade, interval, universe). Offline, the present is
        # the end of the sweep's window (the bars after it are replayed to the bots): result ages are
        # measured to it, so a sweep over imported history is current for the demo, not stale.
        present = summary.window.end if as_of is not None else None
        cycle = await Pipeline(replace(cfg, scheduler=scheduler_cfg), db, clock=_clock(present)).after_sweep(
            summary
        )
        if present is not None:
            console.print(
                f"[dim]selecting as of {present:%Y-%m-%d %H:%M} UTC, the end of the sweep's window "
                "(the later stored bars are replayed to the bots)[/]"
            )
        print_cycle_selection(cycle)
        selection = cycle.selection
        if cfg.bots.enabled and selection is not None and selection.approved:
            if as_of is None or sweep_as_of is None:
                await live_bots(cfg, db, selection.approved, selection.strategy_name)
            else:
                await replay_bots(
                    cfg, db, selection.approved, selection.strategy_name, exchange, sweep_as_of, as_of
                )
        from algo_trade_cli._demo_walkforward import demo_walkforward

        from_files = as_of is not None and exchange != SYNTHETIC_EXCHANGE
        await demo_walkforward(cfg, db, data_dir if from_files else None, exchange)
    max_age = timedelta(hours=cfg.token_selection.max_result_age_hours)
    as_of_hint = (
        f"  the results are of windows ending {present:%Y-%m-%d %H:%M} UTC, stale today: select on them "
        f"with `algo-trade token-selection --as-of {present:%Y-%m-%dT%H:%M}Z`\n"
        if present is not None and datetime.now(UTC) - present > max_age
        else ""
    )
    console.print(
        Panel(
            f"results are stored in PostgreSQL at {redact_url(cfg.database.url)}\n"
            "  tables: ohlcv, backtest_results, backtest_runs, token_selections, bots, fills\n"
            "  explore: algo-trade results latest | algo-trade results history BTC\n"
            "           algo-trade token-selection | algo-trade bots list --all | algo-trade data status\n"
            "           algo-trade walkforward list | algo-trade walkforward show <study> --plot study.png\n"
            f"{as_of_hint}"
            "the database keeps running (stop it with `make db-down`). "
            f"Demo took {time.perf_counter() - t0:.1f}s.",
            title="where to look",
            style="cyan",
        )
    )


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Candle files to use when Hyperliquid is not reachable (CSV, Parquet, freqtrade Feather).",
        ),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Do not try to reach Hyperliquid.")] = False,
    config: ConfigOption = None,
) -> None:
    """Get candles, sweep the universe, select tokens and show why (leaves the database running)."""
    run_async(_demo(resolve_config(config), data_dir, offline))
