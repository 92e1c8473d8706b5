"""Backtest results, runs and selections against the real local PostgreSQL."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from algo_trade_core import DatabaseError, DataError
from algo_trade_data._database import DatabaseClient
from algo_trade_data._records import BacktestResultRecord, BacktestRunRecord, RunTrials, SelectionRecord
from algo_trade_data.testing import temporary_client

NOW = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)


def result(symbol: str = "BTC", at: datetime = NOW, **changes: Any) -> BacktestResultRecord:
    base = BacktestResultRecord(
        timestamp=at,
        symbol=symbol,
        strategy_name="quad_ma",
        parameters={"short_1": 5, "short_2": 10, "take_profit": Decimal("0.02")},
        sharpe_ratio=1.25,
        total_return=Decimal("0.12345678"),
        max_drawdown=Decimal("0.05"),
        num_trades=14,
        win_rate=0.57,
        initial_capital=Decimal("10000"),
        final_capital=Decimal("11234.5678"),
        backtest_window_start=at - timedelta(days=30),
        backtest_window_end=at,
        run_id="run-1",
        params_hash="p1",
        sortino_ratio=1.9,
        calmar_ratio=3.1,
        profit_factor=1.7,
        buy_hold_return=Decimal("-0.01"),
        exposure=0.4,
        num_bars=43_200,
        window_coverage=1.0,
    )
    return replace(base, **changes)


async def result_count(db: DatabaseClient) -> int:
    async with db.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM backtest_results"))


async def test_single_insert_is_an_upsert(clean_db: DatabaseClient) -> None:
    await clean_db.insert_backtest_result(result())
    await clean_db.insert_backtest_result(result(sharpe_ratio=2.5, final_capital=Decimal("12000.00000001")))
    assert await result_count(clean_db) == 1
    latest = await clean_db.query_latest_backtest_results("quad_ma")
    assert latest["BTC"] == result(
        sharpe_ratio=2.5,
        final_capital=Decimal("12000.00000001"),
        parameters={"short_1": 5, "short_2": 10, "take_profit": "0.02"},  # JSON keeps Decimals as strings
    )


async def test_latest_per_symbol_picks_each_symbols_newest_result(clean_db: DatabaseClient) -> None:
    records = [
        result(symbol, NOW - timedelta(hours=h), sharpe_ratio=float(h), params_hash=p)
        for symbol in ("BTC", "ETH", "SOL")
        for h in (0, 1, 2)
        for p in ("p1", "p2")
        if not (symbol == "SOL" and h == 0)  # SOL's newest result is an hour older
    ]
    assert await clean_db.insert_backtest_results_batch(records) == len(records)
    latest = await clean_db.query_latest_backtest_results("quad_ma")
    assert sorted(latest) == ["BTC", "ETH", "SOL"]
    assert (latest["BTC"].timestamp, latest["BTC"].params_hash) == (NOW, "p1")  # tie → params_hash order
    assert latest["SOL"].timestamp == NOW - timedelta(hours=1)
    assert {
        r.params_hash for r in (await clean_db.query_latest_backtest_results("quad_ma", "p2")).values()
    } == {"p2"}
    recent = await clean_db.query_latest_backtest_results("quad_ma", since=NOW - timedelta(minutes=30))
    assert sorted(recent) == ["BTC", "ETH"]
    assert await clean_db.query_latest_backtest_results("ma_crossover") == {}


async def test_latest_takes_the_scope_universe_interval_and_parameter_set(clean_db: DatabaseClient) -> None:
    await clean_db.insert_backtest_results_batch(
        [
            result("BTC"),
            result("ETH"),
            result("OUT"),  # outside the universe
            result("BTC", NOW + timedelta(hours=1), interval="1h", sharpe_ratio=9.0),  # another interval
            result("ETH", NOW + timedelta(hours=1), params_hash="p2", sharpe_ratio=9.0),  # another set
        ]
    )
    scoped = await clean_db.query_latest_backtest_results(
        "quad_ma", "p1", interval="1m", symbols=["BTC", "ETH", "SOL"]
    )
    assert sorted(scoped) == ["BTC", "ETH"]
    assert {(r.interval, r.params_hash, r.sharpe_ratio) for r in scoped.values()} == {("1m", "p1", 1.25)}
    assert sorted(await clean_db.query_latest_backtest_results("quad_ma", symbols=[])) == []
    widened = await clean_db.query_latest_backtest_results("quad_ma")
    assert sorted(widened) == ["BTC", "ETH", "OUT"]
    assert widened["BTC"].interval == "1h"


async def test_a_backfill_stored_later_does_not_hide_the_current_result(clean_db: DatabaseClient) -> None:
    current = result("BTC", NOW, sharpe_ratio=2.0)
    backfill = result(
        "BTC",
        NOW + timedelta(hours=1),  # stored after the current result, over a window a year older
        backtest_window_start=NOW - timedelta(days=395),
        backtest_window_end=NOW - timedelta(days=365),
        sharpe_ratio=-3.0,
    )
    await clean_db.insert_backtest_results_batch([current, backfill])
    latest = await clean_db.query_latest_backtest_results("quad_ma")
    assert latest["BTC"].sharpe_ratio == 2.0
    # As of a year ago, the current result lies in the future: the backfill is what was known then.
    then = await clean_db.query_latest_backtest_results("quad_ma", until=NOW - timedelta(days=300))
    assert then["BTC"].sharpe_ratio == -3.0


async def test_regime_moments_and_psr_round_trip_and_old_rows_read_as_unknown(
    clean_db: DatabaseClient,
) -> None:
    gated = result(
        "BTC", parameters={}, regime="high", returns_skewness=-0.75, returns_kurtosis=11.5, psr=0.8125
    )
    await clean_db.insert_backtest_results_batch([gated, result("ETH")])
    await clean_db.insert_backtest_result(result("SOL", regime="low", psr=0.5))
    latest = await clean_db.query_latest_backtest_results("quad_ma")
    assert latest["BTC"] == gated
    assert (latest["ETH"].regime, latest["ETH"].psr, latest["ETH"].returns_kurtosis) == (None, None, None)
    assert (latest["SOL"].regime, latest["SOL"].psr) == ("low", 0.5)
    async with clean_db.pool.acquire() as conn:  # the table itself refuses an unknown regime
        with pytest.raises(asyncpg.CheckViolationError, match="backtest_results_regime_valid"):
            await conn.execute("UPDATE backtest_results SET regime = 'stormy' WHERE symbol = 'BTC'")


async def test_run_trials_count_each_runs_results_and_the_variance_of_their_sharpe(
    clean_db: DatabaseClient,
) -> None:
    sharpes = {"BTC": 1.5, "ETH": -0.5, "SOL": 3.0}
    await clean_db.insert_backtest_results_batch(
        [result(s, sharpe_ratio=v) for s, v in sharpes.items()]
        + [result("BTC", sharpe_ratio=9.0, params_hash="p2")]  # a second parameter set: one more trial
        + [result("BTC", NOW + timedelta(hours=1), sharpe_ratio=2.0, run_id="run-2", interval="1h")]
        + [result("BTC", NOW + timedelta(hours=2), sharpe_ratio=7.0, run_id="run-3")]  # not asked for
    )
    trials = await clean_db.query_run_trials(["run-1", "run-2", "run-1", "absent"])
    values = [*sharpes.values(), 9.0]
    mean = sum(values) / 4
    assert trials == [
        RunTrials(
            run_id="run-1",
            interval="1m",
            trials=4,
            sharpe_variance=pytest.approx(sum((v - mean) ** 2 for v in values) / 3, rel=1e-12),
        ),
        RunTrials(run_id="run-2", interval="1h", trials=1, sharpe_variance=0.0),  # one trial: no spread
    ]
    assert await clean_db.query_run_trials([]) == []


async def test_history_is_newest_first_and_limited(clean_db: DatabaseClient) -> None:
    await clean_db.insert_backtest_results_batch(
        [result("ETH", NOW - timedelta(days=d), num_trades=d) for d in range(10)]
        + [result("ETH", NOW, strategy_name="ma_crossover"), result("BTC", NOW)]
    )
    history = await clean_db.query_result_history("ETH", "quad_ma", limit=4)
    assert [r.num_trades for r in history] == [0, 1, 2, 3]
    assert len(await clean_db.query_result_history("ETH")) == 11
    assert len(await clean_db.query_run_results("run-1")) == 12


async def test_batch_keeps_the_last_record_of_a_repeated_key(clean_db: DatabaseClient) -> None:
    written = await clean_db.insert_backtest_results_batch(
        [result(sharpe_ratio=1.0), result(sharpe_ratio=3.0)]
    )
    assert written == 1
    assert (await clean_db.query_latest_backtest_results("quad_ma"))["BTC"].sharpe_ratio == 3.0


async def test_infinite_profit_factor_is_stored_as_null(clean_db: DatabaseClient) -> None:
    await clean_db.insert_backtest_results_batch([result(profit_factor=math.inf)])
    assert (await clean_db.query_latest_backtest_results("quad_ma"))["BTC"].profit_factor is None


async def test_a_calmar_too_large_for_a_float_is_stored_as_null(clean_db: DatabaseClient) -> None:
    await clean_db.insert_backtest_results_batch([result("BTC", calmar_ratio=None), result("ETH")])
    latest = await clean_db.query_latest_backtest_results("quad_ma")
    assert latest["BTC"].calmar_ratio is None
    assert latest["ETH"].calmar_ratio is not None


async def test_batch_and_its_run_are_written_together(clean_db: DatabaseClient) -> None:
    run = BacktestRunRecord(
        run_id="run-1",
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=9),
        status="partial",
        tokens_ok=2,
        tokens_failed=1,
        errors={"FTM": "unknown symbol"},
        config={"window_days": 30},
    )
    await clean_db.insert_backtest_results_batch([result("BTC"), result("ETH")], run=run)
    assert await clean_db.get_run("run-1") == run
    assert await result_count(clean_db) == 2


async def test_a_nan_in_a_batch_is_refused_before_anything_is_written(clean_db: DatabaseClient) -> None:
    records = [result(s) for s in ("BTC", "ETH", "SOL")]
    records[1] = replace(records[1], sharpe_ratio=math.nan)
    with pytest.raises(
        DataError, match=r"backtest result 2 \(ETH quad_ma params_hash='p1'.*sharpe_ratio is not a finite"
    ):
        await clean_db.insert_backtest_results_batch(
            records, run=BacktestRunRecord(run_id="run-1", started_at=NOW, finished_at=None, status="ok")
        )
    assert await result_count(clean_db) == 0
    assert await clean_db.get_run("run-1") is None


async def test_a_batch_the_database_refuses_leaves_no_rows(clean_db: DatabaseClient) -> None:
    records = [result(s) for s in ("BTC", "ETH", "SOL", "DOGE")]
    records[2] = replace(records[2], win_rate=1.5)  # violates the CHECK (a fraction)
    run = BacktestRunRecord(run_id="run-1", started_at=NOW, finished_at=None, status="ok")
    with pytest.raises(DatabaseError, match=r"insert_backtest_results_batch .*CheckViolation"):
        await clean_db.insert_backtest_results_batch(records, run=run)
    assert await result_count(clean_db) == 0
    assert await clean_db.get_run("run-1") is None


async def test_losing_the_connection_mid_batch_leaves_no_rows() -> None:
    """Kill the batch's backend after its results are inserted, while it waits for the run row."""
    async with temporary_client(max_connections=2) as db:
        run = BacktestRunRecord(run_id="run-x", started_at=NOW, finished_at=None, status="running")
        await db.record_run(run)
        blocker = await asyncpg.connect(db._url)
        try:
            blocker_tx = blocker.transaction()
            await blocker_tx.start()
            await blocker.execute("SELECT * FROM backtest_runs WHERE run_id = 'run-x' FOR UPDATE")
            records = [result(f"T{i}") for i in range(500)]
            batch = asyncio.create_task(
                db.insert_backtest_results_batch(records, run=replace(run, status="ok"))
            )
            pid = await _wait_for_lock_waiter(blocker)
            # The batch has inserted its 500 results (it is blocked on the run row after them).
            assert await blocker.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND granted "
                "AND mode = 'RowExclusiveLock' AND relation = 'backtest_results'::regclass)",
                pid,
            )
            await blocker.execute("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(DatabaseError, match=r"insert_backtest_results_batch .*connection"):
                await batch
            await blocker_tx.rollback()
        finally:
            await blocker.close()
        assert await result_count(db) == 0
        stored = await db.get_run("run-x")
        assert stored is not None
        assert stored.status == "running"
        # The pool replaced the dead connection: the client still works.
        assert await db.insert_backtest_results_batch(records[:3]) == 3


async def _wait_for_lock_waiter(conn: Any, within: float = 10.0) -> int:
    """Return the pid of the session waiting for a lock ``conn`` holds (poll, no fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))"
        )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.01)
    raise AssertionError("the batch never reached the run row")


async def test_runs_start_finish_and_list(clean_db: DatabaseClient) -> None:
    first = await clean_db.start_run(run_id="a", config={"interval": "1m"}, started_at=NOW)
    assert (first.status, first.finished_at) == ("running", None)
    second = await clean_db.start_run(started_at=NOW + timedelta(minutes=5))
    done = await clean_db.finish_run(
        "a", status="ok", tokens_ok=20, errors={}, finished_at=NOW + timedelta(minutes=1)
    )
    assert (done.status, done.tokens_ok, done.finished_at) == ("ok", 20, NOW + timedelta(minutes=1))
    assert done.config == {"interval": "1m"}
    assert [r.run_id for r in await clean_db.list_runs()] == [second.run_id, "a"]
    assert [r.run_id for r in await clean_db.list_runs(status="running")] == [second.run_id]
    assert await clean_db.get_run("missing") is None
    with pytest.raises(DataError, match="no backtest run with id 'missing'"):
        await clean_db.finish_run("missing", status="ok")


async def test_selections_round_trip(clean_db: DatabaseClient) -> None:
    details: list[dict[str, Any]] = [
        {"symbol": "BTC", "score": 1.2, "rank": 1, "failed": []},
        {"symbol": "ETH", "failed": ["min_sharpe_ratio"]},
    ]
    older = await clean_db.insert_selection(
        SelectionRecord(
            selected_at=NOW, strategy_name="quad_ma", approved=["BTC"], details=details, fallback_used=False
        )
    )
    newer = await clean_db.insert_selection(
        SelectionRecord(
            selected_at=NOW + timedelta(hours=1),
            strategy_name="quad_ma",
            approved=["SOL", "BTC"],
            details=[],
            fallback_used=True,
            run_id="run-1",
        )
    )
    await clean_db.insert_selection(
        SelectionRecord(
            selected_at=NOW + timedelta(hours=2),
            strategy_name="ma_crossover",
            approved=[],
            details=[],
            fallback_used=False,
        )
    )
    assert older.selection_id is not None
    assert older.details == details
    assert await clean_db.latest_selection("quad_ma") == newer
    assert (newer.approved, newer.fallback_used, newer.run_id) == (["SOL", "BTC"], True, "run-1")
    assert [s.strategy_name for s in await clean_db.list_selections()] == [
        "ma_crossover",
        "quad_ma",
        "quad_ma",
    ]
    assert await clean_db.latest_selection("nothing") is None


async def test_retention_removes_old_results_runs_and_selections(clean_db: DatabaseClient) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=400), now - timedelta(days=1)
    await clean_db.insert_backtest_results_batch(
        [result("BTC", old), result("BTC", recent), result("ETH", old)]
    )
    await clean_db.record_run(BacktestRunRecord(run_id="old", started_at=old, finished_at=old, status="ok"))
    await clean_db.record_run(
        BacktestRunRecord(run_id="new", started_at=recent, finished_at=None, status="running")
    )
    await clean_db.insert_selection(
        SelectionRecord(
            selected_at=old, strategy_name="quad_ma", approved=[], details=[], fallback_used=False
        )
    )
    assert (await clean_db.apply_retention(0)).results_deleted == 0
    report = await clean_db.apply_retention(30)
    assert (report.runs_deleted, report.selections_deleted) == (1, 1)
    if clean_db.timescaledb_enabled:
        assert report.chunks_dropped >= 1  # the 400-day-old chunk went as a whole
    else:
        assert (report.chunks_dropped, report.results_deleted) == (0, 2)
    remaining = await clean_db.query_result_history("BTC")
    assert [r.timestamp for r in remaining] == [recent]
    assert await clean_db.query_result_history("ETH") == []


async def test_a_closed_client_raises_database_error_naming_the_operation() -> None:
    async with temporary_client() as db:
        await db.close()
        with pytest.raises(DatabaseError, match="query_latest_backtest_results failed"):
            await db.query_latest_backtest_results("quad_ma")
