"""Fixtures for the scheduler's tests: a real temporary database and a fake Hyperliquid with real candles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import polars as pl
import pytest

from algo_trade_data import DatabaseClient
from algo_trade_data.testing import temporary_client, truncate_tables

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
HL_FILES = SHARED_DATA / "real-candles" / "hyperliquid-perp"
TOKENS = ("BTC", "ETH", "SOL", "AVAX", "ARB", "DOGE", "ATOM", "NEAR", "SUI", "APT", "kPEPE", "WLD")


def real_1m(symbol: str) -> pl.DataFrame:
    """A token's real Hyperliquid 1m candles (freqtrade Feather: date, open, high, low, close, volume)."""
    path = HL_FILES / f"{symbol}_USDC_USDC-1m-futures.feather"
    if not path.exists():
        pytest.skip(f"real candle files not found at {HL_FILES} (the shared data folder is absent)")
    return pl.read_ipc(path)


@pytest.fixture(scope="session")
async def sched_db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client(max_connections=8) as client:
        yield client


@pytest.fixture
async def db(sched_db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(sched_db)
    return sched_db
