"""Database benchmarks: candle upsert, batched result inserts, a 30-day 1m window read.

Runs against a temporary database on the local cluster (`make db-up`) and prints:

* candle upsert of 1,000,000 rows (20 tokens x 50,000 1m bars): rows/s, target >= 200,000/s;
* ``insert_backtest_results_batch`` of 10,000 results against a loop of ``insert_backtest_result``
  in the same run: seconds and ratio, target < 0.5 s for the batch;
* a 30-day window of 1m bars (43,200 bars) read into polars: target < 100 ms.

Usage: ``python benchmarks/bench_database.py [--timescaledb auto|on|off] [--strict]``
(``--strict`` exits 1 when a target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._database import DatabaseClient
from algo_trade_data._records import BacktestResultRecord
from algo_trade_data.testing import temporary_client

SYMBOLS = 20
BARS = 50_000
RESULTS = 10_000
WINDOW_BARS = 43_200
START = datetime(2025, 1, 1, tzinfo=UTC)


def candle_frame(symbols: int = SYMBOLS, bars: int = BARS, seed: int = 7, first: int = 0) -> pl.DataFrame:
    """1m bars with exchange-like precision (5 significant digits, like Hyperliquid's prices)."""
    rng = np.random.default_rng(seed)
    t0 = int(START.timestamp() * 1000)
    times = pl.Series(t0 + 60_000 * np.arange(bars, dtype=np.int64)).cast(pl.Datetime("ms", "UTC"))
    frames = []
    for i in range(symbols):
        start_price = float(10 ** rng.uniform(-2, 5))
        decimals = max(4 - int(np.floor(np.log10(start_price))), 0)
        close = start_price * np.exp(np.cumsum(rng.normal(0, 1e-3, bars)))
        open_ = np.concatenate(([start_price], close[:-1]))
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 5e-4, bars)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 5e-4, bars)))
        o, h, lo, c = (np.round(x, decimals) for x in (open_, high, low, close))
        frames.append(
            pl.DataFrame(
                {
                    "timestamp": times,
                    "symbol": f"TOK{first + i:02d}",
                    "exchange": "hyperliquid",
                    "interval": "1m",
                    "open": o,
                    "high": np.maximum.reduce([h, o, c]),
                    "low": np.minimum.reduce([lo, o, c]),
                    "close": c,
                    "volume": np.round(rng.lognormal(3, 1, bars), 2),
                    "trades": rng.integers(1, 2_000, bars),
                },
                schema=CANDLE_FRAME_SCHEMA,
            )
        )
    return pl.concat(frames)


def result_records(n: int, at: datetime) -> list[BacktestResultRecord]:
    rng = np.random.default_rng(3)
    return [
        BacktestResultRecord(
            timestamp=at,
            symbol=f"TOK{i % SYMBOLS:02d}",
            strategy_name="quad_ma",
            # One parameter set per params_hash, run on every token (as a sweep does).
            parameters={
                "short_1": 3 + (i // SYMBOLS) % 5,
                "short_2": 8 + (i // SYMBOLS) % 7,
                "long_1": 20,
                "long_2": 50,
                "trend": 100,
                "take_profit": 0.01 + (i // SYMBOLS) % 10 / 1000,
            },
            sharpe_ratio=float(rng.normal(1, 1)),
            total_return=Decimal(f"{rng.normal(0.02, 0.1):.8f}"),
            max_drawdown=Decimal(f"{abs(rng.normal(0.1, 0.05)):.8f}"),
            num_trades=int(rng.integers(0, 200)),
            win_rate=float(rng.uniform(0, 1)),
            initial_capital=Decimal(10_000),
            final_capital=Decimal(f"{10_000 * (1 + rng.normal(0.02, 0.1)):.8f}"),
            backtest_window_start=at - timedelta(days=30),
            backtest_window_end=at,
            run_id="bench",
            interval="1m",
            params_hash=f"p{i // SYMBOLS:04d}",
            sortino_ratio=float(rng.normal(1.5, 1)),
            calmar_ratio=float(rng.normal(2, 1)),
            profit_factor=float(rng.uniform(0.5, 3)),
            buy_hold_return=Decimal(f"{rng.normal(0, 0.1):.8f}"),
            exposure=float(rng.uniform(0, 1)),
            num_bars=43_200,
            window_coverage=1.0,
        )
        for i in range(n)
    ]


def verdict(ok: bool) -> str:
    return "OK  " if ok else "MISS"


async def bench_candles(db: DatabaseClient) -> tuple[bool, bool]:
    frame = candle_frame()
    start = time.perf_counter()
    written = await db.upsert_candles(frame)
    insert_s = time.perf_counter() - start
    rate = frame.height / insert_s
    start = time.perf_counter()
    again = await db.upsert_candles(frame)
    noop_s = time.perf_counter() - start
    changed = frame.with_columns(volume=pl.col("volume") + 1.0).slice(0, 200_000)
    start = time.perf_counter()
    updated = await db.upsert_candles(changed)
    update_s = time.perf_counter() - start
    print(
        f"{verdict(rate >= 200_000)} candle upsert, {frame.height:,} new rows: {insert_s:.2f} s = "
        f"{rate:,.0f} rows/s (target >= 200,000/s; {written:,} written)"
    )
    # The same size of new bars, but one of them is already stored: the batch takes the general
    # INSERT ... ON CONFLICT DO UPDATE path instead of the conflict-free one.
    overlapping = candle_frame(first=SYMBOLS, seed=8)
    await db.upsert_candles(overlapping.slice(0, 1))
    start = time.perf_counter()
    merged = await db.upsert_candles(overlapping)
    merge_s = time.perf_counter() - start
    print(
        f"     {overlapping.height:,} new rows overlapping one stored bar (ON CONFLICT path): "
        f"{merge_s:.2f} s = {overlapping.height / merge_s:,.0f} rows/s ({merged:,} written)"
    )
    print(
        f"     the first 1,000,000 rows again: {noop_s:.2f} s = {frame.height / noop_s:,.0f} rows/s "
        f"({again} rewritten); 200,000 changed rows: {update_s:.2f} s ({updated:,} updated)"
    )

    symbol = "TOK00"
    end = START + timedelta(minutes=WINDOW_BARS)
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        window = await db.query_candles(symbol, "1m", START, end)
        timings.append(time.perf_counter() - start)
    assert window.height == WINDOW_BARS, window.height
    median_ms = statistics.median(timings) * 1000
    print(
        f"{verdict(median_ms < 100)} 30-day 1m window ({window.height:,} bars) into polars: median "
        f"{median_ms:.1f} ms, best {min(timings) * 1000:.1f} ms over {len(timings)} reads (target < 100 ms)"
    )
    return rate >= 200_000, median_ms < 100


async def bench_results(db: DatabaseClient) -> bool:
    batch = result_records(RESULTS, START)
    loop = result_records(RESULTS, START + timedelta(hours=1))
    start = time.perf_counter()
    await db.insert_backtest_results_batch(batch)
    batch_s = time.perf_counter() - start
    start = time.perf_counter()
    for record in loop:
        await db.insert_backtest_result(record)
    loop_s = time.perf_counter() - start
    async with db.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM backtest_results")
    assert stored == 2 * RESULTS, stored
    print(
        f"{verdict(batch_s < 0.5)} insert_backtest_results_batch, {RESULTS:,} results: {batch_s:.3f} s "
        f"(target < 0.5 s); row-by-row insert_backtest_result loop: {loop_s:.2f} s; "
        f"batch is {loop_s / batch_s:.0f}x faster"
    )
    return batch_s < 0.5


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timescaledb", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    mode = {"auto": None, "on": True, "off": False}[args.timescaledb]
    async with temporary_client(timescaledb=mode) as db:
        kind = "TimescaleDB hypertables" if db.timescaledb_enabled else "plain PostgreSQL"
        print(f"database benchmarks on {kind} (temporary database)")
        candles_ok, read_ok = await bench_candles(db)
        results_ok = await bench_results(db)
    ok = candles_ok and read_ok and results_ok
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
