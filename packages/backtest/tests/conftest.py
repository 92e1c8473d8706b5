"""Shared fixtures for the backtest tests: real candles from the shared data folder, bar builders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from algo_trade_core import MaCrossoverConfig, QuadMaConfig

Bars = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@pytest.fixture(scope="session")
def load_candles() -> Callable[[str, str], Bars]:
    """Return a loader of real Hyperliquid candles ``(symbol, interval) -> bars``; skips without data."""
    from algo_trade_data.testing import real_candle_arrays  # the test kit (a test-only dependency)

    return real_candle_arrays


def make_bars(
    closes: Sequence[float],
    *,
    opens: Sequence[float] | None = None,
    highs: Sequence[float | None] | None = None,
    lows: Sequence[float | None] | None = None,
    volumes: Sequence[float] | None = None,
    step_ms: int = 3_600_000,
) -> Bars:
    """Build hourly bars from closes: open = previous close unless given, high/low just span open and
    close unless given (``None`` entries keep the default), volume 1 unless given."""
    n = len(closes)
    c = np.array(closes, dtype=np.float64)
    o = np.array(opens, dtype=np.float64) if opens is not None else np.r_[c[0], c[:-1]]
    h = np.maximum(o, c)
    lo = np.minimum(o, c)
    for i, value in enumerate(highs or []):
        if value is not None:
            h[i] = value
    for i, value in enumerate(lows or []):
        if value is not None:
            lo[i] = value
    v = np.array(volumes, dtype=np.float64) if volumes is not None else np.ones(n)
    ts = T0 + step_ms * np.arange(n, dtype=np.int64)
    return ts, o, h, lo, c, v


@pytest.fixture(scope="session")
def bars_from() -> Callable[..., Bars]:
    """The :func:`make_bars` builder as a fixture (test modules cannot import each other)."""
    return make_bars


def random_walk(seed: int, n: int, *, vol: float = 0.002, tick: float = 0.01, start: float = 100.0) -> Bars:
    """Minute bars of a random walk on a price grid of ``tick`` (decimal prices make exact ties)."""
    rng = np.random.default_rng(seed)
    c = np.maximum(np.round(start * np.exp(np.cumsum(rng.normal(0.0, vol, n))) / tick) * tick, tick)
    o = np.r_[c[0], c[:-1]]
    spread = np.round(np.abs(rng.normal(0.0, vol, n)) * c / tick) * tick
    h = np.maximum(o, c) + spread
    lo = np.maximum(np.minimum(o, c) - spread, tick / 2)
    v = np.where(rng.random(n) < 0.05, 0.0, np.round(rng.lognormal(0.0, 1.0, n), 3))
    ts = T0 + 60_000 * np.arange(n, dtype=np.int64)
    return ts, o, h, lo, c, v


@pytest.fixture(scope="session")
def walk() -> Callable[..., Bars]:
    """The :func:`random_walk` builder as a fixture."""
    return random_walk


# Parameter sets that trade often on real candles (defaults, fast and slow variants), shared by the
# real-data and bar-by-bar tests.
PARAM_SETS: list[tuple[str, Any]] = [
    ("quad_ma", QuadMaConfig()),
    (
        "quad_ma",
        QuadMaConfig(
            short_1=3,
            short_2=6,
            long_1=12,
            long_2=24,
            trend=48,
            volume_filter=False,
            take_profit=0.01,
            stop_loss=0.005,
            reversal_confirmation_bars=1,
        ),
    ),
    (
        "quad_ma",
        QuadMaConfig(
            short_1=2,
            short_2=5,
            long_1=9,
            long_2=15,
            trend=30,
            volume_factor=1.0,
            take_profit=0.03,
            stop_loss=0.015,
            reversal_confirmation_bars=2,
        ),
    ),
    (
        "quad_ma",
        QuadMaConfig(
            short_1=4,
            short_2=8,
            long_1=16,
            long_2=32,
            trend=64,
            volume_filter=False,
            take_profit=0.05,
            stop_loss=0.03,
            reversal_confirmation_bars=3,
        ),
    ),
    ("ma_crossover", MaCrossoverConfig()),
    ("ma_crossover", MaCrossoverConfig(fast=5, slow=20)),
]
