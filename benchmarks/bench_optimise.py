"""Optimisation benchmark (issue 11): grid throughput in backtests per second per core on 30 days of 1m
bars with 1000 quad_ma sets (goal >= 5,000/s/core).

Run: ``.venv/bin/python benchmarks/bench_optimise.py``. Input: the synthetic 1m walk of bench_engine.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _figures import figure
from bench_engine import synthetic_bars

from algo_trade_backtest import grid_run
from algo_trade_backtest._params import coerce_params
from algo_trade_core import BacktestConfig


def quad_sets(count: int) -> list[object]:
    sets = []
    for s1, s2, l1, l2, trend, tp, sl, vf in itertools.product(
        [3, 5, 8], [10, 13], [20, 30], [40, 50, 60], [100, 150, 200], [0.01, 0.02, 0.03], [0.005, 0.01],
        [True, False],
    ):  # fmt: skip
        if s1 < s2 < l1 < l2 < trend:
            params = {"short_1": s1, "short_2": s2, "long_1": l1, "long_2": l2, "trend": trend}
            params |= {"take_profit": tp, "stop_loss": sl, "volume_filter": vf}
            sets.append(coerce_params("quad_ma", params))
    return sets[:count]


def main() -> None:
    bars = synthetic_bars(30 * 1440)
    sets = quad_sets(1000)
    execution = BacktestConfig()
    grid_run(bars, sets[:4], execution=execution, interval="1m", workers=1)  # compile or load
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        grid_run(bars, sets, execution=execution, interval="1m", workers=1)
        runs.append(time.perf_counter() - start)
    best = min(runs)
    rate = len(sets) / best
    figure(
        f"grid: {len(sets)} quad_ma sets x 43,200 1m bars, backtests/s/core",
        f"{rate:,.0f}/s ({best:.2f} s, best of 3)",
        ">= 5,000/s/core",
        rate >= 5000,
    )
    print(f"cost per (set x bar): {best / len(sets) / 43_200 * 1e9:.1f} ns")


if __name__ == "__main__":
    main()
