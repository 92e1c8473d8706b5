"""Spearman IC with ties, its summary, and turnover between approved lists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algo_trade_evaluation._ranks import average_ranks, ic_summary, spearman, turnover


def test_average_ranks_share_ties() -> None:
    assert average_ranks([10.0, 20.0, 20.0, 5.0]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_spearman_is_pearson_of_average_ranks() -> None:
    # Hand-checked: ranks x = [1, 2, 3, 4, 5], y = [2, 1, 4, 3, 5] -> rho = 1 - 6*4/(5*24) = 0.8.
    assert spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # With ties the textbook 1 - 6 sum d^2 formula is wrong; Pearson on average ranks is the definition.
    x, y = [1.0, 2.0, 2.0, 3.0], [1.0, 3.0, 2.0, 4.0]
    rx, ry = average_ranks(x), average_ranks(y)
    assert spearman(x, y) == pytest.approx(float(np.corrcoef(rx, ry)[0, 1]))
    # Monotone transforms do not change it.
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=30), rng.normal(size=30)
    assert spearman(np.exp(a), b**3) == pytest.approx(spearman(a, b))


def test_spearman_is_undefined_on_constant_or_tiny_samples() -> None:
    assert spearman([1, 2], [2, 1]) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_ic_summary_t_stat() -> None:
    summary = ic_summary([0.1, None, 0.3, 0.2])
    assert summary.periods == 3
    assert summary.mean == pytest.approx(0.2)
    assert summary.t_stat == pytest.approx(0.2 / (0.1 / math.sqrt(3)))
    assert summary.positive_share == 1.0
    assert ic_summary([None]).mean is None


def test_turnover() -> None:
    t = turnover(["BTC", "ETH", "SOL"], ["ETH", "SOL", "DOGE"])
    assert t.added == ("DOGE",)
    assert t.removed == ("BTC",)
    assert t.jaccard_distance == pytest.approx(1 - 2 / 4)
    assert turnover([], []).jaccard_distance == 0.0
    assert turnover([], ["BTC"]).jaccard_distance == 1.0
