"""End to end: the fake Hyperliquid (real candles, 5000 cap) → refresh → store → engine → results."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from algo_trade_backtest import run_backtest
from algo_trade_backtest_scheduler import BacktestScheduler
from algo_trade_core import (
    BacktestConfig,
    HyperliquidConfig,
    SchedulerConfig,
    StrategyConfig,
)
from algo_trade_data import DatabaseClient, HyperliquidClient, WeightRateLimiter
from algo_trade_data.testing import FakeHyperliquid, ManualClock

from .conftest import TOKENS, real_1m

MINUTE = 60_000


def _common_end(frames: dict[str, pl.DataFrame]) -> int:
    """Epoch ms of the earliest last bar across the files, so every token has data up to it."""
    return min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values())


def scheduler_config(symbols: tuple[str, ...], **kw: object) -> SchedulerConfig:
    base = SchedulerConfig(
        token_universe=symbols, backtest_window_days=3, interval="1m", refresh_concurrency=4, max_workers=2
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def client_for(fake: FakeHyperliquid, clock: ManualClock | None = None, **kw: object) -> HyperliquidClient:
    """A client of the fake; with ``clock``, its limiter's waits (and backoff sleeps) take no real time."""
    cfg = replace(
        HyperliquidConfig(api_url=fake.url, backoff_base_s=0.01, backoff_max_s=0.2, max_retries=6), **kw
    )  # type: ignore[arg-type]
    if clock is None:
        limiter = WeightRateLimiter(cfg.weight_per_minute)
        return HyperliquidClient(cfg, limiter=limiter, now_ms=lambda: fake.now_ms)
    limiter = WeightRateLimiter(cfg.weight_per_minute, clock=clock.monotonic, sleep=clock.sleep)
    return HyperliquidClient(cfg, limiter=limiter, now_ms=lambda: fake.now_ms, sleep=clock.sleep)


@pytest.fixture
async def market() -> tuple[FakeHyperliquid, dict[str, pl.DataFrame], int]:
    frames = {s: real_1m(s) for s in TOKENS}
    end = _common_end(frames)
    now = end - 60 * MINUTE  # the last hour of the files arrives later (second sweep)
    fake = FakeHyperliquid(now_ms=now)
    for symbol, frame in frames.items():
        fake.add_candles(symbol, "1m", frame)
    async with fake:
        yield fake, frames, now


async def test_sweep_stores_engine_metrics_and_second_sweep_fetches_only_the_tail(
    db: DatabaseClient, market: tuple[FakeHyperliquid, dict[str, pl.DataFrame], int]
) -> None:
    fake, _, now = market
    as_of = datetime.fromtimestamp(now / 1000, UTC)
    execution = BacktestConfig()
    strategies = StrategyConfig()
    async with client_for(fake) as hl:
        scheduler = BacktestScheduler(
            scheduler_config(TOKENS), db, hl, execution=execution, strategies=strategies
        )
        try:
            first = await scheduler.run_once(as_of)
            assert first.status == "ok", first.errors
            assert first.tokens_ok == len(TOKENS)
            latest = await db.query_latest_backtest_results("quad_ma")
            assert set(latest) == set(TOKENS)
            # Each stored row equals the engine's metrics on the same window read back from the store.
            for symbol, record in latest.items():
                window = await db.query_candles(symbol, "1m", first.window.start, first.window.end)
                assert record.num_bars == window.height > 4000  # 3 days of 1m bars, within the 5000 cap
                assert record.window_coverage == pytest.approx(window.height / (3 * 1440))
                ts = window["timestamp"].dt.epoch("ms").to_numpy()
                result = run_backtest(
                    ts,
                    *(window[c].to_numpy() for c in ("open", "high", "low", "close", "volume")),
                    strategy="quad_ma",
                    params=strategies.quad_ma,
                    execution=execution,
                    interval="1m",
                )
                m = result.metrics
                assert (record.total_return, record.max_drawdown, record.final_capital) == (
                    m.total_return,
                    m.max_drawdown,
                    m.final_capital,
                )
                assert record.sharpe_ratio == pytest.approx(m.sharpe_ratio, rel=1e-12)
                assert (record.num_trades, record.win_rate) == (m.num_trades, pytest.approx(m.win_rate))
                assert record.run_id == first.run_id
            run = await db.get_run(first.run_id)
            assert run is not None
            assert (run.status, run.tokens_ok, run.tokens_failed) == ("ok", len(TOKENS), 0)

            # 30 minutes later only the missing tail is asked for: one small request per token.
            before = len(fake.requests)
            fake.now_ms = now + 30 * MINUTE
            second = await scheduler.run_once(datetime.fromtimestamp(fake.now_ms / 1000, UTC))
            assert second.status == "ok", second.errors
            # (a 429 answered along the way, if the budget ran short, is retried and not counted)
            tail = [r for r in fake.requests[before:] if r.type == "candleSnapshot" and r.status == 200]
            assert sorted(r.body["req"]["coin"] for r in tail) == sorted(TOKENS)
            assert all(r.candles <= 32 for r in tail)  # the last stored bar again + 30 new ones
            assert sum(r.weight for r in tail) == len(TOKENS) * 21  # 20 + 1 per 60 candles
            assert all(t.refreshed_bars >= 30 for t in second.tokens)
        finally:
            await scheduler.shutdown()


async def test_one_token_garbled_or_missing_the_others_are_stored(
    db: DatabaseClient, market: tuple[FakeHyperliquid, dict[str, pl.DataFrame], int]
) -> None:
    fake, _, now = market
    fake.inject("high_below_low", times=50, coin="SOL")
    symbols = (*TOKENS[:5], "NOPE")  # NOPE: the exchange has no such coin
    async with client_for(fake) as hl:
        scheduler = BacktestScheduler(scheduler_config(symbols), db, hl)
        try:
            summary = await scheduler.run_once(datetime.fromtimestamp(now / 1000, UTC))
        finally:
            await scheduler.shutdown()
    assert summary.status == "partial"
    assert set(summary.errors) == {"SOL", "NOPE"}
    assert "high" in summary.errors["SOL"]
    assert "NOPE" in summary.errors["NOPE"]
    stored = await db.query_latest_backtest_results("quad_ma")
    assert set(stored) == set(TOKENS[:5]) - {"SOL"}
    run = await db.get_run(summary.run_id)
    assert run is not None
    assert run.status == "partial"
    assert set(run.errors) == {"SOL", "NOPE"}
    assert run.tokens_failed == 2


async def test_429_storm_backs_off_and_completes(
    db: DatabaseClient, market: tuple[FakeHyperliquid, dict[str, pl.DataFrame], int]
) -> None:
    fake, _, now = market
    fake.inject("status", times=8, status=429, request_type="candleSnapshot")
    # Each 429 empties the local bucket and lowers the budget: a manual clock waits that out at once
    # (its concurrent sleeps add up, hence the generous deadline).
    async with client_for(fake, ManualClock(), max_retries=10, retry_deadline_s=3600.0) as hl:
        scheduler = BacktestScheduler(scheduler_config(TOKENS[:4]), db, hl)
        try:
            summary = await scheduler.run_once(datetime.fromtimestamp(now / 1000, UTC))
        finally:
            await scheduler.shutdown()
    assert summary.status == "ok", summary.errors
    assert sum(1 for r in fake.requests if r.status == 429) == 8
    assert len(await db.query_latest_backtest_results("quad_ma")) == 4


_KILL_TRIGGER = """
CREATE TABLE IF NOT EXISTS test_fail_inserts (on_ boolean);
CREATE OR REPLACE FUNCTION test_kill_self() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM test_fail_inserts) THEN
    PERFORM pg_terminate_backend(pg_backend_pid());  -- the connection dies mid-batch
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS test_kill_self ON backtest_results;
CREATE TRIGGER test_kill_self AFTER INSERT ON backtest_results
  FOR EACH STATEMENT EXECUTE FUNCTION test_kill_self();
"""


async def test_database_lost_mid_batch_marks_run_failed_and_next_run_succeeds(
    db: DatabaseClient, market: tuple[FakeHyperliquid, dict[str, pl.DataFrame], int]
) -> None:
    fake, _, now = market
    async with db.pool.acquire() as conn:
        await conn.execute(_KILL_TRIGGER)
        await conn.execute("INSERT INTO test_fail_inserts VALUES (true)")
    try:
        async with client_for(fake) as hl:
            scheduler = BacktestScheduler(scheduler_config(TOKENS[:3]), db, hl)
            try:
                failed = await scheduler.run_once(datetime.fromtimestamp(now / 1000, UTC))
                assert failed.status == "failed"
                assert failed.error is not None
                assert failed.results == []
                # Honest: no token whose results were not stored counts as ok.
                assert (failed.tokens_ok, failed.tokens_failed) == (0, 3)
                assert set(failed.errors.values()) >= {"results not stored (the final write failed)"}
                async with db.pool.acquire() as conn:
                    assert await conn.fetchval("SELECT count(*) FROM backtest_results") == 0
                    await conn.execute("DELETE FROM test_fail_inserts")
                run = await db.get_run(failed.run_id)
                assert run is not None
                assert run.status == "failed"
                ok = await scheduler.run_once(datetime.fromtimestamp(now / 1000, UTC))
                assert ok.status == "ok", ok.errors
                assert len(await db.query_latest_backtest_results("quad_ma")) == 3
            finally:
                await scheduler.shutdown()
    finally:
        async with db.pool.acquire() as conn:
            await conn.execute(
                "DROP TRIGGER IF EXISTS test_kill_self ON backtest_results; "
                "DROP TABLE IF EXISTS test_fail_inserts"
            )


async def test_event_loop_stays_responsive_during_backtests(db: DatabaseClient) -> None:
    """Backtests run in worker threads (nogil kernels): other coroutines keep running meanwhile."""
    from algo_trade_data import synthetic_candles

    end = datetime(2026, 1, 1, tzinfo=UTC)
    symbols = tuple(f"SYN{i}" for i in range(6))
    await db.upsert_candles(pl.concat([synthetic_candles(s, "1m", end, 30 * 1440) for s in symbols]))
    cfg = scheduler_config(
        symbols,
        backtest_window_days=30,
        refresh_data=False,
        exchange="synthetic",
        strategies=("quad_ma", "ma_crossover"),
    )
    ticks: list[float] = []
    phases: dict[str, list[int]] = {}
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        while True:
            ticks.append(loop.time())
            await asyncio.sleep(0.005)

    def progress(phase: str, symbol: str | None) -> None:
        phases.setdefault(phase, []).append(len(ticks))

    scheduler = BacktestScheduler(cfg, db, None)
    task = asyncio.create_task(ticker())
    try:
        summary = await scheduler.run_once(end, progress=progress)
    finally:
        task.cancel()
        await scheduler.shutdown()
    assert summary.status == "ok", summary.errors
    backtest_ticks = phases["backtest"][-1] - phases["load"][-1]
    assert backtest_ticks >= 3, f"the ticker ran {backtest_ticks} times while 12 backtests ran"
    assert np.all(np.diff(ticks) < 1.0)
