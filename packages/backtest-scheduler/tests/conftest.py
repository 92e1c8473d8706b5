"""Fixtures for the scheduler's tests: a real temporary database and a fake Hyperliquid with real candles."""

from __future__ import annotations

from collections.abc import AsyncIterator

import polars as pl
import pytest

from algo_trade_data import DatabaseClient
from algo_trade_data.testing import real_candles, temporary_client, truncate_tables

TOKENS = ("BTC", "ETH", "SOL", "AVAX", "ARB", "DOGE", "ATOM", "NEAR", "SUI", "APT", "kPEPE", "WLD")


def real_1m(symbol: str) -> pl.DataFrame:
    """A token's real Hyperliquid 1m candles, store-shaped; skips when the shared data is absent."""
    return real_candles(symbol, "1m")


@pytest.fixture(scope="session")
async def sched_db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client(max_connections=8) as client:
        yield client


@pytest.fixture
async def db(sched_db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(sched_db)
    return sched_db
