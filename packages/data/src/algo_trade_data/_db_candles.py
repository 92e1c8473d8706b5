"""The candle store: COPY-based upsert into ``ohlcv``, window reads into polars, symbols and counts.

What is stored and where it has gaps (status, the gap finder): :mod:`algo_trade_data._db_coverage`.

Write path (:meth:`CandleStoreMixin.upsert_candles`), one transaction: the frame is checked and
de-duplicated in polars (vectorised); rows outside the range of bars already stored for their series
are appended with ``COPY`` straight into ``ohlcv``, the others are staged and merged (changed bars
rewritten, missing ones added, unchanged ones untouched). :mod:`._candle_write` has the details.

Read path (:meth:`CandleStoreMixin.query_candles`): see :mod:`._candle_read`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from algo_trade_core import interval_to_ms
from algo_trade_data._db_base import _DatabaseBase, command_count, require_aware

if TYPE_CHECKING:
    import polars as pl

# polars (and the modules that move candles: ._candle_frames, ._candle_read, ._candle_write) is imported
# by the methods that move candles, not here: commands that only read results or the store's status
# start without it.
__all__ = ["CandleStoreMixin"]

_ANALYZE_STAGE_ROWS = 10_000

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


# The regime's closes (algo_trade_backtest.hourly_closes in SQL): for bars shorter than an hour the close
# of the last bar opened in each hour, keyed by the hour's start (epoch ms). Measured on 210 days of 1m
# bars (302,400 rows) on the 2-core machine: TimescaleDB's time_bucket + last() 165-175 ms, DISTINCT ON
# 240-370 ms, a lead() window over the primary key 260-560 ms; reading the rows alone costs about 80 ms.
_HOURLY_CLOSES_TIMESCALEDB = """
SELECT coalesce(array_agg((date_part('epoch', hour) * 1000)::int8 ORDER BY hour), '{}'),
       coalesce(array_agg(close::float8 ORDER BY hour), '{}')
FROM (
    SELECT time_bucket('1 hour', timestamp) AS hour, last(close, timestamp) AS close
    FROM ohlcv
    WHERE symbol = $1 AND exchange = $2 AND interval = $3 AND timestamp >= $4 AND timestamp < $5
    GROUP BY 1
) AS hours
"""
_HOURLY_CLOSES_PLAIN = """
SELECT coalesce(array_agg(hour_ms ORDER BY hour_ms), '{}'),
       coalesce(array_agg(close::float8 ORDER BY hour_ms), '{}')
FROM (
    SELECT DISTINCT ON (hour_ms) hour_ms, close
    FROM (
        SELECT (date_part('epoch', timestamp)::int8 / 3600) * 3600000 AS hour_ms, timestamp, close
        FROM ohlcv
        WHERE symbol = $1 AND exchange = $2 AND interval = $3 AND timestamp >= $4 AND timestamp < $5
    ) AS bars
    ORDER BY hour_ms, timestamp DESC
) AS hours
"""
_BAR_CLOSES_QUERY = """
SELECT coalesce(array_agg((date_part('epoch', timestamp) * 1000)::int8 ORDER BY timestamp), '{}'),
       coalesce(array_agg(close::float8 ORDER BY timestamp), '{}')
FROM ohlcv
WHERE symbol = $1 AND exchange = $2 AND interval = $3 AND timestamp >= $4 AND timestamp < $5
"""


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
        from algo_trade_data._candle_frames import prepare_candle_frame
        from algo_trade_data._candle_write import STORED_RANGES_QUERY, series_ranges, split_fresh

        if frame.height == 0:
            return 0
        prepared = await asyncio.to_thread(prepare_candle_frame, frame)
        ranges = series_ranges(prepared)
        async with self._transaction(f"upsert_candles ({prepared.height} rows)") as conn:
            fresh, merge = split_fresh(prepared, await conn.fetch(STORED_RANGES_QUERY, *ranges))
            written = 0
            if fresh.height:
                try:
                    async with conn.transaction():  # savepoint
                        await self._copy_csv(conn, "ohlcv", fresh)
                    written = fresh.height
                except asyncpg.UniqueViolationError:
                    # Another session stored some of these bars since the probe: merge them all.
                    merge = prepared
            if merge.height:
                written += await self._merge(conn, merge)
        return written

    async def _copy_csv(self, conn: Any, table: str, frame: pl.DataFrame) -> None:
        from algo_trade_data._candle_write import COLUMNS, csv_chunks

        async with asyncio.timeout(self._copy_timeout_s):
            await conn.copy_to_table(table, source=csv_chunks(frame), columns=COLUMNS, format="csv")

    async def _merge(self, conn: Any, frame: pl.DataFrame) -> int:
        """Stage ``frame`` and merge it into ``ohlcv``; return the rows inserted or changed."""
        from algo_trade_data._candle_write import (
            CREATE_STAGE,
            MERGE_INSERT,
            MERGE_UPDATE,
            MERGE_UPSERT,
            merge_bounds,
        )

        await conn.execute(CREATE_STAGE)
        await self._copy_csv(conn, "_ohlcv_stage", frame)
        if frame.height >= _ANALYZE_STAGE_ROWS:
            # A temporary table has no statistics; the planner needs them to pick a hash join for a
            # large merge (a few rows are probed through the primary key either way).
            await conn.execute("ANALYZE _ohlcv_stage")
        bounds = merge_bounds(frame)
        try:
            async with conn.transaction():  # savepoint
                updated = await conn.execute(MERGE_UPDATE, *bounds)
                inserted = await conn.execute(MERGE_INSERT, *bounds)
            return command_count(updated) + command_count(inserted)
        except asyncpg.UniqueViolationError:
            # A bar another session committed meanwhile: ON CONFLICT resolves it row by row.
            return command_count(await conn.execute(MERGE_UPSERT))

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
        from algo_trade_data._candle_read import WINDOW_QUERY, decode_window

        require_aware(start, "start")
        require_aware(end, "end")
        async with self._connection("query_candles") as conn:
            text = await conn.fetchval(WINDOW_QUERY, symbol, exchange, interval, start, end)
        return decode_window(text, symbol=symbol, exchange=exchange, interval=interval)

    async def query_hourly_closes(
        self,
        symbol: str,
        interval: str,
        start: datetime,
        end: datetime,
        exchange: str = "hyperliquid",
    ) -> tuple[list[int], list[float]]:
        """Return the closes a volatility regime is computed on, for bars with ``start <= t < end``.

        For bars shorter than an hour: the close of the last bar opened in each hour, keyed by the
        hour's start (epoch ms), computed in the database (one query, about 5,000 rows back for 210
        days of 1m bars, which it reads: 170 ms with TimescaleDB); for longer bars, each bar's open
        time and close. The same as ``algo_trade_backtest.hourly_closes`` on the bars themselves.
        """
        require_aware(start, "start")
        require_aware(end, "end")
        if interval_to_ms(interval) >= 3_600_000:
            query = _BAR_CLOSES_QUERY
        else:
            query = _HOURLY_CLOSES_TIMESCALEDB if self._timescaledb else _HOURLY_CLOSES_PLAIN
        async with self._connection("query_hourly_closes") as conn:
            row = await conn.fetchrow(query, symbol, exchange, interval, start, end)
        return list(row[0]), list(row[1])

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
