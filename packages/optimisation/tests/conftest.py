"""A session database holding 30 days of real 1h candles of three tokens, and a small space."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from algo_trade_core import (
    AppConfig,
    MaCrossoverSpace,
    OptimisationConfig,
    QuadMaSpace,
    SchedulerConfig,
)
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import real_candles, temporary_client, truncate_tables

SYMBOLS = ("BTC", "ETH", "SOL")


@pytest.fixture(scope="session")
async def store() -> AsyncIterator[tuple[DatabaseClient, object]]:
    async with temporary_client() as client:
        ends = []
        for symbol in SYMBOLS:
            frame = real_candles(symbol, "1h").tail(24 * 40)
            await client.upsert_candles(frame)
            ends.append(frame["timestamp"].max())
        yield client, min(ends) + timedelta(hours=1)


@pytest.fixture
async def db(store: tuple[DatabaseClient, object]) -> DatabaseClient:
    client = store[0]
    await truncate_tables(
        client, ("optimisation_runs", "optimisation_tokens", "parameter_sets", "backtest_trials")
    )
    return client


@pytest.fixture
def as_of(store: tuple[DatabaseClient, object]) -> object:
    return store[1]


def small_config(**compute: object) -> AppConfig:
    """24 quad_ma sets (8 of 32 dropped) and 6 ma_crossover sets per token, 4 per task: 8 tasks per token."""
    config = AppConfig()
    optimisation = OptimisationConfig(
        enabled=True,
        chunk_size=4,
        quad_ma=QuadMaSpace(
            short_1=(3, 5),
            short_2=(8, 13),
            long_1=(21,),
            long_2=(34, 55),
            trend=(50, 100),
            take_profit=(0.02, 0.04),
            stop_loss=(0.01,),
        ),
        ma_crossover=MaCrossoverSpace(fast=(3, 5, 8), slow=(21, 34)),
    )
    return replace(
        config,
        scheduler=SchedulerConfig(interval="1h", token_universe=SYMBOLS, refresh_data=False),
        optimisation=optimisation,
        compute=replace(config.compute, **compute),  # type: ignore[arg-type]
    )
