"""Faults of the store: a database outage mid-stream loses no fill and records none twice.

The outage is real: the test database stops accepting connections and its sessions are terminated,
so the bots' pool fails exactly as it would when PostgreSQL restarts or the network drops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import polars as pl
import pytest

from algo_trade_bot_orchestrator import BotRegistry, BotState, FeedBar, MemoryFeed, PaperBook
from algo_trade_core import ms_to_datetime
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import resolve_admin_url, temporary_client

STEP = 60_000
WARM = 60
Walk = Callable[..., pl.DataFrame]
Bars = Callable[[pl.DataFrame], list[FeedBar]]


@pytest.fixture
async def own_db() -> AsyncIterator[DatabaseClient]:
    # Its own database: terminating sessions must not disturb the session-wide pool of other tests.
    async with temporary_client(max_connections=2) as client:
        yield client


class Outage:
    """Switch the database's connections off and on again from an admin session."""

    def __init__(self, db: DatabaseClient) -> None:
        self.db = db
        self.name = ""

    async def begin(self) -> None:
        async with self.db.pool.acquire() as conn:
            name = await conn.fetchval("SELECT current_database()")
        admin = await asyncpg.connect(resolve_admin_url())
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
        finally:
            await admin.close()
        self.name = name

    async def end(self) -> None:
        admin = await asyncpg.connect(resolve_admin_url())
        try:
            await admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
        finally:
            await admin.close()


async def test_a_database_outage_loses_and_doubles_no_fill(
    own_db: DatabaseClient, walk: Walk, bars_of: Bars, eventually: Callable[..., Any]
) -> None:
    frame = walk("BTC", 300, seed=2)
    bars = bars_of(frame)
    await own_db.upsert_candles(frame[:WARM])
    feed = MemoryFeed()
    registry = BotRegistry(
        own_db,
        feed,
        clock_ms=lambda: bars[WARM - 1].t + STEP + 1_000,
        checkpoint_s=0.0,
        strategy_parameters={"ma_crossover": {"fast": 5, "slow": 20}},
    )
    bot = registry.get_bot(await registry.spawn_bot(registry.new_config("BTC", "ma_crossover")))

    def handled(i: int) -> Callable[[], bool]:
        return lambda: bot.status().last_candle_time == ms_to_datetime(bars[i].t)

    try:
        for bar in bars[WARM:120]:
            feed.publish(bar)
        await eventually(handled(119))
        assert await bot.flushed()
        saved_before = len(await own_db.list_fills(bot_id=bot.bot_id))

        outage = Outage(own_db)
        await outage.begin()
        try:
            for bar in bars[120:200]:
                feed.publish(bar)
            await eventually(handled(199))
            status = bot.status()
            assert status.state is BotState.RUNNING  # trading went on without the store
            assert status.unsaved_fills > 0
            assert status.num_fills == saved_before + status.unsaved_fills
        finally:
            await outage.end()

        for bar in bars[200:]:
            feed.publish(bar)
        await eventually(handled(len(bars) - 1))
        assert await bot.flushed(timeout=30.0), "the kept fills were not written after the outage"
        stored = await own_db.list_fills(bot_id=bot.bot_id)
        book = PaperBook(bot.config)
        book.warm_up(
            frame[:WARM].select(
                pl.col("timestamp").dt.epoch("ms").alias("t"), "open", "high", "low", "close", "volume"
            )
        )
        for bar in bars[WARM:]:
            book.on_bar(bar)
        assert len(stored) == len({f.fill_id for f in stored}) == book.num_fills == bot.status().num_fills
        row = await own_db.get_bot(bot.bot_id)
        assert row is not None
        assert row.last_candle_time == ms_to_datetime(bars[-1].t)
    finally:
        await registry.shutdown_all()
