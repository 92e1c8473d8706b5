"""algo-trade optimisation: per-token strategy and parameter choice, deflated for the number of trials."""

from loguru import logger

logger.disable("algo_trade_optimisation")
