"""Walk-forward figures (issue 10): the study's engine on generated candles, in memory.

- 20 tokens x 1 year of 1h bars, weekly steps, 1000 random draws: goal < 3 s;
- 20 tokens x 90 days of 1m bars, weekly steps: goal < 15 s on 2 cores;
- a 100-variant threshold grid on 20 tokens x 1 year of 1h bars: goal < 30 s;
- peak memory of a study of 20 tokens x 1 year of 1m bars (a child process's max RSS): goal < 2 GB;
- and, for reference, the real 1h candles of the 20 default tokens over their whole range.

Generated candles (``algo_trade_data.synthetic_candles``) make the sizes exact; the study's settings are
the defaults (30-day windows, quad_ma defaults, top 10) with thresholds loose enough that tokens pass.
Run: ``.venv/bin/python benchmarks/bench_walkforward.py`` (part of ``make bench``).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _figures import figure, time_summary

from algo_trade_core import DEFAULT_TOKEN_UNIVERSE, AppConfig, SchedulerConfig, SelectionCriteria

END = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_DAYS = 30


def config(interval: str) -> AppConfig:
    return AppConfig(
        scheduler=SchedulerConfig(token_universe=DEFAULT_TOKEN_UNIVERSE, interval=interval),
        token_selection=SelectionCriteria(min_sharpe_ratio=0.0, min_win_rate=0.3, max_drawdown=0.3),
    )


def frames(interval: str, days: int) -> dict[str, object]:
    from algo_trade_core import interval_to_ms
    from algo_trade_data import synthetic_candles

    bars = (days + WINDOW_DAYS + 5) * 86_400_000 // interval_to_ms(interval)
    return {
        s: synthetic_candles(s, interval, END, bars, seed=i) for i, s in enumerate(DEFAULT_TOKEN_UNIVERSE)
    }


def study(interval: str, days: int, draws: int) -> tuple[float, int]:
    from algo_trade_evaluation import WalkForwardSettings, bars_from_frames, run_walkforward

    bars = bars_from_frames(frames(interval, days))  # type: ignore[arg-type]
    settings = WalkForwardSettings.from_config(
        config(interval), start=END - timedelta(days=days), end=END, random_draws=draws
    )
    t0 = time.perf_counter()
    result = run_walkforward(bars, settings)
    return time.perf_counter() - t0, len(result.periods)


def grid(variants: int) -> tuple[float, int]:
    from algo_trade_evaluation import WalkForwardSettings, bars_from_frames, run_search, variants_from_grid

    bars = bars_from_frames(frames("1h", 365))  # type: ignore[arg-type]
    settings = WalkForwardSettings.from_config(
        config("1h"), start=END - timedelta(days=365), end=END, random_draws=1000
    )
    values = variants_from_grid(
        {
            "min_sharpe_ratio": [-1.0, 0.0, 0.5, 1.0, 2.0],
            "min_win_rate": [0.0, 0.3, 0.4, 0.5],
            "top_n": [3, 5, 10, 20, 15][: variants // 20],
        }
    )
    t0 = time.perf_counter()
    search = run_search(bars, settings, values)
    return time.perf_counter() - t0, len(search.variants)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_child() -> None:
    """In a child process: a 20 x 1 year of 1m study; print the max RSS in MB after generating the
    candles and after the study (the whole process), the seconds and the periods."""
    from algo_trade_evaluation import WalkForwardSettings, bars_from_frames, run_walkforward

    bars = bars_from_frames(frames("1m", 365))  # type: ignore[arg-type]
    loaded = _max_rss_mb()
    settings = WalkForwardSettings.from_config(
        config("1m"), start=END - timedelta(days=365), end=END, random_draws=1000
    )
    t0 = time.perf_counter()
    result = run_walkforward(bars, settings)
    print(f"{_max_rss_mb():.0f} {loaded:.0f} {time.perf_counter() - t0:.2f} {len(result.periods)}")


def real_1h() -> None:
    from algo_trade_data.testing import real_candles
    from algo_trade_evaluation import WalkForwardSettings, bars_from_frames, run_walkforward

    try:
        data = {s: real_candles(s, "1h") for s in DEFAULT_TOKEN_UNIVERSE}
    except BaseException:  # pytest.skip outside pytest: the shared data folder is absent
        print("real 1h candles: the shared data folder is absent; skipped")
        return
    first = min(f["timestamp"][0] for f in data.values()) + timedelta(days=WINDOW_DAYS)
    last = max(f["timestamp"][-1] for f in data.values()) + timedelta(hours=1)
    settings = WalkForwardSettings.from_config(
        AppConfig(scheduler=SchedulerConfig(interval="1h")), start=first, end=last
    )
    t0 = time.perf_counter()
    result = run_walkforward(bars_from_frames(data), settings)
    seconds = time.perf_counter() - t0
    print(
        f"real 1h candles of the 20 default tokens, {first:%Y-%m-%d} → {last:%Y-%m-%d}, "
        f"{len(result.periods)} weekly periods, default settings: {seconds:.2f} s\n  {result.verdict}"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--peak-memory-child":
        peak_memory_child()
        return
    study("1h", 14, 10)  # warm the numba kernels (compiled once per process)
    runs = [study("1h", 365, 1000)[0] for _ in range(3)]
    median, text = time_summary(runs)
    figure("walk-forward 20 tokens x 1 year of 1h, weekly, 1000 draws", text, "< 3 s", median < 3.0)
    runs = [study("1m", 90, 1000)[0] for _ in range(2)]
    median, text = time_summary(runs)
    figure("walk-forward 20 tokens x 90 days of 1m, weekly", text, "< 15 s", median < 15.0)
    seconds, count = grid(100)
    figure(
        f"rule search: {count}-variant threshold grid, 20 x 1 year of 1h",
        f"{seconds:.2f} s",
        "< 30 s",
        seconds < 30.0,
    )
    child = subprocess.run(  # noqa: S603 - this very script, in a fresh process
        [sys.executable, __file__, "--peak-memory-child"], capture_output=True, text=True, check=True
    )
    rss_mb, loaded_mb, seconds_1m, periods = child.stdout.split()
    figure(
        "peak memory: 20 tokens x 1 year of 1m (max RSS of the process)",
        f"{float(rss_mb):,.0f} MB (candles alone {float(loaded_mb):,.0f} MB; {periods} periods, "
        f"{float(seconds_1m):.1f} s)",
        "< 2048 MB",
        float(rss_mb) < 2048,
    )
    real_1h()


if __name__ == "__main__":
    main()
