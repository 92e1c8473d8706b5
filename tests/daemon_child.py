"""A daemon process for the kill-and-restart test: the real Daemon on the fake exchange's clock.

Usage: python tests/daemon_child.py CONFIG.toml FAKE_URL
It prints ``READY``, ``RESTORED <ids>`` and ``CYCLE <approved>`` lines (flushed) for the parent test.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from algo_trade_core import load_config
from algo_trade_data import DatabaseClient, HyperliquidClient
from algo_trade_pipeline import Cycle, Daemon


async def main(config_path: str, fake_url: str) -> None:
    cfg = load_config(config_path, env={})
    now = {"ms": 0}
    async with aiohttp.ClientSession() as session:

        async def read_clock() -> None:
            async with session.get(f"{fake_url}/_fake/now") as response:
                now["ms"] = int(await response.text())

        async def follow_clock() -> None:
            while True:
                await read_clock()
                await asyncio.sleep(0.01)

        await read_clock()
        follower = asyncio.create_task(follow_clock())

        def show(cycle: Cycle) -> None:
            approved = cycle.selection.approved if cycle.selection else []
            print("CYCLE", ",".join(approved), flush=True)

        db = await DatabaseClient.connect(cfg.database)
        async with HyperliquidClient(cfg.hyperliquid, now_ms=lambda: now["ms"]) as rest:
            daemon = Daemon(cfg, db, rest, clock_ms=lambda: now["ms"], on_cycle=show)
            restored = await daemon.start()
            print("RESTORED", ",".join(restored), flush=True)
            print("READY", flush=True)
            await asyncio.Event().wait()  # until killed
        follower.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
