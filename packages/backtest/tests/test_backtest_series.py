"""What a backtest chart draws besides the candles (shared by the CLI's --plot and the dashboard),
against hand computations and slow, obviously correct references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo_trade_backtest import (
    MIN_LINE_POINTS,
    drawdown_curve,
    minmax_indices,
    params_from_mapping,
    sma,
    strategy_averages,
)
from algo_trade_core import MaCrossoverConfig, QuadMaConfig

# --- the strategy's averages ------------------------------------------------------------------------


def test_sma_matches_a_hand_computation() -> None:
    out = sma(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 3)
    assert np.isnan(out[:2]).all()
    assert out[2:].tolist() == [2.0, 3.0, 4.0]


def test_sma_is_the_mean_of_the_last_period_closes() -> None:
    close = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    out = sma(close, 3)
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(out[2:], [2.0, 3.0, 17 / 3])
    assert np.isnan(sma(close, 9)).all()
    np.testing.assert_allclose(sma(close, 1), close)


@given(n=st.integers(0, 300), period=st.integers(1, 60), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_sma_equals_a_loop_over_windows(n: int, period: int, seed: int) -> None:
    values = np.random.default_rng(seed).random(n) * 100
    expected = [
        float(np.mean(values[i + 1 - period : i + 1])) if i + 1 >= period else np.nan for i in range(n)
    ]
    np.testing.assert_allclose(sma(values, period), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("period", [0, -3])
def test_sma_names_a_period_below_one(period: int) -> None:
    with pytest.raises(ValueError, match=rf"period: expected >= 1, got {period}"):
        sma(np.arange(5.0), period)


def test_strategy_averages_are_the_averages_the_strategy_decides_on() -> None:
    quad = QuadMaConfig(short_1=3, short_2=8, long_1=21, long_2=55, trend=144)
    assert strategy_averages(quad) == [
        ("short_1", 3),
        ("short_2", 8),
        ("long_1", 21),
        ("long_2", 55),
        ("trend", 144),
    ]
    assert strategy_averages(MaCrossoverConfig(fast=10, slow=30)) == [("fast", 10), ("slow", 30)]


def test_strategy_averages_of_stored_parameters() -> None:
    # The dashboard reads a result's parameters from the database as a mapping.
    stored = {"short_1": 5, "short_2": 10, "long_1": 20, "long_2": 50, "trend": 100}
    assert strategy_averages(params_from_mapping("quad_ma", stored))[-1] == ("trend", 100)
    crossover = params_from_mapping("ma_crossover", {"fast": 7, "slow": 25})
    assert strategy_averages(crossover) == [("fast", 7), ("slow", 25)]


# --- drawdown -----------------------------------------------------------------------------------------


def test_drawdown_is_the_fraction_below_the_running_peak() -> None:
    out = drawdown_curve(np.array([100.0, 110.0, 99.0, 120.0, 90.0]))
    np.testing.assert_allclose(out, [0, 0, 0.1, 0, 0.25])
    assert drawdown_curve(np.array([])).shape == (0,)


# --- min-max reduction of long lines ------------------------------------------------------------------


def test_minmax_downsampling_keeps_the_extremes_and_the_ends() -> None:
    values = np.sin(np.linspace(0, 50, 100_003)) + np.linspace(0, 1, 100_003)
    values[77_777] = 10.0  # a one-bar spike
    values[12_345] = -10.0
    kept = minmax_indices(values, 1_000)
    assert kept.shape[0] <= 1_000
    assert {0, 77_777, 12_345, 100_002} <= set(kept.tolist())
    assert (np.diff(kept) > 0).all()
    assert minmax_indices(values[:500], 1_000).tolist() == list(range(500))


@given(n=st.integers(1, 20_000), limit=st.integers(10, 500), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_minmax_keeps_the_extremes_and_the_ends(n: int, limit: int, seed: int) -> None:
    values = np.random.default_rng(seed).normal(size=n).cumsum()
    values[: min(5, n)] = np.nan  # an average before it exists
    at = minmax_indices(values, limit)
    assert at.shape[0] == n if n <= limit else at.shape[0] <= limit
    assert list(at) == sorted(set(at.tolist()))
    assert at[0] == 0
    assert at[-1] == n - 1
    finite = values[~np.isnan(values)]
    if finite.size:
        assert np.nanmax(values[at]) == finite.max()
        assert np.nanmin(values[at]) == finite.min()


@given(n=st.integers(MIN_LINE_POINTS + 1, 400), limit=st.integers(MIN_LINE_POINTS, 12))
@settings(max_examples=60, deadline=None)
def test_minmax_stays_within_even_a_small_limit(n: int, limit: int) -> None:
    assert minmax_indices(np.arange(float(n)), limit).shape[0] <= limit


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_minmax_names_a_limit_too_small_for_a_line(limit: int) -> None:
    with pytest.raises(ValueError, match=rf"max_points: expected >= 4 .*, got {limit}"):
        minmax_indices(np.arange(100.0), limit)
