"""The volatility regime: against a slow reference on real candles, the same whatever the interval,
from the past only, and unknown (saying why) without enough history."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from algo_trade_backtest import hourly_closes, volatility_regime

Bars = Any
HOUR = 3_600_000
DAY = 86_400_000


def reference_hourly(ts: list[int], close: list[float]) -> tuple[list[int], list[float]]:
    """The close of the last bar opened in each hour, plainly."""
    last: dict[int, float] = {}
    for t, c in zip(ts, close, strict=True):
        last[t // HOUR * HOUR] = c  # bars are in time order: the last write wins
    hours = sorted(last)
    return hours, [last[h] for h in hours]


def reference_regime(
    times: list[int], closes: list[float], end: int, window_days: int, lookback_days: int
) -> tuple[str | None, float | None, int]:
    """Window by window, return by return, as the module docstring says (hourly steps)."""
    end = end // HOUR * HOUR
    at = dict(zip(times, closes, strict=True))

    def vol(stop: int) -> float | None:
        start = stop - window_days * DAY
        squares = [
            math.log(at[t] / at[t - HOUR]) ** 2
            for t in range(start + HOUR, stop, HOUR)
            if t in at and t - HOUR in at
        ]
        expected = window_days * 24 - 1
        if len(squares) < 2 or len(squares) < 0.9 * expected:
            return None
        return math.sqrt(sum(squares) / len(squares)) * math.sqrt(365 * 24)

    current = vol(end)
    trailing = [v for j in range(1, lookback_days + 1) if (v := vol(end - j * DAY)) is not None]
    if current is None or len(trailing) < math.ceil(lookback_days / 2):
        return None, current, len(trailing)
    low, high = np.quantile(trailing, [1 / 3, 2 / 3])
    regime = "low" if current < low else "high" if current > high else "normal"
    return regime, current, len(trailing)


def test_hourly_closes_are_the_last_close_of_each_hour(load_candles: Callable[[str, str], Bars]) -> None:
    ts, _, _, _, close, _ = load_candles("ETH", "1m")
    ts, close = ts[:5000].copy(), close[:5000].copy()
    ts = np.delete(ts, np.arange(100, 160))  # a gap that swallows a whole hour and part of the next
    close = np.delete(close, np.arange(100, 160))
    times, closes = hourly_closes(ts, close, "1m")
    expected_times, expected_closes = reference_hourly(ts.tolist(), close.tolist())
    assert times.tolist() == expected_times
    assert closes.tolist() == expected_closes
    hourly = load_candles("ETH", "1h")
    same, _ = hourly_closes(hourly[0], hourly[4], "1h")  # hourly bars are their own closes
    assert same.tolist() == hourly[0].tolist()


@pytest.mark.parametrize("symbol", ["BTC", "DOGE", "SUI"])
def test_the_regime_matches_a_plain_reference_on_real_hourly_candles(
    symbol: str, load_candles: Callable[[str, str], Bars]
) -> None:
    ts, _, _, _, close, _ = load_candles(symbol, "1h")
    ends = ts[0] + np.array([20, 70, 130, 200, 260, 300]) * DAY + 7 * HOUR + 13 * 60_000
    seen = set()
    for end in ends.tolist():
        reading = volatility_regime(ts, close, end_ms=end, window_days=30, lookback_days=60, interval="1h")
        regime, vol, samples = reference_regime(ts.tolist(), close.tolist(), end, 30, 60)
        assert reading.regime == regime, end
        assert reading.samples == samples
        assert (reading.volatility is None) == (vol is None)
        if vol is not None:
            assert reading.volatility == pytest.approx(vol, rel=1e-9)
        seen.add(reading.regime)
    assert None in seen  # the first ends lack history...
    assert len(seen) >= 3  # ...the others are classified


def test_the_regime_is_the_same_from_5m_bars_as_from_1h_bars(
    load_candles: Callable[[str, str], Bars],
) -> None:
    fine = load_candles("BTC", "5m")
    coarse = load_candles("BTC", "1h")
    fine_t, fine_c = hourly_closes(fine[0], fine[4], "5m")
    lo, hi = np.searchsorted(coarse[0], [fine_t[0], fine_t[-1] + 1])
    both = np.intersect1d(fine_t, coarse[0][lo:hi])
    assert both.shape[0] > 0.99 * (hi - lo)
    # The exchange's 1h close is the close of the hour's last 5m bar.
    np.testing.assert_array_equal(
        fine_c[np.searchsorted(fine_t, both)], coarse[4][np.searchsorted(coarse[0], both)]
    )
    readings = []
    for days in (70, 90, 110, 130):
        end = int(fine_t[0]) + days * DAY
        a = volatility_regime(fine_t, fine_c, end_ms=end, window_days=30, lookback_days=60, interval="5m")
        b = volatility_regime(
            *coarse[0:1], coarse[4], end_ms=end, window_days=30, lookback_days=60, interval="1h"
        )
        assert a.regime == b.regime
        assert a.volatility == pytest.approx(b.volatility, rel=1e-9)
        readings.append(a.regime)
    assert all(r is not None for r in readings)


def test_only_closes_before_the_end_count(load_candles: Callable[[str, str], Bars]) -> None:
    ts, _, _, _, close, _ = load_candles("SOL", "1h")
    end = int(ts[0]) + 200 * DAY
    before = volatility_regime(ts, close, end_ms=end, window_days=30, lookback_days=90, interval="1h")
    shaken = close.copy()
    later = ts >= end
    shaken[later] *= np.exp(np.random.default_rng(1).normal(0, 0.2, int(later.sum())))
    after = volatility_regime(ts, shaken, end_ms=end, window_days=30, lookback_days=90, interval="1h")
    assert after == before
    assert before.regime is not None


def _walk(hourly_vols: list[tuple[int, float]], seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Hourly closes whose log returns have the given volatility for the given number of days each."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate([rng.normal(0.0, vol, days * 24) for days, vol in hourly_vols])
    times = np.arange(steps.shape[0], dtype=np.int64) * HOUR
    return times, 100.0 * np.exp(np.cumsum(steps))


def test_a_calm_history_then_a_storm_is_high_and_the_reverse_is_low() -> None:
    times, closes = _walk([(150, 0.005), (30, 0.02)])
    end = int(times[-1]) + HOUR
    storm = volatility_regime(times, closes, end_ms=end, window_days=30, lookback_days=120, interval="1h")
    assert storm.regime == "high"
    assert storm.volatility == pytest.approx(0.02 * math.sqrt(8760), rel=0.1)
    times, closes = _walk([(150, 0.02), (30, 0.005)])
    calm = volatility_regime(times, closes, end_ms=end, window_days=30, lookback_days=120, interval="1h")
    assert calm.regime == "low"
    assert calm.low_cut is not None
    assert calm.volatility is not None
    assert calm.volatility < calm.low_cut


def test_too_little_history_is_unknown_and_says_how_much_is_needed() -> None:
    times, closes = _walk([(150, 0.01)])
    t, c = times.tolist(), closes.tolist()
    for days, known in ((30 + 50, False), (30 + 62, True)):
        end = days * DAY
        reading = volatility_regime(
            times, closes, end_ms=end, window_days=30, lookback_days=120, interval="1h"
        )
        _, _, samples = reference_regime(t, c, end, 30, 120)
        assert reading.samples == samples
        assert reading.needed == 60  # half of the lookback
        assert (reading.regime is not None) == known
        if not known:
            assert reading.reason == f"{samples} of the 60 trailing windows needed"
    sparse = volatility_regime(
        times[::3], closes[::3], end_ms=120 * DAY, window_days=30, lookback_days=120, interval="1h"
    )
    assert sparse.regime is None  # one bar in three: no window holds its hourly returns
    assert sparse.reason == "the window holds fewer than 90 % of its returns"


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="lookback_days >= 1"):
        volatility_regime([0], [1.0], end_ms=DAY, window_days=30, lookback_days=0, interval="1h")
    with pytest.raises(ValueError, match="equal lengths"):
        volatility_regime([0, HOUR], [1.0], end_ms=DAY, window_days=30, lookback_days=30, interval="1h")
