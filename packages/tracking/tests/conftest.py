"""Shared fixtures of the tracking tests.

``db`` is one migrated ``DatabaseClient`` on a temporary database of the real local PostgreSQL
(`make db-up`; never a mock); ``clean_db`` empties its tables. Paper bots are the real ones
(``BotRegistry``) fed through :class:`MemoryFeed`, with their wall clock pinned to the replayed candles.
Test modules cannot import this file (``--import-mode=importlib``), so helpers come as fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import polars as pl
import pytest

from algo_trade_bot_orchestrator import Bot, BotRegistry, FeedBar, MemoryFeed, bars_from_frame
from algo_trade_core import BacktestConfig, BotsConfig
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import real_candles, temporary_client, truncate_tables, wait_for

STEP = 60_000


@pytest.fixture(scope="session")
async def db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client() as client:
        yield client


@pytest.fixture
async def clean_db(db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(db)
    return db


class Clock:
    """The bots' wall clock, pinned to just after a given bar closed (tests replay old candles)."""

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> int:
        return self.ms

    def after_bar(self, t: int) -> None:
        self.ms = t + STEP + 1_000


class Desk:
    """A registry on the test database and a MemoryFeed, with the clock pinned to the replayed data."""

    def __init__(self, db: DatabaseClient, execution: BacktestConfig | None = None) -> None:
        self.db = db
        self.feed = MemoryFeed()
        self.clock = Clock()
        self.registry = BotRegistry(
            db,
            self.feed,
            bots=BotsConfig(),
            execution=execution or BacktestConfig(),
            clock_ms=self.clock,
            checkpoint_s=60.0,
        )

    async def run_bot(
        self, frame: pl.DataFrame, strategy: str, params: dict[str, Any], *, stored: int, live: pl.DataFrame
    ) -> Bot:
        """Warm a bot up on the first ``stored`` bars of ``frame`` (in the store), then publish ``live``
        bar by bar and wait until it handled them all and its writes reached the store."""
        bars = feed_bars(frame)
        await self.db.upsert_candles(frame[:stored])
        self.clock.after_bar(bars[stored - 1].t)
        reg = self.registry
        symbol = str(frame["symbol"][0])
        bot = reg.get_bot(await reg.spawn_bot(reg.new_config(symbol, strategy, params)))
        assert bot is not None
        published = feed_bars(live)
        for bar in published:
            self.feed.publish(bar)
        await wait_for(
            lambda: bot.status().bars == len(published), timeout=120.0, what="the bot to handle every bar"
        )
        await bot.shutdown()  # writes the row with the last bar acted on
        return bot


def feed_bars(frame: pl.DataFrame) -> list[FeedBar]:
    return list(bars_from_frame(frame, symbol=str(frame["symbol"][0]), interval="1m"))


@pytest.fixture
async def make_desk(clean_db: DatabaseClient) -> AsyncIterator[Callable[..., Desk]]:
    desks: list[Desk] = []

    def make(execution: BacktestConfig | None = None) -> Desk:
        desks.append(Desk(clean_db, execution))
        return desks[-1]

    yield make
    for desk in desks:
        await desk.registry.shutdown_all()


@pytest.fixture
def real_btc_1m() -> pl.DataFrame:
    """Real Hyperliquid BTC 1m candles (freqtrade Feather); skip when the shared data is absent."""
    return real_candles("BTC", "1m")


@pytest.fixture
def publish() -> Callable[[MemoryFeed, Sequence[FeedBar]], None]:
    def go(feed: MemoryFeed, bars: Sequence[FeedBar]) -> None:
        for bar in bars:
            feed.publish(bar)

    return go
