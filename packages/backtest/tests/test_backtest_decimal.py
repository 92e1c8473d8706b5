"""Decimal precision and units: what the kernels compare (see ``_decimal``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo_trade_backtest import _decimal as D
from algo_trade_backtest import run_backtest
from algo_trade_backtest._reference import decimal_units
from algo_trade_core import QuadMaConfig

Bars = Any


def _places(x: float) -> int:
    exponent = Decimal(repr(x)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([118700.5], 1),
        ([0.0012345], 7),
        ([100.0, 2.0, 0.0], 0),
        ([1e-05, 3.25], 5),
        ([5.172, 0.1 + 0.2], D.MAX_DECIMALS + 1),  # 0.30000000000000004: more digits than the bound
        ([1e20, 7.5], 1),
    ],
)
def test_needed_decimals(values: list[float], expected: int) -> None:
    assert D.needed_decimals(np.array(values)) == expected


def test_needed_decimals_agree_with_the_shortest_representation_on_real_candles(
    load_candles: Callable[[str, str], Bars],
) -> None:
    for token, interval in [("BTC", "1m"), ("kSHIB", "1m"), ("ETH", "1h"), ("kPEPE", "1h"), ("POL", "1m")]:
        _, o, _, _, c, v = load_candles(token, interval)
        for series in (o, c, v):
            want = min(max(_places(x) for x in series.tolist()), D.MAX_DECIMALS + 1)
            assert D.needed_decimals(series) == want, token


def test_units_are_the_decimal_values_or_rounded_half_to_even() -> None:
    rng = np.random.default_rng(3)
    decimals = np.round(rng.uniform(0, 1000, 2_000), 4)
    assert D.to_units(decimals, 4).tolist() == [int(Fraction(repr(x)) * 10**4) for x in decimals.tolist()]
    # Exact halves on the binary value round to even; near-halves go to the nearer side.
    values = [0.125, 0.375, 2.5, 3.5, 2.675, 1.0000000000000002, 0.1 + 0.2]
    assert D.to_units(np.array(values), 2).tolist() == [round(Fraction(x) * 100) for x in values]
    assert D.to_units(np.array([2.5, 3.5]), 0).tolist() == [2, 4]
    assert D.to_units(np.array([0.1 + 0.2]), 12).tolist() == [300_000_000_000]
    noisy = rng.uniform(0, 100, 2_000)
    assert D.to_units(noisy, 9).tolist() == [round(Fraction(x) * 10**9) for x in noisy.tolist()]
    assert D.to_units(np.array([1.5e18, 2.5e17]), -17).tolist() == [15, 2]  # huge: units of 1e17


def test_precision_is_bounded_by_the_budget() -> None:
    assert D.choose_decimals(1, 118_700.5, D.close_budget(100)) == 1
    assert D.choose_decimals(12, 118_700.5, D.close_budget(100)) == 9  # 1.187e14 <= 2**62 / 10**4
    assert D.choose_decimals(12, 118_700.5, D.close_budget(100_000)) == 3
    assert D.choose_decimals(3, 5e17, D.close_budget(10)) == -3  # units of 1,000: 5e14 <= 2**50
    assert D.choose_decimals(5, 0.0, D.close_budget(10)) == 5
    for window in (2, 100, 10_000, 1_000_000):
        d = D.choose_decimals(12, 3.5e4, D.close_budget(window))
        assert window * window * round(Fraction(3.5e4) * Fraction(10) ** d) < 2**63


def test_volume_factor_is_its_decimal_value() -> None:
    assert D.factor_fraction(1.5, 50) == Fraction(3, 2)
    assert D.factor_fraction(0.3, 50) == Fraction(3, 10)  # not the binary 0.29999999999999998889...
    assert D.factor_fraction(1 / 3, 50) == Fraction(333_333, 1_000_000)  # more than 6 decimals: rounded
    assert D.factor_fraction(1e9, 50) == 50  # a factor >= long_2 never passes: capped


def test_values_with_more_digits_than_the_bound_count_as_rounded(walk: Callable[..., Bars]) -> None:
    # A grid of ticks computed in floats (100.07000000000001) decides like the decimal prices (100.07).
    ts, o, h, lo, c, v = walk(11, 4_000, vol=0.003)
    assert D.needed_decimals(c) > D.MAX_DECIMALS
    clean = [np.array([float(f"{x:.2f}") for x in series.tolist()]) for series in (o, h, lo, c)]
    assert D.needed_decimals(clean[3]) == 2
    params = QuadMaConfig(short_1=3, short_2=6, long_1=12, long_2=24, trend=48, volume_factor=0.5)
    noisy = run_backtest(ts, o, h, lo, c, v, strategy="quad_ma", params=params, interval="1m")
    exact = run_backtest(ts, *clean, v, strategy="quad_ma", params=params, interval="1m")
    assert len(noisy.trades) > 10
    assert [(t.entry_index, t.exit_index, t.side) for t in noisy.trades] == [
        (t.entry_index, t.exit_index, t.side) for t in exact.trades
    ]


def test_reference_units_follow_the_same_definition() -> None:
    assert decimal_units([118700.5, 5.172], D.close_budget(100)) == [118_700_500, 5_172]
    assert decimal_units([0.1 + 0.2, 1.0], 2**62) == [300_000_000_000, 1_000_000_000_000]
    # Units stay within 2**50, where floats compute them exactly: here 3 decimals, not 4.
    assert decimal_units([549755813888.508, 0.0625], 2**62) == [549_755_813_888_508, 62]
    assert decimal_units([5e17, 2.5e17], D.close_budget(10)) == [5 * 10**14, 25 * 10**13]  # d = -3


@st.composite
def _series(draw: st.DrawFn) -> list[float]:
    """Decimal prices (as parsed from the exchange's strings), floats of any precision, or both."""
    places = draw(st.integers(0, 14))
    decimal = st.integers(0, 10**9).map(lambda n: float(Decimal(n).scaleb(-places)))
    anything = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)
    return draw(st.lists(st.one_of(decimal, anything) if draw(st.booleans()) else decimal, min_size=1))


@settings(max_examples=400, deadline=None)
@given(values=_series(), window=st.sampled_from([1, 5, 100, 5_000, 10**6]))
def test_units_equal_the_reference_definition(values: list[float], window: int) -> None:
    array = np.array(values)
    budget = D.close_budget(window)
    d = D.choose_decimals(D.needed_decimals(array), float(array.max()), budget)
    assert D.to_units(array, d).tolist() == decimal_units(values, budget)
