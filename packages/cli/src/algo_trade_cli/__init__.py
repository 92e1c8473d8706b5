"""algo-trade cli."""

from loguru import logger

logger.disable("algo_trade_cli")

__all__: list[str] = []
