"""Candle frames on their way into and out of the store (polars): checks, COPY chunks, window parsing.

Kept apart from :mod:`._db_candles` so that a ``DatabaseClient`` used only for results and status never
imports polars.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import polars as pl

from algo_trade_core import INTERVALS, CandleValidationError, DataError
from algo_trade_data._candle_checks import VALUE_COLUMNS, find_candle_problem
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA

__all__ = [
    "COLUMNS",
    "WINDOW_CSV_SCHEMA",
    "csv_chunks",
    "decode_window",
    "prepare_candle_frame",
    "series_ranges",
]

_KEY = ["symbol", "exchange", "interval", "timestamp"]
COLUMNS = ["timestamp", "symbol", "exchange", "interval", *VALUE_COLUMNS, "trades"]
_SERIES = ["symbol", "exchange", "interval"]
_CSV_CHUNK_ROWS = 100_000

# The columns of the window query's CSV text (see ._db_candles).
WINDOW_CSV_SCHEMA = {
    "timestamp": pl.Int64(),
    **{c: pl.Float64() for c in VALUE_COLUMNS},
    "trades": pl.Int64(),
}


def prepare_candle_frame(frame: pl.DataFrame, *, what: str = "candles to store") -> pl.DataFrame:
    """Check a candle frame and bring it to ``CANDLE_FRAME_SCHEMA`` (UTC ms times, float64 values).

    ``exchange`` defaults to hyperliquid and ``trades`` to null when absent. Rows are validated as
    OHLCV bars (see :mod:`algo_trade_data._candle_checks`), open times must be aligned to the interval,
    and a key repeated within the frame keeps its last row.

    Raises:
        DataError: a required column is missing or has the wrong type, or an interval is unknown.
        CandleValidationError: a row is not a valid bar (the message names the row, series and time).
    """
    missing = [c for c in ("timestamp", "symbol", "interval", *VALUE_COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    ts_type = frame.schema["timestamp"]
    if not isinstance(ts_type, pl.Datetime) or ts_type.time_zone is None:
        raise DataError(f"{what}: column timestamp must be a timezone-aware Datetime (UTC), got {ts_type}")
    if "exchange" not in frame.columns:
        frame = frame.with_columns(exchange=pl.lit("hyperliquid"))
    if "trades" not in frame.columns:
        frame = frame.with_columns(trades=pl.lit(None, dtype=pl.Int64))
    try:
        frame = frame.select(
            pl.col("timestamp").dt.convert_time_zone("UTC").dt.cast_time_unit("ms"),
            pl.col("symbol").cast(pl.String),
            pl.col("exchange").cast(pl.String),
            pl.col("interval").cast(pl.String),
            *(pl.col(c).cast(pl.Float64) for c in VALUE_COLUMNS),
            pl.col("trades").cast(pl.Int64),
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{what}: columns cannot be converted to the candle types: {exc}") from exc
    unknown = sorted(set(frame["interval"].drop_nulls().unique().to_list()) - set(INTERVALS))
    if unknown:
        raise DataError(
            f"{what}: unknown interval(s) {', '.join(unknown)}; expected one of {', '.join(INTERVALS)}"
        )
    problem = find_candle_problem(
        frame,
        check_order=False,
        check_alignment=True,
        required=("timestamp", "symbol", "exchange", "interval", *VALUE_COLUMNS),
    )
    if problem is not None:
        row = frame.row(problem.row, named=True)
        ts = row["timestamp"].isoformat().replace("+00:00", "Z") if row["timestamp"] else "?"
        more = f" ({problem.bad_rows - 1} more bad row(s))" if problem.bad_rows > 1 else ""
        raise CandleValidationError(
            f"{what}: row {problem.row + 1} ({row['symbol']} {row['interval']} at {ts}): "
            f"{problem.message}{more}"
        )
    # Frames are nearly always sorted per series; then strictly increasing times prove there is no
    # repeated key, much faster than hashing every (symbol, exchange, interval, timestamp).
    increasing = frame.select(
        (pl.col("timestamp").diff().over(_SERIES) > timedelta(0)).fill_null(True).all()
    ).item()
    if not increasing:
        frame = frame.unique(subset=_KEY, keep="last", maintain_order=True)
    return frame


def series_ranges(frame: pl.DataFrame) -> list[list[Any]]:
    """Per series of a prepared frame: symbols, exchanges, intervals, first and last times (as columns)."""
    ranges = frame.group_by(_SERIES).agg(
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
    )
    return [ranges[c].to_list() for c in (*_SERIES, "first", "last")]


def _encode_csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(
        buffer,
        include_header=False,
        datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ",
        null_value="",
    )
    return buffer.getvalue()


async def csv_chunks(frame: pl.DataFrame) -> AsyncIterator[bytes]:
    """Yield CSV chunks, encoding the next one in a worker thread while the current one is sent."""
    slices = [frame.slice(offset, _CSV_CHUNK_ROWS) for offset in range(0, frame.height, _CSV_CHUNK_ROWS)]
    pending = asyncio.ensure_future(asyncio.to_thread(_encode_csv, slices[0]))
    try:
        for i in range(len(slices)):
            chunk = await pending
            if i + 1 < len(slices):
                pending = asyncio.ensure_future(asyncio.to_thread(_encode_csv, slices[i + 1]))
            yield chunk
    finally:
        if not pending.done():
            pending.cancel()


def decode_window(text: str | None, *, symbol: str, exchange: str, interval: str) -> pl.DataFrame:
    """Parse the CSV text of :data:`_WINDOW_QUERY` into a candle frame."""
    if not text:
        return pl.DataFrame(schema=CANDLE_FRAME_SCHEMA)
    raw = pl.read_csv(
        io.BytesIO(text.encode()),
        has_header=False,
        new_columns=list(WINDOW_CSV_SCHEMA),
        schema=WINDOW_CSV_SCHEMA,
    )
    return raw.select(
        pl.col("timestamp").cast(pl.Datetime("ms", "UTC")),
        pl.lit(symbol, pl.String).alias("symbol"),
        pl.lit(exchange, pl.String).alias("exchange"),
        pl.lit(interval, pl.String).alias("interval"),
        *VALUE_COLUMNS,
        "trades",
    )
