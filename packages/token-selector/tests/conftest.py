"""Hand-made backtest results for the selection tests, and a throw-away database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from algo_trade_data import BacktestResultRecord, DatabaseClient
from algo_trade_data.testing import temporary_client, truncate_tables

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def result(
    symbol: str,
    sharpe: float = 2.0,
    win: float = 0.6,
    dd: str = "0.10",
    trades: int = 20,
    coverage: float = 1.0,
    age_h: float = 1.0,
    bars: int = 43_200,
) -> BacktestResultRecord:
    """A result whose 30-day window of 1m bars ended ``age_h`` hours before NOW (and was stored then)."""
    end = NOW - timedelta(hours=age_h)
    return BacktestResultRecord(
        timestamp=end,
        symbol=symbol,
        strategy_name="quad_ma",
        parameters={},
        sharpe_ratio=sharpe,
        total_return=Decimal("0.05"),
        max_drawdown=Decimal(dd),
        num_trades=trades,
        win_rate=win,
        initial_capital=Decimal(10000),
        final_capital=Decimal(10500),
        backtest_window_start=end - timedelta(days=30),
        backtest_window_end=end,
        window_coverage=coverage,
        num_bars=bars,
        run_id="run-1",
        params_hash="p1",
    )


def as_map(*records: BacktestResultRecord) -> dict[str, BacktestResultRecord]:
    return {r.symbol: r for r in records}


@pytest.fixture(scope="session")
async def session_db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client() as client:
        yield client


@pytest.fixture
async def db(session_db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(session_db)
    return session_db
