"""algo-trade data."""

from loguru import logger

logger.disable("algo_trade_data")

__all__: list[str] = []
