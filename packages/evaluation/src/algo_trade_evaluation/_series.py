"""Performance of an equity curve marked at every bar close, with the engine's conventions.

``r[i] = equity[i] / equity[i-1] - 1`` with ``equity[-1]`` the starting capital; Sharpe and Sortino are
per-bar ratios annualised by ``sqrt(P)``, ``P`` the bars in a 365-day year (DESIGN.md section 6);
``max_drawdown`` is the largest fall from a peak as a positive fraction. Skewness and kurtosis (not in
excess) of the per-bar returns feed the PSR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SeriesStats", "bar_returns", "series_stats"]

FloatArray = npt.NDArray[np.float64]


def bar_returns(equity: FloatArray, capital: float) -> FloatArray:
    """Per-bar returns of ``equity`` (the first against the starting ``capital``)."""
    previous = np.concatenate(([capital], equity[:-1]))
    return np.asarray(equity / previous - 1.0, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """Figures of one equity curve; ratios say what they stand on (``bars``, ``periods_per_year``)."""

    total_return: float
    sharpe: float  # annualised
    sortino: float  # annualised
    max_drawdown: float
    bars: int
    periods_per_year: float
    sharpe_per_bar: float
    skewness: float
    kurtosis: float
    trades: int | None = None
    fees: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "total_return": self.total_return,
            "sharpe": self.sharpe,
            "sortino": self.sortino,
            "max_drawdown": self.max_drawdown,
            "bars": self.bars,
            "periods_per_year": self.periods_per_year,
            "sharpe_per_bar": self.sharpe_per_bar,
            "skewness": self.skewness,
            "kurtosis": self.kurtosis,
            "trades": self.trades,
            "fees": self.fees,
        }


def series_stats(
    equity: FloatArray,
    capital: float,
    periods_per_year: float,
    *,
    trades: int | None = None,
    fees: float | None = None,
) -> SeriesStats:
    """Figures of ``equity`` (one value per bar close) that started at ``capital``."""
    r = bar_returns(equity, capital)
    n = int(r.shape[0])
    total = float(equity[-1] / capital - 1.0) if n else 0.0
    sharpe_bar, sortino, skew, kurt = 0.0, 0.0, 0.0, 3.0
    if n >= 2:
        mean = float(r.mean())
        sd = float(r.std(ddof=1))
        if sd > 0.0:
            sharpe_bar = mean / sd
            centred = r - mean
            m2 = float(np.mean(centred**2))
            skew = float(np.mean(centred**3)) / m2**1.5
            kurt = float(np.mean(centred**4)) / m2**2
        downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        sortino = mean / downside * math.sqrt(periods_per_year) if downside > 0.0 else 0.0
    path = np.concatenate(([capital], equity))
    peaks = np.maximum.accumulate(path)
    drawdown = float(np.max((peaks - path) / peaks)) if path.shape[0] else 0.0
    return SeriesStats(
        total_return=total,
        sharpe=sharpe_bar * math.sqrt(periods_per_year),
        sortino=sortino,
        max_drawdown=drawdown,
        bars=n,
        periods_per_year=periods_per_year,
        sharpe_per_bar=sharpe_bar,
        skewness=skew,
        kurtosis=kurt,
        trades=trades,
        fees=fees,
    )
