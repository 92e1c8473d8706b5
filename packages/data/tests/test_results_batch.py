"""Batched result writes: validation over whole columns, exact money, and the concurrent-writer fallback."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from algo_trade_core import DataError
from algo_trade_data._database import DatabaseClient
from algo_trade_data._records import BacktestResultRecord
from algo_trade_data._results_batch import RESULT_COLUMNS, stage_rows
from algo_trade_data.testing import temporary_client, wait_for

NOW = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)


def result(symbol: str = "BTC", **changes: Any) -> BacktestResultRecord:
    base = BacktestResultRecord(
        timestamp=NOW,
        symbol=symbol,
        strategy_name="quad_ma",
        parameters={"short_1": 5, "take_profit": Decimal("0.02")},
        sharpe_ratio=1.25,
        total_return=Decimal("0.12345678"),
        max_drawdown=Decimal("0.05"),
        num_trades=14,
        win_rate=0.57,
        initial_capital=Decimal("10000"),
        final_capital=Decimal("11234.5678"),
        backtest_window_start=NOW - timedelta(days=30),
        backtest_window_end=NOW,
        run_id="run-1",
        params_hash="p1",
        calmar_ratio=3.1,
        profit_factor=1.7,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("index", "changes", "message"),
    [
        (2, {"backtest_window_end": datetime(2025, 7, 1)}, "backtest_window_end must be timezone-aware"),  # noqa: DTZ001 - the naive time under test
        (1, {"profit_factor": math.nan}, "profit_factor is NaN"),
        (0, {"final_capital": Decimal("Infinity")}, "final_capital is not a finite number"),
        (3, {"calmar_ratio": -math.inf}, "calmar_ratio is not a finite number"),
        (2, {"exposure": math.nan}, "exposure is not a finite number"),
        (1, {"psr": math.nan}, "psr is not a finite number"),
        (3, {"returns_kurtosis": math.inf}, "returns_kurtosis is not a finite number"),
        (0, {"regime": "stormy"}, "regime must be one of low, normal, high or None, got 'stormy'"),
    ],
)
def test_the_first_bad_record_of_a_batch_is_named(index: int, changes: dict[str, Any], message: str) -> None:
    records = [result(s) for s in ("BTC", "ETH", "SOL", "DOGE")]
    records[index] = replace(records[index], **changes)
    name = records[index].symbol
    with pytest.raises(DataError, match=rf"backtest result {index + 1} \({name} .*{message}"):
        stage_rows(records)


def test_stage_rows_carry_money_and_parameters_as_exact_text() -> None:
    rows = stage_rows(
        [
            result("BTC", profit_factor=math.inf, calmar_ratio=None),
            result("ETH", final_capital=Decimal("123456789012.12345678")),
            result("BTC", sharpe_ratio=9.0),  # repeats BTC's key: the last one wins, in its place
        ]
    )
    at = {name: i for i, name in enumerate(RESULT_COLUMNS)}
    assert [row[at["symbol"]] for row in rows] == ["ETH", "BTC"]
    eth, btc = rows
    assert eth[at["final_capital"]] == "123456789012.12345678"
    assert eth[at["parameters"]] == '{"short_1":5,"take_profit":"0.02"}'
    assert btc[at["sharpe_ratio"]] == 9.0
    assert stage_rows([result(profit_factor=math.inf)])[0][at["profit_factor"]] is None
    assert stage_rows([]) == []


async def test_money_is_stored_with_all_its_digits(clean_db: DatabaseClient) -> None:
    money = Decimal("123456789012.12345678")  # 20 digits: more than a float64 holds
    await clean_db.insert_backtest_results_batch([result(final_capital=money, total_return=Decimal("-1E-8"))])
    stored = (await clean_db.query_latest_backtest_results("quad_ma"))["BTC"]
    assert (stored.final_capital, stored.total_return) == (money, Decimal("-0.00000001"))


async def test_a_batch_over_stored_results_updates_them(clean_db: DatabaseClient) -> None:
    await clean_db.insert_backtest_results_batch([result("BTC"), result("ETH")])
    written = await clean_db.insert_backtest_results_batch([result("BTC", sharpe_ratio=2.0), result("SOL")])
    assert written == 2
    latest = await clean_db.query_latest_backtest_results("quad_ma")
    assert sorted(latest) == ["BTC", "ETH", "SOL"]
    assert latest["BTC"].sharpe_ratio == 2.0


async def test_a_result_stored_meanwhile_by_another_session_is_merged() -> None:
    """The probe finds no result at the run's time, but another session's commits before our INSERT."""
    async with temporary_client() as db:
        other = await asyncpg.connect(db._url)  # an independent session
        try:
            tx = other.transaction()
            await tx.start()
            await other.execute(
                "INSERT INTO backtest_results (timestamp, symbol, strategy_name, params_hash, sharpe_ratio, "
                "total_return, max_drawdown, num_trades, win_rate, initial_capital, final_capital, "
                "backtest_window_start, backtest_window_end) "
                "VALUES ($1, 'ETH', 'quad_ma', 'p1', -5, 0, 0, 0, 0, 1, 1, $1, $1)",
                NOW,
            )
            batch = asyncio.create_task(db.insert_backtest_results_batch([result("BTC"), result("ETH")]))
            await wait_for(lambda: _waits_for(other), what="the batch to wait for the other session")
            await tx.commit()
            assert await batch == 2
        finally:
            await other.close()
        latest = await db.query_latest_backtest_results("quad_ma")
        assert latest["ETH"].sharpe_ratio == 1.25  # our values replaced the other session's
        assert latest["BTC"] == result("BTC", parameters={"short_1": 5, "take_profit": "0.02"})


async def _waits_for(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
            "WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
        )
    )
