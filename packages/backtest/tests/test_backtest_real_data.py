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
    """sign(SMA(fast) - SMA(slow)) per bar (NaN before both exist); near-ties decided exactly."""
    f = sliding_window_view(close, fast).mean(axis=1)[slow - fast :]
    s = sliding_window_view(close, slow).mean(axis=1)
    diff = f - s
    sign = np.sign(diff)
    for j in np.flatnonzero(np.abs(diff) <= 1e-9 * s):  # rounding could decide these: use Fractions
        i = j + slow - 1
        exact = (
            sum(map(Fraction, close[i - fast + 1 : i + 1].tolist())) / fast
            - sum(map(Fraction, close[i - slow + 1 : i + 1].tolist())) / slow
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
