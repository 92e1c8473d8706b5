"""algo-trade evaluation: does selecting tokens by backtest pay out of sample?

- :func:`probability_of_backtest_overfitting`: CSCV over a matrix of variants' returns.
"""

from loguru import logger

from algo_trade_evaluation._pbo import PboResult, probability_of_backtest_overfitting

logger.disable("algo_trade_evaluation")

__all__ = ["PboResult", "probability_of_backtest_overfitting"]
