"""Configuration benchmark: what validation costs per command start and per backtest.

Run: ``.venv/bin/python benchmarks/bench_config.py`` (``make bench`` runs every ``bench_*.py``).
Figures (best of several repeats): ``load_config`` of the shipped file (once per CLI command, including
building the cron trigger), the first cron trigger of a process (it imports APScheduler's trigger
classes), and the parameter validation every backtest and every row of a grid pays.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from algo_trade_backtest._params import coerce_params, params_hash
from algo_trade_core import QuadMaConfig, cron_trigger, load_config

CONFIG = Path(__file__).resolve().parents[1] / "config" / "Config.toml"


def best_of(fn: Callable[[], object], repeats: int, number: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def first_trigger_s() -> float:
    """Time the first ``cron_trigger`` of a fresh process (APScheduler's lazy import included)."""
    code = (
        "import time; from algo_trade_core import cron_trigger; t = time.perf_counter(); "
        "cron_trigger('0 0 3 * * *'); print(time.perf_counter() - t)"
    )
    # Our own interpreter running our own fixed snippet.
    runs = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(3)]  # noqa: S603
    return min(runs)


def main() -> None:
    load = best_of(lambda: load_config(CONFIG, env={}), 5, 20)
    trigger = best_of(lambda: cron_trigger("0 0 3 1 * mon"), 5, 50)
    params = QuadMaConfig()
    from_dataclass = best_of(lambda: coerce_params("quad_ma", params), 5, 2000)
    from_mapping = best_of(
        lambda: coerce_params("quad_ma", {"trend": 200, "volume_filter": "false"}), 5, 2000
    )
    hashing = best_of(lambda: params_hash("quad_ma", {"trend": 200}), 5, 2000)
    print(f"load_config(config/Config.toml), warm process:  {load * 1e3:8.2f} ms")
    print(f"first cron_trigger of a process (imports):      {first_trigger_s() * 1e3:8.2f} ms")
    print(f"cron_trigger('0 0 3 1 * mon'), warm:            {trigger * 1e3:8.2f} ms")
    print(f"coerce_params(QuadMaConfig()) per backtest:     {from_dataclass * 1e6:8.1f} us")
    print(f"coerce_params(mapping with strings):            {from_mapping * 1e6:8.1f} us")
    print(f"params_hash(mapping):                           {hashing * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
