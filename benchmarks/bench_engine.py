"""Backtest engine benchmark: warm-kernel throughput against a bare numba loop, reference ratio, grid
time, start-up and JIT cost.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (``make bench`` runs every ``bench_*.py``).
Input is a synthetic 1m random walk with lognormal volume; timings are the best of several repeats.

The bare loop (:func:`bare_quad_ma_nb`) is what the engine's limit looks like: the same per-bar work
written as one flat function with nothing around it (rolling sums of the same decimal units, the
crossover comparison, the setup checks on crossover bars, a position with fills, fees, take-profit and
stop-loss, the equity per bar), reading history straight from the input arrays. It skips what the
engine adds: resumable state, trade and fill records, reversal confirmation, the strategy switch.
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
from numba import njit

from algo_trade_backtest import run_backtest, run_grid
from algo_trade_backtest._engine import prepare_bars, simulate
from algo_trade_backtest._reference import reference_backtest
from algo_trade_backtest._state import execution_record, kernel_bars, params_record, series_decimals
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


@njit(cache=True, nogil=True, error_model="numpy")
def bare_quad_ma_nb(
    o: Any, h: Any, lo: Any, c: Any, cu: Any, vu: Any, periods: Any, factor: Any, costs: Any, equity: Any
) -> int:
    """quad_ma in one flat loop: exact integer averages, setups, fills with costs, TP/SL, equity."""
    p1, p2, q1, q2, pt = periods[0], periods[1], periods[2], periods[3], periods[4]
    num, den = factor[0], factor[1]
    take, stop, fee_rate, slip = costs[0], costs[1], costs[2], costs[3]
    warm = max(p1, p2, q1, q2, pt)
    s1 = s2 = s3 = s4 = st = sv = 0
    cash, qty, pos, pending, prev, trades = 10_000.0, 0.0, 0, 0, 0, 0
    tp = sl = 0.0
    for i in range(c.shape[0]):
        if pending != 0:
            price = o[i] * (1.0 + slip * pending)
            if pos != 0:  # reverse
                cash += qty * price - fee_rate * abs(qty) * price
                qty, pos, trades = 0.0, 0, trades + 1
            size = cash / price
            qty = size * pending
            cash -= qty * price + fee_rate * size * price
            pos = pending
            tp = price * (1.0 + take * pos)
            sl = price * (1.0 - stop * pos)
            pending = 0
        if pos != 0:
            level = 0.0
            if pos > 0:
                if o[i] <= sl or o[i] >= tp:
                    level = o[i]
                elif lo[i] <= sl:
                    level = sl
                elif h[i] >= tp:
                    level = tp
            elif o[i] >= sl or o[i] <= tp:
                level = o[i]
            elif h[i] >= sl:
                level = sl
            elif lo[i] <= tp:
                level = tp
            if level != 0.0:
                price = level * (1.0 - slip * pos)
                cash += qty * price - fee_rate * abs(qty) * price
                qty, pos, trades = 0.0, 0, trades + 1
        x = cu[i]
        s1 += x - (cu[i - p1] if i >= p1 else 0)
        s2 += x - (cu[i - p2] if i >= p2 else 0)
        s3 += x - (cu[i - q1] if i >= q1 else 0)
        s4 += x - (cu[i - q2] if i >= q2 else 0)
        leaving = cu[i - pt] if i >= pt else 0
        st += x - leaving
        sv += vu[i] - (vu[i - q2] if i >= q2 else 0)
        cross = np.sign(p2 * s1 - p1 * s2)
        if i >= warm:
            for d in (1, -1):
                if (prev <= 0 < cross if d > 0 else cross <= 0 < prev) and pos != d:
                    if (
                        (x - leaving) * d > 0
                        and np.sign(q1 * s1 - p1 * s3) == d
                        and np.sign(q2 * s1 - p1 * s4) == d
                        and np.sign(q1 * s2 - p2 * s3) == d
                        and np.sign(q2 * s2 - p2 * s4) == d
                        and np.sign(pt * x - st) == d
                        and q2 * den * vu[i] > num * sv
                    ):
                        pending = d
        prev = cross
        equity[i] = cash + qty * c[i]
    return trades


def _bare_inputs(units: Any, params: QuadMaConfig, execution: BacktestConfig) -> tuple[Any, ...]:
    periods = np.array([params.short_1, params.short_2, params.long_1, params.long_2, params.trend])
    factor = np.array([3, 2])  # volume_factor 1.5
    costs = np.array([params.take_profit, params.stop_loss, execution.fee_rate, execution.slippage_bps / 1e4])
    k = units.kernel
    return (k.open, k.high, k.low, k.close, k.close_units, k.volume_units, periods, factor, costs)


def throughput() -> None:
    config, settings = QuadMaConfig(), BacktestConfig()
    params = params_record(config)
    execution = execution_record(settings)
    for n in (30 * DAY_1M, 1_000_000):
        bars = synthetic_bars(n)
        units = kernel_bars(bars, *series_decimals(bars[4], bars[5], params))
        simulate(params, execution, bars, units)  # compile or load from the cache
        bare_args = _bare_inputs(units, config, settings)
        equity = np.empty(n)
        bare_quad_ma_nb(*bare_args, equity)
        repeats = 7 if n < 100_000 else 3
        # Interleaved, so that both see the same load of the machine.
        kernel, bare = float("inf"), float("inf")
        for _ in range(repeats):
            kernel = min(kernel, best_of(lambda b=bars, u=units: simulate(params, execution, b, u), 1))
            bare = min(bare, best_of(lambda a=bare_args, e=equity: bare_quad_ma_nb(*a, e), 1))
        prepare = best_of(lambda b=bars: kernel_bars(b, *series_decimals(b[4], b[5], params)), repeats)
        wrapper = best_of(lambda bars=bars: run_backtest(*bars, strategy="quad_ma", interval="1m"), 3)
        trades = len(run_backtest(*bars, strategy="quad_ma", interval="1m").trades)
        with ThreadPoolExecutor(CORES) as pool:  # one run per core at once (the kernels release the GIL)
            parallel = best_of(
                lambda bars=bars, units=units: list(
                    pool.map(lambda _: simulate(params, execution, bars, units), range(CORES))
                ),
                3,
            )
        print(f"quad_ma defaults, {n:>9,} bars ({trades} trades):")
        print(f"  kernel, one run (= one core):   {n / kernel / 1e6:7.1f} M bars/s  ({kernel * 1e3:8.2f} ms)")
        print(
            f"  bare numba loop, same work:     {n / bare / 1e6:7.1f} M bars/s  ({bare * 1e3:8.2f} ms); "
            f"kernel / bare = {bare / kernel:.2f}x (goal >= 0.6x)"
        )
        print(
            f"  decimal units (precision + scaling, once per series): {prepare * 1e3:.2f} ms "
            f"({n / prepare / 1e6:.0f} M bars/s)"
        )
        print(f"  run_backtest (validation, units, trade objects): {n / wrapper / 1e6:7.1f} M bars/s")
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
