"""CLI start-up: how long `algo-trade ...` takes for help, completion and the read commands.

Each command runs as a fresh process (as a shell runs it) ``--runs`` times against a temporary database
on the local cluster (`make db-up`) holding one sweep's results; the median wall time and the median
CPU time (user + system of the child) are printed, with the floor every Typer + rich + loguru program
pays (`python -c "import typer, rich.console, loguru"`) and the machine's load average: on a shared
machine the absolute figures move with the load, the distance to the floor much less. Processes run
with bytecode caches, as an installed command does (an untimed first run writes them). Target: < 0.5 s
wall for each command on an idle machine.

It also lists which heavy libraries each command imported (numba, polars, aiohttp, asyncpg,
apscheduler): `--help`, completion and `config` import none of them, the read commands only asyncpg.

Usage: ``python benchmarks/bench_cli_startup.py [--runs 7] [--strict]`` (``--strict`` exits 1 when a
median wall time exceeds the target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from algo_trade_data.testing import temporary_database

TARGET_S = 0.5
HEAVY = ("numba", "polars", "aiohttp", "asyncpg", "apscheduler", "matplotlib")
# Runs main() with argv and writes the imported modules to the file named by ALGO_TRADE_BENCH_MODULES.
WRAPPER = """
import json, os, sys
from algo_trade_cli.app import main
try:
    main()
except SystemExit:
    pass
finally:
    with open(os.environ["ALGO_TRADE_BENCH_MODULES"], "w") as f:
        json.dump(sorted(m for m in sys.modules if m.split(".")[0] in {heavy}), f)
""".replace("{heavy}", repr(set(HEAVY)))

COMMANDS: list[tuple[str, list[str], dict[str, str]]] = [
    ("--help", ["--help"], {}),
    ("backtest --help", ["backtest", "--help"], {}),
    (
        "completion (TAB)",
        [],
        {"_ALGO_TRADE_COMPLETE": "complete_bash", "COMP_WORDS": "algo-trade ba", "COMP_CWORD": "1"},
    ),
    ("config show", ["config", "show"], {}),
    ("db status", ["db", "status"], {}),
    ("results latest", ["results", "latest"], {}),
    ("token-selection", ["token-selection"], {}),
    ("bots list", ["bots", "list"], {}),
]


# The floor: what any Typer + rich + loguru command line pays before doing anything.
FLOOR = "import typer, rich.console, loguru"


def run_once(
    args: list[str], env: dict[str, str], modules_file: Path, program: str = WRAPPER
) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-c", program, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


async def prepare(url: str) -> None:
    """Store candles and one sweep's results so that the read commands have rows to show."""
    from algo_trade_data import DatabaseClient, synthetic_candles

    async with await DatabaseClient.connect(url) as db:
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        for symbol in ("AAA", "BBB"):
            await db.upsert_candles(synthetic_candles(symbol, "1m", end, 1440 * 2))
    await asyncio.to_thread(sweep_once, url, end - timedelta(hours=1))


def sweep_once(url: str, as_of: datetime) -> None:
    env = {**os.environ, "ALGO_TRADE__DATABASE__URL": url}
    cfg = ["--config", str(Path(tempfile.gettempdir()) / "bench_cli_startup.toml")]
    Path(cfg[1]).write_text(
        "[scheduler]\ntoken_universe = ['AAA', 'BBB']\nbacktest_window_days = 1\nrefresh_data = false\n"
        "exchange = 'synthetic'\n"
    )
    subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [
            sys.executable,
            "-m",
            "algo_trade_cli",
            "sweep",
            *cfg,
            "--as-of",
            as_of.isoformat(),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def measure(args: argparse.Namespace, url: str) -> list[str]:
    """Run every command ``args.runs`` times; print the medians; return the labels over the target."""
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        modules_file = Path(tmp) / "modules.json"
        # As an installed CLI runs: with bytecode caches (PYTHONDONTWRITEBYTECODE would make every start
        # compile every module again, about a second); one untimed run per command writes them.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base = {**env, "ALGO_TRADE__DATABASE__URL": url, "ALGO_TRADE_BENCH_MODULES": str(modules_file)}
        print(f"{'command':<20} {'wall median':>12} {'wall min':>9} {'CPU median':>11}  heavy imports")
        floor = [run_once([], base, modules_file, FLOOR)[:2] for _ in range(args.runs + 1)][1:]
        print(
            f"{'(floor)':<20} "
            f"{statistics.median(w for w, _ in floor):>10.3f} s {min(w for w, _ in floor):>7.3f} s "
            f"{statistics.median(c for _, c in floor):>9.3f} s  python -c '{FLOOR}'"
        )
        for label, argv, extra in COMMANDS:
            walls, cpus = [], []
            run_once(argv, {**base, **extra}, modules_file)  # warm-up: bytecode caches, page cache
            for _ in range(args.runs):
                wall, cpu, code = run_once(argv, {**base, **extra}, modules_file)
                if code not in (0, 1):
                    print(f"{label}: exit {code}", file=sys.stderr)
                walls.append(wall)
                cpus.append(cpu)
            top = sorted({m.split(".")[0] for m in json.loads(modules_file.read_text())})
            median = statistics.median(walls)
            print(
                f"{label:<20} {median:>10.3f} s {min(walls):>7.3f} s {statistics.median(cpus):>9.3f} s  "
                f"{', '.join(top) or 'none'}"
            )
            if median > TARGET_S:
                missed.append(label)
    return missed


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    async with temporary_database() as url:
        await prepare(url)
        missed = await asyncio.to_thread(measure, args, url)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)")
    if missed:
        print(f"over {TARGET_S} s: {', '.join(missed)}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
