"""Each token's bars over the whole study, loaded once and sliced by time (no copies)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from algo_trade_core import DataError, datetime_to_ms, interval_to_ms

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient
    from algo_trade_evaluation._settings import WalkForwardSettings

__all__ = ["TokenBars", "bars_from_frames", "history_start", "load_bars"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TokenBars:
    """One token's bars, oldest first: the store-shaped frame and its columns as arrays."""

    symbol: str
    frame: pl.DataFrame
    ts: IntArray  # open times, epoch ms
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    _hourly: dict[str, tuple[IntArray, FloatArray]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, symbol: str, frame: pl.DataFrame) -> TokenBars:
        if not frame["timestamp"].is_sorted():  # sorting copies the frame: only when needed
            frame = frame.sort("timestamp")
        ts = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
        if ts.shape[0] > 1 and not bool(np.all(np.diff(ts) > 0)):
            raise DataError(f"{symbol}: bar open times must be strictly increasing (duplicates in the data)")
        o, h, lo, c, v = (
            np.ascontiguousarray(frame[c].cast(pl.Float64).to_numpy())
            for c in ("open", "high", "low", "close", "volume")
        )
        return cls(symbol, frame, ts, o, h, lo, c, v)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def index_at(self, t: datetime | int) -> int:
        """Index of the first bar opening at or after ``t`` (``len`` when there is none)."""
        ms = datetime_to_ms(t) if isinstance(t, datetime) else t
        return int(np.searchsorted(self.ts, ms, side="left"))

    def arrays(
        self, lo: int, hi: int
    ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        return (
            self.ts[lo:hi],
            self.open[lo:hi],
            self.high[lo:hi],
            self.low[lo:hi],
            self.close[lo:hi],
            self.volume[lo:hi],
        )

    def hourly(self, interval: str) -> tuple[IntArray, FloatArray]:
        """The closes the volatility regime is computed on (``algo_trade_backtest.hourly_closes`` of the
        whole history, resampled once; a regime at ``t`` reads only the part before ``t``)."""
        found = self._hourly.get(interval)
        if found is None:
            from algo_trade_backtest import hourly_closes

            found = self._hourly[interval] = hourly_closes(self.ts, self.close, interval)
        return found

    def rows(self, lo: int, hi: int) -> pl.DataFrame:
        """Bars ``lo..hi-1`` as a store-shaped frame (a zero-copy slice)."""
        return self.frame.slice(lo, max(hi - lo, 0))


def history_start(settings: WalkForwardSettings, warmup_bars: int) -> datetime:
    """Where the loaded history must start: the first training window and the regime's lookback before
    it (the windows the first regime is ranked against), and the bars a bot warms up on before the first
    period."""
    step = timedelta(milliseconds=interval_to_ms(settings.interval))
    days = settings.window_days + settings.regime_lookback_days
    return settings.start - timedelta(days=days) - warmup_bars * step


def bars_from_frames(frames: Mapping[str, pl.DataFrame]) -> dict[str, TokenBars]:
    """``TokenBars`` of store-shaped frames (``timestamp`` UTC, OHLCV), e.g. read from files."""
    return {symbol: TokenBars.of(symbol, frame) for symbol, frame in frames.items() if frame.height}


async def load_bars(
    db: DatabaseClient, settings: WalkForwardSettings, warmup_bars: int
) -> dict[str, TokenBars]:
    """Load every token's bars from ``history_start`` to the end of the study (one bar past it, where the
    last period's positions are closed at its open). Tokens without a stored bar are left out (the
    study reports them per period)."""
    first = history_start(settings, warmup_bars)
    last = settings.end + timedelta(milliseconds=interval_to_ms(settings.interval))
    frames = {}
    for symbol in settings.symbols:
        frames[symbol] = await db.query_candles(symbol, settings.interval, first, last, settings.exchange)
    return bars_from_frames(frames)
