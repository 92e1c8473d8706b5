"""Selection among per-token choices: (token, strategy, parameter set) candidates, deflated (pure).

With ``[optimisation] enabled`` every token has one candidate: the (strategy, parameter set) its
optimisation chose among N trials, with that trial's metrics and its Deflated Sharpe Ratio. The
selection then applies the same rule as to plain results (thresholds, composite score, ``top_n``,
fallback) plus one gate, ``[optimisation] min_dsr``: a candidate whose DSR is below it is never approved,
not even as a fallback, because its Sharpe ratio does not beat what the best of N trials reaches by luck.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from algo_trade_core import SelectionCriteria
from algo_trade_data import BacktestResultRecord
from algo_trade_token_selector._reasons import check_criteria, check_dsr
from algo_trade_token_selector._scope import SelectionScope
from algo_trade_token_selector._scoring import ChoiceDetails, Row, Selection, composite_score, rank_rows

__all__ = ["OPTIMISED", "Candidate", "evaluate_candidates"]

OPTIMISED = "optimised"
"""The strategy name of a selection among per-token choices (each token has its own strategy)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """A token's chosen strategy and parameter set.

    Attributes:
        result: the chosen trial as a backtest result (its strategy, parameters, metrics, window,
            coverage): the thresholds and the score read it as they read any result.
        choice: the strategy, parameters, N and DSR shown with the token.
    """

    result: BacktestResultRecord
    choice: ChoiceDetails

    @property
    def symbol(self) -> str:
        return self.result.symbol


def evaluate_candidates(
    candidates: Mapping[str, Candidate],
    criteria: SelectionCriteria,
    now: datetime,
    *,
    min_dsr: float,
    scope: SelectionScope | None = None,
) -> Selection:
    """Select tokens among their chosen candidates: :func:`~algo_trade_token_selector.evaluate`'s rule
    on each candidate's trial, plus the ``min_dsr`` gate (see the module docstring)."""
    rows: list[Row] = []
    for symbol, candidate in candidates.items():
        result = candidate.result
        failures = check_criteria(result, criteria, now)
        gate = check_dsr(candidate.choice.dsr, min_dsr, candidate.choice.n_trials)
        if gate is not None:
            failures = (*failures, gate)
        rows.append((symbol, result, composite_score(result, criteria), failures))
    choices = {symbol: c.choice for symbol, c in candidates.items()}
    return rank_rows(rows, criteria, now, OPTIMISED, scope, choices, min_dsr)
