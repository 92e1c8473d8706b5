"""Walk-forward tests: real Hyperliquid candles from the shared data folder, a throw-away database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pytest

from algo_trade_core import AppConfig, BotsConfig, SchedulerConfig, SelectionCriteria
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import real_candles, temporary_client, truncate_tables

# Six of the default tokens whose 1h files cover the same months.
TOKENS = ("BTC", "ETH", "SOL", "DOGE", "AVAX", "SUI")


@pytest.fixture(scope="session")
def frames_1h() -> dict[str, pl.DataFrame]:
    return {s: real_candles(s, "1h") for s in TOKENS}


def common_range(frames: dict[str, pl.DataFrame]) -> tuple[datetime, datetime]:
    first = max(f["timestamp"][0] for f in frames.values())
    last = min(f["timestamp"][-1] for f in frames.values())
    return first, last + timedelta(hours=1)


def study_config(symbols: tuple[str, ...] = TOKENS, **selection: Any) -> AppConfig:
    """1h bars, 20-day windows, quad_ma defaults; thresholds loose enough that tokens pass, top 2."""
    criteria: dict[str, Any] = {
        "min_sharpe_ratio": 0.0,
        "min_win_rate": 0.0,
        "max_drawdown": 0.5,
        "min_num_trades": 2,
        "top_n": 2,
        "fallback_top_n": 1,
        "max_result_age_hours": 48.0,
    }
    criteria.update(selection)
    return AppConfig(
        scheduler=SchedulerConfig(
            token_universe=symbols, interval="1h", backtest_window_days=20, refresh_data=False
        ),
        token_selection=SelectionCriteria(**criteria),
        bots=BotsConfig(interval="1h"),
    )


@pytest.fixture(scope="session")
async def session_db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client() as client:
        yield client


@pytest.fixture
async def db(session_db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(session_db)
    return session_db
