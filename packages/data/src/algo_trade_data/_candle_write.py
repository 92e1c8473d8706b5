"""The write path of the candle store: which rows may be appended, CSV streams, and the merge SQL.

:meth:`~algo_trade_data._db_candles.CandleStoreMixin.upsert_candles` splits a prepared frame in two:

- **fresh rows**, outside the range of bars already stored for their series (within the batch's own
  time range, found by :data:`STORED_RANGES_QUERY`: two index probes per series). No stored bar can
  share their key, so they are appended with ``COPY`` straight into ``ohlcv``: no staging table and
  no per-row ``INSERT ... SELECT`` (0.73 s of server CPU per 200,000 rows against 1.01 s through the
  stage). A refresh that extends the tail, a recorder flush and a first import are fresh apart from
  at most the one bar they overlap.
- **merge rows**, inside the stored range (a re-import, a gap repair, a bar re-fetched with final
  values). They are staged in a temporary table; :data:`MERGE_UPDATE` rewrites the stored bars whose
  values differ and :data:`MERGE_INSERT` adds the missing ones. Bars already stored with the same
  values are neither locked nor rewritten. (``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` locks every
  conflicting row, with a WAL record each, even when its WHERE clause then skips the update: measured
  1.7x the server CPU on re-imported bars, 1.5x on a half-filled range.)

A bar another session commits between the probe and our write makes either step fail with a unique
violation; each runs in a savepoint, and the fallback is the single :data:`MERGE_UPSERT` statement
(``ON CONFLICT DO UPDATE``), so the result is the same upsert either way.

Values travel as CSV text: polars writes each float's shortest round-trip decimal, so the ``NUMERIC``
columns receive exactly the decimal the exchange quoted (1.2345e-05 stays 0.000012345). Binary COPY
would need a float → NUMERIC base-10000 encoder and cut the server's parsing by 15 % (0.27 → 0.23 s
of CPU per 200,000 rows), while the primary-key insert alone costs 0.39 s of the 0.72 s that
COPY costs in all (CHECK constraints and WAL: no measurable share): not worth it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

import polars as pl

from algo_trade_data._candle_checks import VALUE_COLUMNS

__all__ = [
    "COLUMNS",
    "CREATE_STAGE",
    "MERGE_INSERT",
    "MERGE_UPDATE",
    "MERGE_UPSERT",
    "SERIES",
    "STORED_RANGES_QUERY",
    "csv_chunks",
    "merge_bounds",
    "series_ranges",
    "split_fresh",
]

SERIES = ["symbol", "exchange", "interval"]
COLUMNS = ["timestamp", *SERIES, *VALUE_COLUMNS, "trades"]
_CSV_CHUNK_ROWS = 100_000

# Per series of the batch: the first and last stored bar within the batch's [first, last] range.
# Each min/max is one index probe on the primary key (per chunk on TimescaleDB).
STORED_RANGES_QUERY = """
SELECT r.symbol, r.exchange, r.interval, s.first AS stored_first, s.last AS stored_last
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
     AS r (symbol, exchange, interval, first, last)
CROSS JOIN LATERAL (
    SELECT min(o.timestamp) AS first, max(o.timestamp) AS last
    FROM ohlcv o
    WHERE o.symbol = r.symbol AND o.exchange = r.exchange AND o.interval = r.interval
      AND o.timestamp BETWEEN r.first AND r.last
) AS s
WHERE s.first IS NOT NULL
"""

CREATE_STAGE = "CREATE TEMP TABLE _ohlcv_stage (LIKE ohlcv INCLUDING DEFAULTS) ON COMMIT DROP"

# The merge, in two statements. A missing trade count in the new data (files have none) keeps the
# stored one. $1, $2 are the stage's first and last bar (TimescaleDB skips the other chunks); $3-$5
# the stage's symbols, exchanges and intervals: without them a hash join reads every series' bars of
# that time range (20-100 tokens share it) to merge a single token's gap.
MERGE_UPDATE = """
UPDATE ohlcv AS o
SET open = s.open, high = s.high, low = s.low, close = s.close, volume = s.volume,
    trades = coalesce(s.trades, o.trades)
FROM _ohlcv_stage AS s
WHERE o.symbol = s.symbol AND o.exchange = s.exchange AND o.interval = s.interval
  AND o.timestamp = s.timestamp AND o.timestamp BETWEEN $1 AND $2
  AND o.symbol = ANY($3::text[]) AND o.exchange = ANY($4::text[]) AND o.interval = ANY($5::text[])
  AND (o.open, o.high, o.low, o.close, o.volume, o.trades)
      IS DISTINCT FROM (s.open, s.high, s.low, s.close, s.volume, coalesce(s.trades, o.trades))
"""
MERGE_INSERT = """
INSERT INTO ohlcv (timestamp, symbol, exchange, interval, open, high, low, close, volume, trades)
SELECT s.timestamp, s.symbol, s.exchange, s.interval, s.open, s.high, s.low, s.close, s.volume, s.trades
FROM _ohlcv_stage AS s
WHERE NOT EXISTS (
    SELECT 1 FROM ohlcv AS o
    WHERE o.symbol = s.symbol AND o.exchange = s.exchange AND o.interval = s.interval
      AND o.timestamp = s.timestamp AND o.timestamp BETWEEN $1 AND $2
      AND o.symbol = ANY($3::text[]) AND o.exchange = ANY($4::text[]) AND o.interval = ANY($5::text[])
)
"""
# The same merge in one statement, safe against concurrent writers (the fallback). The WHERE clause
# skips rows whose values did not change, so the returned count is what actually changed.
MERGE_UPSERT = """
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


def merge_bounds(frame: pl.DataFrame) -> tuple[Any, ...]:
    """The parameters of :data:`MERGE_UPDATE` and :data:`MERGE_INSERT` for a staged frame."""
    return (
        frame["timestamp"].min(),
        frame["timestamp"].max(),
        *(frame[c].unique().to_list() for c in SERIES),
    )


def series_ranges(frame: pl.DataFrame) -> list[list[Any]]:
    """Per series of a prepared frame: symbols, exchanges, intervals, first and last times (as columns)."""
    ranges = frame.group_by(SERIES).agg(
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
    )
    return [ranges[c].to_list() for c in (*SERIES, "first", "last")]


def split_fresh(frame: pl.DataFrame, stored: Sequence[Any]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a prepared frame into (fresh, merge) rows given the rows of :data:`STORED_RANGES_QUERY`.

    A row is fresh when its series has no stored bar in the batch's range, or when it lies before
    the first or after the last stored bar of that range: then no stored bar can have its key.
    """
    if not stored:
        return frame, frame.clear()
    ranges = pl.DataFrame(
        [dict(row) for row in stored],
        schema={
            **{c: pl.String() for c in SERIES},
            "stored_first": pl.Datetime("us", "UTC"),
            "stored_last": pl.Datetime("us", "UTC"),
        },
        orient="row",
    ).with_columns(pl.col("stored_first", "stored_last").dt.cast_time_unit("ms"))
    # Row order does not matter to COPY or to the merge (keys are unique within a prepared frame).
    joined = frame.join(ranges, on=SERIES, how="left").with_columns(
        _inside=pl.col("timestamp").is_between("stored_first", "stored_last").fill_null(value=False)
    )
    fresh = joined.filter(~pl.col("_inside")).select(frame.columns)
    merge = joined.filter(pl.col("_inside")).select(frame.columns)
    return fresh, merge


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
    """Yield CSV chunks of ``frame`` (``COLUMNS`` order), encoding the next one in a worker thread."""
    frame = frame.select(COLUMNS)
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
