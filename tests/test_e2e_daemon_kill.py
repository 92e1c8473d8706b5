"""The daemon killed with SIGKILL and restarted: the same bots, the same open positions, no duplicated fills.

The daemon runs as a real child process (tests/daemon_child.py) against the fake exchange and the real
database; the test moves the fake's bars forward and reads what the daemon stored. Database queries are
polled every POLL_S (not every 2 ms: on a shared 2-core machine a tight query loop starves the child).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from algo_trade_bot_orchestrator import read_saved
from algo_trade_core import (
    DatabaseConfig,
    write_config,
)
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import FakeHyperliquid, real_candles, wait_for

from .conftest import MINUTE, daemon_config

COINS = ("BTC", "ETH", "SOL")
UPDATES = 3
POLL_S = 0.1
REPO = Path(__file__).resolve().parents[1]


class Child:
    """One daemon process and the lines it printed."""

    def __init__(self, config: Path, fake_url: str) -> None:
        self.args = (sys.executable, str(REPO / "tests" / "daemon_child.py"), str(config), fake_url)
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=REPO
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def printed(self, prefix: str) -> list[str]:
        return [line for line in self.lines if line.startswith(prefix)]

    async def kill(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()  # SIGKILL: no cleanup, no goodbye write
        await self.proc.wait()
        if self._reader is not None:
            await self._reader


async def bots_state(db: DatabaseClient) -> dict[str, dict[str, Any]]:
    out = {}
    for record in await db.list_bots():
        saved = read_saved(record)
        position = saved.open_position
        out[record.bot_id] = {
            "state": record.state,
            "position": None
            if position is None
            else (position.side, position.quantity, position.entry_price, position.entry_time),
            "last": record.last_candle_time,
            "fills": saved.num_fills,
        }
    return out


async def others_busy(db: DatabaseClient) -> bool:
    """Whether another client of this database is inside a statement or a transaction."""
    async with db.pool.acquire() as conn:
        busy = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
    return bool(busy)


def trading_state(state: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {b: (v["position"], v["fills"]) for b, v in state.items()}


@pytest.mark.slow
async def test_sigkill_and_restart_keeps_bots_positions_and_fills(db: DatabaseClient, tmp_path: Path) -> None:
    frames = {c: real_candles(c) for c in COINS}
    end = min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values())
    now0 = end - 200 * MINUTE
    start_index = {c: int(f["timestamp"].dt.epoch("ms").search_sorted(now0)) for c, f in frames.items()}
    fake = FakeHyperliquid(now_ms=now0 + 1_000)
    for coin, frame in frames.items():
        fake.add_candles(coin, "1m", frame)
    async with fake:
        config = tmp_path / "daemon.toml"
        cfg = daemon_config(fake, COINS)
        write_config(replace(cfg, database=DatabaseConfig(url=db.url, max_connections=4)), config)
        bot_ids = {f"ma_crossover:{c}" for c in COINS}
        first = Child(config, fake.url)
        await first.start()
        try:

            async def all_running() -> bool:
                state = await bots_state(db)
                return {k for k, v in state.items() if v["state"] == "running"} == bot_ids

            await wait_for(
                all_running, 60, "the first daemon to start a bot per approved token", interval=POLL_S
            )
            for coin in COINS:
                fake.ws.start_replay(coin, "1m", start_index=start_index[coin], updates_per_bar=UPDATES)

            async def positions_stored() -> bool:
                state = await bots_state(db)
                return all(state[b]["position"] is not None for b in bot_ids)

            for _ in range(40):  # bars until every bot's open position is stored
                await fake.ws.step(updates=UPDATES)
                if await positions_stored():
                    break
                await asyncio.sleep(0.05)
            await wait_for(positions_stored, 20, "every bot's position in the database", interval=POLL_S)

            # The daemon may still be acting on the last bars pushed (a fill not yet written would be
            # replayed by the second daemon): wait until what it stores has not changed for a second.
            loop = asyncio.get_running_loop()
            seen = {"state": trading_state(await bots_state(db)), "since": loop.time()}

            async def settled() -> bool:
                state = trading_state(await bots_state(db))
                if state != seen["state"]:
                    seen.update(state=state, since=loop.time())
                    return False
                return loop.time() - float(seen["since"]) >= 1.0

            await wait_for(settled, 30, "the first daemon's stored state to settle", interval=0.25)
        finally:
            await first.kill()

        # What the store holds at the kill is what the second daemon must restore: read it once the
        # killed daemon's last statement (a commit the server had already received) has finished.
        async def others_idle() -> bool:
            return not await others_busy(db)

        await wait_for(others_idle, 20, "the killed daemon's last statement to end", interval=POLL_S)
        before = await bots_state(db)
        assert all(before[b]["position"] is not None for b in bot_ids)
        fills_before = await db.list_fills()
        assert fills_before

        second = Child(config, fake.url)
        await second.start()
        try:

            async def restored() -> bool:
                return bool(second.printed("READY"))

            await wait_for(restored, 60, "the second daemon to start", interval=POLL_S)
            assert sorted(second.printed("RESTORED")[0].split()[1].split(",")) == sorted(bot_ids)
            after = await bots_state(db)
            for bot_id in bot_ids:
                assert after[bot_id]["state"] == "running"
                assert after[bot_id]["position"] == before[bot_id]["position"]
                assert after[bot_id]["fills"] == before[bot_id]["fills"]
            assert [f.fill_id for f in await db.list_fills()] == [f.fill_id for f in fills_before]

            # Trading goes on: new bars reach the restored bots, no fill is written twice.
            last_before = max(v["last"] for v in before.values())

            async def resubscribed() -> bool:
                return fake.ws.open_connections == 1 and all(fake.ws.subscriber_count(c, "1m") for c in COINS)

            await wait_for(resubscribed, 20, "the second daemon's subscriptions", interval=POLL_S)

            async def caught_up() -> bool:
                state = await bots_state(db)
                return all(state[b]["last"] is not None and state[b]["last"] > last_before for b in bot_ids)

            # Rows are checkpointed after bars with fills, or every few seconds: keep bars coming.
            for _ in range(60):
                await fake.ws.step(updates=UPDATES)
                if await caught_up():
                    break
                await asyncio.sleep(0.25)
            assert await caught_up(), "the restored bots did not handle the new bars"
            fills = await db.list_fills()
            keys = [(f.bot_id, f.timestamp, f.side, f.reason) for f in fills]
            assert len(keys) == len(set(keys)), "a fill was recorded twice"
            assert len(fills) >= len(fills_before)
            assert fake.ws.connections_opened == 2  # one connection per daemon process
        finally:
            await second.kill()
