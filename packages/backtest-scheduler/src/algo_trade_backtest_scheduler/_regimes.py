"""The volatility regime a sweep stores with each token's results, read from the candle store.

The closes the regime stands on (hourly closes computed in the database, see
``DatabaseClient.query_hourly_closes``) cover the window and the lookback before it: 210 days by
default, 302,400 rows of 1m bars per token, about 170 ms of database time each. A scheduler keeps them
between sweeps (:class:`HourlyCloseCache`), so a sweep every few minutes reads only the hours added
since the previous one. The classification is :func:`algo_trade_backtest.volatility_regime`, the
function the walk-forward calls on the bars before each ``t_k``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import regime_history_days, regime_step_ms, volatility_regime
from algo_trade_backtest_scheduler._window import Window
from algo_trade_core import Regime, datetime_to_ms, ms_to_datetime

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient

__all__ = ["DEFAULT_REGIME_LOOKBACK_DAYS", "HourlyCloseCache", "token_regime"]

DEFAULT_REGIME_LOOKBACK_DAYS = 180  # [token_selection] regime_lookback_days
_DAY_MS = 86_400_000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class _Span:
    start: int  # epoch ms, inclusive
    end: int  # epoch ms, exclusive: every hour before it was complete in the store when read
    times: IntArray
    closes: FloatArray
    loaded: float  # the cache clock when the span was read in full


class HourlyCloseCache:
    """Each series' hourly closes, kept between the sweeps of one scheduler.

    A request for ``[start, end)`` reads only the hours after the last one held. The whole range is
    read again when it starts before what is held, or once the held span is older than ``max_age_s``
    (a day by default), which picks up bars imported into the past meanwhile.
    """

    def __init__(self, *, max_age_s: float = 86_400.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._spans: dict[tuple[str, str, str], _Span] = {}
        self._max_age_s = max_age_s
        self._clock = clock
        self.rows_read = 0  # closes read from the store so far (what the cache saves shows here)

    async def closes(
        self, db: DatabaseClient, symbol: str, interval: str, exchange: str, start: int, end: int
    ) -> tuple[IntArray, FloatArray]:
        """The closes keyed in ``[start, end)`` (epoch ms on whole regime steps)."""
        key = (symbol, exchange, interval)
        span = self._spans.get(key)
        now = self._clock()
        if span is None or start < span.start or end < span.start or now - span.loaded > self._max_age_s:
            span = _Span(start, end, *await self._read(db, key, start, end), loaded=now)
        elif end > span.end:
            times, closes = await self._read(db, key, span.end, end)
            keep = int(np.searchsorted(span.times, start, side="left"))  # drop what no window reaches
            span = _Span(
                start,
                end,
                np.concatenate((span.times[keep:], times)),
                np.concatenate((span.closes[keep:], closes)),
                span.loaded,
            )
        self._spans[key] = span
        lo, hi = np.searchsorted(span.times, [start, end], side="left")
        return span.times[lo:hi], span.closes[lo:hi]

    async def _read(
        self, db: DatabaseClient, key: tuple[str, str, str], start: int, end: int
    ) -> tuple[IntArray, FloatArray]:
        symbol, exchange, interval = key
        times, closes = await db.query_hourly_closes(
            symbol, interval, ms_to_datetime(start), ms_to_datetime(end), exchange
        )
        self.rows_read += len(times)
        return np.asarray(times, dtype=np.int64), np.asarray(closes, dtype=np.float64)


async def token_regime(
    db: DatabaseClient,
    symbol: str,
    window: Window,
    window_days: int,
    lookback_days: int,
    exchange: str,
    cache: HourlyCloseCache | None = None,
) -> Regime | None:
    """The regime of ``symbol``'s window ending at ``window.end``, from the stored bars before it."""
    step = regime_step_ms(window.interval)
    end = datetime_to_ms(window.end) // step * step  # the regime's windows end on a whole step
    start = end - regime_history_days(window_days, lookback_days) * _DAY_MS
    times, closes = await (cache or HourlyCloseCache()).closes(
        db, symbol, window.interval, exchange, start, end
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
