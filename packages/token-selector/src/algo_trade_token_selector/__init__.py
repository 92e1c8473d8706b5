"""algo-trade token selector: which tokens pass the thresholds, ranked by a composite score."""

from loguru import logger

from algo_trade_core import SelectionCriteria
from algo_trade_token_selector._scoring import (
    CRITERIA,
    Selection,
    TokenExplanation,
    composite_score,
    evaluate,
)
from algo_trade_token_selector._selector import TokenSelector

logger.disable("algo_trade_token_selector")

__all__ = [
    "CRITERIA",
    "Selection",
    "SelectionCriteria",
    "TokenExplanation",
    "TokenSelector",
    "composite_score",
    "evaluate",
]
