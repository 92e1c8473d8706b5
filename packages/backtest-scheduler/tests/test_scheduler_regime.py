"""The sweep stores each token's volatility regime (from the store, before its window's end), the
returns' moments and the PSR with every result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from algo_trade_backtest import hourly_closes, run_backtest_frame, volatility_regime
from algo_trade_backtest_scheduler import BacktestScheduler, HourlyCloseCache, window_for
from algo_trade_core import SchedulerConfig, datetime_to_ms
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import real_candles

FIRST = datetime(2025, 3, 20, 9, 30, tzinfo=UTC)


def _arrays(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return frame["timestamp"].dt.epoch("ms").to_numpy(), frame["close"].to_numpy()


async def test_the_store_resamples_real_5m_bars_to_the_same_hourly_closes(db: DatabaseClient) -> None:
    frame = real_candles("ETH", "5m")
    await db.upsert_candles(frame)
    first, last = frame["timestamp"][0], frame["timestamp"][-1]
    times, closes = await db.query_hourly_closes("ETH", "5m", first, last + timedelta(minutes=5))
    expected_times, expected_closes = hourly_closes(*_arrays(frame), "5m")
    assert times == expected_times.tolist()
    assert closes == expected_closes.tolist()
    assert len(times) > 3000


async def test_each_result_carries_the_regime_its_token_was_in_and_its_moments(db: DatabaseClient) -> None:
    frames = {s: real_candles(s, "1h") for s in ("BTC", "DOGE", "SUI")}
    young = frames["SUI"].filter(pl.col("timestamp") >= datetime(2025, 2, 15, tzinfo=UTC))  # a short history
    frames["SUI"] = young
    await db.upsert_candles(pl.concat(list(frames.values())))
    config = SchedulerConfig(
        token_universe=tuple(frames), interval="1h", backtest_window_days=30, refresh_data=False
    )
    scheduler = BacktestScheduler(config, db, None, regime_lookback_days=120)
    seen: dict[tuple[str, datetime], str | None] = {}
    try:
        for as_of in (FIRST, datetime(2025, 7, 1, tzinfo=UTC)):
            summary = await scheduler.run_once(as_of)
            assert summary.status == "ok", summary.errors
            window = window_for(as_of, 30, "1h")
            for symbol, frame in frames.items():
                (result,) = [r for r in summary.results if r.symbol == symbol]
                before = frame.filter(pl.col("timestamp") < window.end)
                expected = volatility_regime(
                    *_arrays(before),
                    end_ms=datetime_to_ms(window.end),
                    window_days=30,
                    lookback_days=120,
                    interval="1h",
                )
                assert result.regime == expected.regime, (symbol, as_of)
                seen[symbol, as_of] = result.regime
                # The moments and PSR come from the engine's metrics on the same window.
                bars = frame.filter(
                    (pl.col("timestamp") >= window.start) & (pl.col("timestamp") < window.end)
                )
                engine = run_backtest_frame(bars, strategy="quad_ma", interval="1h").metrics
                assert result.returns_skewness == engine.returns_skewness
                assert result.returns_kurtosis == engine.returns_kurtosis
                assert result.psr == engine.psr
                assert result.psr is not None
            stored = await db.query_run_results(summary.run_id)
            assert {r.symbol: r.regime for r in stored} == {r.symbol: r.regime for r in summary.results}
    finally:
        await scheduler.shutdown()
    assert seen["SUI", FIRST] is None  # 33 days of bars: less than the window plus half the lookback
    assert seen["SUI", datetime(2025, 7, 1, tzinfo=UTC)] is not None
    assert None not in {seen[s, t] for s, t in seen if s != "SUI"}
    assert len(set(seen.values())) >= 3  # not a constant
    assert summary.timings["regime"] >= 0.0


async def test_a_scheduler_reads_only_the_hours_added_since_its_last_sweep(db: DatabaseClient) -> None:
    frames = {s: real_candles(s, "5m") for s in ("BTC", "ETH")}
    await db.upsert_candles(pl.concat(list(frames.values())))
    config = SchedulerConfig(
        token_universe=tuple(frames), interval="5m", backtest_window_days=20, refresh_data=False
    )
    cached = BacktestScheduler(config, db, None, regime_lookback_days=60)
    as_of = datetime(2025, 6, 1, 12, 10, tzinfo=UTC)

    def hours(since: datetime, until: datetime) -> int:  # hours with a bar, summed over the tokens
        return sum(
            hourly_closes(*_arrays(f.filter(pl.col("timestamp").is_between(since, until, "left"))), "5m")[
                0
            ].size
            for f in frames.values()
        )

    end = datetime(2025, 6, 1, 12, tzinfo=UTC)  # the regime's windows end on a whole hour
    try:
        first = await cached.run_once(as_of)
        read = cached.regime_cache.rows_read
        assert read == hours(end - timedelta(days=80), end) > 2 * 79 * 24  # the window and the lookback
        for days in (1, 3):  # later sweeps: only the new hours, and the same regimes as read afresh
            later = await cached.run_once(as_of + timedelta(days=days))
            fresh = BacktestScheduler(config, db, None, regime_lookback_days=60)
            try:
                again = await fresh.run_once(as_of + timedelta(days=days))
            finally:
                await fresh.shutdown()
            assert {r.symbol: r.regime for r in later.results} == {r.symbol: r.regime for r in again.results}
        assert cached.regime_cache.rows_read == read + hours(end, end + timedelta(days=3))
        assert {r.regime for r in first.results} <= {"low", "normal", "high"}
        # A sweep back in time reads its range again (it starts before what is held).
        before = cached.regime_cache.rows_read
        await cached.run_once(as_of - timedelta(days=1))
        back = end - timedelta(days=1)
        assert cached.regime_cache.rows_read == before + hours(back - timedelta(days=80), back)
    finally:
        await cached.shutdown()


async def test_the_cache_reads_everything_again_once_a_day(db: DatabaseClient) -> None:
    frame = real_candles("SOL", "1h").filter(pl.col("timestamp") < datetime(2025, 2, 1, tzinfo=UTC))
    await db.upsert_candles(frame)
    now = {"s": 0.0}
    cache = HourlyCloseCache(clock=lambda: now["s"])
    start, end = (
        datetime_to_ms(datetime(2025, 1, 1, tzinfo=UTC)),
        datetime_to_ms(datetime(2025, 1, 20, tzinfo=UTC)),
    )
    _, closes = await cache.closes(db, "SOL", "1h", "hyperliquid", start, end)
    changed = frame.filter(pl.col("timestamp") == datetime(2025, 1, 2, tzinfo=UTC)).with_columns(
        pl.col("close") * 1.01, pl.col("high") * 1.01
    )
    await db.upsert_candles(changed)  # a bar rewritten in the past (an import of corrected data)
    now["s"] = 3600.0
    _, held = await cache.closes(db, "SOL", "1h", "hyperliquid", start, end + 3_600_000)
    assert held[:-1].tolist() == closes.tolist()  # within the day: what it holds, plus the new hour
    now["s"] = 86_401.0
    _, again = await cache.closes(db, "SOL", "1h", "hyperliquid", start, end + 3_600_000)
    assert again[24] == changed["close"][0] != closes[24]


async def test_bars_stored_at_or_after_the_windows_end_do_not_move_the_regime(db: DatabaseClient) -> None:
    end = datetime(2025, 5, 1, tzinfo=UTC)
    frames = {s: real_candles(s, "1h") for s in ("BTC", "DOGE", "SUI")}
    wild = []
    for frame in frames.values():  # from `end` on, every bar x4 and /4 in turn: +-139 % hourly returns
        later = (frame["timestamp"] >= end).to_numpy()
        scale = pl.Series(np.where(later, np.where(np.cumsum(later) % 2 == 1, 4.0, 0.25), 1.0))
        wild.append(frame.with_columns(*(pl.col(c) * scale for c in ("open", "high", "low", "close"))))
    await db.upsert_candles(pl.concat(wild))
    config = SchedulerConfig(
        token_universe=tuple(frames), interval="1h", backtest_window_days=30, refresh_data=False
    )
    scheduler = BacktestScheduler(config, db, None, regime_lookback_days=90)
    try:
        at_end = await scheduler.run_once(end)
        one_bar_later = await scheduler.run_once(end + timedelta(hours=1))
    finally:
        await scheduler.shutdown()
    expected = {
        symbol: volatility_regime(
            *_arrays(frame.filter(pl.col("timestamp") < end)),
            end_ms=datetime_to_ms(end),
            window_days=30,
            lookback_days=90,
            interval="1h",
        ).regime
        for symbol, frame in frames.items()
    }
    assert {r.symbol: r.regime for r in at_end.results} == expected
    assert None not in expected.values()
    # The stored change is one the regime sees: the bar opening at `end` alone makes every window high.
    assert {r.regime for r in one_bar_later.results} == {"high"}
