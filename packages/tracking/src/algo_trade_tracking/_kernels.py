"""Numba kernel of the envelope: the circular block bootstrap of a backtest's per-bar returns.

A plain loop over preallocated arrays, no validation (``_envelope`` validates and converts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["bootstrap_paths_nb"]

F = TypeVar("F", bound=Callable[..., Any])
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _jit(fn: F) -> F:
    """Compile ``fn`` with numba (division by zero gives inf/nan, IEEE rounding: no fastmath)."""
    return cast(F, njit(cache=True, nogil=True, error_model="numpy")(fn))


@_jit
def bootstrap_paths_nb(
    returns: FloatArray,
    trades: FloatArray,
    block: int,
    horizons: IntArray,
    starts: IntArray,
    drawdown_out: FloatArray,
    trades_out: FloatArray,
    growth_out: FloatArray,
) -> None:
    """Build ``drawdown_out.shape[0]`` paths of ``horizons[-1]`` bars by circular block bootstrap.

    Path ``s`` strings together blocks of ``block`` consecutive bars of ``returns`` (and the same bars of
    ``trades``, trades closed per bar), block ``b`` starting at bar ``starts[s, b]`` (drawn uniformly by
    the caller) and wrapping around the end. At every horizon ``h`` (ascending, >= 1) the path's
    maximum drawdown so far, trades so far and equity growth factor are written to column ``k`` of the
    outputs.
    """
    n = returns.shape[0]
    samples = drawdown_out.shape[0]
    last = horizons[horizons.shape[0] - 1]
    for s in range(samples):
        equity = 1.0
        peak = 1.0
        worst = 0.0
        count = 0.0
        h = 0
        k = 0
        b = 0
        while h < last:
            start = starts[s, b]
            b += 1
            for j in range(block):
                if h >= last:
                    break
                i = (start + j) % n
                equity *= 1.0 + returns[i]
                if equity > peak:
                    peak = equity
                dd = 1.0 - equity / peak
                if dd > worst:
                    worst = dd
                count += trades[i]
                h += 1
                while k < horizons.shape[0] and horizons[k] == h:
                    drawdown_out[s, k] = worst
                    trades_out[s, k] = count
                    growth_out[s, k] = equity
                    k += 1
