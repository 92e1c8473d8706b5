"""Report and chart benchmark: `backtest` report and `backtest --plot` on a year of 1m bars.

Run: ``.venv/bin/python benchmarks/bench_report.py`` (``make bench`` runs every ``bench_*.py``).
Input is a synthetic 1m random walk (525,600 bars); timings are the best of three repeats after one
warm-up (numba kernels compiled or loaded, matplotlib imported).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from algo_trade_backtest import backtest_report, run_backtest
from algo_trade_backtest._engine import prepare_bars
from algo_trade_cli._plots import MAX_POINTS, backtest_chart, plot_backtest

YEAR_1M = 525_600


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    rng = np.random.default_rng(7)
    n = YEAR_1M
    close = np.round(30.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0015, n))), 4)
    open_ = np.r_[close[0], close[:-1]]
    wick = np.abs(rng.normal(0.0, 0.0008, n)) * close
    ts = 1_704_067_200_000 + 60_000 * np.arange(n, dtype=np.int64)
    bars = prepare_bars(
        ts, open_, np.maximum(open_, close) + wick, np.minimum(open_, close) - wick, close, np.ones(n)
    )
    result = run_backtest(*bars, strategy="quad_ma", params={"volume_filter": False}, interval="1m")
    report = backtest_report(result, bars[0])

    def chart() -> object:
        return backtest_chart(
            result, report, symbol="SYN", timestamps_ms=bars[0], first_open=float(open_[0]), close=close
        )

    built = backtest_chart(
        result, report, symbol="SYN", timestamps_ms=bars[0], first_open=float(open_[0]), close=close
    )
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "chart.png"
        plot_s = best_of(lambda: plot_backtest(png, built))
        size = png.stat().st_size
    figures = {
        "bars": n,
        "trades": report.num_trades,
        "months": len(report.monthly),
        "report_ms": round(best_of(lambda: backtest_report(result, bars[0])) * 1000, 1),
        "chart_data_ms": round(best_of(chart) * 1000, 1),
        "png_write_s": round(plot_s, 2),
        "points_per_line": int(built.price[0].shape[0]),
        "max_points": MAX_POINTS,
        "trade_markers": len(built.markers),
        "png_bytes": size,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
