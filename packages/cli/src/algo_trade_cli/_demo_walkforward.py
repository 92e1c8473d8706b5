"""The demo's last step: a walk-forward on the history it loaded, so a newcomer sees in the first minute
whether selecting by backtest has helped on that data.

With candle files, the demo also imports their 1h history (months, where the 1m files hold days) and
walks forward at 1h with the configured window and weekly steps. Otherwise it uses the bars the demo
stored at its own interval, with the window and step shrunk to fit them (and says so).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from algo_trade_cli._common import console
from algo_trade_core import AlgoTradeError, AppConfig, interval_to_ms

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient

__all__ = ["demo_walkforward"]

_STUDY_INTERVAL = "1h"
_MIN_PERIODS = 4


async def _import_hourly(cfg: AppConfig, db: DatabaseClient, data_dir: Path) -> bool:
    from algo_trade_cli.cmd_data import expand_paths
    from algo_trade_data import import_candle_files

    wanted = set(cfg.scheduler.token_universe)
    files = [f for f in expand_paths([data_dir], _STUDY_INTERVAL) if f.name.split("_")[0] in wanted]
    if not files:
        return False
    what = f"importing the {_STUDY_INTERVAL} history of {len(files)} token(s) for the walk-forward …"
    with console.status(what):
        results = await import_candle_files(db, files, interval=_STUDY_INTERVAL)
    return any(r.ok for r in results)


async def demo_walkforward(cfg: AppConfig, db: DatabaseClient, data_dir: Path | None, exchange: str) -> None:
    """Run, store and print a walk-forward study (summary, statistics and the verdict)."""
    from algo_trade_bot_orchestrator import strategy_warmup_bars
    from algo_trade_cli._walkforward_view import print_study
    from algo_trade_evaluation import WalkForwardSettings, load_bars, run_walkforward, store_walkforward

    interval = cfg.scheduler.interval
    note = ""
    if data_dir is not None and await _import_hourly(cfg, db, data_dir):
        interval = _STUDY_INTERVAL
    series = [
        s
        for s in await db.candle_status(interval=interval)
        if s.symbol in cfg.scheduler.token_universe and s.exchange == exchange
    ]
    if not series:
        console.print("[yellow]walk-forward skipped:[/] no stored history to walk forward on")
        return
    first, last = min(s.first for s in series), max(s.last for s in series)
    end = last + timedelta(milliseconds=interval_to_ms(interval))
    span = end - first
    window_days = cfg.scheduler.backtest_window_days
    step = timedelta(days=7)
    if span < timedelta(days=window_days) + _MIN_PERIODS * step:  # days of 1m bars: shrink to fit
        window_days = max(1, int(span.total_seconds() // 86_400) // (2 * _MIN_PERIODS))
        step = (span - timedelta(days=window_days)) / _MIN_PERIODS
        if step <= timedelta(0):
            console.print("[yellow]walk-forward skipped:[/] less than two days of history stored")
            return
        days = span.total_seconds() / 86_400
        note = (
            f"; only {days:.1f} days stored: {window_days}-day window, "
            f"{step.total_seconds() / 3600:.0f} h step instead of the configured schedule"
        )
    demo_cfg = replace(cfg, scheduler=replace(cfg.scheduler, interval=interval, exchange=exchange))
    settings = WalkForwardSettings.from_config(
        demo_cfg,
        start=first + timedelta(days=window_days),
        end=end,
        step=step,
        window_days=window_days,
        interval=interval,
        symbols=tuple(sorted({s.symbol for s in series})),
    )
    console.print(
        f"\n[bold]walk-forward: does selecting by backtest pay out of sample?[/] ({interval} bars{note})",
        highlight=False,
    )
    warmup = max(settings.warmup_bars, strategy_warmup_bars(settings.strategy, settings.params))
    try:
        bars = await load_bars(db, settings, warmup)
        with console.status(f"walking forward over {len(settings.times())} period(s) …"):
            result = await asyncio.to_thread(run_walkforward, bars, settings)
        run_id = await store_walkforward(db, result)
    except AlgoTradeError as exc:
        console.print(f"[yellow]walk-forward skipped:[/] {exc}")
        return
    print_study(result, run_id, None, show_periods=False)
