"""The volatility regime a sweep stores with each token's results, read from the candle store.

One query per token returns the closes the regime stands on (hourly closes computed in the database,
see ``DatabaseClient.query_hourly_closes``) over the window and the lookback before it; the
classification is :func:`algo_trade_backtest.volatility_regime`, the function the walk-forward calls on
the bars before each ``t_k``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from algo_trade_backtest import regime_history_days, regime_step_ms, volatility_regime
from algo_trade_backtest_scheduler._window import Window
from algo_trade_core import Regime, datetime_to_ms, ms_to_datetime

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient

__all__ = ["DEFAULT_REGIME_LOOKBACK_DAYS", "token_regime"]

DEFAULT_REGIME_LOOKBACK_DAYS = 180  # [token_selection] regime_lookback_days


async def token_regime(
    db: DatabaseClient,
    symbol: str,
    window: Window,
    window_days: int,
    lookback_days: int,
    exchange: str,
) -> Regime | None:
    """The regime of ``symbol``'s window ending at ``window.end``, from the stored bars before it."""
    step = regime_step_ms(window.interval)
    end = datetime_to_ms(window.end) // step * step  # the regime's windows end on a whole step
    start = end - regime_history_days(window_days, lookback_days) * 86_400_000
    times, closes = await db.query_hourly_closes(
        symbol, window.interval, ms_to_datetime(start), ms_to_datetime(end), exchange
    )
    reading = volatility_regime(
        times,
        closes,
        end_ms=end,
        window_days=window_days,
        lookback_days=lookback_days,
        interval=window.interval,
    )
    return reading.regime
