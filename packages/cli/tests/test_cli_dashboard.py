"""`algo-trade dashboard`, and the daemon's refusal to serve it on an open address without a token."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp

from .conftest import Cli

OPEN = "192.0.2.10"  # an address of no machine here: refused before anything tries to bind it


def test_dashboard_refuses_a_non_loopback_address_without_a_token(cli: Cli) -> None:
    out = cli("dashboard", "--host", OPEN, code=2)
    assert f"refuses to listen on '{OPEN}' without a token" in out
    assert "ALGO_TRADE__SERVER__TOKEN" in out


def test_the_daemon_refuses_to_serve_the_dashboard_openly_without_a_token(cli: Cli) -> None:
    cli.env |= {"ALGO_TRADE__SERVER__ENABLED": "true", "ALGO_TRADE__SERVER__HOST": OPEN}
    out = cli("scheduled-backtest", code=2)
    assert f"refuses to listen on '{OPEN}' without a token" in out
    assert "scheduler:" not in out  # nothing started


async def test_dashboard_serves_until_interrupted(cli: Cli, cli_db_url: str) -> None:
    await asyncio.to_thread(cli, "db", "init")  # the dashboard reads; it never creates the schema
    env = {**os.environ, "ALGO_TRADE__DATABASE__URL": cli_db_url, "COLUMNS": "200"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "algo_trade_cli",
        "dashboard",
        "--port",
        "0",
        "--as-of",
        "2025-07-26T04:00:00Z",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = (await process.stdout.readline()).decode()
        match = re.search(r"dashboard at (http://127\.0\.0\.1:\d+) \(no token \(loopback only\), as of", line)
        assert match, line
        async with aiohttp.ClientSession() as session:
            async with session.get(match.group(1) + "/api/overview") as response:
                assert response.status == 200
                data = await response.json()
        assert data["as_of"] == "2025-07-26T04:00:00+00:00"
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest, _ = await process.communicate()
        assert process.returncode == 0
        assert "dashboard stopped" in rest.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
