"""The exact-arithmetic building blocks: rolling sums without drift and exact comparisons of averages."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest

from algo_trade_backtest import _kernels as K
from algo_trade_backtest import run_backtest
from algo_trade_core import BacktestConfig, MaCrossoverConfig

T0 = 1_735_689_600_000


def _decimal_walk(n: int, seed: int, start: float = 100.0) -> npt.NDArray[np.float64]:
    """Two-decimal prices (binary floats that are not exact) walking around ``start``."""
    rng = np.random.default_rng(seed)
    cents = np.round(start * 100) + np.cumsum(rng.integers(-5, 6, n))
    return np.maximum(cents, 1.0) / 100.0


@pytest.mark.parametrize("period", [5, 100, 1000])
def test_window_sums_are_exact_after_a_million_bars(period: int) -> None:
    values = _decimal_walk(1_000_000, period)
    hi, lo = K.window_sums_nb(values, period)
    rng = np.random.default_rng(0)
    sample = np.r_[np.arange(len(values) - 300, len(values)), rng.integers(period, len(values), 1_500)]
    cumsum = np.cumsum(values)
    naive_wrong = 0
    for i in sample.tolist():
        window = values[i - period + 1 : i + 1].tolist()
        assert hi[i] == math.fsum(window), i  # the correctly rounded sum ...
        naive_wrong += (cumsum[i] - cumsum[i - period]) != math.fsum(window)
    for i in sample[:20].tolist():  # ... and hi + lo is the exact sum
        window = values[i - period + 1 : i + 1].tolist()
        assert Fraction(hi[i]) + Fraction(lo[i]) == sum(map(Fraction, window), Fraction(0))
    # The premise: plain float rolling sums have drifted by then.
    assert naive_wrong > len(sample) // 4


def _dd(values: list[float]) -> tuple[float, float]:
    hi, lo = K.window_sums_nb(np.array(values), len(values))
    return float(hi[-1]), float(lo[-1])


def test_compare_averages_exactly_including_ties() -> None:
    rng = np.random.default_rng(1)
    grid = [0.1, 0.2, 0.3, 0.7, 1.1, 2.3, 0.05, 12.34]
    work = np.zeros(K.NUM_FLOAT_STATE)
    ties = float_disagreements = 0
    for _ in range(3_000):
        p, q = (int(x) for x in rng.integers(1, 13, 2))
        xs = [float(x) for x in rng.choice(grid, p)]
        ys = [float(x) for x in (rng.choice(grid, q) if rng.random() < 0.7 else rng.permutation(xs))]
        q = len(ys)
        exact = sum(map(Fraction, xs), Fraction(0)) / p - sum(map(Fraction, ys), Fraction(0)) / q
        want = (exact > 0) - (exact < 0)
        xh, xl = _dd(xs)
        yh, yl = _dd(ys)
        assert K.cmp_scaled_sums_nb(float(q), xh, xl, float(p), yh, yl, work) == want, (xs, ys)
        ties += want == 0
        float_mean = (sum(xs) / p > sum(ys) / q) - (sum(xs) / p < sum(ys) / q)
        float_disagreements += float_mean != want
    assert ties > 100
    assert float_disagreements > 20


def test_compare_volume_against_a_float_factor() -> None:
    work = np.zeros(K.NUM_FLOAT_STATE)
    volumes = [0.3, 0.1, 0.2, 0.6]  # mean 0.3
    sh, sl = _dd(volumes)
    for v, factor, want in [(0.3, 1.0, 0), (0.45, 1.5, 0), (0.46, 1.5, 1), (0.44, 1.5, -1), (0.0, 0.0, 0)]:
        exact = Fraction(v) * 4 - Fraction(factor) * sum(map(Fraction, volumes), Fraction(0))
        assert K.cmp_scaled_sums_nb(4.0, v, 0.0, factor, sh, sl, work) == (exact > 0) - (exact < 0)
        if want == 0:
            continue
        assert (exact > 0) - (exact < 0) == want


def _held_positions(result: object, n: int) -> npt.NDArray[np.int64]:
    """The side held during each bar (from its open), rebuilt from trades and the open position."""
    held = np.zeros(n, dtype=np.int64)
    for trade in result.trades:  # type: ignore[attr-defined]
        held[trade.entry_index : trade.exit_index] = 1 if trade.side == "long" else -1
    pos = result.open_position  # type: ignore[attr-defined]
    if pos is not None:
        held[pos.entry_index :] = 1 if pos.side == "long" else -1
    return held


def test_crossover_ties_after_a_million_bars_follow_exact_arithmetic() -> None:
    history = _decimal_walk(1_000_000, 7, start=100.07)
    tail = np.r_[np.full(80, 100.07), 100.07 + np.round(np.sin(np.arange(120)) * 3) / 100]
    close = np.r_[history, tail]
    n = len(close)
    ts = T0 + 60_000 * np.arange(n, dtype=np.int64)
    result = run_backtest(
        ts,
        close,
        close,
        close,
        close,
        np.ones(n),
        strategy="ma_crossover",
        params=MaCrossoverConfig(fast=10, slow=30),
        execution=BacktestConfig(fee_rate=0.0, slippage_bps=0.0),
        interval="1m",
    )
    held = _held_positions(result, n)
    start = len(history)
    exact_ties = 0
    for i in range(start, n - 1):
        diff = (
            sum(map(Fraction, close[i - 9 : i + 1].tolist()), Fraction(0)) / 10
            - sum(map(Fraction, close[i - 29 : i + 1].tolist()), Fraction(0)) / 30
        )
        want = (diff > 0) - (diff < 0)
        expected = want if want != 0 else held[i]  # a tie keeps the side
        assert held[i + 1] == expected, i - start
        exact_ties += want == 0
    # The premise: an engine with running float sums (s += new - old) sees no tie on the flat stretch.
    running_fast = np.cumsum(close - np.r_[np.zeros(10), close[:-10]]) / 10
    running_slow = np.cumsum(close - np.r_[np.zeros(30), close[:-30]]) / 30
    naive = (running_fast - running_slow)[start + 30 : start + 80]
    assert exact_ties >= 40
    assert np.count_nonzero(naive) > 25
