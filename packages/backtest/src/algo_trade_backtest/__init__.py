"""algo-trade backtest."""

from loguru import logger

logger.disable("algo_trade_backtest")

__all__: list[str] = []
