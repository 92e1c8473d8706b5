"""Property tests: on random OHLCV series and parameters, engine == reference and runner == engine."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from algo_trade_backtest import StrategyRunner, run_backtest
from algo_trade_backtest._reference import reference_backtest, result_differences
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig

T0 = 1_735_689_600_000
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def ohlcv(draw: st.DrawFn) -> tuple[Any, ...]:
    """Bars on a decimal price grid (exact ties in the averages are common), with gaps in time,
    gaps at the open, flat zero-volume bars and wide ranges that reach take-profit/stop-loss levels."""
    long_series = draw(st.sampled_from([True, True, True, False]))  # short ones probe the warm-up
    n = draw(st.integers(150, 400)) if long_series else draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    tick = draw(st.sampled_from([0.01, 0.1, 0.25, 1.0, 0.0001]))
    vol = draw(st.sampled_from([0.0, 0.001, 0.002, 0.002, 0.005, 0.01]))
    # Trends that turn (setups both ways, reversals) with short pullbacks (crosses of the short averages).
    swing = draw(st.sampled_from([0.0, 0.002, 0.005, 0.01]))
    wiggle = draw(st.sampled_from([0.0, 0.005, 0.01, 0.01]))
    period = draw(st.integers(10, 80))
    pullback = draw(st.integers(3, 9))
    rng = np.random.default_rng(seed)
    start = 1_000 * tick * draw(st.integers(1, 50))
    t = np.arange(n)
    drift = swing * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + wiggle * np.sin(
        2 * np.pi * t / pullback
    )
    c = np.maximum(np.round(start * np.exp(np.cumsum(rng.normal(drift, vol))) / tick) * tick, tick)
    gap = np.where(rng.random(n) < 0.1, rng.normal(0, 3 * vol + 1e-3, n), 0.0)
    o = np.maximum(np.round(np.r_[c[0], c[:-1]] * (1 + gap) / tick) * tick, tick)
    spread = np.round(np.abs(rng.normal(0, 2 * vol, n)) * c / tick) * tick
    h = np.maximum(o, c) + spread
    lo = np.maximum(np.minimum(o, c) - spread, tick / 2)
    v = np.round(rng.lognormal(0, 1, n), draw(st.integers(0, 4)))
    flat = rng.random(n) < draw(st.sampled_from([0.0, 0.1, 0.3]))
    flat[0] = False
    o[flat] = h[flat] = lo[flat] = c[flat] = np.r_[c[0], c[:-1]][flat]
    v[flat] = 0.0
    ts = T0 + 60_000 * np.cumsum(rng.integers(1, 4, n))
    return ts, o, h, lo, c, v


@st.composite
def quad_params(draw: st.DrawFn) -> QuadMaConfig:
    s1 = draw(st.integers(1, 4))
    s2 = s1 + draw(st.integers(1, 3))
    l1 = s2 + draw(st.integers(1, 4))
    l2 = l1 + draw(st.integers(1, 6))
    return QuadMaConfig(
        short_1=s1,
        short_2=s2,
        long_1=l1,
        long_2=l2,
        trend=draw(st.integers(2, 40)),
        volume_filter=draw(st.booleans()),
        volume_factor=draw(st.sampled_from([0.0, 0.5, 1.0, 1.5])),
        take_profit=draw(st.sampled_from([0.001, 0.005, 0.02, 0.1, 0.5])),
        stop_loss=draw(st.sampled_from([0.0005, 0.005, 0.02, 0.1, 0.5])),
        reversal_confirmation_bars=draw(st.integers(1, 3)),
    )


@st.composite
def crossover_params(draw: st.DrawFn) -> MaCrossoverConfig:
    fast = draw(st.integers(1, 8))
    return MaCrossoverConfig(fast=fast, slow=fast + draw(st.integers(1, 12)))


executions = st.builds(
    BacktestConfig,
    initial_capital=st.sampled_from([1_000.0, 10_000.0, 123_456.78]),
    fee_rate=st.sampled_from([0.0, 0.00045, 0.002]),
    slippage_bps=st.sampled_from([0.0, 5.0, 25.0]),
    position_fraction=st.sampled_from([1.0, 0.5, 0.1]),
)
strategies = st.one_of(
    st.tuples(st.just("quad_ma"), quad_params()), st.tuples(st.just("ma_crossover"), crossover_params())
)


@SETTINGS
@given(bars=ohlcv(), strategy=strategies, execution=executions)
def test_engine_equals_reference(
    bars: tuple[Any, ...], strategy: tuple[str, Any], execution: BacktestConfig
) -> None:
    name, params = strategy
    kwargs: dict[str, Any] = {"strategy": name, "params": params, "execution": execution, "interval": "1m"}
    engine = run_backtest(*bars, **kwargs)
    assert result_differences(engine, reference_backtest(*bars, **kwargs)) == []
    trades = len(engine.trades)
    event(f"{name}: {'no' if trades == 0 else '1-4' if trades < 5 else '5+'} trades")
    event(f"{name} exits: {sorted({t.exit_reason for t in engine.trades})}")


@SETTINGS
@given(bars=ohlcv(), strategy=strategies, execution=executions)
def test_runner_bar_by_bar_equals_batch(
    bars: tuple[Any, ...], strategy: tuple[str, Any], execution: BacktestConfig
) -> None:
    name, params = strategy
    batch = run_backtest(*bars, strategy=name, params=params, execution=execution, interval="1m")  # type: ignore[arg-type]
    runner = StrategyRunner(name, params, execution, interval="1m")  # type: ignore[arg-type]
    for i in range(len(bars[0])):
        runner.on_bar(*(x[i].item() for x in bars))
        assert runner.equity == batch.equity[i]
    assert runner.trades == batch.trades
    assert runner.position == batch.open_position
    assert int(runner.pending_signal) == batch.pending_signal
