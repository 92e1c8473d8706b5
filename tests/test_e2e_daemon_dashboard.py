"""The daemon serves the dashboard with [server] enabled: on its own store, for as long as it runs."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest

from algo_trade_core import ServerConfig
from algo_trade_dashboard import DashboardServer
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import FakeHyperliquid, real_candles, wait_for
from algo_trade_pipeline import Daemon

from .conftest import MINUTE, client_for, daemon_config

COINS = ("BTC", "ETH", "SOL")


async def test_the_daemon_serves_the_dashboard_while_it_runs(db: DatabaseClient) -> None:
    frames = {c: real_candles(c) for c in COINS}
    now = min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values()) - 60 * MINUTE
    fake = FakeHyperliquid(now_ms=now)
    for coin, frame in frames.items():
        fake.add_candles(coin, "1m", frame)
    async with fake, client_for(fake) as rest:
        cfg = daemon_config(fake, COINS)
        cfg = replace(cfg, bots=replace(cfg.bots, enabled=False), server=ServerConfig(enabled=True, port=0))
        daemon = Daemon(cfg, db, rest, clock_ms=lambda: fake.now_ms)
        dashboard = DashboardServer(cfg, db=db)
        daemon.serve(dashboard)
        await daemon.start()
        try:
            await wait_for(lambda: daemon.cycle_count >= 1, timeout=30, what="the first sweep")
            run_id = daemon.cycles[0].summary.run_id
            async with aiohttp.ClientSession() as session:

                async def shows_the_sweep() -> bool:
                    async with session.get(dashboard.url + "/api/runs") as response:
                        assert response.status == 200
                        runs = (await response.json())["runs"]
                    return run_id in {r["run_id"] for r in runs}

                await wait_for(shows_the_sweep, timeout=10, what="the sweep on the dashboard", interval=0.05)
                async with session.get(dashboard.url + "/") as response:
                    assert response.status == 200
                    assert "Last sweep" in await response.text()
        finally:
            await daemon.stop()
        url = dashboard.url
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):  # it stopped with the daemon
            await session.get(url + "/api/health")
    assert await db.run_overviews(1)  # the daemon's store was shared, not closed by the dashboard
