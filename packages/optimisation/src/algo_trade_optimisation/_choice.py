"""The per-token choice with a multiple-testing guard (pure).

Among a token's trials, the candidates are those passing the selection's metric thresholds
(``min_sharpe_ratio``, ``min_win_rate``, ``max_drawdown``, ``min_num_trades``); the choice is the best
candidate by the selection's composite score (``prefer = "score"``) or by Deflated Sharpe Ratio
(``prefer = "dsr"``); with no candidate, the best trial by score (the selection then says which
threshold it fails). Its DSR deflates its Sharpe ratio for N = the token's number of trials, with the
variance of the trials' per-period Sharpe ratios and the chosen trial's own skewness and kurtosis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from algo_trade_core import (
    OptimisationConfig,
    SelectionCriteria,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    per_period,
    sample_variance,
)

__all__ = ["Choice", "TrialTable", "choose", "dsr_of"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrialTable:
    """A token's trials as columns: ``metrics[name][k]`` belongs to ``params[k]`` of ``strategies[k]``."""

    strategies: Sequence[str]
    params_hashes: Sequence[str]
    params: Sequence[Mapping[str, Any]]
    metrics: Mapping[str, FloatArray]

    def __len__(self) -> int:
        return len(self.params_hashes)


@dataclass(frozen=True, kw_only=True, slots=True)
class Choice:
    """A token's chosen strategy and parameters, with what deflates it.

    Attributes:
        n_trials: N, the token's trials (every strategy).
        sharpe_variance: variance of the trials' per-period Sharpe ratios.
        expected_max_sharpe: the per-period Sharpe ratio the best of N skill-less trials reaches on
            average (the deflation threshold), and ``threshold_annual`` the same annualised.
        dsr: the Deflated Sharpe Ratio of the chosen trial (None when undefined).
        passed_thresholds: whether the chosen trial passes the selection's metric thresholds.
        metrics: the chosen trial's metrics (annualised Sharpe, as the engine reports it).
    """

    strategy: str
    params_hash: str
    parameters: dict[str, Any]
    metrics: dict[str, float]
    score: float
    n_trials: int
    sharpe_variance: float
    expected_max_sharpe: float
    threshold_annual: float
    dsr: float | None
    passed_thresholds: bool
    candidates: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "params_hash": self.params_hash,
            "parameters": dict(self.parameters),
            "metrics": {k: (None if not math.isfinite(v) else v) for k, v in self.metrics.items()},
            "score": self.score,
            "n_trials": self.n_trials,
            "sharpe_variance": self.sharpe_variance,
            "expected_max_sharpe": self.expected_max_sharpe,
            "threshold_annual": self.threshold_annual,
            "dsr": self.dsr,
            "passed_thresholds": self.passed_thresholds,
            "candidates": self.candidates,
            **self.extra,
        }


def dsr_of(
    sharpe_annual: float,
    *,
    n_trials: int,
    variance_per_period: float,
    num_returns: int,
    skewness: float,
    kurtosis: float,
    periods_per_year: float,
) -> float | None:
    """The DSR of one trial (None when the estimator is undefined: fewer than 2 returns, or a non-normality
    factor <= 0 for this skew and kurtosis)."""
    if num_returns < 2:
        return None
    try:
        return deflated_sharpe_ratio(
            per_period(sharpe_annual, periods_per_year),
            n_trials,
            variance_per_period,
            num_returns,
            skewness,
            kurtosis,
        )
    except ValueError:
        return None


def choose(
    table: TrialTable,
    *,
    criteria: SelectionCriteria,
    optimisation: OptimisationConfig,
    num_bars: int,
    periods_per_year: float,
    n_trials: int | None = None,
    sharpe_variance_annual: float | None = None,
) -> Choice:
    """Choose a token's trial (see the module docstring).

    Args:
        table: the token's trials.
        criteria: the selection thresholds and score weights.
        optimisation: ``prefer`` (score or dsr).
        num_bars: bars of the window (returns = bars - 1).
        periods_per_year: bars per year of the interval (the Sharpe ratios are annualised with it).
        n_trials: N (default: the table's length); the stored runs pass the count stored.
        sharpe_variance_annual: variance of the annualised Sharpe ratios (default: the table's).

    Raises:
        ValueError: no trial.
    """
    if len(table) == 0:
        raise ValueError("no trial to choose from")
    m = table.metrics
    sharpe = np.asarray(m["sharpe_ratio"], dtype=np.float64)
    n = len(table) if n_trials is None else n_trials
    v_annual = sample_variance(sharpe.tolist()) if sharpe_variance_annual is None and n > 1 else 0.0
    if sharpe_variance_annual is not None:
        v_annual = sharpe_variance_annual
    variance = v_annual / periods_per_year
    win = np.asarray(m["win_rate"], dtype=np.float64)
    drawdown = np.asarray(m["max_drawdown"], dtype=np.float64)
    trades = np.asarray(m["num_trades"], dtype=np.float64)
    score = (
        criteria.weight_sharpe * sharpe
        + criteria.weight_win_rate * win
        + criteria.weight_drawdown * (1.0 - drawdown)
    )
    passing = (
        (sharpe >= criteria.min_sharpe_ratio)
        & (win >= criteria.min_win_rate)
        & (drawdown <= criteria.max_drawdown)
        & (trades >= criteria.min_num_trades)
    )
    # Candidates in parameter-set hash order: ties go to the smallest hash, whatever order the table
    # came in (the store returns it by hash; a walk-forward's space is in value order).
    by_hash = np.array(sorted(range(len(table)), key=lambda k: table.params_hashes[k]), dtype=np.intp)
    pool = by_hash[passing[by_hash]] if passing.any() else by_hash

    def dsr(k: int) -> float | None:
        return dsr_of(
            float(sharpe[k]),
            n_trials=n,
            variance_per_period=variance,
            num_returns=num_bars - 1,
            skewness=float(m["skewness"][k]),
            kurtosis=float(m["kurtosis"][k]),
            periods_per_year=periods_per_year,
        )

    if optimisation.prefer == "dsr" and passing.any():
        values = [dsr(int(k)) for k in pool]
        best = int(pool[int(np.argmax([-1.0 if v is None else v for v in values]))])
    else:
        best = int(pool[np.argmax(score[pool])])  # argmax: the first of equal maxima
    threshold = expected_max_sharpe(n, variance)
    return Choice(
        strategy=table.strategies[best],
        params_hash=table.params_hashes[best],
        parameters=dict(table.params[best]),
        metrics={name: float(values[best]) for name, values in m.items()},
        score=float(score[best]),
        n_trials=n,
        sharpe_variance=variance,
        expected_max_sharpe=threshold,
        threshold_annual=threshold * math.sqrt(periods_per_year),
        dsr=dsr(best),
        passed_thresholds=bool(passing[best]),
        candidates=int(passing.sum()),
    )
