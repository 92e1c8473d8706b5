"""The pipeline's tests: a throw-away database, synthetic candles, and a stand-in for the bot registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from algo_trade_core import (
    AppConfig,
    BotsConfig,
    ParameterSet,
    SchedulerConfig,
    SelectionCriteria,
)
from algo_trade_data import DatabaseClient, synthetic_candles
from algo_trade_data.testing import temporary_client, truncate_tables

TOKENS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
# Fixed so that a run never straddles a minute boundary differently from another.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="session")
async def session_db() -> AsyncIterator[DatabaseClient]:
    async with temporary_client() as client:
        yield client


@pytest.fixture
async def db(session_db: DatabaseClient) -> DatabaseClient:
    await truncate_tables(session_db)
    return session_db


async def store_candles(db: DatabaseClient, symbols: Sequence[str] = TOKENS, bars: int = 2 * 1440) -> None:
    """Two days of synthetic 1m bars per token, ending at NOW (exchange 'synthetic')."""
    await db.upsert_candles(pl.concat([synthetic_candles(s, "1m", NOW, bars) for s in symbols]))


def config(
    universe: Sequence[str] = TOKENS,
    parameter_sets: Sequence[ParameterSet] = (),
    **selection: Any,
) -> AppConfig:
    """A one-day 1m sweep over stored synthetic candles, no refresh, no bots; loose thresholds, top 3."""
    criteria: dict[str, Any] = {
        "min_sharpe_ratio": -1e9,
        "min_win_rate": 0.0,
        "max_drawdown": 1.0,
        "min_num_trades": 0,
        "top_n": 3,
        "fallback_top_n": 0,
    }
    criteria.update(selection)
    return AppConfig(
        scheduler=SchedulerConfig(
            cron_expression="0 0 3 * * *",
            token_universe=tuple(universe),
            backtest_window_days=1,
            refresh_data=False,
            exchange="synthetic",
            parameter_sets=tuple(parameter_sets),
        ),
        token_selection=SelectionCriteria(**criteria),
        bots=BotsConfig(enabled=False),
    )


@dataclass
class RecordingRegistry:
    """Stands in for ``BotRegistry`` where only the sync calls matter: records them, starts nothing."""

    calls: list[tuple[list[str], str, dict[str, Any] | None]] = field(default_factory=list)
    choices: list[dict[str, tuple[str, dict[str, Any]]] | None] = field(default_factory=list)
    strategies: list[tuple[str, ...]] = field(default_factory=list)

    async def sync_bots_with_approved_tokens(
        self,
        approved: Sequence[str],
        strategy_name: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        choices: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None,
        strategies: Sequence[str] = (),
    ) -> tuple[list[str], list[str]]:
        self.calls.append((list(approved), strategy_name, None if parameters is None else dict(parameters)))
        self.choices.append(None if choices is None else {s: (c[0], dict(c[1])) for s, c in choices.items()})
        self.strategies.append(tuple(strategies))
        return list(approved), []
