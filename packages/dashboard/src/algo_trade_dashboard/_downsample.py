"""Fewer points for long series, honestly (pure numpy).

A chart is about 1,500 pixels wide; a year of 1m bars is 525,600. Every endpoint sends at most
:data:`MAX_POINTS` points per series and says in its payload when and how it reduced one:

- candles are merged into buckets of ``k`` consecutive bars (open of the first, highest high, lowest
  low, close of the last, summed volume), so no high or low is lost;
- lines keep the minimum and maximum of each bucket (and the first and last point), so spikes and the
  deepest drawdown stay visible (:func:`algo_trade_backtest.minmax_indices`, shared with the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_POINTS", "Reduction", "bucket_size", "ohlc_buckets"]

MAX_POINTS = 5000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Reduction:
    """How a series was reduced: ``points`` sent of ``source_points``, by ``method``."""

    points: int
    source_points: int
    method: str

    def to_json(self) -> dict[str, Any]:
        return {"points": self.points, "source_points": self.source_points, "method": self.method}


def bucket_size(n: int, max_points: int = MAX_POINTS) -> int:
    """Return the smallest bucket of consecutive bars that brings ``n`` bars to ``max_points`` or fewer."""
    if max_points < 1:
        raise ValueError(f"max_points: expected >= 1, got {max_points}")
    return max(1, -(-n // max_points))


def ohlc_buckets(
    times: IntArray,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    size: int,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Merge every ``size`` consecutive bars into one (time and open of the first, close of the last)."""
    n = times.shape[0]
    if size <= 1 or n == 0:
        return times, open_, high, low, close, volume
    starts = np.arange(0, n, size)
    ends = np.minimum(starts + size, n) - 1
    return (
        times[starts],
        open_[starts],
        np.maximum.reduceat(high, starts),
        np.minimum.reduceat(low, starts),
        close[ends],
        np.add.reduceat(volume, starts),
    )
