"""The sweep stores each token's volatility regime (from the store, before its window's end), the
returns' moments and the PSR with every result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from algo_trade_backtest import hourly_closes, run_backtest_frame, volatility_regime
from algo_trade_backtest_scheduler import BacktestScheduler, window_for
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
