"""The CLI's default database is the project-local cluster on $ALGO_TRADE_PGPORT (one source of truth)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algo_trade_cli.app import app

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """A port nothing listens on (the kernel's pick; released before use)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("where", ["repository", "elsewhere"])
def test_the_default_url_follows_ALGO_TRADE_PGPORT(
    where: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # From the repository the shipped config/Config.toml is read; elsewhere the built-in defaults.
    monkeypatch.chdir(REPO if where == "repository" else tmp_path)
    port = free_port()
    runner = CliRunner()
    env = {"ALGO_TRADE_PGPORT": str(port), "COLUMNS": "200"}
    shown = runner.invoke(app, ["config", "show", "--json"], env=env, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert (
        json.loads(shown.stdout)["database"]["url"] == f"postgresql://algo_trade@127.0.0.1:{port}/algo_trade"
    )
    # And the commands connect there: nothing listens on that port, so the error names it.
    status = runner.invoke(app, ["db", "status"], env=env, catch_exceptions=False)
    assert status.exit_code != 0
    assert f"127.0.0.1:{port}" in status.output
