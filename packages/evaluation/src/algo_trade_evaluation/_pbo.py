"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting", Journal of
Computational Finance 20(4), 2017 (working paper 2015), section 2:

1. ``M`` is a ``T x N`` matrix: per-period returns (rows, in time order) of ``N`` strategy variants.
2. The rows are cut into ``S`` contiguous blocks of equal size (``S`` even; the last ``T mod S`` rows
   are dropped so that every block has the same length, as the method requires).
3. For every choice ``C`` of ``S/2`` blocks (``binom(S, S/2)`` combinations): the in-sample set ``J`` is
   the rows of ``C``, the out-of-sample set ``J'`` the rows of the other blocks. Each variant's Sharpe
   ratio (mean / sample std) is computed on ``J`` and on ``J'``; ``n*`` is the in-sample best; its
   out-of-sample relative rank is ``w = rank / (N + 1)`` (rank 1 = worst, ties averaged) and its logit
   ``l = ln(w / (1 - w))``.
4. ``PBO`` is the share of combinations with ``l < 0``: the in-sample winner ranks below the median out
   of sample. A logit of exactly 0 (the median, possible when ``N`` is odd) counts one half.

Besides PBO the result carries the logits, the in-sample and out-of-sample Sharpe ratios of each
combination's winner (their regression slope is the paper's "performance degradation") and the
probability that the winner loses money out of sample.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["PboResult", "probability_of_backtest_overfitting"]

FloatArray = npt.NDArray[np.float64]
_CHUNK = 512  # combinations evaluated per vectorised step (bounds memory at 512 x N floats per array)


@dataclass(frozen=True, slots=True)
class PboResult:
    """The outcome of CSCV over ``n_variants`` variants and ``n_combinations`` splits."""

    pbo: float
    n_variants: int
    n_blocks: int
    n_combinations: int
    rows_used: int
    logits: FloatArray
    is_sharpe: FloatArray  # per combination: the in-sample winner's in-sample Sharpe ratio (per period)
    oos_sharpe: FloatArray  # per combination: the same variant's out-of-sample Sharpe ratio (per period)

    @property
    def prob_oos_loss(self) -> float:
        """Share of combinations whose in-sample winner has a negative out-of-sample Sharpe ratio."""
        return float(np.mean(self.oos_sharpe < 0.0))

    @property
    def degradation_slope(self) -> float:
        """Least-squares slope of out-of-sample on in-sample Sharpe of the winners (NaN if constant)."""
        x, y = self.is_sharpe, self.oos_sharpe
        vx = float(np.var(x))
        if vx == 0.0:
            return math.nan
        return float(np.mean((x - x.mean()) * (y - y.mean())) / vx)


def _block_moments(matrix: FloatArray, n_blocks: int) -> tuple[FloatArray, FloatArray, int]:
    rows = matrix.shape[0] - matrix.shape[0] % n_blocks
    blocks = matrix[:rows].reshape(n_blocks, rows // n_blocks, matrix.shape[1])
    return blocks.sum(axis=1), np.square(blocks).sum(axis=1), rows


def _sharpe(sums: FloatArray, squares: FloatArray, count: int) -> FloatArray:
    mean = sums / count
    var = (squares - count * mean * mean) / (count - 1)
    std = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(std > 0.0, mean / np.where(std > 0.0, std, 1.0), 0.0)
    return np.asarray(sharpe, dtype=np.float64)


def probability_of_backtest_overfitting(returns: npt.ArrayLike, n_blocks: int = 16) -> PboResult:
    """Estimate PBO of choosing the best of the columns of ``returns`` (rows = periods in time order).

    Args:
        returns: ``T x N`` per-period returns of ``N >= 2`` variants over the same ``T`` periods.
        n_blocks: ``S``, an even number >= 2 of contiguous blocks (the paper's default is 16).

    Raises:
        ValueError: fewer than 2 variants, an odd or too small ``S``, fewer than 2 rows per block, or
            non-finite values.
    """
    matrix = np.asarray(returns, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"returns: expected a 2-D matrix (periods x variants), got {matrix.ndim} dimensions")
    periods, variants = matrix.shape
    if variants < 2:
        raise ValueError(f"returns: expected at least 2 variants (columns), got {variants}")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"n_blocks: expected an even number >= 2, got {n_blocks}")
    if periods // n_blocks < 2:
        raise ValueError(
            f"returns: {periods} periods cannot make {n_blocks} blocks of at least 2 rows; "
            f"use fewer blocks or a longer history"
        )
    if not np.all(np.isfinite(matrix)):
        raise ValueError("returns: expected finite values, got NaN or infinity")

    sums, squares, rows = _block_moments(matrix, n_blocks)
    block_len = rows // n_blocks
    half = n_blocks // 2
    combos = np.array(list(itertools.combinations(range(n_blocks), half)), dtype=np.int64)
    mask = np.zeros((combos.shape[0], n_blocks), dtype=np.float64)
    np.put_along_axis(mask, combos, 1.0, axis=1)

    logits = np.empty(combos.shape[0])
    is_best = np.empty(combos.shape[0])
    oos_best = np.empty(combos.shape[0])
    total_sums, total_squares = sums.sum(axis=0), squares.sum(axis=0)
    count = half * block_len
    for lo in range(0, combos.shape[0], _CHUNK):
        m = mask[lo : lo + _CHUNK]
        in_sums, in_squares = m @ sums, m @ squares
        in_sharpe = _sharpe(in_sums, in_squares, count)
        out_sharpe = _sharpe(total_sums - in_sums, total_squares - in_squares, count)
        best = np.argmax(in_sharpe, axis=1)
        idx = np.arange(best.shape[0])
        winner_out = out_sharpe[idx, best]
        below = np.sum(out_sharpe < winner_out[:, None], axis=1)
        ties = np.sum(out_sharpe == winner_out[:, None], axis=1) - 1  # the winner itself excluded
        rank = 1.0 + below + 0.5 * ties
        omega = rank / (variants + 1)
        logits[lo : lo + m.shape[0]] = np.log(omega / (1.0 - omega))
        is_best[lo : lo + m.shape[0]] = in_sharpe[idx, best]
        oos_best[lo : lo + m.shape[0]] = winner_out
    pbo = float(np.mean(np.where(logits < 0.0, 1.0, np.where(logits == 0.0, 0.5, 0.0))))
    return PboResult(
        pbo=pbo,
        n_variants=variants,
        n_blocks=n_blocks,
        n_combinations=int(combos.shape[0]),
        rows_used=rows,
        logits=logits,
        is_sharpe=is_best,
        oos_sharpe=oos_best,
    )
