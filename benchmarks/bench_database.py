"""Database benchmarks: the candle store and result figures of issue 9 section 4.

Runs against a temporary database on the local cluster (`make db-up`) and prints, as ``FIGURE``
lines (median of ``--runs`` runs, with their spread):

* a 30-day window of 1m bars (43,200 bars) read into polars (goal < 15 ms);
* candle upsert of 1,000,000 new rows (20 tokens x 50,000 1m bars; goal >= 400 k rows/s);
* candle upsert of 1,000,000 new rows that overlap one stored bar: the batch a refresh writes, which
  used to go through ``INSERT ... ON CONFLICT`` as a whole (goal >= 250 k rows/s);
* candle upsert of 1,000,000 rows inside the stored range, half of them stored already (a gap
  repair or a re-import): every row goes through the merge (goal >= 250 k rows/s);
* ``insert_backtest_results_batch`` of 10,000 results (goal < 0.15 s);

plus, for context, unchanged and changed re-imports and a row-by-row insert loop.

Usage: ``python benchmarks/bench_database.py [--timescaledb auto|on|off] [--runs N] [--strict]``
(``--strict`` exits 1 when a goal is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
from _figures import figure, rate_summary, time_summary

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


async def timed(call: Awaitable[object]) -> float:
    start = time.perf_counter()
    await call
    return time.perf_counter() - start


class Bench:
    """The figures of one run of this script; ``ok`` is False once a goal is missed."""

    def __init__(self, db: DatabaseClient, runs: int) -> None:
        self.db = db
        self.runs = runs
        self.ok = True
        self._next_symbol = 0

    def fresh(self, bars: int = BARS, seed: int = 7) -> pl.DataFrame:
        """1,000,000 bars of 20 symbols the store has never seen."""
        frame = candle_frame(first=self._next_symbol, bars=bars, seed=seed + self._next_symbol)
        self._next_symbol += SYMBOLS
        return frame

    def report(self, name: str, measured: str, goal: str, ok: bool) -> None:
        figure(name, measured, goal, ok)
        self.ok = self.ok and ok

    async def window_read(self) -> None:
        base = self.fresh()
        await self.db.upsert_candles(base)
        symbol = base["symbol"][0]
        end = START + timedelta(minutes=WINDOW_BARS)
        reads = []
        for _ in range(20 * self.runs):
            start = time.perf_counter()
            window = await self.db.query_candles(symbol, "1m", START, end)
            reads.append(time.perf_counter() - start)
        assert window.height == WINDOW_BARS, window.height
        median, text = time_summary(reads, "ms")
        self.report(
            f"30-day 1m window ({WINDOW_BARS:,} bars) from the store into polars",
            text.replace("runs", "reads"),
            "< 15 ms",
            median < 0.015,
        )

    async def upserts(self) -> None:
        rows = SYMBOLS * BARS
        new = [await timed(self.db.upsert_candles(self.fresh())) for _ in range(self.runs)]
        median, text = rate_summary(rows, new)
        self.report(f"candle upsert, {rows:,} new rows", text, ">= 400 k rows/s", median >= 400_000)

        overlapping = []
        for _ in range(self.runs):
            frame = self.fresh()
            await self.db.upsert_candles(frame.slice(0, 1))
            overlapping.append(await timed(self.db.upsert_candles(frame)))
        median, text = rate_summary(rows, overlapping)
        self.report(
            f"candle upsert, {rows:,} new rows overlapping 1 stored bar",
            text,
            ">= 250 k rows/s",
            median >= 250_000,
        )

        merged = []
        for _ in range(self.runs):
            frame = self.fresh()
            await self.db.upsert_candles(frame.filter(pl.int_range(pl.len()) % 2 == 0))
            merged.append(await timed(self.db.upsert_candles(frame)))
        median, text = rate_summary(rows, merged)
        self.report(
            f"candle upsert, {rows:,} rows into stored ranges (half stored)",
            text,
            ">= 250 k rows/s",
            median >= 250_000,
        )

        # Context: the same bars again (nothing to write), and 200,000 of them changed.
        frame = self.fresh()
        await self.db.upsert_candles(frame)
        again = await timed(self.db.upsert_candles(frame))
        changed = frame.with_columns(volume=pl.col("volume") + 1.0).slice(0, 200_000)
        update = await timed(self.db.upsert_candles(changed))
        print(
            f"       {rows:,} stored rows again (none written): {rows / again / 1000:,.0f} k rows/s; "
            f"200,000 changed rows: {200_000 / update / 1000:,.0f} k rows/s"
        )

    async def results(self) -> None:
        batches = []
        for i in range(self.runs):
            records = result_records(RESULTS, START + timedelta(hours=i))
            batches.append(await timed(self.db.insert_backtest_results_batch(records)))
        loop = result_records(1_000, START - timedelta(hours=1))
        start = time.perf_counter()
        for record in loop:
            await self.db.insert_backtest_result(record)
        per_row = (time.perf_counter() - start) / len(loop)
        async with self.db.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM backtest_results")
        assert stored == self.runs * RESULTS + len(loop), stored
        median, text = time_summary(batches)
        self.report(f"insert_backtest_results_batch, {RESULTS:,} results", text, "< 0.15 s", median < 0.15)
        print(
            f"       row by row (insert_backtest_result): {per_row * 1000:.2f} ms per result, "
            f"{per_row * RESULTS:.2f} s for {RESULTS:,}: the batch is "
            f"{per_row * RESULTS / median:.0f}x faster"
        )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timescaledb", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    mode = {"auto": None, "on": True, "off": False}[args.timescaledb]
    async with temporary_client(timescaledb=mode) as db:
        kind = "TimescaleDB hypertables" if db.timescaledb_enabled else "plain PostgreSQL"
        print(f"database benchmarks on {kind} (temporary database), median of {args.runs} runs")
        bench = Bench(db, args.runs)
        await bench.window_read()
        await bench.upserts()
        await bench.results()
    return 0 if bench.ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
