"""The dashboard's reads: a token's metrics across sweeps in one scope, and whether a token is known."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from algo_trade_data import BacktestResultRecord, BotRecord, DatabaseClient, SymbolPresence

NOW = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)


def result(day: int, **changes: object) -> BacktestResultRecord:
    at = NOW + timedelta(days=day)
    base = BacktestResultRecord(
        timestamp=at,
        symbol="BTC",
        strategy_name="quad_ma",
        parameters={"trend": 100},
        sharpe_ratio=float(day),
        total_return=Decimal("0.01"),
        max_drawdown=Decimal("0.05"),
        num_trades=12,
        win_rate=0.5,
        initial_capital=Decimal(10000),
        final_capital=Decimal(10100),
        backtest_window_start=at - timedelta(days=30),
        backtest_window_end=at,
        run_id=f"run-{day}",
        interval="1h",
        params_hash="p1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_metric_history_is_one_scope_oldest_first_by_window_end(clean_db: DatabaseClient) -> None:
    rows = [result(d) for d in range(6)]
    # Other scopes that must not appear: another parameter set, interval, strategy, token (stored a
    # minute later: the table's key has no interval).
    later = NOW + timedelta(days=3, minutes=1)
    rows += [
        result(2, params_hash="p2", sharpe_ratio=-9.0),
        result(3, interval="1m", sharpe_ratio=-9.0, timestamp=later, backtest_window_end=later),
        result(4, strategy_name="ma_crossover", sharpe_ratio=-9.0),
        result(5, symbol="ETH", sharpe_ratio=-9.0),
        # A backfill stored last over the oldest window: ordered by its window, not when it was stored.
        result(-3, timestamp=NOW + timedelta(days=9), sharpe_ratio=-3.0, run_id="backfill"),
    ]
    await clean_db.insert_backtest_results_batch(rows)
    history = await clean_db.metric_history("BTC", "quad_ma", params_hash="p1", interval="1h", limit=4)
    assert [r.sharpe_ratio for r in history] == [2.0, 3.0, 4.0, 5.0]  # the newest 4, oldest first
    full = await clean_db.metric_history("BTC", "quad_ma", params_hash="p1", interval="1h")
    assert [r.run_id for r in full] == ["backfill", *(f"run-{d}" for d in range(6))]
    widened = await clean_db.metric_history("BTC", "quad_ma", params_hash="p1")  # any interval
    assert sorted(r.sharpe_ratio for r in widened).count(-9.0) == 1
    assert await clean_db.metric_history("DOGE", "quad_ma", params_hash="p1", interval="1h") == []
    with pytest.raises(ValueError, match="limit: expected >= 1, got 0"):
        await clean_db.metric_history("BTC", limit=0)


async def test_symbol_presence_says_what_the_store_holds(clean_db: DatabaseClient) -> None:
    assert await clean_db.symbol_presence("BTC") == SymbolPresence(results=False, candles=False, bots=False)
    assert not (await clean_db.symbol_presence("BTC")).known
    await clean_db.insert_backtest_results_batch([result(0)])
    await clean_db.upsert_bot(
        BotRecord(
            bot_id="quad_ma:SOL",
            symbol="SOL",
            strategy_name="quad_ma",
            parameters={},
            interval="1h",
            state="running",
            created_at=NOW,
            updated_at=NOW,
        )
    )
    assert await clean_db.symbol_presence("BTC") == SymbolPresence(results=True, candles=False, bots=False)
    sol = await clean_db.symbol_presence("SOL")
    assert (sol.bots, sol.results, sol.known) == (True, False, True)
    assert not (await clean_db.symbol_presence("btc")).known  # names are exact: kPEPE is not KPEPE
