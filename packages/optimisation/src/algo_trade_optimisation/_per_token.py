"""The choice for one token on one training window, in memory: what a walk-forward calls at each t_k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import SWEEP_METRIC_NAMES, grid_run
from algo_trade_backtest._params import coerce_params
from algo_trade_core import BacktestConfig, OptimisationConfig, SelectionCriteria, bars_per_year
from algo_trade_optimisation._choice import Choice, TrialTable, choose
from algo_trade_optimisation._plan import Bars, Space

__all__ = ["TokenChoice", "choose_per_token"]


@dataclass(frozen=True, slots=True)
class TokenChoice:
    """The choice, every trial's metrics (``trials``), and optionally every trial's per-bar returns
    (``returns``: bars - 1 rows x trials columns, the T x N matrix CSCV/PBO takes)."""

    choice: Choice
    trials: TrialTable
    returns: npt.NDArray[np.float64] | None


def choose_per_token(
    bars: Bars,
    space: Space,
    *,
    execution: BacktestConfig,
    criteria: SelectionCriteria,
    optimisation: OptimisationConfig,
    interval: str,
    returns: bool = False,
    workers: int | None = None,
) -> TokenChoice:
    """Backtest every parameter set of ``space`` on one token's training bars and choose (see
    :func:`~algo_trade_optimisation.choose`); N is the number of sets, nothing is stored.

    Args:
        bars: the training window, validated (:func:`~algo_trade_backtest.prepare_bars`).
        space: :func:`~algo_trade_optimisation.plan_space`'s sets.
        execution: ``[backtest]``.
        criteria: ``[token_selection]`` (thresholds and score weights).
        optimisation: ``[optimisation]`` (``prefer``).
        interval: the bars' interval.
        returns: also return the per-bar returns of every trial (for PBO).
        workers: threads (default: one per CPU).
    """
    configs = [coerce_params(s.strategy, s.params) for s in space.sets]
    run = grid_run(bars, configs, execution=execution, interval=interval, workers=workers, curves=returns)
    table = TrialTable(
        strategies=[s.strategy for s in space.sets],
        params_hashes=[s.params_hash for s in space.sets],
        params=[s.params for s in space.sets],
        metrics={name: run.metrics[:, k] for k, name in enumerate(SWEEP_METRIC_NAMES)},
    )
    choice = choose(
        table,
        criteria=criteria,
        optimisation=optimisation,
        num_bars=len(bars[0]),
        periods_per_year=bars_per_year(interval),
    )
    per_bar = None
    if run.curves is not None:
        per_bar = (run.curves[:, 1:] / run.curves[:, :-1] - 1.0).T.copy()
    return TokenChoice(choice, table, per_bar)
