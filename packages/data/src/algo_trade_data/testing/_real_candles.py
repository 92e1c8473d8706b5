"""Real candles from the shared data folder (``../shared/data`` beside the project), for tests and
benchmarks. Every loader skips the calling test with a clear reason when the folder or file is absent.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from algo_trade_data._candles import CANDLE_FRAME_SCHEMA

__all__ = [
    "SHARED_DATA_ENV",
    "hyperliquid_file",
    "real_candle_arrays",
    "real_candles",
    "shared_data_dir",
]

SHARED_DATA_ENV = "ALGO_TRADE_SHARED_DATA"
_HYPERLIQUID = Path("real-candles") / "hyperliquid-perp"


def _project_root(start: Path) -> Path | None:
    for parent in (start, *start.parents):
        if (parent / "packages").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    return None


@cache
def shared_data_dir() -> Path:
    """Return the shared data folder: ``$ALGO_TRADE_SHARED_DATA``, else ``<project>/../shared/data``.

    The project is found from this file (a workspace checkout) or, failing that, from the working
    directory. The folder may not exist; callers check.
    """
    if env := os.environ.get(SHARED_DATA_ENV):
        return Path(env)
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        root = _project_root(start)
        if root is not None:
            return (root.parent / "shared" / "data").resolve()
    return (Path.cwd() / ".." / "shared" / "data").resolve()


def _skip(reason: str) -> None:
    import pytest  # only the test session needs pytest

    pytest.skip(reason)


def hyperliquid_file(symbol: str, interval: str = "1m") -> Path:
    """Return the path of a real Hyperliquid perp candle file (freqtrade Feather); skip when absent."""
    path = shared_data_dir() / _HYPERLIQUID / f"{symbol}_USDC_USDC-{interval}-futures.feather"
    if not path.is_file():
        _skip(f"real candles not available: {path} is absent (the shared data folder is not here)")
    return path


def real_candles(symbol: str, interval: str = "1m") -> pl.DataFrame:
    """Return a token's real Hyperliquid candles as a store-shaped frame (``CANDLE_FRAME_SCHEMA``)."""
    raw = pl.read_ipc(hyperliquid_file(symbol, interval))
    return raw.select(
        pl.col("date").dt.cast_time_unit("ms").dt.replace_time_zone("UTC").alias("timestamp"),
        pl.lit(symbol).alias("symbol"),
        pl.lit("hyperliquid").alias("exchange"),
        pl.lit(interval).alias("interval"),
        *(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume")),
        pl.lit(None, dtype=pl.Int64).alias("trades"),
    ).cast(CANDLE_FRAME_SCHEMA)


def real_candle_arrays(
    symbol: str, interval: str = "1m"
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Return ``(timestamps_ms, open, high, low, close, volume)`` as the engine takes them."""
    frame = real_candles(symbol, interval)
    ts = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
    o, h, lo, c, v = (
        np.ascontiguousarray(frame[name].to_numpy(), dtype=np.float64)
        for name in ("open", "high", "low", "close", "volume")
    )
    return ts, o, h, lo, c, v
