"""History views (`runs list`, `selection history`) against the real local PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from algo_trade_data._database import DatabaseClient
from algo_trade_data._records import BacktestResultRecord, BacktestRunRecord, SelectionRecord

T = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)


def result(symbol: str, run_id: str, end: datetime, interval: str = "1h") -> BacktestResultRecord:
    return BacktestResultRecord(
        timestamp=T,
        symbol=symbol,
        strategy_name="quad_ma",
        parameters={"short_1": 5},
        sharpe_ratio=1.0,
        total_return=Decimal("0.1"),
        max_drawdown=Decimal("0.05"),
        num_trades=3,
        win_rate=0.5,
        initial_capital=Decimal(10000),
        final_capital=Decimal(11000),
        backtest_window_start=end - timedelta(days=30),
        backtest_window_end=end,
        run_id=run_id,
        interval=interval,
        params_hash="p1",
    )


def run(run_id: str, minutes: int, status: str = "ok", **changes: object) -> BacktestRunRecord:
    base = BacktestRunRecord(
        run_id=run_id,
        started_at=T + timedelta(minutes=minutes),
        finished_at=T + timedelta(minutes=minutes, seconds=42),
        status=status,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_run_overviews_count_the_stored_results_and_take_the_window_from_them(
    clean_db: DatabaseClient,
) -> None:
    end = datetime(2025, 6, 1, tzinfo=UTC)
    await clean_db.insert_backtest_results_batch(
        [result("BTC", "r1", end), result("ETH", "r1", end)], run=run("r1", 0, tokens_ok=2)
    )
    failed = run(
        "r2",
        10,
        "failed",
        tokens_failed=1,
        errors={"SOL": "no 1m candles stored"},
        config={
            "scheduler": {"interval": "1m"},
            "window": {"start": "2025-06-30T00:00:00+00:00", "end": "2025-07-01T00:00:00+00:00"},
        },
    )
    await clean_db.record_run(failed)
    await clean_db.record_run(run("r3", 20, "running", finished_at=None))

    overviews = await clean_db.run_overviews()
    assert [o.run.run_id for o in overviews] == ["r3", "r2", "r1"]
    r3, r2, r1 = overviews
    assert (r1.results, r1.interval, r1.window_end, r1.seconds) == (2, "1h", end, 42.0)
    assert r1.window_start == end - timedelta(days=30)
    # a run that stored nothing: interval and window from its recorded configuration
    assert (r2.results, r2.interval) == (0, "1m")
    assert r2.window_end == datetime(2025, 7, 1, tzinfo=UTC)
    assert r2.run.errors == {"SOL": "no 1m candles stored"}
    assert (r3.results, r3.interval, r3.window_end, r3.seconds) == (0, None, None, None)
    assert [o.run.run_id for o in await clean_db.run_overviews(1)] == ["r3"]
    assert [o.run.run_id for o in await clean_db.run_overviews(status="failed")] == ["r2"]


async def test_selection_history_is_oldest_first_and_filtered(clean_db: DatabaseClient) -> None:
    for i, strategy in enumerate(("quad_ma", "ma_crossover", "quad_ma", "quad_ma")):
        await clean_db.insert_selection(
            SelectionRecord(
                selected_at=T + timedelta(hours=i),
                strategy_name=strategy,
                approved=["BTC"] if i else [],
                details=[{"symbol": "BTC", "approved": bool(i), "failed": [] if i else ["min_sharpe_ratio"]}],
                fallback_used=i == 3,
                run_id=f"run-{i}",
            )
        )
    history = await clean_db.selection_history("quad_ma")
    assert [s.selected_at.hour for s in history] == [3, 5, 6]
    assert history[0].details[0]["failed"] == ["min_sharpe_ratio"]
    assert history[-1].fallback_used is True
    assert history[-1].run_id == "run-3"
    assert [s.selected_at.hour for s in await clean_db.selection_history("quad_ma", limit=2)] == [5, 6]
    since = await clean_db.selection_history(since=T + timedelta(hours=1))
    assert [s.strategy_name for s in since] == ["ma_crossover", "quad_ma", "quad_ma"]
