"""Candle frames on their way into the store (polars): the checks and normalisation of a batch.

Kept apart from :mod:`._db_candles` so that a ``DatabaseClient`` used only for results and status never
imports polars; the COPY encoding and merge are :mod:`._candle_write`, window decoding :mod:`._candle_read`.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from algo_trade_core import INTERVALS, CandleValidationError, DataError
from algo_trade_data._candle_checks import VALUE_COLUMNS, find_candle_problem

__all__ = ["COLUMNS", "prepare_candle_frame"]

_KEY = ["symbol", "exchange", "interval", "timestamp"]
COLUMNS = ["timestamp", "symbol", "exchange", "interval", *VALUE_COLUMNS, "trades"]
_SERIES = ["symbol", "exchange", "interval"]


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
