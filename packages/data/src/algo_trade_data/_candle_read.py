"""The read path of the candle store: one window of bars, from ``ohlcv`` into polars.

The server renders the window as ONE CSV text value (``string_agg``) that polars' CSV reader parses.
Measured on the 2-core machine against the alternatives (server CPU per 43,200-bar window, same run):

- ``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` sends one message per row; asyncpg spends about
  8 ms of client CPU on 43,200 of them, and the NUMERIC fields are variable-length, so the stream
  cannot be read as one numpy structured array without a per-row parser.
- casting to ``float8`` in the SELECT makes every field fixed-width, but PostgreSQL 15 converts
  NUMERIC to float8 by printing and re-parsing text: 48 ms of server CPU against 40 ms for the CSV text.
- ``array_agg`` per column: 54-70 ms (an allocation per element).
- storing the prices as ``float8`` instead (measured on a copy of the table): a binary COPY still
  costs 25 ms of server CPU and its text 43 ms; PostgreSQL's per-value output cost, not NUMERIC,
  sets the floor.

The time goes to producing ~216,000 values in PostgreSQL (about 9 ms of it is the index scan itself),
which no wire format avoids while prices are stored as NUMERIC.

Precision: the store holds the decimal each price had when it was written (the shortest decimal that
round-trips the float64 the writer had, which for an exchange quote of up to 15 significant digits is
the quoted decimal). The text carries that decimal, and polars parses it to the nearest float64, so the
engine sees exactly the float64 that was written. Epoch milliseconds go through ``date_part`` (float8,
exact for whole milliseconds), far cheaper to format and parse than timestamptz text.
"""

from __future__ import annotations

import io

import polars as pl

from algo_trade_data._candle_checks import VALUE_COLUMNS
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA

__all__ = ["WINDOW_QUERY", "decode_window"]

# A missing trade count is an empty field (concat_ws would drop NULLs). The ORDER BY is served by the
# primary key (symbol, exchange, interval, timestamp): an index scan in order, no sort, as long as the
# planner prefers it to a bitmap scan (random_page_cost, see the pool's server settings).
WINDOW_QUERY = """
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


def decode_window(text: str | None, *, symbol: str, exchange: str, interval: str) -> pl.DataFrame:
    """Parse the CSV text of :data:`WINDOW_QUERY` into a candle frame (``CANDLE_FRAME_SCHEMA``)."""
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
