"""A token's volatility regime at a selection time, from its own history before that time (pure numpy).

The regime ranks the training window's **realised volatility** against the same token's trailing
distribution of it:

- the series is the token's closes at a step of one hour (bars finer than 1h are resampled to the close
  of the last bar opened in each hour, :func:`hourly_closes`; coarser bars are used as they are), so the
  classification does not depend on the backtest interval;
- a window's realised volatility is the root mean square of the log returns between consecutive closes
  one step apart whose both closes lie in the window (a return across a gap is left out), annualised
  over a 365-day year; a window counts when it holds at least 90 % of the returns it should;
- the trailing distribution is that figure for every window of the same length ending 1, 2, ...,
  ``lookback_days`` days before the selection window's end, one a day;
- ``low`` below the distribution's 1/3 quantile, ``high`` above its 2/3 quantile, else ``normal``;
  unknown (None) while fewer than half of the ``lookback_days`` trailing windows count, or the current
  window itself does not (so about ``window_days + lookback_days / 2`` days of candles are needed:
  with the defaults, 30 + 90 = 120 days).

Only closes before the window's end are read: the live sweep passes the store's hourly closes before
the sweep's window end, the walk-forward the bars before ``t_k``, and both call :func:`volatility_regime`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from algo_trade_core import Regime, interval_to_ms

__all__ = [
    "HOUR_MS",
    "MIN_WINDOW_RETURNS",
    "RegimeReading",
    "hourly_closes",
    "regime_history_days",
    "regime_step_ms",
    "volatility_regime",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_YEAR_MS = 365 * _DAY_MS
MIN_WINDOW_RETURNS = 0.9  # share of a window's returns that must be present for its volatility to count


def regime_step_ms(interval: str) -> int:
    """The step of the closes the regime is computed on: one hour, or the bar when it is longer."""
    return max(interval_to_ms(interval), HOUR_MS)


def regime_history_days(window_days: int, lookback_days: int) -> int:
    """Days of closes before a window's end that a full reading reads (the window plus the lookback)."""
    return window_days + lookback_days


def hourly_closes(ts_ms: npt.ArrayLike, close: npt.ArrayLike, interval: str) -> tuple[IntArray, FloatArray]:
    """Resample bars to the regime's step: for bars shorter than an hour, the close of the last bar
    opened in each hour, keyed by the hour's start; hourly and longer bars are returned as they are.

    ``ts_ms`` are the bars' open times (epoch ms, increasing).
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    closes = np.asarray(close, dtype=np.float64)
    if interval_to_ms(interval) >= HOUR_MS or ts.shape[0] == 0:
        return ts, closes
    bucket = ts // HOUR_MS * HOUR_MS
    last = np.flatnonzero(np.diff(bucket) != 0)
    last = np.append(last, bucket.shape[0] - 1)
    return bucket[last], closes[last]


@dataclass(frozen=True, slots=True)
class RegimeReading:
    """One regime classification and what it stands on.

    Attributes:
        regime: ``"low"``, ``"normal"``, ``"high"``, or None when there is too little history.
        volatility: the window's annualised realised volatility (None: the window has too few returns).
        low_cut: the 1/3 quantile of the trailing windows' volatilities (None when unknown).
        high_cut: their 2/3 quantile.
        samples: trailing windows that counted.
        needed: trailing windows needed for a reading.
    """

    regime: Regime | None
    volatility: float | None
    low_cut: float | None
    high_cut: float | None
    samples: int
    needed: int

    @property
    def reason(self) -> str | None:
        """Why the regime is unknown, or None when it is known."""
        if self.regime is not None:
            return None
        if self.volatility is None:
            return f"the window holds fewer than {MIN_WINDOW_RETURNS * 100:.0f} % of its returns"
        return f"{self.samples} of the {self.needed} trailing windows needed"

    def to_json(self) -> dict[str, Any]:
        return {
            "regime": self.regime,
            "volatility": self.volatility,
            "low_cut": self.low_cut,
            "high_cut": self.high_cut,
            "samples": self.samples,
            "needed": self.needed,
        }


def volatility_regime(
    times_ms: npt.ArrayLike,
    closes: npt.ArrayLike,
    *,
    end_ms: int,
    window_days: int,
    lookback_days: int,
    interval: str,
) -> RegimeReading:
    """Classify the window ``[end - window_days, end)`` against the same token's windows of that length
    ending 1..``lookback_days`` days earlier (see the module docstring).

    Args:
        times_ms: close keys at the regime's step (:func:`hourly_closes`), increasing; any history (only
            the part before ``end_ms`` that the windows cover is read).
        closes: the closes.
        end_ms: the end (exclusive) of the selection window, epoch ms; rounded down to the step.
        window_days: the training window's length.
        lookback_days: how far back the trailing windows end.
        interval: the bars' interval (it sets the step).

    Raises:
        ValueError: ``window_days`` or ``lookback_days`` below 1, or arrays of unequal length.
    """
    if window_days < 1 or lookback_days < 1:
        raise ValueError(
            f"expected window_days and lookback_days >= 1, got {window_days} and {lookback_days}"
        )
    t = np.asarray(times_ms, dtype=np.int64)
    c = np.asarray(closes, dtype=np.float64)
    if t.shape != c.shape:
        raise ValueError(f"times and closes: expected equal lengths, got {t.shape[0]} and {c.shape[0]}")
    step = regime_step_ms(interval)
    end = end_ms // step * step
    window = window_days * _DAY_MS
    first = end - regime_history_days(window_days, lookback_days) * _DAY_MS
    lo, hi = np.searchsorted(t, [first, end], side="left")
    t, c = t[lo:hi], c[lo:hi]
    needed = math.ceil(lookback_days / 2)
    # Returns between consecutive closes one step apart, keyed by the later close.
    ok = (np.diff(t) == step) & (c[1:] > 0.0) & (c[:-1] > 0.0)
    keys = t[1:][ok]
    with np.errstate(divide="ignore", invalid="ignore"):
        squares = np.log(c[1:][ok] / c[:-1][ok]) ** 2
    sums = np.concatenate(([0.0], np.cumsum(squares)))
    ends = end - np.arange(lookback_days + 1, dtype=np.int64) * _DAY_MS  # [0]: the selection window
    starts = np.searchsorted(keys, ends - window + step, side="left")
    stops = np.searchsorted(keys, ends, side="left")
    counts = stops - starts
    expected = max(window // step - 1, 1)
    valid = (counts >= MIN_WINDOW_RETURNS * expected) & (counts >= 2)
    per_year = math.sqrt(_YEAR_MS / step)
    vols = np.sqrt((sums[stops] - sums[starts]) / np.maximum(counts, 1)) * per_year
    trailing = vols[1:][valid[1:]]
    current = float(vols[0]) if valid[0] else None
    if current is None or trailing.shape[0] < needed:
        return RegimeReading(None, current, None, None, int(trailing.shape[0]), needed)
    low_cut, high_cut = (float(q) for q in np.quantile(trailing, [1 / 3, 2 / 3]))
    regime: Regime = "low" if current < low_cut else "high" if current > high_cut else "normal"
    return RegimeReading(regime, current, low_cut, high_cut, int(trailing.shape[0]), needed)
