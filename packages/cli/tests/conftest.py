"""CLI tests run the real Typer app against a temporary database on the local cluster."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from typer.testing import CliRunner

from algo_trade_cli.app import app
from algo_trade_data.testing import shared_data_dir, temporary_database

SHARED_DATA = shared_data_dir()
HL_FILES = SHARED_DATA / "real-candles" / "hyperliquid-perp"


@pytest.fixture(scope="session")
async def cli_db_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        yield url


class Cli:
    """Runs `algo-trade ...` in-process with the test database configured through the environment."""

    def __init__(self, url: str) -> None:
        self.runner = CliRunner()
        self.env = {"ALGO_TRADE__DATABASE__URL": url, "COLUMNS": "200"}

    def __call__(self, *args: str, code: int = 0, stdout_only: bool = False) -> str:
        result = self.runner.invoke(app, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, f"exit {result.exit_code} for {args}:\n{result.output}"
        return result.stdout if stdout_only else result.output

    def json(self, *args: str) -> Any:
        """Run with --json and parse stdout (logs go to stderr)."""
        return json.loads(self(*args, "--json", stdout_only=True))


@pytest.fixture
def cli(cli_db_url: str) -> Cli:
    return Cli(cli_db_url)
