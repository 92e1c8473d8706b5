"""The random baseline: as many tokens as the rule approved, drawn at random from those it could pick.

At each re-selection time ``t_k`` a draw picks, without replacement, as many tokens as the rule approved
at ``t_k`` from the tokens that had a fresh result then (the ones the rule chose from). Drawn tokens trade
as the rule's bots would: a token drawn again keeps its bot and position, one not drawn again is closed at
the next open (values from :class:`~algo_trade_evaluation._desk.BookTables`). Draws are reproducible from
the seed. The rule's percentile in the distribution of total returns is a one-sided test of "selection
adds nothing": ``p = (1 + #draws at least as good) / (1 + draws)``.
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
    base = sleeves * capital
    out = np.empty((draws, k_count + 1))
    out[:, 0] = base
    pools = [np.array(sorted(e), dtype=object) for e in eligible]
    for d in range(draws):
        active: dict[str, int] = {}
        realised = 0.0
        for k in range(k_count):
            pool = pools[k]
            size = min(counts[k], pool.shape[0])
            picked = set(rng.choice(pool, size=size, replace=False).tolist()) if size else set()
            for symbol in [s for s in active if s not in picked]:
                realised += tables.closed[symbol][active.pop(symbol)][k] - capital
            for symbol in picked:
                active.setdefault(symbol, k)
            row = tables.closed if k + 1 == k_count else tables.marked
            open_pnl = sum(row[s][a][k + 1] - capital for s, a in active.items())
            out[d, k + 1] = base + realised + open_pnl
    return RandomBaseline(out, draws, seed)
