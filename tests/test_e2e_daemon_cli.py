"""`algo-trade scheduled-backtest` as a user runs it: schedule printed, a cycle, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from algo_trade_core import (
    AppConfig,
    BotsConfig,
    DatabaseConfig,
    HyperliquidConfig,
    SchedulerConfig,
    write_config,
)
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import FakeHyperliquid

REPO = Path(__file__).resolve().parents[1]


async def test_daemon_prints_schedule_runs_and_stops_cleanly_on_sigterm(
    db: DatabaseClient, tmp_path: Path
) -> None:
    async with FakeHyperliquid() as fake:  # follows the wall clock; it has no candles for these coins
        config = tmp_path / "daemon.toml"
        write_config(
            AppConfig(
                database=DatabaseConfig(url=db.url, max_connections=4),
                hyperliquid=HyperliquidConfig(api_url=fake.url, ws_url=fake.ws_url, max_retries=0),
                scheduler=SchedulerConfig(cron_expression="*/2 * * * * *", token_universe=("BTC", "ETH")),
                bots=BotsConfig(enabled=True),
            ),
            config,
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "algo_trade_cli",
            "scheduled-backtest",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert proc.stdout is not None
        lines: list[str] = []

        async def read_until(text: str) -> None:
            while not any(text in line for line in lines):
                raw = await proc.stdout.readline()  # type: ignore[union-attr]
                if not raw:
                    raise AssertionError(f"the daemon exited before printing {text!r}:\n" + "\n".join(lines))
                lines.append(raw.decode(errors="replace").rstrip())

        try:
            await asyncio.wait_for(read_until("next fire"), timeout=60)
            await asyncio.wait_for(read_until("token(s) ok"), timeout=60)  # one cycle's summary line
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(read_until("stopped cleanly"), timeout=60)
            assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    text = "\n".join(lines)
    assert "cron '*/2 * * * * *'" in text
    assert "no 1m candles stored for BTC" in text  # the failure is per token and said plainly
    runs = await db.list_runs()
    assert runs
    assert runs[0].status == "failed"
    assert set(runs[0].errors) == {"BTC", "ETH"}
