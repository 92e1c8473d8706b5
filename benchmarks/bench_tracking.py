"""Tracking benchmark: reconciliation of 100 bots × 7 days of 1m bars (10,080 bars each), and the envelope.

Each bot trades its own random-walk coin (``ma_crossover`` 5/20: a fill every few bars, the heaviest
case for the trade matching); its fills are the engine's fills over its bars, i.e. what a paper bot
records (the bot-orchestrator's parity test shows they are the same). Printed:

* ``reconcile()`` of 100 bots from bars and fills in memory (the pure part: the engine re-run over
  warm-up + 10,080 bars, pairing and matching every trade, the equity rebuilt from the fills);
* the whole ``bots report`` path without the envelope: 100 bots' rows, fills and bars read from a
  temporary database on the local PostgreSQL (`make db-up`) with the pool's 10 connections, then
  reconciled — the goal of issue 12 (< 2 s);
* building one bot's envelope (1,000 bootstrap paths of 10,080 bars) and one ``check_divergence``.

Usage: ``python benchmarks/bench_tracking.py [--bots 100] [--bars 10080]``; timings are the median of
3 runs after one warm-up (numba kernels compiled or loaded).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _figures import figure, time_summary

from algo_trade_backtest import run_backtest
from algo_trade_bot_orchestrator import RECORD_VERSION, BotConfig, strategy_warmup_bars
from algo_trade_core import TrackingConfig, ms_to_datetime, to_decimal
from algo_trade_data import CANDLE_FRAME_SCHEMA, BotRecord, DatabaseClient, FillRecord
from algo_trade_data.testing import temporary_client
from algo_trade_tracking import (
    BarArrays,
    FillArrays,
    LiveTrack,
    check_divergence,
    envelope_of_backtest,
    load_bot_history,
    reconcile,
)

STEP = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000
PARAMS = {"fast": 5, "slow": 20}


def walk(seed: int, n: int) -> BarArrays:
    """A random-walk coin quoted like the exchange's candles: prices at 4 decimals (about 100, so 7
    significant figures, more than the exchange's 5), volumes at 2."""
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 2e-3, n))), 4)
    open_ = np.r_[100.0, close[:-1]]
    wick = np.round(np.abs(rng.normal(0.0, 5e-4, n)) * close, 4)
    t = T0 + STEP * np.arange(n, dtype=np.int64)
    return BarArrays(
        t,
        open_,
        np.round(np.maximum(open_, close) + wick, 4),
        np.round(np.minimum(open_, close) - wick, 4),
        close,
        np.round(rng.lognormal(3, 1, n), 2),
    )


def fills_of(config: BotConfig, bars: BarArrays, live_from: int) -> FillArrays:
    result = run_backtest(
        bars.t, bars.open, bars.high, bars.low, bars.close, bars.volume,
        strategy="ma_crossover", params=PARAMS, interval="1m",
    )  # fmt: skip
    return FillArrays.of_backtest(result, since_ms=live_from)


def median_of(fn: object, runs: int = 3, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock seconds of ``runs`` calls after a warm-up one (and their CPU seconds into ``cpu``)."""
    assert callable(fn)
    fn()
    times = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
    return times


async def store(db: DatabaseClient, bots: list[tuple[BotConfig, BarArrays, FillArrays, int]]) -> None:
    for config, bars, fills, warmup_end in bots:
        frame = pl.DataFrame(
            {
                "timestamp": pl.Series(bars.t).cast(pl.Datetime("ms", "UTC")),
                "symbol": config.symbol,
                "exchange": "hyperliquid",
                "interval": "1m",
                "open": bars.open,
                "high": bars.high,
                "low": bars.low,
                "close": bars.close,
                "volume": bars.volume,
                "trades": pl.Series([None] * bars.t.shape[0], dtype=pl.Int64),
            },
            schema=CANDLE_FRAME_SCHEMA,
        )
        await db.upsert_candles(frame)
        await db.insert_fills(
            [
                FillRecord(
                    fill_id=f"{config.bot_id}:{f.t}:{i}",
                    symbol=config.symbol,
                    side="buy" if f.side > 0 else "sell",
                    quantity=to_decimal(f.qty),  # as a paper bot stores its fills: 8 decimal places
                    price=to_decimal(f.price),
                    fee=to_decimal(f.fee),
                    timestamp=ms_to_datetime(f.t),
                    reason=f.reason,
                    bot_id=config.bot_id,
                )
                for i, f in enumerate(fills.to_list())
            ]
        )
        now = datetime.now(UTC)
        await db.upsert_bot(
            BotRecord(
                bot_id=config.bot_id,
                symbol=config.symbol,
                strategy_name=config.strategy,
                parameters=dict(config.parameters),
                interval="1m",
                state="running",
                created_at=now,
                updated_at=now,
                position={
                    "version": RECORD_VERSION,
                    "config": config.to_json_dict(),
                    "bars": int(bars.t.shape[0]) - (warmup_end - T0) // STEP - 1,
                    "warmup_end": warmup_end,
                },
                equity=Decimal(0),
                last_candle_time=ms_to_datetime(int(bars.t[-1])),
            )
        )


async def dashboard_report(db: DatabaseClient, bot_id: str, bars: int) -> None:
    """The dashboard's bot report over HTTP: the first request builds it, later ones read the cache."""
    from aiohttp.test_utils import TestClient, TestServer

    from algo_trade_core import AppConfig
    from algo_trade_dashboard import create_app

    async with TestClient(TestServer(create_app(AppConfig(), db=db))) as client:

        async def get(path: str) -> float:
            start = time.perf_counter()
            response = await client.get(path)
            assert response.status == 200, await response.text()
            await response.read()
            return time.perf_counter() - start

        cold = await get(f"/api/bots/{bot_id}/report")
        warm = [await get(f"/api/bots/{bot_id}/report") for _ in range(20)]
        chart = [await get(f"/api/bots/{bot_id}/report/chart") for _ in range(20)]
    print(
        f"dashboard /api/bots/{{id}}/report of one bot x {bars:,} bars (no stored result: no envelope): "
        f"first {cold * 1000:.0f} ms, cached {time_summary(warm, 'ms')[1]}; /report/chart cached "
        f"{time_summary(chart, 'ms')[1]}"
    )


async def run(args: argparse.Namespace) -> int:
    warm = strategy_warmup_bars("ma_crossover", PARAMS)
    n = warm + args.bars
    warmup_end = T0 + (warm - 1) * STEP
    bots = []
    for i in range(args.bots):
        config = BotConfig(symbol=f"C{i:03d}", strategy="ma_crossover", parameters=PARAMS)
        bars = walk(i, n)
        bots.append((config, bars, fills_of(config, bars, warmup_end + STEP), warmup_end))
    trades = sum(int((fills.reason != 0).sum()) for _, _, fills, _ in bots)
    print(f"{args.bots} bots × {args.bars:,} live bars (+{warm} warm-up), {trades:,} round trips in all")

    def pure() -> None:
        for config, bars, fills, end in bots:
            rec = reconcile(
                config, bars, fills, warmup_end_ms=end, last_bar_ms=int(bars.t[-1]), bars_seen=args.bars
            )
            assert rec.status == "exact", rec.message

    cpu: list[float] = []
    median, text = time_summary(median_of(pure, cpu=cpu))
    figure(f"reconcile {args.bots} bots x {args.bars:,} 1m bars (in memory)", text, "< 2 s", median < 2.0)
    print(f"  CPU of this process: {time_summary(cpu)[1]} (the wall clock includes other processes' load)")

    async with temporary_client(max_connections=10) as db:
        await store(db, bots)

        async def one(bot_id: str) -> None:
            h = await load_bot_history(db, bot_id)
            rec = reconcile(
                h.config,
                h.bars,
                h.fills,
                warmup_end_ms=h.warmup_end_ms,
                last_bar_ms=h.last_bar_ms,
                bars_seen=h.bars_seen,
            )
            assert rec.status == "exact", rec.message

        times, cpu = [], []
        for _ in range(4):
            start, start_cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(one(c.bot_id) for c, *_ in bots))
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        median, text = time_summary(times[1:])
        figure(
            f"reconcile {args.bots} bots x {args.bars:,} 1m bars (from PostgreSQL)",
            text,
            "< 2 s",
            median < 2.0,
        )
        print(f"  CPU of this process: {time_summary(cpu[1:])[1]}; PostgreSQL renders the 1M bars meanwhile")

        times = []
        for _ in range(3):
            start = time.perf_counter()
            await asyncio.gather(*(load_bot_history(db, c.bot_id) for c, *_ in bots))
            times.append(time.perf_counter() - start)
        print(f"  of which reading the rows, fills and bars alone: {time_summary(times)[1]}")
        await dashboard_report(db, bots[0][0].bot_id, args.bars)

    _, bars, _, _ = bots[0]
    result = run_backtest(
        bars.t, bars.open, bars.high, bars.low, bars.close, bars.volume,
        strategy="ma_crossover", params=PARAMS, interval="1m",
    )  # fmt: skip
    settings = TrackingConfig()
    envelope = envelope_of_backtest(result, settings, horizon_bars=args.bars, basis="bench")
    median, text = time_summary(
        median_of(lambda: envelope_of_backtest(result, settings, horizon_bars=args.bars, basis="bench")), "ms"
    )
    print(f"envelope of one bot ({settings.bootstrap_samples} paths x {args.bars:,} bars): {text}")
    live = LiveTrack(equity=result.equity[warm:], capital=10_000.0, trades=len(result.trades))
    median, text = time_summary(median_of(lambda: check_divergence(envelope, live)), "ms")
    print(f"check_divergence of one bot over {args.bars:,} bars: {text}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=100)
    parser.add_argument("--bars", type=int, default=10_080)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
