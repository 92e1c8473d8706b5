"""algo-trade backtest-scheduler."""

from loguru import logger

logger.disable("algo_trade_backtest_scheduler")

__all__: list[str] = []
