"""Sweep benchmark: time from trigger to committed results, split by phase (issue 9 section 4).

Runs against a temporary database on the local cluster (`make db-up`):

1. the real Hyperliquid 1m files of the 20 default tokens imported into the store (they hold about
   5 days each, so a 30-day window is only partly covered: the coverage is printed);
2. 20 tokens x 30 days of 1m candles, fully covered (generated, labelled synthetic): a FIGURE line,
   the median of ``--runs`` sweeps (goal < 0.4 s);
3. 100 tokens x 30 days of 1m candles: a FIGURE line (goal < 2 s);
4. the backtest phase in the thread pool (nogil kernels) against a warm process pool;
5. the regime phase (each token's volatility regime from its hourly closes over the window and the
   180-day lookback): 20 tokens with 210 days of 1m bars stored, a scheduler's first sweep (every
   hourly close read) and its next sweep a day later (only the new hours read).

"trigger → committed" is the wall time of ``BacktestScheduler.run_once`` (it returns once the results
and the run row are committed); the phases are the sweep's own timings.

Usage: .venv/bin/python benchmarks/bench_sweep.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import polars as pl
from _figures import figure, time_summary

from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary
from algo_trade_core import SchedulerConfig
from algo_trade_data import DatabaseClient, import_candle_files, synthetic_candles
from algo_trade_data.testing import shared_data_dir, temporary_client

HL = shared_data_dir() / "real-candles" / "hyperliquid-perp"
TOKENS = SchedulerConfig().token_universe


def line(label: str, summary: RunSummary, seconds: float) -> None:
    t = summary.timings
    cov = sum(tok.window_coverage for tok in summary.tokens) / max(len(summary.tokens), 1)
    bars = sum(tok.num_bars for tok in summary.tokens)
    print(
        f"  {label:<44} {seconds:6.2f} s  (load {t['load']:.2f} s, regime {t['regime']:.2f} s, "
        f"backtest {t['backtest']:.2f} s, insert {t['insert']:.2f} s)  "
        f"{summary.tokens_ok} ok / {summary.tokens_failed} failed, "
        f"{bars:,} bars, mean coverage {cov:.1%}"
    )


def phases(summaries: list[tuple[RunSummary, float]]) -> str:
    """Median share of each phase over several sweeps."""
    return ", ".join(
        f"{phase} {statistics.median(s.timings[phase] for s, _ in summaries):.2f} s"
        for phase in ("load", "regime", "backtest", "insert")
    )


async def sweep(
    db: DatabaseClient,
    symbols: tuple[str, ...],
    as_of: datetime,
    exchange: str,
    executor: Executor | None = None,
    workers: int = 2,
) -> tuple[RunSummary, float]:
    """Run one sweep; return its summary and the wall time from trigger to committed results."""
    cfg = SchedulerConfig(token_universe=symbols, refresh_data=False, exchange=exchange, max_workers=workers)
    scheduler = BacktestScheduler(cfg, db, None, executor=executor)
    try:
        start = time.perf_counter()
        summary = await scheduler.run_once(as_of)
        return summary, time.perf_counter() - start
    finally:
        if executor is None:
            await scheduler.shutdown()


async def sweep_figure(
    db: DatabaseClient, symbols: tuple[str, ...], end: datetime, runs: int, goal_s: float
) -> None:
    results = [await sweep(db, symbols, end, "synthetic") for _ in range(runs)]
    for i, (summary, seconds) in enumerate(results):
        assert summary.tokens_ok == len(symbols), summary.errors
        line(f"trigger → committed (run {i + 1})", summary, seconds)
    median, text = time_summary([seconds for _, seconds in results])
    figure(
        f"sweep {len(symbols)} tokens x 30 days of 1m, trigger → committed",
        text,
        f"< {goal_s:g} s",
        median < goal_s,
    )
    print(f"       phases (medians): {phases(results)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="sweeps per figure (the median is reported)")
    args = parser.parse_args()
    print(f"sweep benchmark on {os.cpu_count()} cores (2 backtest workers), median of {args.runs} runs")
    async with temporary_client(max_connections=10) as db:
        # warm the JIT cache once so no figure below includes compilation
        warm_end = datetime(2026, 1, 1, tzinfo=UTC)
        await db.upsert_candles(synthetic_candles("WARM", "1m", warm_end, 3000))
        await sweep(db, ("WARM",), warm_end, "synthetic")

        if HL.is_dir():
            files = [HL / f"{s}_USDC_USDC-1m-futures.feather" for s in TOKENS]
            results = await import_candle_files(db, [f for f in files if f.exists()])
            last = max(r.last for r in results if r.ok and r.last)
            summary, seconds = await sweep(db, TOKENS, last + timedelta(minutes=1), "hyperliquid")
            print("1. real Hyperliquid 1m files, 20 tokens, 30-day window:")
            line("trigger → committed", summary, seconds)
        else:
            print(f"1. skipped: {HL} not found")

        end = datetime(2026, 1, 1, tzinfo=UTC)
        bars = 30 * 1440
        syn = tuple(f"S{i:03d}" for i in range(100))
        t0 = time.perf_counter()
        for chunk in range(0, 100, 20):
            await db.upsert_candles(
                pl.concat([synthetic_candles(s, "1m", end, bars) for s in syn[chunk : chunk + 20]])
            )
        print(f"   (stored {100 * bars:,} generated bars in {time.perf_counter() - t0:.1f} s)")
        print("2. 20 tokens x 30 days of 1m (43,200 bars each, generated):")
        await sweep_figure(db, syn[:20], end, args.runs, 0.4)
        print("3. 100 tokens x 30 days of 1m:")
        await sweep_figure(db, syn, end, args.runs, 2.0)

        print("4. executors for the backtest phase, 20 tokens x 43,200 bars:")
        with ThreadPoolExecutor(2) as threads:
            await sweep(db, syn[:20], end, "synthetic", threads)
            line(
                "thread pool (2 threads, nogil kernels)",
                *await sweep(db, syn[:20], end, "synthetic", threads),
            )
        with ProcessPoolExecutor(2) as procs:
            await sweep(
                db, syn[:20], end, "synthetic", procs
            )  # warm: workers import numba and load the cache
            line("process pool (2 warm processes)", *await sweep(db, syn[:20], end, "synthetic", procs))

        await regime_figures(db, args.runs)


async def regime_figures(db: DatabaseClient, runs: int) -> None:
    """The regime phase with a full lookback stored: a scheduler's first sweep and its next one."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    tokens = tuple(f"L{i:03d}" for i in range(20))
    t0 = time.perf_counter()
    for chunk in range(0, 20, 4):  # 210 days before `base` and one day after it
        await db.upsert_candles(
            pl.concat(
                [
                    synthetic_candles(s, "1m", base + timedelta(days=1), 211 * 1440)
                    for s in tokens[chunk : chunk + 4]
                ]
            )
        )
    print(
        f"5. regime phase, 20 tokens with 210 days of 1m bars stored (window 30 d + lookback 180 d; "
        f"stored {20 * 211 * 1440:,} bars in {time.perf_counter() - t0:.0f} s):"
    )
    cfg = SchedulerConfig(token_universe=tokens, refresh_data=False, exchange="synthetic", max_workers=2)
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(runs):
        scheduler = BacktestScheduler(cfg, db, None)  # a new scheduler: nothing held yet
        try:
            first = await scheduler.run_once(base)
            read = scheduler.regime_cache.rows_read
            second = await scheduler.run_once(base + timedelta(days=1))
        finally:
            await scheduler.shutdown()
        assert first.tokens_ok == second.tokens_ok == 20, first.errors
        assert all(r.regime is not None for r in first.results)
        cold.append(first.timings["regime"])
        warm.append(second.timings["regime"])
        line("first sweep (every hourly close read)", first, first.seconds)
        line(
            f"next sweep a day later ({scheduler.regime_cache.rows_read - read:,} closes read)",
            second,
            second.seconds,
        )
    median, text = time_summary(cold)
    figure("regime phase, 20 tokens x 210 days of 1m, first sweep", text, "< 2 s", median < 2.0)
    median, text = time_summary(warm)
    figure("regime phase, 20 tokens, a scheduler's next sweep", text, "< 0.1 s", median < 0.1)


if __name__ == "__main__":
    asyncio.run(main())
