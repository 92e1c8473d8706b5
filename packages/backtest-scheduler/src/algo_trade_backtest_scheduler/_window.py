"""Backtest windows: which bars a sweep uses and how much of the window they cover (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
        """The number of bar open times ``t`` (multiples of the interval) with ``start <= t < end``."""
        step = interval_to_ms(self.interval)
        first = -(-datetime_to_ms(self.start) // step)  # ceil: a bar may not open before start
        stop = -(-datetime_to_ms(self.end) // step)
        return max(stop - first, 0)

    def coverage(self, num_bars: int) -> float:
        """Bars present / bars the window should hold at its interval.

        The one definition of ``window_coverage``: sweeps and ``algo-trade backtest`` both call it, on
        the requested window (never on the span of the bars that happen to be stored).
        """
        expected = self.expected_bars
        return num_bars / expected if expected else 0.0


def window_for(as_of: datetime, days: int, interval: str) -> Window:
    """Return the bars with ``as_of - days <= t < as_of`` that have closed by ``as_of``.

    The start is rounded up to a bar boundary (no bar opening before ``as_of - days``); the end is
    rounded down, which keeps the bar still forming at ``as_of`` out: its values are not known yet.
    """
    step = interval_to_ms(interval)
    as_of_ms = datetime_to_ms(as_of)
    end_ms = floor_to_interval(as_of_ms, interval)
    start_ms = -(-(as_of_ms - days * 86_400_000) // step) * step
    return Window(start=ms_to_datetime(start_ms), end=ms_to_datetime(end_ms), interval=interval)
