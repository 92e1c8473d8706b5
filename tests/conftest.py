"""Cross-package tests: a real temporary database, the fake Hyperliquid, the real candle files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from algo_trade_core import (
    AppConfig,
    HyperliquidConfig,
    MaCrossoverConfig,
    SchedulerConfig,
    SelectionCriteria,
    StrategyConfig,
)
from algo_trade_data import DatabaseClient, HyperliquidClient, WeightRateLimiter
from algo_trade_data.testing import FakeHyperliquid, temporary_client, truncate_tables

TOKENS = ("BTC", "ETH", "SOL", "AVAX", "ARB", "DOGE", "ATOM", "NEAR", "SUI", "APT", "kPEPE", "WLD")
MINUTE = 60_000


def client_for(fake: FakeHyperliquid, **overrides: object) -> HyperliquidClient:
    """A client of the fake exchange with its own limiter and the fake's clock."""
    cfg = HyperliquidConfig(api_url=fake.url, ws_url=fake.ws_url, backoff_base_s=0.01, backoff_max_s=0.2)
    cfg = replace(cfg, **overrides)  # type: ignore[arg-type]
    return HyperliquidClient(
        cfg, limiter=WeightRateLimiter(cfg.weight_per_minute), now_ms=lambda: fake.now_ms
    )


def daemon_config(fake: FakeHyperliquid, coins: tuple[str, ...]) -> AppConfig:
    """A daemon on the fake exchange: sweeps every 2 s, ma_crossover 5/20, every token passes, top 3."""
    return AppConfig(
        hyperliquid=HyperliquidConfig(
            api_url=fake.url, ws_url=fake.ws_url, backoff_base_s=0.01, backoff_max_s=0.1
        ),
        scheduler=SchedulerConfig(
            cron_expression="*/2 * * * * *",
            token_universe=coins,
            backtest_window_days=1,
            strategies=("ma_crossover",),
            misfire_grace_s=1,
        ),
        token_selection=SelectionCriteria(
            strategy="ma_crossover",
            min_sharpe_ratio=-1e9,
            min_win_rate=0.0,
            max_drawdown=1.0,
            min_num_trades=0,
            top_n=3,
            fallback_top_n=0,
        ),
        strategy=StrategyConfig(ma_crossover=MaCrossoverConfig(fast=5, slow=20)),
    )


@pytest.fixture(scope="session")
async def e2e_db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client(max_connections=10) as client:
        yield client


@pytest.fixture
async def db(e2e_db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(e2e_db)
    return e2e_db
