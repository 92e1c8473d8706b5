"""Backtest windows: which bars a sweep uses and how much of the window they cover (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from algo_trade_core import datetime_to_ms, floor_to_interval, interval_to_ms, ms_to_datetime

__all__ = ["Window", "window_for"]


@dataclass(frozen=True, slots=True)
class Window:
    """Bars whose open time t satisfies ``start <= t < end``."""

    start: datetime
    end: datetime
    interval: str

    @property
    def expected_bars(self) -> int:
        span = datetime_to_ms(self.end) - datetime_to_ms(self.start)
        return max(span // interval_to_ms(self.interval), 0)

    def coverage(self, num_bars: int) -> float:
        """Bars present / bars the window should hold at its interval."""
        expected = self.expected_bars
        return num_bars / expected if expected else 0.0


def window_for(as_of: datetime, days: int, interval: str) -> Window:
    """Return the window of ``days`` ending at ``as_of`` (rounded down to a bar boundary).

    Rounding keeps the bar that is still forming at ``as_of`` out of the window.
    """
    end = ms_to_datetime(floor_to_interval(datetime_to_ms(as_of), interval))
    return Window(start=end - timedelta(days=days), end=end, interval=interval)
