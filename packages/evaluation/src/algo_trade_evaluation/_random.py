"""The random baseline: as many tokens as the rule approved, drawn at random from those it could pick.

At each re-selection time ``t_k`` a draw picks, without replacement, as many tokens as the rule approved
at ``t_k`` from the tokens that had a fresh result then (the ones the rule chose from). Drawn tokens trade
as the rule's bots would: a token drawn again keeps its bot and position, one not drawn again is closed at
the next open (values from :class:`~algo_trade_evaluation._desk.BookTables`). Draws are reproducible from
the seed. The rule's percentile in the distribution of total returns is a one-sided test of "selection
adds nothing": ``p = (1 + #draws at least as good) / (1 + draws)``.

All draws advance together, period by period, as arrays (draws x tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from algo_trade_evaluation._desk import BookTables

__all__ = ["RandomBaseline", "random_baseline"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RandomBaseline:
    """Equity of every draw at every boundary (``draws x (K + 1)``: the start, then after each period)."""

    boundary_equity: FloatArray
    draws: int
    seed: int

    @property
    def total_returns(self) -> FloatArray:
        return np.asarray(self.boundary_equity[:, -1] / self.boundary_equity[:, 0] - 1.0, dtype=np.float64)

    def period_returns(self) -> FloatArray:
        """``draws x K`` per-period returns."""
        e = self.boundary_equity
        return np.asarray(e[:, 1:] / e[:, :-1] - 1.0, dtype=np.float64)

    def median_period_returns(self) -> list[float | None]:
        if self.draws == 0:
            return [None] * (self.boundary_equity.shape[1] - 1)
        return [float(v) for v in np.median(self.period_returns(), axis=0)]

    def band(self, low: float = 5.0, high: float = 95.0) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Percentiles ``low``, 50 and ``high`` of the draws' equity at each boundary."""
        q = np.percentile(self.boundary_equity, [low, 50.0, high], axis=0)
        return q[0], q[1], q[2]

    def percentile_of(self, total_return: float) -> tuple[float | None, float | None]:
        """The rule's percentile among the draws (ties count half) and its one-sided p-value."""
        if self.draws == 0:
            return None, None
        totals = self.total_returns
        below = float(np.sum(totals < total_return))
        ties = float(np.sum(totals == total_return))
        percentile = (below + 0.5 * ties) / self.draws
        p_value = (1.0 + float(np.sum(totals >= total_return))) / (1.0 + self.draws)
        return percentile, p_value

    def summary(self) -> dict[str, Any]:
        if self.draws == 0:
            return {"draws": 0, "seed": self.seed}
        q05, q50, q95 = (float(v) for v in np.percentile(self.total_returns, [5.0, 50.0, 95.0]))
        return {
            "draws": self.draws,
            "seed": self.seed,
            "total_return_p05": q05,
            "total_return_median": q50,
            "total_return_p95": q95,
        }


def _tables(tables: BookTables, symbols: list[str], k_count: int) -> tuple[FloatArray, FloatArray]:
    """``marked`` and ``closed`` as ``tokens x K (start) x (K + 1) (boundary)`` arrays (NaN: no bot)."""
    marked = np.full((len(symbols), k_count, k_count + 1), np.nan)
    closed = np.full((len(symbols), k_count, k_count + 1), np.nan)
    for i, symbol in enumerate(symbols):
        for a, row in tables.marked.get(symbol, {}).items():
            marked[i, a] = row
        for a, row in tables.closed.get(symbol, {}).items():
            closed[i, a] = row
    return marked, closed


def random_baseline(
    tables: BookTables,
    eligible: Sequence[Sequence[str]],
    counts: Sequence[int],
    *,
    draws: int,
    seed: int,
    capital: float,
    sleeves: int,
) -> RandomBaseline:
    """Draw ``draws`` random selections of ``counts[k]`` tokens from ``eligible[k]`` at every ``t_k``."""
    rng = np.random.default_rng(seed)
    k_count = len(eligible)
    symbols = sorted({s for e in eligible for s in e})
    index = {s: i for i, s in enumerate(symbols)}
    marked, closed = _tables(tables, symbols, k_count)
    base = sleeves * capital
    out = np.empty((draws, k_count + 1))
    out[:, 0] = base
    start = np.full((draws, len(symbols)), -1, dtype=np.int64)  # the period a token's bot started; -1: none
    realised = np.zeros(draws)
    rows = np.arange(draws)[:, None]
    for k in range(k_count):
        pool = np.array([index[s] for s in sorted(eligible[k])], dtype=np.int64)
        size = min(counts[k], pool.shape[0])
        picked = np.zeros((draws, len(symbols)), dtype=bool)
        if size and draws:
            order = np.argsort(rng.random((draws, pool.shape[0])), axis=1)[:, :size]
            picked[rows, pool[order]] = True
        active = start >= 0
        leaving = active & ~picked
        if leaving.any():
            d, t = np.nonzero(leaving)
            np.add.at(realised, d, closed[t, start[d, t], k] - capital)
            start[leaving] = -1
        start[picked & (start < 0)] = k
        table = closed if k + 1 == k_count else marked
        d, t = np.nonzero(start >= 0)
        open_pnl = np.zeros(draws)
        np.add.at(open_pnl, d, table[t, start[d, t], k + 1] - capital)
        out[:, k + 1] = base + realised + open_pnl
    return RandomBaseline(out, draws, seed)
