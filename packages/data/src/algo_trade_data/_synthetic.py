"""Generated candles for demos without network or files, always labelled ``exchange = "synthetic"``.

They are a seeded random walk with drifting regimes (so trend-following strategies trade), never mixed
with real data: the exchange column keeps them apart in the store and in every result.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
import polars as pl

from algo_trade_core import datetime_to_ms, interval_to_ms

__all__ = ["SYNTHETIC_EXCHANGE", "synthetic_candles"]

SYNTHETIC_EXCHANGE = "synthetic"


def synthetic_candles(
    symbol: str,
    interval: str,
    end: datetime,
    bars: int,
    *,
    seed: int | None = None,
    start_price: float = 100.0,
) -> pl.DataFrame:
    """Return ``bars`` generated candles of ``symbol`` ending just before ``end`` (candle-frame schema)."""
    if bars <= 0:
        raise ValueError(f"expected a positive number of bars, got {bars}")
    if seed is None:
        seed = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
    step = interval_to_ms(interval)
    last_open = datetime_to_ms(end) // step * step - step
    t = last_open - step * np.arange(bars - 1, -1, -1, dtype=np.int64)
    # Regimes of a few hundred bars with their own drift; volatility scaled to about 0.1 % per bar.
    regime = rng.integers(150, 600, size=bars // 150 + 2).cumsum()
    drift = rng.normal(0.0, 1e-4, size=regime.size)[np.searchsorted(regime, np.arange(bars), side="right")]
    returns = drift + rng.normal(0.0, 1e-3, size=bars)
    close = start_price * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([start_price], close[:-1]))
    wiggle = np.abs(rng.normal(0.0, 6e-4, size=(2, bars)))
    high = np.maximum(open_, close) * (1 + wiggle[0])
    low = np.minimum(open_, close) * (1 - wiggle[1])
    volume = rng.lognormal(mean=3.0, sigma=0.8, size=bars)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(t).cast(pl.Datetime("ms", "UTC")),
            "symbol": [symbol] * bars,
            "exchange": [SYNTHETIC_EXCHANGE] * bars,
            "interval": [interval] * bars,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "trades": pl.Series(rng.integers(1, 500, size=bars), dtype=pl.Int64),
        }
    )
