"""algo-trade token-selector."""

from loguru import logger

logger.disable("algo_trade_token_selector")

__all__: list[str] = []
