"""The candle store: COPY-based upsert into ``ohlcv``, fast window reads into polars, status and gaps.

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from algo_trade_core import INTERVALS, interval_to_ms
from algo_trade_data._db_base import _DatabaseBase, command_count, require_aware

if TYPE_CHECKING:
    import polars as pl

# polars is imported by the methods that move candles (from ._candle_frames), not here: commands that
# only read results or the store's status start without it.
__all__ = ["CandleStatus", "CandleStoreMixin"]

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

_STATUS_QUERY = """
WITH steps (interval, step_ms) AS (SELECT * FROM unnest($1::text[], $2::bigint[])),
deltas AS (
    SELECT symbol, exchange, interval, timestamp,
           (extract(epoch FROM timestamp - lag(timestamp) OVER (
               PARTITION BY symbol, exchange, interval ORDER BY timestamp)) * 1000)::bigint AS delta_ms
    FROM ohlcv
    WHERE ($3::text IS NULL OR symbol = $3)
      AND ($4::text IS NULL OR interval = $4)
      AND ($5::text IS NULL OR exchange = $5)
)
SELECT d.symbol, d.exchange, d.interval, count(*) AS bars,
       min(d.timestamp) AS first, max(d.timestamp) AS last,
       count(*) FILTER (WHERE d.delta_ms > s.step_ms) AS gaps,
       coalesce(sum(d.delta_ms / s.step_ms - 1) FILTER (WHERE d.delta_ms > s.step_ms), 0)::bigint
           AS missing_bars
FROM deltas d LEFT JOIN steps s ON s.interval = d.interval
GROUP BY d.symbol, d.exchange, d.interval, s.step_ms
ORDER BY d.symbol, d.exchange, s.step_ms NULLS LAST, d.interval
"""


# DISTINCT over the primary key's leading column as a loose index scan: a table of millions of bars holds
# a few dozen symbols, and each step finds the next one with one index probe.
_SYMBOLS_QUERY = """
WITH RECURSIVE symbols (symbol) AS (
    (SELECT symbol FROM ohlcv ORDER BY symbol LIMIT 1)
    UNION ALL
    SELECT (SELECT o.symbol FROM ohlcv o WHERE o.symbol > s.symbol ORDER BY o.symbol LIMIT 1)
    FROM symbols s WHERE s.symbol IS NOT NULL
)
SELECT symbol FROM symbols WHERE symbol IS NOT NULL
"""

_COUNT_QUERY = """
SELECT symbol, count(*) AS bars
FROM ohlcv
WHERE symbol = ANY($1::text[]) AND exchange = $2 AND interval = $3 AND timestamp >= $4 AND timestamp < $5
GROUP BY symbol
"""


@dataclass(frozen=True, kw_only=True, slots=True)
class CandleStatus:
    """What the store holds for one (symbol, exchange, interval) series.

    ``gaps`` counts runs of missing bars between ``first`` and ``last``; ``missing_bars`` counts the
    bars in them. Gaps before ``first`` or after ``last`` are not known to the store.
    """

    symbol: str
    exchange: str
    interval: str
    bars: int
    first: datetime
    last: datetime
    gaps: int
    missing_bars: int

    @property
    def expected_bars(self) -> int:
        """Bars from ``first`` to ``last`` inclusive at this interval."""
        step = timedelta(milliseconds=_gap_step_ms(self.interval))
        return (self.last - self.first) // step + 1

    @property
    def coverage(self) -> float:
        return self.bars / self.expected_bars if self.expected_bars else 0.0


def _gap_step_ms(interval: str) -> int:
    # A calendar month has up to 31 days; counting "1M" as 30 days would see a gap after every long month.
    return 31 * 86_400_000 if interval == "1M" else interval_to_ms(interval)


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
        from algo_trade_data._candle_frames import COLUMNS, csv_chunks, prepare_candle_frame, series_ranges

        if frame.height == 0:
            return 0
        prepared = await asyncio.to_thread(prepare_candle_frame, frame)
        ranges = series_ranges(prepared)
        async with self._transaction(f"upsert_candles ({prepared.height} rows)") as conn:
            await conn.execute(_CREATE_STAGE)
            async with asyncio.timeout(self._copy_timeout_s):
                await conn.copy_to_table(
                    "_ohlcv_stage", source=csv_chunks(prepared), columns=COLUMNS, format="csv"
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
        from algo_trade_data._candle_frames import decode_window

        require_aware(start, "start")
        require_aware(end, "end")
        async with self._connection("query_candles") as conn:
            text = await conn.fetchval(_WINDOW_QUERY, symbol, exchange, interval, start, end)
        return decode_window(text, symbol=symbol, exchange=exchange, interval=interval)

    async def candle_status(
        self,
        symbol: str | None = None,
        interval: str | None = None,
        exchange: str | None = None,
    ) -> list[CandleStatus]:
        """Return per (symbol, exchange, interval): bar count, first and last bar, gaps and missing bars.

        Gaps are found in SQL (``lag()`` over each series); filters narrow the series looked at.
        """
        names = list(INTERVALS)
        steps = [_gap_step_ms(name) for name in names]
        async with self._connection("candle_status") as conn:
            rows = await conn.fetch(_STATUS_QUERY, names, steps, symbol, interval, exchange)
        return [CandleStatus(**_status_fields(r)) for r in rows]

    async def candle_symbols(self) -> list[str]:
        """Return the symbols the store holds candles of, sorted (one index probe per symbol)."""
        async with self._connection("candle_symbols") as conn:
            rows = await conn.fetch(_SYMBOLS_QUERY)
        return [r["symbol"] for r in rows]

    async def count_candles(
        self,
        symbols: Sequence[str],
        interval: str,
        start: datetime,
        end: datetime,
        exchange: str = "hyperliquid",
    ) -> dict[str, int]:
        """Return how many bars of each symbol lie in ``start <= timestamp < end`` (0 when none)."""
        require_aware(start, "start")
        require_aware(end, "end")
        async with self._connection("count_candles") as conn:
            rows = await conn.fetch(_COUNT_QUERY, list(symbols), exchange, interval, start, end)
        counts = {symbol: 0 for symbol in symbols}
        counts.update({r["symbol"]: int(r["bars"]) for r in rows})
        return counts


def _status_fields(row: Any) -> dict[str, Any]:
    fields = dict(row)
    return {**fields, "bars": int(fields["bars"]), "gaps": int(fields["gaps"])}
