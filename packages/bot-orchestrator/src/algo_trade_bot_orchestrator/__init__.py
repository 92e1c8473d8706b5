"""algo-trade bot-orchestrator."""

from loguru import logger

logger.disable("algo_trade_bot_orchestrator")

__all__: list[str] = []
