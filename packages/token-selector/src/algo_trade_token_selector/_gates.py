"""The statistics the selection's gates read from a result: its PSR and its deflated Sharpe ratio (pure).

- **PSR** (``min_psr``): the probability that the true Sharpe ratio of the backtest's per-bar returns is
  above 0, from their number, skewness and kurtosis. The backtest computes it with the metrics and the
  result stores it (``backtest_results.psr``).
- **DSR** (``min_dsr``): the same probability against the Sharpe ratio that luck alone would reach as
  the best of the sweep's trials, ``N`` = the results (tokens x parameter sets) the sweep stored on the
  result's interval, with the variance of their Sharpe ratios. The live selection reads ``N`` and the
  variance with one aggregate over the runs' stored results (``DatabaseClient.query_run_trials``); the
  walk-forward computes the same from each step's results with :func:`run_trials`.

Everything is per bar, as in the papers (``algo_trade_core._stats``): an annualised Sharpe ratio is
divided by ``sqrt(bars per year)``, its variance by the bars per year.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from algo_trade_core import bars_per_year, deflated_sharpe_ratio, sample_variance
from algo_trade_data import BacktestResultRecord, RunTrials

__all__ = ["TrialsKey", "result_dsr", "run_trials", "trials_by_key", "trials_of"]

TrialsKey = tuple[str, str]  # (run_id, interval)


def run_trials(results: Iterable[BacktestResultRecord]) -> dict[TrialsKey, RunTrials]:
    """The trials of each (run, interval) among ``results``: their number and the sample variance of
    their annualised Sharpe ratios, exactly what ``query_run_trials`` computes over the stored results."""
    sharpes: dict[TrialsKey, list[float]] = {}
    for r in results:
        if r.run_id is not None:
            sharpes.setdefault((r.run_id, r.interval), []).append(r.sharpe_ratio)
    return {
        key: RunTrials(
            run_id=key[0],
            interval=key[1],
            trials=len(values),
            sharpe_variance=sample_variance(values),
        )
        for key, values in sharpes.items()
    }


def trials_by_key(rows: Iterable[RunTrials]) -> dict[TrialsKey, RunTrials]:
    """Index ``query_run_trials`` rows by (run_id, interval)."""
    return {(t.run_id, t.interval): t for t in rows}


def trials_of(result: BacktestResultRecord, trials: Mapping[TrialsKey, RunTrials] | None) -> RunTrials | None:
    """The trials of the sweep that produced ``result``, when known."""
    if trials is None or result.run_id is None:
        return None
    return trials.get((result.run_id, result.interval))


def result_dsr(result: BacktestResultRecord, trials: RunTrials | None) -> float | None:
    """The deflated Sharpe ratio of ``result`` among its sweep's ``trials``; None when it cannot be told
    (no trials known, no return moments stored with the result, fewer than 2 returns)."""
    skew, kurt = result.returns_skewness, result.returns_kurtosis
    n = result.num_bars - 1
    if trials is None or skew is None or kurt is None or n < 2 or trials.trials < 1:
        return None
    periods = bars_per_year(result.interval)
    sharpe = result.sharpe_ratio / math.sqrt(periods)
    try:
        return deflated_sharpe_ratio(sharpe, trials.trials, trials.sharpe_variance / periods, n, skew, kurt)
    except ValueError:  # moments outside the formula's domain (a degenerate return series)
        return None
