"""The read path of the candle store: one window of bars, from ``ohlcv`` into polars.

The server packs the window into ONE ``bytea``: per bar, oldest first, ``timestamptz_send`` of the open
time, ``numeric_send`` of open, high, low, close and volume, and ``int4send`` of the trade count (-1
when unknown); ``algo_trade_data._numeric_wire`` decodes it in one jitted pass. Measured on the 2-core
machine, same process, alternating (2026-12-03):

- a 30-day window (43,200 bars, prices at 5 significant figures like the exchange's): the server takes
  the same 46 ms (median) for this binary form as for the window as CSV text (the read path before
  it); the client decodes it in 4 ms where polars' CSV parser took 11 ms;
- long decimals cost the text form more: for 10,080 bars of 17-digit prices, 11.7 ms binary against
  14.8 ms as text;
- ``float8send`` of the prices cast to float8: 18.2 ms for the same 10,080 bars (PostgreSQL 15 casts
  NUMERIC to float8 by printing and re-parsing text); the index scan alone is 4.4 ms of them.

What remains is the scan and PostgreSQL's per-value output (about 1 µs per bar on this machine).

Earlier measurements (per 43,200-bar window): ``COPY ... (FORMAT binary)`` sends one message per row
(8 ms of client CPU in asyncpg for 43,200 of them); ``array_agg`` per column 54-70 ms; prices stored
as ``float8`` still cost 25 ms in a binary COPY.

Precision: the store holds the decimal each price had when it was written (the shortest decimal that
round-trips the float64 the writer had, which for an exchange quote of up to 15 significant digits is
the quoted decimal). The decoder turns each decimal into its nearest float64 (see ``_numeric_wire``),
so the engine sees exactly the float64 that was written.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from algo_trade_data._binary_rows import pg_time_to_ms
from algo_trade_data._candle_checks import VALUE_COLUMNS
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._numeric_wire import decode_rows

__all__ = ["WINDOW_QUERY", "decode_window"]

# The ORDER BY is served by the primary key (symbol, exchange, interval, timestamp): an index scan in
# order, no sort, as long as the planner prefers it to a bitmap scan (random_page_cost, see the pool's
# server settings). The CHECK on trades (>= 0) leaves -1 free to mean "unknown".
WINDOW_QUERY = """
SELECT string_agg(
           timestamptz_send(timestamp) || numeric_send(open) || numeric_send(high) || numeric_send(low)
           || numeric_send(close) || numeric_send(volume) || int4send(coalesce(trades, -1)),
           ''::bytea)
FROM (
    SELECT timestamp, open, high, low, close, volume, trades
    FROM ohlcv
    WHERE symbol = $1 AND exchange = $2 AND interval = $3 AND timestamp >= $4 AND timestamp < $5
    ORDER BY timestamp
) AS bars
"""


def decode_window(raw: bytes | None, *, symbol: str, exchange: str, interval: str) -> pl.DataFrame:
    """Decode the bytes of :data:`WINDOW_QUERY` into a candle frame (``CANDLE_FRAME_SCHEMA``).

    Raises:
        ValueError: bytes that are not whole rows (names the row where they end).
    """
    if not raw:
        return pl.DataFrame(schema=CANDLE_FRAME_SCHEMA)
    rows = decode_rows(raw, "tnnnnni")
    trades = pl.Series("trades", rows.ints[:, 1], dtype=pl.Int64)
    return pl.DataFrame(
        {
            "timestamp": pl.Series("timestamp", pg_time_to_ms(rows.ints[:, 0])).cast(
                pl.Datetime("ms", "UTC")
            ),
            "symbol": pl.Series("symbol", [symbol], dtype=pl.String).new_from_index(0, len(trades)),
            "exchange": pl.Series("exchange", [exchange], dtype=pl.String).new_from_index(0, len(trades)),
            "interval": pl.Series("interval", [interval], dtype=pl.String).new_from_index(0, len(trades)),
            **{name: np.ascontiguousarray(rows.floats[:, k]) for k, name in enumerate(VALUE_COLUMNS)},
            "trades": pl.select(pl.when(trades >= 0).then(trades)).to_series(),
        },
        schema=CANDLE_FRAME_SCHEMA,
    )
