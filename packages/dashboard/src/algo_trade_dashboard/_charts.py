"""What the charts draw, as JSON-ready columns (pure numpy; no I/O).

Times go out in epoch **seconds** (the chart library's UTC timestamps); every series is reduced to at
most :data:`~algo_trade_dashboard._downsample.MAX_POINTS` points and its reduction is reported. The
strategy's averages, the drawdown and the min-max reduction of lines are the backtest package's
(:func:`algo_trade_backtest.strategy_averages`, ``sma``, ``drawdown_curve``, ``minmax_indices``),
shared with the CLI's ``backtest --plot``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from algo_trade_backtest import minmax_indices
from algo_trade_dashboard._downsample import MAX_POINTS, Reduction, bucket_size, ohlc_buckets

__all__ = [
    "CandleColumns",
    "Marker",
    "candle_columns",
    "equity_from_fills",
    "line",
    "markers_json",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def equity_from_fills(
    close_times_ms: IntArray,
    close: FloatArray,
    fill_times_ms: IntArray,
    signed_qty: FloatArray,
    price: FloatArray,
    fee: FloatArray,
    initial_capital: float,
) -> FloatArray:
    """Mark-to-market equity at each bar close from a bot's fills: cash + position x close.

    A fill at or after a bar's close time counts from the next close on. ``signed_qty`` is positive
    for buys and negative for sells; each fill moves ``qty x price`` between cash and the position and
    pays its fee from cash, as the paper executor does.
    """
    order = np.argsort(fill_times_ms, kind="stable")
    cash = initial_capital + np.concatenate(([0.0], np.cumsum(-(signed_qty * price)[order] - fee[order])))
    qty = np.concatenate(([0.0], np.cumsum(signed_qty[order])))
    applied = np.searchsorted(fill_times_ms[order], close_times_ms, side="left")
    return np.asarray(cash[applied] + qty[applied] * close, dtype=np.float64)


def _seconds(ms: IntArray) -> list[int]:
    return (ms // 1000).tolist()  # type: ignore[no-any-return]


def _values(values: FloatArray, digits: int = 10) -> list[float | None]:
    rounded = np.round(values, digits) if digits else values
    return [None if v != v else v for v in rounded.tolist()]  # NaN -> null


@dataclass(frozen=True, slots=True)
class CandleColumns:
    """Candles as columns, possibly merged into buckets, with the bucket start of every bar."""

    times_ms: IntArray  # open time of each drawn candle
    last: IntArray  # index of the last source bar in each drawn candle
    json: dict[str, Any]
    reduction: Reduction | None

    def snap(self, t_ms: int) -> int:
        """Return the open time of the drawn candle that holds ``t_ms`` (for markers)."""
        i = int(np.searchsorted(self.times_ms, t_ms, side="right")) - 1
        return int(self.times_ms[max(i, 0)]) if self.times_ms.shape[0] else t_ms


def candle_columns(frame: pl.DataFrame, max_points: int = MAX_POINTS) -> CandleColumns:
    """Return a candle frame as ``{"t", "o", "h", "l", "c", "v"}`` columns of at most ``max_points``."""
    times = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
    o, h, lo, c, v = (
        frame[name].cast(pl.Float64).to_numpy() for name in ("open", "high", "low", "close", "volume")
    )
    size = bucket_size(times.shape[0], max_points)
    t2, o2, h2, l2, c2, v2 = ohlc_buckets(times, o, h, lo, c, v, size)
    reduction = None
    if size > 1:
        reduction = Reduction(
            points=int(t2.shape[0]),
            source_points=int(times.shape[0]),
            method=f"candles of {size} consecutive bars merged (first open, highest high, lowest low, "
            "last close, summed volume)",
        )
    columns = {
        "t": _seconds(t2),
        "o": _values(o2),
        "h": _values(h2),
        "l": _values(l2),
        "c": _values(c2),
        "v": _values(v2, 4),
    }
    last = np.minimum(np.arange(t2.shape[0], dtype=np.int64) * size + size, times.shape[0]) - 1
    return CandleColumns(times_ms=t2, last=last, json=columns, reduction=reduction)


def line(
    times_ms: IntArray, values: FloatArray, max_points: int = MAX_POINTS, *, name: str = ""
) -> tuple[dict[str, Any], Reduction | None]:
    """Return ``{"name", "t", "v"}`` with at most ``max_points`` points (each bucket's min and max)."""
    at = minmax_indices(values, max_points)
    reduction = None
    if at.shape[0] < values.shape[0]:
        reduction = Reduction(
            points=int(at.shape[0]),
            source_points=int(values.shape[0]),
            method="the minimum and maximum of each bucket of points, plus the first and last",
        )
    return {"name": name, "t": _seconds(times_ms[at]), "v": _values(values[at])}, reduction


@dataclass(frozen=True, slots=True)
class Marker:
    """One fill drawn on the candles: an entry or an exit of a long or a short."""

    time_ms: int
    price: float
    side: str  # long | short
    kind: str  # entry | exit
    outcome: str  # win | loss | open
    text: str


def markers_json(markers: Sequence[Marker], candles: CandleColumns) -> list[dict[str, Any]]:
    """Markers in time order, each on the drawn candle that holds it (``t``) with its exact time."""
    out = [
        {
            "t": candles.snap(m.time_ms) // 1000,
            "time": m.time_ms // 1000,
            "price": m.price,
            "side": m.side,
            "kind": m.kind,
            "outcome": m.outcome,
            "text": m.text,
        }
        for m in markers
    ]
    out.sort(key=lambda m: (m["t"], m["time"]))
    return out
