"""Shared fixtures of the data package's tests.

``db`` is one migrated :class:`DatabaseClient` on a temporary database for the whole session (the
real local PostgreSQL: `make db-up`; no mock, no skip when it is down). ``clean_db`` is the same
client with every application table emptied first, for tests that count rows.

``ALGO_TRADE_TEST_TIMESCALEDB=off`` builds the session database with plain PostgreSQL tables even
when TimescaleDB is installed, so the whole suite can be run in both modes on one server.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from loguru import logger

from algo_trade_core import interval_to_ms
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._database import DatabaseClient
from algo_trade_data.testing import shared_data_dir, temporary_client, truncate_tables

SHARED_DATA = shared_data_dir()
HYPERLIQUID_FILES = SHARED_DATA / "real-candles" / "hyperliquid-perp"


@pytest.fixture(scope="session")
async def db() -> AsyncIterator[DatabaseClient]:
    plain = os.environ.get("ALGO_TRADE_TEST_TIMESCALEDB", "auto").lower() in ("off", "0", "false", "no")
    async with temporary_client(timescaledb=False if plain else None) as client:
        yield client


@pytest.fixture
async def clean_db(db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(db)
    return db


def _candles(
    symbol: str = "BTC",
    n: int = 100,
    *,
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    interval: str = "1m",
    exchange: str = "hyperliquid",
    seed: int = 1,
    price: float = 100.0,
    trades: bool = True,
) -> pl.DataFrame:
    """Valid bars with exchange-like precision (5 significant digits), consecutive from ``start``."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.concatenate(([price], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 5e-4, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 5e-4, n)))

    def sig5(x: np.ndarray) -> np.ndarray:
        digits = 4 - np.floor(np.log10(np.abs(x))).astype(int)
        return np.array([round(v, d) for v, d in zip(x, digits, strict=True)])

    o, h, lo, c = sig5(open_), sig5(high), sig5(low), sig5(close)
    h = np.maximum.reduce([h, o, c])
    lo = np.minimum.reduce([lo, o, c])
    step = interval_to_ms(interval)
    t0 = int(start.timestamp() * 1000)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(t0 + step * np.arange(n, dtype=np.int64)).cast(pl.Datetime("ms", "UTC")),
            "symbol": symbol,
            "exchange": exchange,
            "interval": interval,
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": np.round(rng.lognormal(3, 1, n), 4),
            "trades": pl.Series(rng.integers(1, 500, n), dtype=pl.Int64) if trades else None,
        },
        schema=CANDLE_FRAME_SCHEMA,
    )


@pytest.fixture
def make_candles() -> Callable[..., pl.DataFrame]:
    """Factory of valid candle frames: ``make_candles("ETH", 500, interval="1h", start=...)``."""
    return _candles


@pytest.fixture
def captured_warnings() -> Iterator[list[str]]:
    """Collect the WARNING+ messages algo_trade_data logs during a test (libraries log nothing by default)."""
    messages: list[str] = []
    logger.enable("algo_trade_data")
    sink = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING", format="{message}")
    try:
        yield messages
    finally:
        logger.remove(sink)
        logger.disable("algo_trade_data")
