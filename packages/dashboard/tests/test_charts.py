"""The pure chart helpers against slow, obviously correct references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo_trade_dashboard._charts import equity_from_fills
from algo_trade_dashboard._downsample import bucket_size, ohlc_buckets


@given(n=st.integers(1, 3000), size=st.integers(1, 50), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_ohlc_buckets_merge_like_a_reference(n: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.int64) * 60_000
    o, h, lo, c, v = (rng.random(n) for _ in range(5))
    got = ohlc_buckets(t, o, h, lo, c, v, size)
    starts = range(0, n, size)
    expected = [
        [t[s] for s in starts],
        [o[s] for s in starts],
        [max(h[s : s + size]) for s in starts],
        [min(lo[s : s + size]) for s in starts],
        [c[min(s + size, n) - 1] for s in starts],
        [sum(v[s : s + size]) for s in starts],
    ]
    for column, reference in zip(got, expected, strict=True):
        np.testing.assert_allclose(column, reference)


def test_bucket_size_keeps_every_series_within_the_limit() -> None:
    assert bucket_size(5000) == 1
    assert bucket_size(5001) == 2
    assert bucket_size(525_600) == 106  # a year of 1m bars -> 4,959 candles
    assert -(-525_600 // bucket_size(525_600)) <= 5000
    with pytest.raises(ValueError, match="max_points: expected >= 1, got 0"):
        bucket_size(10, 0)


def test_equity_from_fills_matches_a_bar_by_bar_account() -> None:
    step = 3_600_000
    closes_at = np.arange(1, 7, dtype=np.int64) * step  # bar i closes at (i + 1) * step
    close = np.array([100.0, 102.0, 101.0, 105.0, 104.0, 108.0])
    # Buy 10 at the open of bar 1, sell them at the open of bar 3 and go short 5, cover at bar 5.
    times = np.array([step, 3 * step, 3 * step, 5 * step], dtype=np.int64)
    qty = np.array([10.0, -10.0, -5.0, 5.0])
    price = np.array([101.0, 102.0, 102.0, 103.0])
    fee = np.array([0.5, 0.5, 0.25, 0.25])
    got = equity_from_fills(closes_at, close, times, qty, price, fee, 10_000.0)
    cash, position, expected = 10_000.0, 0.0, []
    fills = list(zip(times, qty, price, fee, strict=True))
    for at, mark in zip(closes_at, close, strict=True):
        while fills and fills[0][0] < at:
            _, q, p, f = fills.pop(0)
            cash -= q * p + f
            position += q
        expected.append(cash + position * mark)
    np.testing.assert_allclose(got, expected)
    assert got[0] == 10_000.0  # nothing filled before the first close
    assert got[-1] == pytest.approx(10_000 + 10 * (102 - 101) + 5 * (102 - 103) - 1.5)
