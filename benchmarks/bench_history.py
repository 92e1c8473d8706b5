"""History benchmarks: the gap finder, `data status`, and what a refresh's hole repair costs.

Runs against a temporary database on the local cluster (`make db-up`) and the fake exchange, and prints:

* ``candle_gaps`` over 20 series x 50,000 1m bars (1,000,000 rows) with 5 holes each, and over one
  30-day 1m window with its edges (what every refresh asks);
* ``candle_status`` of the whole store (what `data status` shows);
* a refresh of 20 tokens whose store has one hole each, against the same refresh without holes:
  requests, weight and seconds (the repair is one extra request per token with holes).

Usage: ``python benchmarks/bench_history.py``
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from algo_trade_core import HyperliquidConfig
from algo_trade_data import HyperliquidClient, WeightRateLimiter, refresh_many
from algo_trade_data._database import DatabaseClient
from algo_trade_data.testing import (
    FakeHyperliquid,
    FakeMarket,
    ManualClock,
    fake_candles,
    temporary_client,
    truncate_tables,
)

SYMBOLS = 20
BARS = 50_000
HOLES = 5
MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000


def store_frame(symbol: str, bars: int, holes: list[tuple[int, int]], seed: int) -> pl.DataFrame:
    frame = fake_candles(T0, bars, "1m", seed=seed).with_columns(
        pl.lit(symbol).alias("symbol"),
        pl.lit("hyperliquid").alias("exchange"),
        pl.lit("1m").alias("interval"),
    )
    index = pl.int_range(pl.len())
    mask = pl.lit(True)
    for first, last in holes:
        mask = mask & ~index.is_between(first, last)
    return frame.filter(mask)


async def timed(work: Callable[[], Awaitable[Any]], runs: int = 5) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = await work()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), result


async def bench_gaps(db: DatabaseClient) -> None:
    rng = np.random.default_rng(3)
    for i in range(SYMBOLS):
        holes = sorted(
            (int(a), int(a) + int(rng.integers(1, 30))) for a in rng.integers(100, BARS - 100, HOLES)
        )
        await db.upsert_candles(store_frame(f"TOK{i:02d}", BARS, holes, seed=i))
    all_s, gaps = await timed(lambda: db.candle_gaps())
    print(
        f"candle_gaps over {SYMBOLS * BARS:,} stored 1m bars: {all_s * 1000:.0f} ms ({len(gaps)} gaps found)"
    )
    start = datetime.fromtimestamp(T0 / 1000, UTC) + timedelta(days=2)
    end = start + timedelta(days=30)
    one_s, window = await timed(lambda: db.candle_gaps("TOK00", "1m", start=start, end=end, edges=True), 20)
    print(
        f"candle_gaps of one 30-day 1m window with edges (each refresh): {one_s * 1000:.1f} ms "
        f"({len(window)} gaps)"
    )
    await db.upsert_candles(store_frame("FULL", BARS, [], seed=99))
    full_s, none = await timed(lambda: db.candle_gaps("FULL", "1m", start=start, end=end, edges=True), 20)
    print(f"candle_gaps of one 30-day 1m window without holes (the usual refresh): {full_s * 1000:.1f} ms")
    assert none == []
    status_s, status = await timed(lambda: db.candle_status())
    print(f"candle_status of the whole store (data status): {status_s * 1000:.0f} ms ({len(status)} series)")


async def bench_refresh(db: DatabaseClient) -> None:
    bars = 3 * 1440
    now = T0 + bars * MINUTE + 30_000
    coins = [f"TOK{i:02d}" for i in range(SYMBOLS)]
    for with_holes in (False, True):
        await truncate_tables(db)
        clock = ManualClock()
        markets = [FakeMarket(name=coin) for coin in coins]
        async with FakeHyperliquid(now_ms=now, clock=clock.monotonic, markets=markets) as fake:
            for i, coin in enumerate(coins):
                fake.add_candles(coin, "1m", fake_candles(T0, bars + 1, "1m", seed=i))
                holes = [(2_000, 2_059)] if with_holes else []
                await db.upsert_candles(store_frame(coin, bars - 30, holes, seed=i))
            cfg = HyperliquidConfig(api_url=fake.url)
            limiter = WeightRateLimiter(cfg.weight_per_minute, clock=clock.monotonic, sleep=clock.sleep)
            async with HyperliquidClient(
                cfg, limiter=limiter, now_ms=lambda: fake.now_ms, sleep=clock.sleep
            ) as hl:
                start = time.perf_counter()
                summary = await refresh_many(hl, db, coins, "1m", datetime.fromtimestamp(T0 / 1000, UTC))
                seconds = time.perf_counter() - start
            snapshots = fake.requests_of("candleSnapshot")
            what = "with one 60-bar hole each" if with_holes else "without holes"
            weight = sum(r.weight for r in snapshots)
            print(
                f"refresh of {SYMBOLS} tokens {what}: {seconds:.2f} s, {len(snapshots)} candleSnapshot "
                f"requests, weight {weight}, {summary.repaired} bars repaired"
            )


async def main() -> int:
    async with temporary_client() as db:
        await bench_gaps(db)
        await bench_refresh(db)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
