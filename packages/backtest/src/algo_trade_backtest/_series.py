"""What a chart of a backtest draws besides the candles, computed once for every chart (pure numpy).

The CLI's ``backtest --plot`` and the web dashboard's token page draw the same things: the moving
averages the strategy decides on, the drawdown under the equity, and long series reduced to what a
chart can show. They take them from here, so the two charts cannot disagree.

- :func:`strategy_averages`: the averages of a parameter set (``[("short_1", 5), ...]``);
- :func:`sma`: one simple moving average of the close (DESIGN.md section 6: current bar included);
- :func:`drawdown_curve`: the fraction below the running peak at each point;
- :func:`minmax_indices`: the points of a long line to draw (each bucket's minimum and maximum, plus
  the first and last point), so spikes and the deepest drawdown stay visible.
"""

from __future__ import annotations

from typing import assert_never

import numpy as np
import numpy.typing as npt

from algo_trade_backtest._params import StrategyParams
from algo_trade_core import MaCrossoverConfig, QuadMaConfig

__all__ = ["MIN_LINE_POINTS", "drawdown_curve", "minmax_indices", "sma", "strategy_averages"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# The fewest points a reduced line can have: its first and last point and one bucket's min and max.
MIN_LINE_POINTS = 4

_QUAD_MA_AVERAGES = ("short_1", "short_2", "long_1", "long_2", "trend")


def strategy_averages(params: StrategyParams) -> list[tuple[str, int]]:
    """Return the moving averages of the close a strategy decides on: ``[("short_1", 5), ...]``.

    Take the strategy's parameters as the engine does (see :func:`~algo_trade_backtest.params_from_mapping`
    for stored ones).
    """
    if isinstance(params, QuadMaConfig):
        return [(name, int(getattr(params, name))) for name in _QUAD_MA_AVERAGES]
    if isinstance(params, MaCrossoverConfig):
        return [("fast", params.fast), ("slow", params.slow)]
    assert_never(params)


def sma(values: FloatArray, period: int) -> FloatArray:
    """Return the simple moving average of the last ``period`` values; NaN until there are that many.

    Raises:
        ValueError: ``period`` is below 1.
    """
    if period < 1:
        raise ValueError(f"period: expected >= 1, got {period}")
    out = np.full(values.shape[0], np.nan)
    if period <= values.shape[0]:
        sums = np.cumsum(np.concatenate(([0.0], values)))
        out[period - 1 :] = (sums[period:] - sums[:-period]) / period
    return out


def drawdown_curve(equity: FloatArray) -> FloatArray:
    """Return the fraction below the running peak at each point (0.2 = 20 % under the best so far)."""
    if equity.shape[0] == 0:
        return np.asarray(equity, dtype=np.float64).copy()
    peak = np.maximum.accumulate(equity)
    return np.where(peak > 0, (peak - equity) / peak, 0.0)


def minmax_indices(values: FloatArray, max_points: int) -> IntArray:
    """Return the indices that draw ``values`` in at most ``max_points`` points, in increasing order.

    The series is cut into buckets of consecutive points; each bucket keeps its minimum and maximum,
    and the first and last points are always kept. NaN (an average before it exists) is never picked
    as an extreme. A series that fits is returned whole.

    Raises:
        ValueError: ``max_points`` is below :data:`MIN_LINE_POINTS`.
    """
    if max_points < MIN_LINE_POINTS:
        raise ValueError(
            f"max_points: expected >= {MIN_LINE_POINTS} (the first and last point and one bucket's "
            f"minimum and maximum), got {max_points}"
        )
    n = values.shape[0]
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = (max_points - 2) // 2
    size = -(-n // buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    rows = padded.reshape(buckets, size)
    valid = ~np.isnan(rows).all(axis=1)
    base = np.arange(buckets, dtype=np.int64) * size
    lows = base + np.argmin(np.where(np.isnan(rows), np.inf, rows), axis=1)
    highs = base + np.argmax(np.where(np.isnan(rows), -np.inf, rows), axis=1)
    picked = np.concatenate(([0, n - 1], lows[valid], highs[valid])).astype(np.int64)
    return np.unique(picked[picked < n])
