"""The candle write path against the real local PostgreSQL: fresh rows appended, the rest merged.

``upsert_candles`` appends the rows outside the stored range of their series with COPY straight into
``ohlcv`` and merges the others through a staging table (see ``algo_trade_data._candle_write``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from algo_trade_data import _candle_write
from algo_trade_data._database import DatabaseClient
from algo_trade_data.testing import temporary_client, wait_for

T0 = datetime(2025, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
MakeCandles = Callable[..., pl.DataFrame]


def rows(frame: pl.DataFrame, *indexes: int) -> pl.Expr:
    return pl.int_range(pl.len()).is_in(list(indexes))


async def test_reimported_bars_are_neither_rewritten_nor_locked(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    """``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` locked every stored bar it skipped (xmax set)."""
    frame = make_candles("BTC", 120)
    await clean_db.upsert_candles(frame)
    async with clean_db.pool.acquire() as conn:
        before = await conn.fetch("SELECT timestamp, xmin::text FROM ohlcv ORDER BY timestamp")
    assert await clean_db.upsert_candles(frame) == 0
    async with clean_db.pool.acquire() as conn:
        after = await conn.fetch("SELECT timestamp, xmin::text FROM ohlcv ORDER BY timestamp")
        locked = await conn.fetchval("SELECT count(*) FROM ohlcv WHERE xmax <> '0'::xid")
    assert after == before  # no row version was written
    assert locked == 0, f"{locked} unchanged bars were locked by the re-import"


async def test_a_batch_around_the_stored_range_appends_outside_and_merges_inside(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    full = make_candles("ETH", 60)
    # Stored: bars 20..39 without 25 and 30 (two holes inside the stored range).
    holes = [full["timestamp"][25], full["timestamp"][30]]
    stored = full.slice(20, 20).filter(~pl.col("timestamp").is_in(holes))
    await clean_db.upsert_candles(stored)
    # The batch: every bar, with bars 21 and 22 changed (volume) and bar 23 as stored.
    batch = full.with_columns(
        volume=pl.when(rows(full, 21, 22)).then(pl.col("volume") + 1).otherwise(pl.col("volume"))
    )
    written = await clean_db.upsert_candles(batch)
    # 20 before + 20 after the stored range (appended), 2 holes filled + 2 changed (merged).
    assert written == 20 + 20 + 2 + 2
    assert_frame_equal(await clean_db.query_candles("ETH", "1m", T0, FAR), batch)


async def test_a_series_without_stored_bars_in_the_batch_range_is_appended_whole(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    old = make_candles("SOL", 10)
    new = make_candles("SOL", 30).slice(20, 10)  # after a gap: no stored bar in its range
    other = make_candles("BTC", 30)
    await clean_db.upsert_candles(pl.concat([old, other.slice(0, 15)]))
    assert await clean_db.upsert_candles(pl.concat([new, other])) == 10 + 15
    assert_frame_equal(await clean_db.query_candles("SOL", "1m", T0, FAR), pl.concat([old, new]))
    assert_frame_equal(await clean_db.query_candles("BTC", "1m", T0, FAR), other)


def test_split_fresh_keeps_only_rows_inside_a_stored_range_for_the_merge(make_candles: MakeCandles) -> None:
    frame = pl.concat(
        [make_candles("BTC", 10), make_candles("ETH", 10), make_candles("BTC", 5, interval="1h")]
    )
    stored = [
        {
            "symbol": "BTC",
            "exchange": "hyperliquid",
            "interval": "1m",
            "stored_first": T0 + timedelta(minutes=3),
            "stored_last": T0 + timedelta(minutes=5),
        }
    ]
    fresh, merge = _candle_write.split_fresh(frame, stored)
    assert merge.select("symbol", "interval").unique().rows() == [("BTC", "1m")]
    assert sorted(merge["timestamp"].to_list()) == [T0 + timedelta(minutes=m) for m in (3, 4, 5)]
    assert fresh.height == frame.height - 3
    assert fresh.schema == frame.schema
    everything, nothing = _candle_write.split_fresh(frame, [])
    assert (everything.height, nothing.height) == (frame.height, 0)


async def test_a_gap_filled_meanwhile_by_another_session_is_merged(make_candles: MakeCandles) -> None:
    """The merge's INSERT meets a bar another session commits after our probe: ON CONFLICT resolves it."""
    frame = make_candles("SEI", 100, price=0.3)
    async with temporary_client() as db:
        await db.upsert_candles(frame.filter(~rows(frame, 50)))
        other = await asyncpg.connect(db._url)  # an independent session
        try:
            tx = other.transaction()
            await tx.start()
            bar = frame.row(50, named=True)
            await other.execute(
                "INSERT INTO ohlcv (timestamp, symbol, exchange, interval, open, high, low, close, volume) "
                "VALUES ($1, 'SEI', 'hyperliquid', '1m', $2, $3, $4, $5, 999999)",
                bar["timestamp"],
                *(Decimal(repr(bar[c])) for c in ("open", "high", "low", "close")),
            )
            upsert = asyncio.create_task(db.upsert_candles(frame))
            await wait_for(lambda: _waits_for(other), what="the upsert to wait for the other session")
            await tx.commit()
            assert await upsert == 1  # the other session's bar, updated to our values
        finally:
            await other.close()
        assert_frame_equal(await db.query_candles("SEI", "1m", T0, FAR), frame)


async def _waits_for(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
            "WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
        )
    )


class EncoderFailure(RuntimeError):
    pass


@pytest.mark.parametrize("stored_first", [False, True], ids=["fresh-copy", "merge-copy"])
async def test_an_interrupted_copy_leaves_the_store_intact(
    clean_db: DatabaseClient,
    make_candles: MakeCandles,
    monkeypatch: pytest.MonkeyPatch,
    stored_first: bool,
) -> None:
    frame = make_candles("ADA", 50, price=0.5)
    if stored_first:  # the batch lies inside the stored range: it goes to the staging table
        await clean_db.upsert_candles(frame)
    stored = await clean_db.query_candles("ADA", "1m", T0, FAR)
    encode = _candle_write._encode_csv
    calls = 0

    def fail_on_second_chunk(chunk: pl.DataFrame) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise EncoderFailure("the source failed mid-COPY")
        return encode(chunk)

    monkeypatch.setattr(_candle_write, "_CSV_CHUNK_ROWS", 10)
    monkeypatch.setattr(_candle_write, "_encode_csv", fail_on_second_chunk)
    with pytest.raises(EncoderFailure):
        await clean_db.upsert_candles(frame.with_columns(volume=pl.col("volume") + 1))
    assert calls == 2
    assert_frame_equal(await clean_db.query_candles("ADA", "1m", T0, FAR), stored)
    monkeypatch.undo()
    assert await clean_db.upsert_candles(frame) == (0 if stored_first else 50)  # the pool still serves
