"""Backtest engine benchmark: warm-kernel throughput, reference ratio, grid time, start-up and JIT cost.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (``make bench`` runs every ``bench_*.py``).
Input is a synthetic 1m random walk with lognormal volume; timings are the best of several repeats.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from algo_trade_backtest import run_backtest, run_grid
from algo_trade_backtest._engine import prepare_bars, simulate
from algo_trade_backtest._params import execution_to_array, params_to_array
from algo_trade_backtest._reference import reference_backtest
from algo_trade_core import BacktestConfig, QuadMaConfig

CORES = os.cpu_count() or 1
DAY_1M = 1_440


def synthetic_bars(n: int, seed: int = 42) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    close = np.round(30.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0015, n))), 4)
    open_ = np.r_[close[0], close[:-1]]
    wick = np.abs(rng.normal(0.0, 0.0008, n)) * close
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    volume = np.round(rng.lognormal(3.0, 1.0, n), 2)
    ts = 1_735_689_600_000 + 60_000 * np.arange(n, dtype=np.int64)
    return prepare_bars(ts, open_, high, low, close, volume)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def throughput() -> None:
    params = params_to_array(QuadMaConfig())
    execution = execution_to_array(BacktestConfig())
    for n in (30 * DAY_1M, 1_000_000):
        bars = synthetic_bars(n)
        simulate(0, params, execution, bars)  # compile or load from the cache
        kernel = best_of(lambda bars=bars: simulate(0, params, execution, bars), 7 if n < 100_000 else 3)
        wrapper = best_of(lambda bars=bars: run_backtest(*bars, strategy="quad_ma", interval="1m"), 3)
        trades = len(run_backtest(*bars, strategy="quad_ma", interval="1m").trades)
        with ThreadPoolExecutor(CORES) as pool:  # one run per core at once (the kernels release the GIL)
            parallel = best_of(
                lambda bars=bars: list(
                    pool.map(lambda _: simulate(0, params, execution, bars), range(CORES))
                ),
                3,
            )
        print(f"quad_ma defaults, {n:>9,} bars ({trades} trades):")
        print(f"  kernel, one run (= one core):   {n / kernel / 1e6:7.1f} M bars/s  ({kernel * 1e3:8.2f} ms)")
        print(f"  run_backtest (validation, trade objects): {n / wrapper / 1e6:7.1f} M bars/s")
        print(
            f"  {CORES} runs on {CORES} cores at once:    {CORES * n / parallel / 1e6:7.1f} M bars/s, "
            f"{n / parallel / 1e6:.1f} M bars/s per core"
        )
        if n == 30 * DAY_1M:
            reference = best_of(
                lambda bars=bars: reference_backtest(*bars, strategy="quad_ma", interval="1m"), 1
            )
            print(
                f"  pure-Python reference:           {n / reference / 1e6:7.3f} M bars/s  "
                f"({reference:.2f} s, {reference / kernel:,.0f}x the kernel)"
            )


def grid() -> None:
    bars = synthetic_bars(30 * DAY_1M, seed=7)
    sets = [
        {
            "short_1": s1,
            "short_2": s2,
            "long_1": l1,
            "long_2": l2,
            "trend": trend,
            "volume_filter": vf,
            "take_profit": tp,
            "stop_loss": tp / 2,
        }
        for s1, s2, l1, l2, trend, vf, tp in itertools.product(
            [3, 5, 8],
            [10, 13],
            [20, 26, 34],
            [50, 60],
            [100, 150, 200],
            [True, False],
            [0.005, 0.01, 0.02, 0.03, 0.05],
        )
    ][:1_000]
    assert len(sets) == 1_000
    run_grid(*bars, strategy="quad_ma", param_sets=sets[:4], interval="1m")  # compile or load
    seconds = best_of(lambda: run_grid(*bars, strategy="quad_ma", param_sets=sets, interval="1m"), 3)
    one_core = (
        best_of(
            lambda: run_grid(*bars, strategy="quad_ma", param_sets=sets[:250], interval="1m", workers=1), 1
        )
        * 4
    )
    print(
        f"grid: 1,000 quad_ma parameter sets x {len(bars[0]):,} 1m bars (30 days), {CORES} threads: "
        f"{seconds:.2f} s ({1_000 * len(bars[0]) / seconds / 1e6:.0f} M bar-steps/s; "
        f"one thread: ~{one_core:.2f} s)"
    )


_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from algo_trade_backtest import StrategyRunner, run_backtest, run_grid
t1 = time.perf_counter()
n = 500
ts = 1_735_689_600_000 + 60_000 * np.arange(n)
c = 30.0 + np.cumsum(np.sin(np.arange(n) / 7.0)) / 10
run_backtest(ts, c, c, c, c, np.ones(n), strategy="quad_ma", interval="1m")
t2 = time.perf_counter()
run_grid(ts, c, c, c, c, np.ones(n), strategy="quad_ma", param_sets=[{}], interval="1m")
t3 = time.perf_counter()
StrategyRunner("quad_ma", interval="1m").on_bar(int(ts[0]), 30.0, 30.0, 30.0, 30.0, 1.0)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "backtest": t2 - t1, "grid": t3 - t2, "runner": t4 - t3}))
"""


def startup() -> None:
    def child(code: str, cache_dir: str) -> tuple[float, dict[str, float]]:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        start = time.perf_counter()
        # S603: runs this interpreter on the fixed snippets above, nothing from outside.
        out = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return time.perf_counter() - start, json.loads(out.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as cache:
        bare, _ = child("print('{}')", cache)
        cold_total, cold = child(_CHILD, cache)
        warm_total, warm = child(_CHILD, cache)
    print(f"process start (python -c pass):          {bare:6.2f} s")
    for label, total, parts in (
        ("cold JIT cache (first run ever)", cold_total, cold),
        ("warm JIT cache (every later run)", warm_total, warm),
    ):
        print(
            f"{label}: {total:6.2f} s in all = start {bare:.2f} + import {parts['import']:.2f} "
            f"+ first backtest {parts['backtest']:.2f} + first grid {parts['grid']:.2f} "
            f"+ first runner bar {parts['runner']:.2f}"
        )


def main() -> None:
    print(f"algo_trade_backtest engine benchmark - {CORES} cores, Python {sys.version.split()[0]}")
    throughput()
    grid()
    startup()


if __name__ == "__main__":
    main()
