"""CSCV's PBO: against a loop-by-loop reference, on noise (about one half) and with a dominant variant (0)."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest

from algo_trade_evaluation import probability_of_backtest_overfitting


def _reference_logits(matrix: np.ndarray, n_blocks: int) -> list[float]:
    """The paper's procedure written out with lists and the statistics module."""
    rows = matrix.shape[0] - matrix.shape[0] % n_blocks
    size = rows // n_blocks
    blocks = [list(range(b * size, (b + 1) * size)) for b in range(n_blocks)]
    variants = matrix.shape[1]
    out = []
    for chosen in itertools.combinations(range(n_blocks), n_blocks // 2):
        train = [r for b in chosen for r in blocks[b]]
        test = [r for b in range(n_blocks) if b not in chosen for r in blocks[b]]

        def sharpe(rows_: list[int], col: int) -> float:
            values = [float(matrix[r, col]) for r in rows_]
            return statistics.fmean(values) / statistics.stdev(values)

        is_sr = [sharpe(train, n) for n in range(variants)]
        oos_sr = [sharpe(test, n) for n in range(variants)]
        best = max(range(variants), key=lambda n: is_sr[n])  # first maximum, as numpy.argmax
        rank = 1 + sum(s < oos_sr[best] for s in oos_sr) + 0.5 * (sum(s == oos_sr[best] for s in oos_sr) - 1)
        omega = rank / (variants + 1)
        out.append(math.log(omega / (1 - omega)))
    return out


def test_matches_the_reference_procedure_on_a_small_matrix() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(0.0, 0.01, size=(83, 5))  # 83 rows: 3 dropped to make 8 blocks of 10
    result = probability_of_backtest_overfitting(matrix, n_blocks=8)
    expected = _reference_logits(matrix, 8)
    assert result.n_combinations == math.comb(8, 4) == len(expected)
    assert result.rows_used == 80
    np.testing.assert_allclose(result.logits, expected, rtol=1e-9, atol=1e-12)
    assert result.pbo == pytest.approx(np.mean([1.0 if v < 0 else 0.5 if v == 0 else 0.0 for v in expected]))


def test_noise_overfits_about_half_the_time() -> None:
    # Skill-less variants: the in-sample winner's out-of-sample rank is uniform, so PBO is about 1/2.
    pbos = [
        probability_of_backtest_overfitting(np.random.default_rng(seed).normal(0, 0.01, size=(1600, 40))).pbo
        for seed in range(6)
    ]
    assert 0.4 < float(np.mean(pbos)) < 0.6


def test_a_dominant_variant_does_not_overfit() -> None:
    rng = np.random.default_rng(11)
    matrix = rng.normal(0.0, 0.01, size=(1600, 40))
    matrix[:, 17] += 0.004  # per-period Sharpe 0.4 against 0 for the others
    result = probability_of_backtest_overfitting(matrix)
    assert result.pbo < 0.01
    assert result.prob_oos_loss == 0.0
    assert result.logits.min() > 0.0


def test_bad_shapes_are_refused_with_what_was_expected() -> None:
    with pytest.raises(ValueError, match="at least 2 variants"):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="even number"):
        probability_of_backtest_overfitting(np.zeros((100, 3)), n_blocks=5)
    with pytest.raises(ValueError, match="cannot make 16 blocks"):
        probability_of_backtest_overfitting(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="finite"):
        probability_of_backtest_overfitting(np.full((100, 3), np.nan))
