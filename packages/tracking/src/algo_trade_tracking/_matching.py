"""Trade-by-trade matching of two fill columns (the backtest's and the bot's), vectorised.

Round trips are matched greedily in time order: each expected trip takes the nearest unused live trip of
its side whose entry is at most ``max_lag`` bars away. When both sides made the same entries (every
paper bot on its own bars), the match is one to one without a Python loop; every comparison after it
is a numpy expression over the matched pairs.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from algo_trade_tracking._trades import ABS_TOLERANCE, REL_TOLERANCE, FillArrays

__all__ = ["Comparison", "compare", "realised_pnl"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _same_values(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> BoolArray:
    return np.asarray(np.abs(a - b) <= ABS_TOLERANCE + REL_TOLERANCE * np.abs(b), dtype=np.bool_)


def _same_fills(x: FillArrays, i: IntArray, y: FillArrays, j: IntArray) -> BoolArray:
    """Whether fill ``x[i]`` equals ``y[j]`` (same bar and reason, values up to the stored rounding)."""
    same: BoolArray = (
        (x.t[i] == y.t[j])
        & (x.reason[i] == y.reason[j])
        & _same_values(x.price[i], y.price[j])
        & _same_values(x.qty[i], y.qty[j])
        & _same_values(x.fee[i], y.fee[j])
    )
    return same


def _greedy(
    exp_t: list[int], exp_side: list[float], live_t: list[int], live_side: list[float], window: int
) -> tuple[list[int], list[int]]:
    used = [False] * len(live_t)
    pair_exp: list[int] = []
    pair_live: list[int] = []
    for e, (t, side) in enumerate(zip(exp_t, exp_side, strict=True)):
        best = -1
        for j in range(bisect_left(live_t, t - window), len(live_t)):
            if live_t[j] > t + window:
                break
            if used[j] or live_side[j] != side:
                continue
            if best < 0 or abs(live_t[j] - t) < abs(live_t[best] - t):
                best = j
        if best >= 0:
            used[best] = True
        pair_exp.append(e)
        pair_live.append(best)
    for j, u in enumerate(used):
        if not u:
            pair_exp.append(-1)
            pair_live.append(j)
    return pair_exp, pair_live


@dataclass(frozen=True, slots=True)
class Comparison:
    """Matched round trips. Row ``k`` pairs expected trip ``pair_exp[k]`` with live trip
    ``pair_live[k]`` (-1: none on that side); rows are in order of entry time."""

    expected: FillArrays
    live: FillArrays
    exp_entry: IntArray  # trip -> fill index
    exp_exit: IntArray  # trip -> fill index, -1 while open
    live_entry: IntArray
    live_exit: IntArray
    pair_exp: IntArray
    pair_live: IntArray
    exact: BoolArray  # per row
    starts: IntArray  # per row: the bar where it first differs (its entry when exact)

    @property
    def rows(self) -> int:
        return int(self.pair_exp.shape[0])

    @property
    def matched(self) -> BoolArray:
        return (self.pair_exp >= 0) & (self.pair_live >= 0)

    def closed_pairs(self) -> tuple[IntArray, IntArray]:
        """Expected and live trip indices of the matched pairs closed on both sides."""
        m = self.matched
        e, lv = self.pair_exp[m], self.pair_live[m]
        both = (self.exp_exit[e] >= 0) & (self.live_exit[lv] >= 0)
        return e[both], lv[both]


def _trip_pnl(f: FillArrays, entry: IntArray, exit_: IntArray) -> npt.NDArray[np.float64]:
    return np.asarray(
        f.side[entry] * (f.price[exit_] - f.price[entry]) * f.qty[entry] - f.fee[entry] - f.fee[exit_],
        dtype=np.float64,
    )


def realised_pnl(c: Comparison) -> tuple[float, float]:
    """Net PnL of the matched round trips closed on both sides: (expected, live)."""
    e, lv = c.closed_pairs()
    exp = _trip_pnl(c.expected, c.exp_entry[e], c.exp_exit[e])
    live = _trip_pnl(c.live, c.live_entry[lv], c.live_exit[lv])
    return float(exp.sum()), float(live.sum())


def compare(expected: FillArrays, live: FillArrays, step_ms: int, max_lag_bars: int) -> Comparison:
    """Match the round trips of ``expected`` and ``live`` and compare every pair (module docstring).

    Raises:
        ValueError: either side's fills do not alternate entry, exit (names the bar).
    """
    exp_entry, exp_exit = expected.trips()
    live_entry, live_exit = live.trips()
    e_t, l_t = expected.t[exp_entry], live.t[live_entry]
    e_side, l_side = expected.side[exp_entry], live.side[live_entry]
    if e_t.shape == l_t.shape and np.array_equal(e_t, l_t) and np.array_equal(e_side, l_side):
        pair_exp = np.arange(e_t.shape[0], dtype=np.int64)
        pair_live = pair_exp.copy()
    else:
        pe, pl_ = _greedy(
            e_t.tolist(), e_side.tolist(), l_t.tolist(), l_side.tolist(), max_lag_bars * step_ms
        )
        pair_exp, pair_live = np.array(pe, dtype=np.int64), np.array(pl_, dtype=np.int64)
        key = np.empty(pair_exp.shape[0], dtype=np.int64)
        has = pair_exp >= 0
        key[has] = e_t[pair_exp[has]]
        key[~has] = l_t[pair_live[~has]]
        order = np.argsort(key, kind="stable")
        pair_exp, pair_live = pair_exp[order], pair_live[order]

    rows = pair_exp.shape[0]
    exact = np.zeros(rows, dtype=np.bool_)
    starts = np.zeros(rows, dtype=np.int64)
    has_e, has_l = pair_exp >= 0, pair_live >= 0
    starts[has_e & ~has_l] = e_t[pair_exp[has_e & ~has_l]]
    starts[has_l & ~has_e] = l_t[pair_live[has_l & ~has_e]]
    both = np.flatnonzero(has_e & has_l)
    if both.size:
        e, lv = pair_exp[both], pair_live[both]
        ei, li = exp_entry[e], live_entry[lv]
        entry_same = _same_fills(expected, ei, live, li)
        ex, lx = exp_exit[e], live_exit[lv]
        open_e, open_l = ex < 0, lx < 0
        exit_same = np.where(
            open_e | open_l,
            open_e & open_l,
            _same_fills(expected, np.maximum(ex, 0), live, np.maximum(lx, 0)),
        )
        exact[both] = entry_same & exit_same
        big = np.iinfo(np.int64).max
        exit_start = np.minimum(
            np.where(open_e, big, expected.t[np.maximum(ex, 0)]),
            np.where(open_l, big, live.t[np.maximum(lx, 0)]),
        )
        starts[both] = np.where(
            entry_same, np.where(exit_start == big, expected.t[ei], exit_start), np.minimum(e_t[e], l_t[lv])
        )
    return Comparison(
        expected=expected,
        live=live,
        exp_entry=exp_entry,
        exp_exit=exp_exit,
        live_entry=live_entry,
        live_exit=live_exit,
        pair_exp=pair_exp,
        pair_live=pair_live,
        exact=exact,
        starts=starts,
    )
