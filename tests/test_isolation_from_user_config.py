"""Tests never read the user's ALGO_TRADE__* configuration nor touch the database it names.

The proof runs real tests in a child pytest with the user's variables exported and pointing at a real
scratch database (as the README suggests for a user's own database), then shows that database untouched.
The tests chosen are those that used to read the user's environment: the daemon started as a
subprocess, and the CLI honouring --config.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from algo_trade_data.testing import temporary_database

REPO = Path(__file__).resolve().parents[1]
INNER_TESTS = (
    "tests/test_isolation_from_user_config.py::test_no_user_configuration_is_visible_to_tests",
    "tests/test_e2e_daemon_cli.py",
    "packages/cli/tests/test_cli_commands.py::test_config_flag_is_honoured",
)


def test_no_user_configuration_is_visible_to_tests() -> None:
    assert not [k for k in os.environ if k.startswith("ALGO_TRADE__") or k == "ALGO_TRADE_CONFIG"]


async def user_tables(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT schemaname || '.' || tablename AS t FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
        return [r["t"] for r in rows]
    finally:
        await conn.close()


@pytest.mark.slow
async def test_tests_run_with_the_users_variables_and_leave_the_users_database_untouched(
    tmp_path: Path,
) -> None:
    async with temporary_database() as users_db:
        users_config = tmp_path / "users.toml"
        users_config.write_text(f"[database]\nurl = '{users_db}'\n", encoding="utf-8")
        env = {
            **os.environ,
            "ALGO_TRADE__DATABASE__URL": users_db,
            "ALGO_TRADE__SCHEDULER__TOKEN_UNIVERSE": '["BTC", "ETH", "SOL", "DOGE"]',
            "ALGO_TRADE__BOTS__ENABLED": "true",
            "ALGO_TRADE_CONFIG": str(users_config),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *INNER_TESTS,
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        assert proc.returncode == 0, text
        assert "3 passed" in text, text
        assert await user_tables(users_db) == [], "a test wrote into the database the user's variables name"
