"""Sharpe-ratio statistics of Bailey & López de Prado: PSR, expected maximum Sharpe, DSR, MinTRL.

Pure functions of scalars (standard library only), shared by the selection's statistical gates, the
walk-forward evaluation and live bot tracking. Conventions, as in the papers:

- ``sharpe`` is the **per-period** (not annualised) Sharpe ratio of ``n`` returns, ``mean / std`` with
  the sample standard deviation (ddof = 1, the engine's rule); divide an annualised figure by
  ``sqrt(periods_per_year)`` first (:func:`per_period`).
- ``skewness`` is the third standardised moment; ``kurtosis`` the fourth, **not** in excess (a normal
  distribution has 3).

References:
    D. H. Bailey, M. López de Prado, "The Sharpe Ratio Efficient Frontier", Journal of Risk 15(2), 2012
    (PSR, eq. 11; MinTRL, eq. 12).
    D. H. Bailey, M. López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest
    Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 2014 (expected maximum Sharpe
    ratio, eq. 6; DSR, eq. 2 with it as the benchmark; the numerical example of section 4).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from statistics import NormalDist

__all__ = [
    "EULER_MASCHERONI",
    "annualised",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "min_track_record_length",
    "per_period",
    "probabilistic_sharpe_ratio",
    "sample_variance",
    "sharpe_standard_error",
]

EULER_MASCHERONI = 0.5772156649015329
_NORMAL = NormalDist()


def sample_variance(values: Iterable[float]) -> float:
    """Sample variance (``n - 1``) of ``values``, the same bits in any order (0.0 below two values).

    :func:`statistics.variance` computes in exact fractions and rounds once, so the result does not
    depend on the order of the values (a running float sum such as SQL's ``var_samp`` does): the variance
    of trial Sharpe ratios, and with it a DSR, is reproducible bit for bit whatever order a database, a
    resumed run or a Dask cluster delivers the trials in.
    """
    data = [float(v) for v in values]
    return statistics.variance(data) if len(data) > 1 else 0.0


def per_period(annual_sharpe: float, periods_per_year: float) -> float:
    """Convert an annualised Sharpe ratio (``mean / std * sqrt(P)``) to per-period units."""
    return annual_sharpe / math.sqrt(periods_per_year)


def annualised(sharpe: float, periods_per_year: float) -> float:
    """Convert a per-period Sharpe ratio to annualised units (``* sqrt(P)``)."""
    return sharpe * math.sqrt(periods_per_year)


def _non_normality(sharpe: float, skewness: float, kurtosis: float) -> float:
    """``1 - skew * SR + (kurt - 1) / 4 * SR^2``: the variance factor of the Sharpe estimator."""
    factor = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    if not factor > 0.0:
        raise ValueError(
            f"the Sharpe estimator's variance factor 1 - skew*SR + (kurt-1)/4*SR^2 is {factor:.4g} "
            f"(SR {sharpe:.4g}, skew {skewness:.4g}, kurtosis {kurtosis:.4g}): expected > 0; "
            "kurtosis must be the raw fourth moment (normal = 3), not the excess"
        )
    return factor


def sharpe_standard_error(sharpe: float, n: int, skewness: float = 0.0, kurtosis: float = 3.0) -> float:
    """Standard error of a per-period Sharpe ratio estimated from ``n`` returns (non-normal returns)."""
    if n < 2:
        raise ValueError(f"expected at least 2 returns, got {n}")
    return math.sqrt(_non_normality(sharpe, skewness, kurtosis) / (n - 1))


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n: int, skewness: float = 0.0, kurtosis: float = 3.0
) -> float:
    """Probability that the true Sharpe ratio exceeds ``benchmark``, given ``sharpe`` from ``n`` returns.

    ``PSR(SR*) = Z[(SR - SR*) * sqrt(n - 1) / sqrt(1 - skew*SR + (kurt - 1)/4 * SR^2)]`` (2012, eq. 11),
    everything per period.
    """
    z = (sharpe - benchmark) / sharpe_standard_error(sharpe, n, skewness, kurtosis)
    return _NORMAL.cdf(z)


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` skill-less trials whose Sharpe ratios have
    ``variance`` across trials (2014, eq. 6):

    ``sqrt(V) * ((1 - g) * Z^-1[1 - 1/N] + g * Z^-1[1 - 1/(N e)])``, ``g`` the Euler-Mascheroni constant.

    In the units of ``variance`` (per period or annualised). One trial has nothing to deflate: 0.
    """
    if n_trials < 1:
        raise ValueError(f"expected at least 1 trial, got {n_trials}")
    if not variance >= 0.0:
        raise ValueError(f"expected a variance >= 0, got {variance}")
    if n_trials == 1:
        return 0.0
    g = EULER_MASCHERONI
    z_n = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    z_ne = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(variance) * ((1.0 - g) * z_n + g * z_ne)


def deflated_sharpe_ratio(
    sharpe: float,
    n_trials: int,
    trials_variance: float,
    n: int,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Deflated Sharpe Ratio: the PSR of the best of ``n_trials`` against the Sharpe ratio that luck
    alone would be expected to reach (:func:`expected_max_sharpe`). All Sharpe figures per period.

    ``trials_variance`` is the variance of the trials' per-period Sharpe ratios; ``n``, ``skewness`` and
    ``kurtosis`` describe the returns of the selected trial.
    """
    return probabilistic_sharpe_ratio(
        sharpe, expected_max_sharpe(n_trials, trials_variance), n, skewness, kurtosis
    )


def min_track_record_length(
    sharpe: float,
    benchmark: float,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
    confidence: float = 0.95,
) -> float:
    """Minimum number of returns for ``sharpe`` to exceed ``benchmark`` at ``confidence`` (2012, eq. 12):
    ``1 + (1 - skew*SR + (kurt - 1)/4 * SR^2) * (Z_conf / (SR - SR*))^2``. Infinite when
    ``sharpe <= benchmark`` (no track record is long enough)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"expected a confidence in (0, 1), got {confidence}")
    if sharpe <= benchmark:
        return math.inf
    z = _NORMAL.inv_cdf(confidence)
    return 1.0 + _non_normality(sharpe, skewness, kurtosis) * (z / (sharpe - benchmark)) ** 2
