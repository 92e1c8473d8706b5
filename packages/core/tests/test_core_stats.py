"""PSR, expected maximum Sharpe, DSR and MinTRL against the papers' worked example and their definitions."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from algo_trade_core._stats import (
    annualised,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    per_period,
    probabilistic_sharpe_ratio,
)


def test_dsr_reproduces_the_papers_worked_example() -> None:
    # Bailey & López de Prado (2014), section 4: annualised SR 2.5 from T = 1250 daily returns (250 a
    # year), the best of N = 100 trials whose annualised Sharpe ratios have variance 0.5, skewness -3,
    # kurtosis 10: SR0 = 0.1132 per day and DSR = 0.9004.
    sharpe = per_period(2.5, 250)
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert expected_max_sharpe(100, 0.5) / math.sqrt(250) == pytest.approx(sr0)  # units commute
    dsr = deflated_sharpe_ratio(sharpe, 100, 0.5 / 250, 1250, skewness=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_of_twenty_lucky_tokens_on_30_days_of_hours() -> None:
    # The walk-forward issue's figure: 20 skill-less trials, 720 hourly returns each, so the trials'
    # per-period Sharpe ratios have variance 1/720; the best is expected at about 6.6 annualised.
    assert annualised(expected_max_sharpe(20, 1 / 720), 8760) == pytest.approx(6.63, abs=0.01)


def test_psr_under_normal_returns_is_the_textbook_z_test() -> None:
    sr, n = 0.05, 500
    z = sr * math.sqrt(n - 1) / math.sqrt(1 + sr * sr / 2)
    assert probabilistic_sharpe_ratio(sr, 0.0, n) == pytest.approx(statistics.NormalDist().cdf(z))
    # Fat tails and negative skew widen the estimator's error: the same Sharpe ratio is less convincing.
    assert probabilistic_sharpe_ratio(sr, 0.0, n, skewness=-2.0, kurtosis=12.0) < probabilistic_sharpe_ratio(
        sr, 0.0, n
    )
    assert probabilistic_sharpe_ratio(sr, sr, n) == pytest.approx(0.5)


def test_psr_is_calibrated_on_skill_less_gaussian_returns() -> None:
    # True Sharpe 0: PSR(0) is uniform on (0, 1), so it exceeds 0.95 in about 5 % of samples.
    rng = random.Random(7)
    above = 0
    samples = 2000
    for _ in range(samples):
        r = [rng.gauss(0.0, 0.01) for _ in range(250)]
        sr = statistics.fmean(r) / statistics.stdev(r)
        above += probabilistic_sharpe_ratio(sr, 0.0, len(r)) > 0.95
    assert 0.035 < above / samples < 0.065


def test_min_track_record_length_is_where_psr_reaches_the_confidence() -> None:
    sr, skew, kurt = 0.1, -1.0, 6.0
    n = min_track_record_length(sr, 0.0, skew, kurt, confidence=0.95)
    assert probabilistic_sharpe_ratio(sr, 0.0, math.ceil(n), skew, kurt) >= 0.95
    assert probabilistic_sharpe_ratio(sr, 0.0, math.floor(n) - 1, skew, kurt) < 0.95
    assert min_track_record_length(0.0, 0.0) == math.inf


def test_one_trial_is_not_deflated_and_bad_inputs_are_refused() -> None:
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert deflated_sharpe_ratio(0.1, 1, 0.3, 100) == pytest.approx(probabilistic_sharpe_ratio(0.1, 0.0, 100))
    with pytest.raises(ValueError, match="at least 1 trial"):
        expected_max_sharpe(0, 0.1)
    with pytest.raises(ValueError, match="at least 2 returns"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1)
    with pytest.raises(ValueError, match="not the excess"):  # excess kurtosis passed by mistake
        probabilistic_sharpe_ratio(1.0, 0.0, 100, skewness=2.0, kurtosis=0.0)
