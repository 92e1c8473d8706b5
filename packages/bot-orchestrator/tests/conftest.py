"""Shared fixtures of the bot-orchestrator tests.

``db`` is one migrated ``DatabaseClient`` on a temporary database of the real local PostgreSQL for the
whole session (`make db-up`; never a mock); ``clean_db`` empties its tables first. Bars travel through
:class:`MemoryFeed` (the hub's interface without a network); the hub itself, with the fake Hyperliquid,
is exercised in ``test_bots_hub.py``.

Test modules cannot import this file (``--import-mode=importlib``), so helpers come as fixtures:
``walk`` (random-walk candle frames), ``bars_of`` (frame to feed bars), ``arrays_of`` (frame to
``run_backtest`` arrays), ``eventually`` (poll with a deadline) and ``desk`` (registry + feed + clock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
import pytest

from algo_trade_bot_orchestrator import BotRegistry, FeedBar, MemoryFeed, bars_from_frame
from algo_trade_core import BotsConfig
from algo_trade_data import CANDLE_FRAME_SCHEMA, DatabaseClient
from algo_trade_data.testing import real_candles, temporary_client, truncate_tables, wait_for

STEP = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000  # 2025-07-20 08:00 UTC, hour-aligned
FAST_CROSS = {"fast": 5, "slow": 20}  # ma_crossover that flips every few bars on a random walk
WARMUP = 19  # strategy_warmup_bars("ma_crossover", FAST_CROSS)


@pytest.fixture(scope="session")
async def db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client() as client:
        yield client


@pytest.fixture
async def clean_db(db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(db)
    return db


def random_walk(symbol: str, n: int, *, seed: int = 1, start: int = T0, vol: float = 2e-3) -> pl.DataFrame:
    """Valid 1m bars (a candle frame as the store returns it) with plenty of moving-average crosses."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, vol / 4, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, vol / 4, n)))
    return pl.DataFrame(
        {
            "timestamp": pl.Series(start + STEP * np.arange(n, dtype=np.int64)).cast(
                pl.Datetime("ms", "UTC")
            ),
            "symbol": symbol,
            "exchange": "hyperliquid",
            "interval": "1m",
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.lognormal(3.0, 1.0, n),
            "trades": pl.Series(rng.integers(1, 500, n), dtype=pl.Int64),
        },
        schema=CANDLE_FRAME_SCHEMA,
    )


def feed_bars(frame: pl.DataFrame) -> list[FeedBar]:
    return list(bars_from_frame(frame, symbol=str(frame["symbol"][0]), interval="1m"))


def arrays(frame: pl.DataFrame) -> list[Any]:
    """``run_backtest`` positional arrays of a candle frame."""
    times = frame["timestamp"] if "timestamp" in frame.columns else frame["date"]
    return [
        times.dt.epoch("ms").to_numpy(),
        *(frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")),
    ]


class Clock:
    """The bots' wall clock, pinned to just after a given bar closed (tests replay old candles)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def after_bar(self, t: int) -> None:
        """Set now inside the bar after ``t``: ``t`` is the last closed bar."""
        self.ms = t + STEP + 1_000


class Desk:
    """A registry on the test database and a MemoryFeed, with the clock pinned to the replayed data."""

    def __init__(self, db: DatabaseClient, *, checkpoint_s: float = 0.0, **settings: Any) -> None:
        self.db = db
        self.feed = MemoryFeed()
        self.clock = Clock(T0)
        self.checkpoint_s = checkpoint_s
        self.bots_config = BotsConfig(**settings)
        self.registry = self.new_registry()

    def new_registry(self) -> BotRegistry:
        """A registry as a restarted daemon would build it (same store, same feed)."""
        return BotRegistry(
            self.db,
            self.feed,
            bots=self.bots_config,
            strategy_parameters={"ma_crossover": FAST_CROSS},
            clock_ms=self.clock,
            checkpoint_s=self.checkpoint_s,
        )

    async def store(self, *frames: pl.DataFrame) -> None:
        for frame in frames:
            await self.db.upsert_candles(frame)

    def publish(self, bars: Sequence[FeedBar]) -> None:
        for bar in bars:
            self.feed.publish(bar)


@pytest.fixture
async def make_desk(clean_db: DatabaseClient) -> AsyncIterator[Callable[..., Desk]]:
    """Factory of desks on the clean database: ``make_desk(checkpoint_s=60, max_bots=2)``."""
    desks: list[Desk] = []

    def make(**kwargs: Any) -> Desk:
        desks.append(Desk(clean_db, **kwargs))
        return desks[-1]

    yield make
    for desk in desks:
        await desk.registry.shutdown_all()


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    return make_desk()


@pytest.fixture
def walk() -> Callable[..., pl.DataFrame]:
    return random_walk


@pytest.fixture
def bars_of() -> Callable[[pl.DataFrame], list[FeedBar]]:
    return feed_bars


@pytest.fixture
def arrays_of() -> Callable[[pl.DataFrame], list[Any]]:
    return arrays


@pytest.fixture
def eventually() -> Callable[..., Any]:
    return wait_for


@pytest.fixture
def real_btc_1m() -> pl.DataFrame:
    """Real Hyperliquid BTC 1m candles (freqtrade Feather); skip when the shared data is absent."""
    return real_candles("BTC", "1m")
