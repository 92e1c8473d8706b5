"""Performance metrics (DESIGN.md section 6) and the value objects that carry them.

``_kernels.metrics_nb`` computes every metric from the mark-to-market equity curve and the trade
aggregates the kernels keep, in float64. :class:`RawMetrics` holds those floats unchanged (what the
tests compare); :class:`PerformanceMetrics` is the stored form: money and returns as ``Decimal``
quantised to 8 places, ratios as floats, an infinite profit factor as ``None``.

The per-bar returns' skewness and kurtosis (not in excess) come with the metrics so that a stored
result carries what its probabilistic Sharpe ratio (PSR against 0, Bailey & López de Prado 2012) and,
at selection time, its deflated Sharpe ratio need: :func:`result_psr`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from algo_trade_backtest._kernels import NUM_METRICS, metrics_nb
from algo_trade_core import probabilistic_sharpe_ratio, to_decimal

__all__ = ["METRIC_NAMES", "NUM_METRICS", "PerformanceMetrics", "RawMetrics", "metrics_nb", "result_psr"]

FloatArray = npt.NDArray[np.float64]

# Order of the values returned by metrics_nb (and the grid's metric columns).
METRIC_NAMES: tuple[str, ...] = (
    "total_return",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
    "num_trades",
    "win_rate",
    "profit_factor",
    "buy_hold_return",
    "exposure",
    "num_bars",
    "initial_capital",
    "final_capital",
    "returns_skewness",
    "returns_kurtosis",
)
if len(METRIC_NAMES) != NUM_METRICS:  # the kernel writes the values by position
    raise RuntimeError("METRIC_NAMES and the metrics kernel disagree")


@dataclass(frozen=True, kw_only=True, slots=True)
class RawMetrics:
    """The engine's float64 metric values, unrounded (``profit_factor`` is ``inf`` without losses)."""

    total_return: float
    sharpe_ratio: float
    sortino_ratio: float
    max_drawdown: float
    calmar_ratio: float
    num_trades: int
    win_rate: float
    profit_factor: float
    buy_hold_return: float
    exposure: float
    num_bars: int
    initial_capital: float
    final_capital: float
    returns_skewness: float
    returns_kurtosis: float

    @classmethod
    def from_array(cls, values: FloatArray) -> RawMetrics:
        """Build from a :func:`metrics_nb` result."""
        kwargs: dict[str, Any] = {name: float(values[k]) for k, name in enumerate(METRIC_NAMES)}
        kwargs["num_trades"] = int(values[METRIC_NAMES.index("num_trades")])
        kwargs["num_bars"] = int(values[METRIC_NAMES.index("num_bars")])
        return cls(**kwargs)

    def as_dict(self) -> dict[str, float]:
        """Return the values by name."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    def to_performance(
        self, window_coverage: float | None = None, *, periods_per_year: float | None = None
    ) -> PerformanceMetrics:
        """Convert to the stored form (see :class:`PerformanceMetrics`); ``periods_per_year`` (the
        bars in a year at the run's interval) is what the PSR needs, None leaves it out."""
        psr = None
        if periods_per_year is not None:
            psr = result_psr(
                self.sharpe_ratio,
                self.num_bars,
                periods_per_year,
                self.returns_skewness,
                self.returns_kurtosis,
            )
        return PerformanceMetrics(
            total_return=to_decimal(self.total_return),
            sharpe_ratio=self.sharpe_ratio,
            sortino_ratio=self.sortino_ratio,
            max_drawdown=to_decimal(self.max_drawdown),
            # The annualised return overflows float64 on short windows of small bars: not a number to store.
            calmar_ratio=self.calmar_ratio if math.isfinite(self.calmar_ratio) else None,
            num_trades=self.num_trades,
            win_rate=self.win_rate,
            profit_factor=self.profit_factor if math.isfinite(self.profit_factor) else None,
            buy_hold_return=to_decimal(self.buy_hold_return),
            exposure=self.exposure,
            num_bars=self.num_bars,
            initial_capital=to_decimal(self.initial_capital),
            final_capital=to_decimal(self.final_capital),
            window_coverage=window_coverage,
            returns_skewness=self.returns_skewness,
            returns_kurtosis=self.returns_kurtosis,
            psr=psr,
        )


def result_psr(
    sharpe_ratio: float, num_bars: int, periods_per_year: float, skewness: float, kurtosis: float
) -> float | None:
    """PSR against 0 of a backtest: the probability that the true Sharpe ratio of its per-bar returns is
    above 0, from the annualised ``sharpe_ratio`` of ``num_bars`` equity points (``num_bars - 1``
    returns) and the returns' ``skewness`` and ``kurtosis`` (not in excess).

    None when it is not defined: fewer than 2 returns, or moments outside the formula's domain.
    """
    if num_bars - 1 < 2 or not all(map(math.isfinite, (sharpe_ratio, skewness, kurtosis))):
        return None
    per_bar = sharpe_ratio / math.sqrt(periods_per_year)
    try:
        return probabilistic_sharpe_ratio(per_bar, 0.0, num_bars - 1, skewness, kurtosis)
    except ValueError:  # 1 - skew*SR + (kurt-1)/4*SR^2 <= 0: only for degenerate return series
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class PerformanceMetrics:
    """Metrics of one backtest as stored in ``backtest_results`` (DESIGN.md sections 4 and 6).

    Money and returns are ``Decimal`` quantised to 8 places; ratios are floats. ``profit_factor`` is
    ``None`` when there was no losing trade (infinite or undefined); ``calmar_ratio`` is ``None`` when
    the annualised return is too large for a float (a short window of small bars). ``window_coverage``
    is the share of the window's expected bars that were present, when the caller knows the window.
    ``returns_skewness`` and ``returns_kurtosis`` (not in excess) describe the per-bar returns of the
    equity curve; ``psr`` is the probabilistic Sharpe ratio against 0 (:func:`result_psr`), None when
    the interval was not known or it is not defined.
    """

    total_return: Decimal
    sharpe_ratio: float
    sortino_ratio: float
    max_drawdown: Decimal
    calmar_ratio: float | None
    num_trades: int
    win_rate: float
    profit_factor: float | None
    buy_hold_return: Decimal
    exposure: float
    num_bars: int
    initial_capital: Decimal
    final_capital: Decimal
    window_coverage: float | None = None
    returns_skewness: float | None = None
    returns_kurtosis: float | None = None
    psr: float | None = None

    def to_record_fields(self) -> dict[str, Any]:
        """Return the metric fields of ``algo_trade_data.BacktestResultRecord`` by name.

        ``window_coverage`` is ``None`` when it was not supplied; a caller storing a record supplies it.
        """
        return {
            "sharpe_ratio": self.sharpe_ratio,
            "total_return": self.total_return,
            "max_drawdown": self.max_drawdown,
            "num_trades": self.num_trades,
            "win_rate": self.win_rate,
            "initial_capital": self.initial_capital,
            "final_capital": self.final_capital,
            "sortino_ratio": self.sortino_ratio,
            "calmar_ratio": self.calmar_ratio,
            "profit_factor": self.profit_factor,
            "buy_hold_return": self.buy_hold_return,
            "exposure": self.exposure,
            "num_bars": self.num_bars,
            "window_coverage": self.window_coverage,
            "returns_skewness": self.returns_skewness,
            "returns_kurtosis": self.returns_kurtosis,
            "psr": self.psr,
        }

    def to_json_dict(self) -> dict[str, Any]:
        """Return the metrics with plain JSON numbers (Decimals as floats), e.g. for ``--json``."""
        return {
            key: float(value) if isinstance(value, Decimal) else value
            for key, value in self.to_record_fields().items()
        }
