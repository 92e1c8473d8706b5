"""Start-up: help, completion and the read commands import none of the heavy libraries.

Each command runs in a fresh interpreter, as a shell runs it, and reports the modules it imported.
(Timings are measured in benchmarks/bench_cli_startup.py, not asserted here.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Cli

HEAVY = ("numba", "polars", "aiohttp", "asyncpg", "apscheduler", "matplotlib")
# Runs the console script's main() and writes the imported top-level modules to a file.
WRAPPER = """
import json, sys
from algo_trade_cli.app import main
out = sys.argv.pop(1)
sys.argv[0] = "algo-trade"
try:
    main()
except SystemExit:
    pass
finally:
    with open(out, "w") as f:
        json.dump(sorted({m.split(".")[0] for m in sys.modules}), f)
"""


def imported(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # no ./config/Config.toml: the built-in defaults
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return set(json.loads(out.read_text())) & set(HEAVY), proc.stdout


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    heavy, out = imported(tmp_path, "--help")
    assert "backtest" in out
    assert heavy == set()


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (("backtest", "--help"), set()),
        (("sweep", "--help"), set()),
        (("bots", "list", "--help"), set()),
        # It prints the next fire times from the APScheduler trigger itself (cron has one implementation).
        (("config", "show"), {"apscheduler"}),
    ],
)
def test_command_help_and_config_import_no_heavy_library(
    tmp_path: Path, args: tuple[str, ...], allowed: set[str]
) -> None:
    heavy, _ = imported(tmp_path, *args)
    assert heavy <= allowed


def test_shell_completion_imports_no_heavy_library(tmp_path: Path) -> None:
    env = {"_ALGO_TRADE_COMPLETE": "complete_bash", "COMP_WORDS": "algo-trade ba", "COMP_CWORD": "1"}
    heavy, out = imported(tmp_path, env=env)
    assert "backtest" in out
    assert heavy == set()


@pytest.mark.parametrize("args", [("db", "status"), ("results", "latest"), ("token-selection",)])
def test_read_commands_import_only_the_database_driver(
    cli: Cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    cli("db", "init")
    heavy, _ = imported(tmp_path, *args, env=cli.env)
    assert heavy <= {"asyncpg"}
