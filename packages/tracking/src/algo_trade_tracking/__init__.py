"""algo-trade tracking: each bot measured against its own backtest.

- :func:`reconcile`: a bot's recorded fills against the backtest over exactly the bars it has seen,
  trade by trade (missed/extra trades, entry/exit lag, price per fill, fees, PnL gap), with missing bars
  reported as such.
"""

from loguru import logger

from algo_trade_tracking._gaps import Gap, find_gaps
from algo_trade_tracking._reconcile import BarArrays, Reconciliation, TradeMatch, reconcile
from algo_trade_tracking._trades import (
    RoundTrip,
    TrackedFill,
    backtest_fills,
    equity_from_fills,
    recorded_fills,
    round_trips,
)

logger.disable("algo_trade_tracking")

__all__ = [
    "BarArrays",
    "Gap",
    "Reconciliation",
    "RoundTrip",
    "TrackedFill",
    "TradeMatch",
    "backtest_fills",
    "equity_from_fills",
    "find_gaps",
    "reconcile",
    "recorded_fills",
    "round_trips",
]
