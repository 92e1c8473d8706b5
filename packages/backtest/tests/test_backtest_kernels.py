"""The kernels decide on decimal values: ties in decimal are ties, whatever the binary floats say."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest

from algo_trade_backtest import run_backtest
from algo_trade_backtest._engine import prepare_bars, simulate
from algo_trade_backtest._reference import decimal_units, reference_backtest, result_differences
from algo_trade_backtest._state import execution_record, params_record
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig

T0 = 1_735_689_600_000
NO_COSTS = BacktestConfig(fee_rate=0.0, slippage_bps=0.0)


def _dec(x: float) -> Fraction:
    """The decimal value the exchange quoted (the shortest representation of the float)."""
    return Fraction(repr(x))


def _sma(values: list[float], i: int, period: int, value: type[Fraction] | object = _dec) -> Fraction:
    window = values[i - period + 1 : i + 1]
    convert = Fraction if value is Fraction else _dec
    return sum(map(convert, window), Fraction(0)) / period


def _hourly(close: list[float]) -> tuple[npt.NDArray[np.int64], ...]:
    c = np.array(close)
    o = np.r_[c[0], c[:-1]]
    return T0 + 3_600_000 * np.arange(len(c), dtype=np.int64), o, np.maximum(o, c), np.minimum(o, c), c


# Closes with three decimals: at bar 13 the 5-bar and the 10-bar means are both exactly 5.172.
TIE_5172 = [5.522, 5.294, 5.488, 5.508, 5.095, 5.215, 5.015, 5.076, 5.459, 5.059, 5.151, 5.288, 5.284, 5.078]


def test_a_decimal_tie_of_two_averages_is_a_tie_5172() -> None:
    close = [*TIE_5172, 5.0, 4.95]
    i = 13
    # The premise: equal in decimal, different in binary (exactly, and as a float engine computes them).
    assert _sma(close, i, 5) == _sma(close, i, 10) == Fraction("5.172")
    assert _sma(close, i, 5, Fraction) > _sma(close, i, 10, Fraction)
    assert sum(close[i - 4 : i + 1]) / 5 != sum(close[i - 9 : i + 1]) / 10
    # The rule: a bearish crossover on bar i is sma5[i-1] > sma10[i-1] and sma5[i] <= sma10[i].
    assert _sma(close, i - 1, 5) > _sma(close, i - 1, 10)
    params = QuadMaConfig(
        short_1=5,
        short_2=10,
        long_1=11,
        long_2=12,
        trend=13,
        volume_filter=False,
        take_profit=0.5,
        stop_loss=0.5,
    )
    ts, o, h, lo, c = _hourly(close)
    kwargs = {"strategy": "quad_ma", "params": params, "execution": NO_COSTS, "interval": "1h"}
    result = run_backtest(ts, o, h, lo, c, np.ones(len(c)), **kwargs)  # type: ignore[arg-type]
    # Shorts below longs, close below a falling trend: the setup is on bar 13, the fill at 14's open.
    assert result.open_position is not None
    assert (result.open_position.side, result.open_position.entry_index) == ("short", i + 1)
    assert result_differences(result, reference_backtest(ts, o, h, lo, c, np.ones(len(c)), **kwargs)) == []  # type: ignore[arg-type]


def test_a_decimal_tie_keeps_the_ma_crossover_side() -> None:
    # Short while sma5 < sma10; at bar 13 both means are exactly 5.172, which binary sees as sma5 above.
    close = [5.055, 5.205, 5.055, 5.148, 5.388, 5.117, 5.262, 5.147, 4.946, 5.015, 5.035, 5.288, 5.392, 5.13]
    close += [5.13, 5.13]
    i = 13
    assert _sma(close, i, 5) == _sma(close, i, 10) == Fraction("5.172")
    assert _sma(close, i, 5, Fraction) > _sma(close, i, 10, Fraction)
    ts, o, h, lo, c = _hourly(close)
    result = run_backtest(
        ts,
        o,
        h,
        lo,
        c,
        np.ones(len(c)),
        strategy="ma_crossover",
        params=MaCrossoverConfig(fast=5, slow=10),
        execution=NO_COSTS,
        interval="1h",
    )
    held = _held_positions(result, len(close))
    for bar in range(9, len(close) - 1):
        diff = _sma(close, bar, 5) - _sma(close, bar, 10)
        assert held[bar + 1] == (held[bar] if diff == 0 else (diff > 0) - (diff < 0)), bar
    assert held[i] == held[i + 1] == -1  # the tie kept the short


@pytest.mark.parametrize(("volume", "enters"), [(0.042, False), (0.043, True)])
def test_the_volume_filter_decides_on_decimal_volumes(volume: float, enters: bool) -> None:
    # A long setup on bar 5; its volume against 1.5 x the 4-bar average volume (0.01, 0.01, 0.05, v).
    volumes = [1.0, 1.0, 0.01, 0.01, 0.05, volume, 1.0]
    average = sum(map(_dec, volumes[2:6]), Fraction(0)) / 4
    if not enters:  # exactly 1.5 x the average in decimal, above it in binary
        assert _dec(volume) == Fraction("1.5") * average
        assert 4 * Fraction(volume) > Fraction(3, 2) * sum(map(Fraction, volumes[2:6]), Fraction(0))
    params = QuadMaConfig(short_1=1, short_2=2, long_1=3, long_2=4, trend=5, volume_factor=1.5)
    ts, o, h, lo, c = _hourly([10.0, 10.0, 10.0, 10.0, 10.0, 11.0, 11.2])
    kwargs = {"strategy": "quad_ma", "params": params, "interval": "1h"}
    result = run_backtest(ts, o, h, lo, c, np.array(volumes), **kwargs)  # type: ignore[arg-type]
    assert (result.open_position is not None) == enters
    assert result_differences(result, reference_backtest(ts, o, h, lo, c, np.array(volumes), **kwargs)) == []  # type: ignore[arg-type]


def test_window_sums_stay_exact_after_a_million_bars() -> None:
    rng = np.random.default_rng(7)
    cents = np.maximum(10_007 + np.cumsum(rng.integers(-5, 6, 1_000_000)), 1)
    close = cents / 100.0  # two-decimal prices: binary floats that are not exact
    n = close.shape[0]
    bars = prepare_bars(T0 + 60_000 * np.arange(n), close, close, close, close, np.round(rng.random(n), 3))
    params = QuadMaConfig(short_1=5, short_2=10, long_1=20, long_2=50, trend=100)
    run = simulate(params_record(params), execution_record(BacktestConfig()), bars)
    assert run.state.close_decimals == 2
    assert run.state.volume_decimals == 3
    expected = [int(cents[n - p :].sum()) for p in (5, 10, 20, 50, 100)]
    volume_units = decimal_units(bars[5][n - 50 :].tolist(), 2**62)
    assert list(run.state.sums) == [*expected, sum(volume_units)]
    # The premise: float rolling sums have drifted by then.
    running = np.cumsum(close - np.r_[np.zeros(100), close[:-100]])
    assert running[-1] != float(Fraction(int(cents[-100:].sum()), 100))


def _held_positions(result: object, n: int) -> npt.NDArray[np.int64]:
    """The side held during each bar (from its open), rebuilt from trades and the open position."""
    held = np.zeros(n, dtype=np.int64)
    for trade in result.trades:  # type: ignore[attr-defined]
        held[trade.entry_index : trade.exit_index] = 1 if trade.side == "long" else -1
    pos = result.open_position  # type: ignore[attr-defined]
    if pos is not None:
        held[pos.entry_index :] = 1 if pos.side == "long" else -1
    return held


def test_crossover_ties_after_a_million_bars_follow_decimal_arithmetic() -> None:
    rng = np.random.default_rng(7)
    history = np.maximum(10_007 + np.cumsum(rng.integers(-5, 6, 1_000_000)), 1) / 100.0
    tail = np.r_[np.full(80, 100.07), np.round(100.07 + np.round(np.sin(np.arange(120)) * 3) / 100, 2)]
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
        execution=NO_COSTS,
        interval="1m",
    )
    held = _held_positions(result, n)
    start = len(history)
    values = close.tolist()
    exact_ties = 0
    for i in range(start, n - 1):
        diff = _sma(values, i, 10) - _sma(values, i, 30)
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
