"""Kernel against reference, and ma_crossover against a vectorised computation, on real candles.

Data: ``../shared/data/real-candles/hyperliquid-perp`` (Hyperliquid perpetuals, 1h since 2024-09 and
1m for 5 days of 2025-07). The tests skip, saying so, when the folder is absent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from algo_trade_backtest import run_backtest
from algo_trade_backtest._reference import reference_backtest, result_differences
from algo_trade_core import BacktestConfig, MaCrossoverConfig

from .conftest import PARAM_SETS

TOKENS_1H = ["BTC", "ETH", "SOL", "DOGE", "AVAX", "ARB", "ATOM", "NEAR", "SUI", "kPEPE"]
TOKENS_1M = ["BTC", "ETH", "SOL", "POL", "kSHIB"]  # POL and kSHIB have many zero-volume bars

EXECUTION = BacktestConfig()  # the defaults: fee 4.5 bps, slippage 5 bps, full sizing

Loader = Callable[[str, str], Any]


def _cases() -> list[tuple[str, str]]:
    return [(token, "1h") for token in TOKENS_1H] + [(token, "1m") for token in TOKENS_1M]


def _kwargs(k: int, interval: str) -> dict[str, Any]:
    strategy, params = PARAM_SETS[k]
    return {"strategy": strategy, "params": params, "execution": EXECUTION, "interval": interval}


@pytest.fixture(scope="module")
def engine_results(load_candles: Loader) -> dict[tuple[str, str, int], Any]:
    """(token, interval, param set index) -> engine result: every case, in well under a second."""
    out = {}
    for token, interval in _cases():
        bars = load_candles(token, interval)
        for k in range(len(PARAM_SETS)):
            out[(token, interval, k)] = run_backtest(*bars, **_kwargs(k, interval))
    return out


# The exact (Fraction) reference takes about a second per case: each test runs only its own case.
@pytest.mark.slow
@pytest.mark.parametrize(("token", "interval"), _cases())
def test_engine_matches_reference_on_real_candles(
    engine_results: dict[tuple[str, str, int], Any], load_candles: Loader, token: str, interval: str
) -> None:
    bars = load_candles(token, interval)
    for k in range(len(PARAM_SETS)):
        reference = reference_backtest(*bars, **_kwargs(k, interval))
        assert result_differences(engine_results[(token, interval, k)], reference) == [], (
            token,
            interval,
            PARAM_SETS[k],
        )


def test_real_candle_comparisons_exercise_many_trades(
    engine_results: dict[tuple[str, str, int], Any],
) -> None:
    # The trades the reference comparisons above check (the engine's equal the reference's there).
    reasons: Counter[str] = Counter()
    per_set: Counter[int] = Counter()
    for (_, _, k), engine in engine_results.items():
        reasons.update(t.exit_reason for t in engine.trades)
        per_set[k] += len(engine.trades)
    assert sum(reasons.values()) > 15_000
    assert min(reasons[r] for r in ("take_profit", "stop_loss", "reversal")) > 1_000
    assert all(per_set[k] >= 300 for k in range(len(PARAM_SETS))), per_set
    # quad_ma reversals happen too (not only ma_crossover flips).
    quad_reversals = sum(
        1
        for (_, _, k), engine in engine_results.items()
        if PARAM_SETS[k][0] == "quad_ma"
        for t in engine.trades
        if t.exit_reason == "reversal"
    )
    assert quad_reversals > 200


# --------------------------------------------------------------------------------------------------
# ma_crossover against an independent vectorised computation (fee 0, slippage 0)


def _sma_sign(close: npt.NDArray[np.float64], fast: int, slow: int) -> npt.NDArray[np.float64]:
    """sign(SMA(fast) - SMA(slow)) per bar (NaN before both exist); near-ties decided exactly on the
    decimal prices (``Fraction(repr(x))``: the exchange's quotes, not their binary approximations)."""
    f = sliding_window_view(close, fast).mean(axis=1)[slow - fast :]
    s = sliding_window_view(close, slow).mean(axis=1)
    diff = f - s
    sign = np.sign(diff)
    for j in np.flatnonzero(np.abs(diff) <= 1e-9 * s):  # rounding could decide these: use Fractions
        i = j + slow - 1
        exact = (
            sum(Fraction(repr(x)) for x in close[i - fast + 1 : i + 1].tolist()) / fast
            - sum(Fraction(repr(x)) for x in close[i - slow + 1 : i + 1].tolist()) / slow
        )
        sign[j] = (exact > 0) - (exact < 0)
    return np.r_[np.full(slow - 1, np.nan), sign]


def vectorised_ma_crossover(
    o: npt.NDArray[np.float64], c: npt.NDArray[np.float64], fast: int, slow: int, capital: float
) -> tuple[float, float]:
    """Total return and max drawdown of the always-in-the-market crossover, fully invested, no costs.

    Position decided at each close (ties keep the previous side), held from the next open; each
    position's equity is linear in price from its entry open; equity compounds across positions.
    """
    want = pl.Series(_sma_sign(c, fast, slow)).replace(0.0, None).fill_nan(None).forward_fill()
    held = want.shift(1).fill_null(0.0).to_numpy()
    start = (held != np.r_[0.0, held[:-1]]) & (held != 0)
    segment = np.cumsum(start) - 1
    entry_open = o[start][np.maximum(segment, 0)]
    side = held
    # Equity multiplier of each position when the next one opens (at that bar's open).
    starts = np.flatnonzero(start)
    mult = 1.0 + side[starts[:-1]] * (o[starts[1:]] / o[starts[:-1]] - 1.0)
    equity_at_start = capital * np.r_[1.0, np.cumprod(mult)]
    equity = np.where(
        held != 0,
        equity_at_start[np.maximum(segment, 0)] * (1.0 + side * (c / entry_open - 1.0)),
        capital,
    )
    peak = np.maximum.accumulate(equity)
    return float(equity[-1] / capital - 1.0), float(np.max((peak - equity) / peak))


@pytest.mark.parametrize(("token", "interval"), _cases())
@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (5, 20)])
def test_ma_crossover_matches_vectorised_computation(
    load_candles: Loader, token: str, interval: str, fast: int, slow: int
) -> None:
    ts, o, h, lo, c, v = load_candles(token, interval)
    result = run_backtest(
        ts,
        o,
        h,
        lo,
        c,
        v,
        strategy="ma_crossover",
        params=MaCrossoverConfig(fast=fast, slow=slow),
        execution=BacktestConfig(fee_rate=0.0, slippage_bps=0.0),
        interval=interval,
    )
    total, drawdown = vectorised_ma_crossover(o, c, fast, slow, 10_000.0)
    assert result.raw_metrics.num_trades > 50
    assert abs(result.raw_metrics.total_return - total) <= 1e-9 * max(1.0, abs(total))
    assert abs(result.raw_metrics.max_drawdown - drawdown) <= 1e-9
    assert not math.isnan(total)


# --------------------------------------------------------------------------------------------------
# Crossovers at decimal ties on real candles: the two short averages are equal in the exchange's
# decimal prices but not in their binary approximations (an engine deciding on binary floats takes
# these crossovers a bar early or late, or not at all).


def _decimal_sma(close: list[float], i: int, period: int) -> Fraction:
    return sum((Fraction(repr(x)) for x in close[i - period + 1 : i + 1]), Fraction(0)) / period


def _binary_sma(close: list[float], i: int, period: int) -> Fraction:
    return sum((Fraction(x) for x in close[i - period + 1 : i + 1]), Fraction(0)) / period


def _cross_sign(close: list[float], i: int, fast: int, slow: int) -> int:
    diff = _decimal_sma(close, i, fast) - _decimal_sma(close, i, slow)
    return (diff > 0) - (diff < 0)


@pytest.mark.parametrize(
    ("token", "interval", "param_set", "tie", "signal", "side"),
    [
        ("ETH", "1m", 1, 71, 72, "long"),  # tie the bar before: s1 <= s2 holds, bullish on the next
        ("SUI", "1h", 3, 222, 223, "long"),
        ("SOL", "1h", 1, 6677, 6678, "long"),
        ("SOL", "1m", 1, 2039, 2039, "short"),  # tie on the bar itself: s1 <= s2 is the bearish cross
    ],
)
def test_quad_ma_crossover_at_a_decimal_tie_on_real_candles(
    load_candles: Loader, token: str, interval: str, param_set: int, tie: int, signal: int, side: str
) -> None:
    bars = load_candles(token, interval)
    close = bars[4].tolist()
    strategy, params = PARAM_SETS[param_set]
    p1, p2 = params.short_1, params.short_2
    assert _decimal_sma(close, tie, p1) == _decimal_sma(close, tie, p2)
    assert _binary_sma(close, tie, p1) != _binary_sma(close, tie, p2)
    before, now = _cross_sign(close, signal - 1, p1, p2), _cross_sign(close, signal, p1, p2)
    if side == "long":
        assert before <= 0 < now  # bullish: s1 <= s2 on the bar before, s1 > s2 on the bar
    else:
        assert before > 0 >= now  # bearish: s1 > s2 on the bar before, s1 <= s2 on the bar
    kwargs: dict[str, Any] = {
        "strategy": strategy,
        "params": params,
        "execution": EXECUTION,
        "interval": interval,
    }
    result = run_backtest(*bars, **kwargs)
    entries = {(t.entry_index, t.side) for t in result.trades}
    assert (signal + 1, side) in entries  # the setup on the crossover bar fills at the next open
    window = tuple(x[: signal + 40] for x in bars)
    assert result_differences(run_backtest(*window, **kwargs), reference_backtest(*window, **kwargs)) == []


@pytest.mark.parametrize(
    ("token", "interval", "param_set", "tie"),
    [("SOL", "1h", 4, 984), ("ETH", "1m", 4, 6784), ("kSHIB", "1m", 5, 2044)],
)
def test_ma_crossover_keeps_its_side_at_a_decimal_tie_on_real_candles(
    load_candles: Loader, token: str, interval: str, param_set: int, tie: int
) -> None:
    bars = load_candles(token, interval)
    close = bars[4].tolist()
    strategy, params = PARAM_SETS[param_set]
    assert _cross_sign(close, tie, params.fast, params.slow) == 0
    assert _binary_sma(close, tie, params.fast) != _binary_sma(close, tie, params.slow)
    result = run_backtest(*bars, strategy=strategy, params=params, execution=EXECUTION, interval=interval)
    (trade,) = [t for t in result.trades if t.entry_index <= tie < t.exit_index]
    # Held through the tie; the flip is decided on the next bar that is not a tie, filled one later.
    flip = next(i for i in range(tie + 1, len(close)) if _cross_sign(close, i, params.fast, params.slow) != 0)
    assert (trade.exit_index, trade.exit_reason) == (flip + 1, "reversal")
