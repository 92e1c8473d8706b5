"""The candle store: COPY-based upsert into ``ohlcv`` and fast window reads into polars.

What is stored and where it has gaps: :mod:`algo_trade_data._db_coverage`.

Write path (:meth:`CandleStoreMixin.upsert_candles`), one transaction:

1. the frame is checked and de-duplicated in polars (vectorised);
2. it is streamed as CSV into a temporary table with ``COPY`` (chunks are encoded in a worker thread
   while the server parses the previous one). CSV carries each float's shortest round-trip text, so
   the NUMERIC columns receive the exchange's decimals exactly (1.2345e-05 stays 0.000012345);
3. ONE ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` merges it. When an index probe shows that no
   stored bar lies inside the time range of any series of the batch (new history, a first import),
   the same INSERT runs without the ON CONFLICT clause, in a savepoint: PostgreSQL's speculative
   insertion for ON CONFLICT doubles the cost per row (an extra index probe and WAL record), and a
   conflict-free batch does not need it. A bar written concurrently by another session makes that
   INSERT fail with a unique violation; the savepoint is then rolled back and the ON CONFLICT statement
   runs instead, so the result is the same upsert either way.

Read path (:meth:`CandleStoreMixin.query_candles`): the server renders the window as ONE CSV text
value (``string_agg``) that polars' CSV reader parses. NUMERIC → text is the cheapest conversion the
server has (``numeric::float8`` renders text and parses it again), one value avoids a protocol message
per row (``COPY TO`` sends one per row), and polars parses faster than any per-row Python code.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import polars as pl

from algo_trade_core import INTERVALS, CandleValidationError, DataError
from algo_trade_data._candle_checks import VALUE_COLUMNS, find_candle_problem
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._db_base import _DatabaseBase, command_count, require_aware

__all__ = ["CandleStoreMixin", "prepare_candle_frame"]

_KEY = ["symbol", "exchange", "interval", "timestamp"]
_COLUMNS = ["timestamp", "symbol", "exchange", "interval", *VALUE_COLUMNS, "trades"]
_SERIES = ["symbol", "exchange", "interval"]
_CSV_CHUNK_ROWS = 100_000

_CREATE_STAGE = "CREATE TEMP TABLE _ohlcv_stage (LIKE ohlcv INCLUDING DEFAULTS) ON COMMIT DROP"

# For a batch the overlap probe proved conflict-free (see the module docstring).
_INSERT = """
INSERT INTO ohlcv (timestamp, symbol, exchange, interval, open, high, low, close, volume, trades)
SELECT timestamp, symbol, exchange, interval, open, high, low, close, volume, trades FROM _ohlcv_stage
"""
# The general path. The WHERE clause skips rows whose values did not change, so re-importing the same
# bars rewrites nothing (no dead tuples) and the returned count is what actually changed. A missing
# trade count in the new data (files have none) keeps the stored one.
_UPSERT = """
INSERT INTO ohlcv AS o (timestamp, symbol, exchange, interval, open, high, low, close, volume, trades)
SELECT timestamp, symbol, exchange, interval, open, high, low, close, volume, trades FROM _ohlcv_stage
ON CONFLICT (symbol, exchange, interval, timestamp) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, trades = coalesce(EXCLUDED.trades, o.trades)
WHERE (o.open, o.high, o.low, o.close, o.volume, o.trades)
      IS DISTINCT FROM
      (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume,
       coalesce(EXCLUDED.trades, o.trades))
"""

# Does any stored bar fall inside the [first, last] range of a series of the batch? One PK index
# range probe per series (and chunk); False means no row of the batch can conflict.
_OVERLAP_QUERY = """
SELECT EXISTS (
    SELECT 1
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
         AS r (symbol, exchange, interval, first, last)
    WHERE EXISTS (
        SELECT 1 FROM ohlcv o
        WHERE o.symbol = r.symbol AND o.exchange = r.exchange AND o.interval = r.interval
          AND o.timestamp BETWEEN r.first AND r.last
    )
)
"""

# Epoch milliseconds through date_part (float8, exact for whole milliseconds) are far cheaper to format
# and parse than timestamptz text. A missing trade count is an empty field (concat_ws would drop NULLs).
_WINDOW_QUERY = """
SELECT string_agg(
           concat_ws(',', (date_part('epoch', timestamp) * 1000)::int8, open, high, low, close, volume,
                     coalesce(trades::text, '')),
           E'\\n')
FROM (
    SELECT timestamp, open, high, low, close, volume, trades
    FROM ohlcv
    WHERE symbol = $1 AND exchange = $2 AND interval = $3 AND timestamp >= $4 AND timestamp < $5
    ORDER BY timestamp
) AS bars
"""
_WINDOW_CSV_SCHEMA = {
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
        raise DataError(f"{what}: missing column(s) {', '.join(missing)}; expected {', '.join(_COLUMNS)}")
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


async def _csv_chunks(frame: pl.DataFrame) -> AsyncIterator[bytes]:
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
        new_columns=list(_WINDOW_CSV_SCHEMA),
        schema=_WINDOW_CSV_SCHEMA,
    )
    return raw.select(
        pl.col("timestamp").cast(pl.Datetime("ms", "UTC")),
        pl.lit(symbol, pl.String).alias("symbol"),
        pl.lit(exchange, pl.String).alias("exchange"),
        pl.lit(interval, pl.String).alias("interval"),
        *VALUE_COLUMNS,
        "trades",
    )


class CandleStoreMixin(_DatabaseBase):
    """Candle methods of :class:`~algo_trade_data.DatabaseClient`."""

    async def upsert_candles(self, frame: pl.DataFrame) -> int:
        """Insert or update candles; return the number of rows inserted or changed.

        ``frame`` has the candle columns (``CANDLE_FRAME_SCHEMA``: timestamp as UTC Datetime, symbol,
        exchange, interval, open, high, low, close, volume, trades nullable); ``exchange`` and
        ``trades`` may be absent. Bars already stored with the same values are not rewritten and not
        counted. The whole frame is one transaction: an invalid row rejects all of it.

        Raises:
            CandleValidationError: a row is not a valid bar (nothing is written).
            DataError: a column is missing or of the wrong type.
            DatabaseError: the database refused the batch or went away (nothing is written).
        """
        if frame.height == 0:
            return 0
        prepared = await asyncio.to_thread(prepare_candle_frame, frame)
        ranges = series_ranges(prepared)
        async with self._transaction(f"upsert_candles ({prepared.height} rows)") as conn:
            await conn.execute(_CREATE_STAGE)
            async with asyncio.timeout(self._copy_timeout_s):
                await conn.copy_to_table(
                    "_ohlcv_stage", source=_csv_chunks(prepared), columns=_COLUMNS, format="csv"
                )
            if await conn.fetchval(_OVERLAP_QUERY, *ranges):
                status = await conn.execute(_UPSERT)
            else:
                try:
                    async with conn.transaction():  # savepoint
                        status = await conn.execute(_INSERT)
                except asyncpg.UniqueViolationError:
                    # Another session stored some of these bars since the probe: merge instead.
                    status = await conn.execute(_UPSERT)
        return command_count(status)

    async def latest_candle_time(
        self, symbol: str, interval: str, exchange: str = "hyperliquid"
    ) -> datetime | None:
        """Return the open time of the newest stored bar of the series, or None when there is none."""
        async with self._connection("latest_candle_time") as conn:
            value: datetime | None = await conn.fetchval(
                "SELECT max(timestamp) FROM ohlcv WHERE symbol = $1 AND exchange = $2 AND interval = $3",
                symbol,
                exchange,
                interval,
            )
        return value

    async def query_candles(
        self,
        symbol: str,
        interval: str,
        start: datetime,
        end: datetime,
        exchange: str = "hyperliquid",
    ) -> pl.DataFrame:
        """Return the bars with ``start <= timestamp < end``, oldest first, as a candle frame.

        Columns as ``CANDLE_FRAME_SCHEMA``: timestamp (Datetime ms, UTC), symbol, exchange, interval,
        open, high, low, close, volume (float64), trades (Int64, null when unknown).
        """
        require_aware(start, "start")
        require_aware(end, "end")
        async with self._connection("query_candles") as conn:
            text = await conn.fetchval(_WINDOW_QUERY, symbol, exchange, interval, start, end)
        return decode_window(text, symbol=symbol, exchange=exchange, interval=interval)
