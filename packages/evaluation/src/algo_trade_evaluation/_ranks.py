"""Rank statistics of a walk-forward: the information coefficient and the turnover of approved lists.

The information coefficient (IC) of a period is the Spearman rank correlation between the composite
score each token had at the selection time and the token's out-of-sample strategy return over the
period: does a higher score predict a higher return? Ties get average ranks (the usual convention, as
in ``scipy.stats.spearmanr``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["IcSummary", "Turnover", "average_ranks", "ic_summary", "spearman", "turnover"]


def average_ranks(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Ranks 1..n of ``values``; tied values share the average of the ranks they span."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.shape[0])
    sorted_x = x[order]
    i = 0
    while i < x.shape[0]:
        j = i
        while j + 1 < x.shape[0] and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float | None:
    """Spearman rank correlation of two equally long samples; ``None`` when it is undefined (fewer
    than 3 pairs, or either sample constant)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two 1-D samples of equal length, got shapes {a.shape} and {b.shape}")
    if a.shape[0] < 3:
        return None
    ra, rb = average_ranks(a), average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if denominator == 0.0:
        return None
    return float(ra @ rb) / denominator


@dataclass(frozen=True, slots=True)
class IcSummary:
    """Mean IC over the periods where it is defined, with its t-statistic (``mean / (sd / sqrt(n))``)."""

    mean: float | None
    t_stat: float | None
    periods: int  # periods with a defined IC
    positive_share: float | None  # share of those periods with IC > 0


def ic_summary(ics: Sequence[float | None]) -> IcSummary:
    values = np.array([v for v in ics if v is not None], dtype=np.float64)
    if values.shape[0] == 0:
        return IcSummary(mean=None, t_stat=None, periods=0, positive_share=None)
    mean = float(values.mean())
    t_stat = None
    if values.shape[0] >= 2:
        sd = float(values.std(ddof=1))
        t_stat = mean / (sd / math.sqrt(values.shape[0])) if sd > 0.0 else None
    return IcSummary(
        mean=mean, t_stat=t_stat, periods=int(values.shape[0]), positive_share=float(np.mean(values > 0.0))
    )


@dataclass(frozen=True, slots=True)
class Turnover:
    """How the approved list changed from the previous period."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    jaccard_distance: float  # 1 - |A ∩ B| / |A ∪ B|; 0 when both lists are empty


def turnover(previous: Sequence[str], current: Sequence[str]) -> Turnover:
    before, after = set(previous), set(current)
    union = before | after
    distance = 0.0 if not union else 1.0 - len(before & after) / len(union)
    return Turnover(
        added=tuple(s for s in current if s not in before),
        removed=tuple(s for s in previous if s not in after),
        jaccard_distance=distance,
    )
