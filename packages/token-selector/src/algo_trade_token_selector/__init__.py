"""algo-trade token selector: which tokens pass the thresholds, ranked by a composite score."""

from loguru import logger

from algo_trade_core import SelectionCriteria
from algo_trade_token_selector._candidates import OPTIMISED, Candidate, evaluate_candidates
from algo_trade_token_selector._gates import result_dsr, run_trials, trials_by_key
from algo_trade_token_selector._reasons import (
    CRITERIA,
    CriterionFailure,
    check_criteria,
    check_dsr,
    criteria_text,
)
from algo_trade_token_selector._scope import SelectionScope
from algo_trade_token_selector._scoring import (
    ChoiceDetails,
    Selection,
    TokenExplanation,
    TokenStatus,
    composite_score,
    evaluate,
)
from algo_trade_token_selector._selector import TokenSelector, latest_results

logger.disable("algo_trade_token_selector")

__all__ = [
    "CRITERIA",
    "OPTIMISED",
    "Candidate",
    "ChoiceDetails",
    "CriterionFailure",
    "Selection",
    "SelectionCriteria",
    "SelectionScope",
    "TokenExplanation",
    "TokenSelector",
    "TokenStatus",
    "check_criteria",
    "check_dsr",
    "composite_score",
    "criteria_text",
    "evaluate",
    "evaluate_candidates",
    "latest_results",
    "result_dsr",
    "run_trials",
    "trials_by_key",
]
