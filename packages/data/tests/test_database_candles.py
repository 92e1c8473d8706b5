"""The candle store against the real local PostgreSQL: COPY upsert, window reads, status and gaps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from algo_trade_core import CandleValidationError, DataError
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._database import DatabaseClient
from algo_trade_data.testing import temporary_client

T0 = datetime(2025, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
MakeCandles = Callable[..., pl.DataFrame]


async def count(db: DatabaseClient, where: str = "TRUE") -> int:
    async with db.pool.acquire() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM ohlcv WHERE {where}"))  # noqa: S608 - test SQL from constants


async def test_upsert_then_query_returns_the_same_bars(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("BTC", 300)
    assert await clean_db.upsert_candles(frame) == 300
    got = await clean_db.query_candles("BTC", "1m", T0, FAR)
    assert got.schema == CANDLE_FRAME_SCHEMA
    assert_frame_equal(got, frame)


async def test_query_window_is_half_open_and_ordered(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("ETH", 100)
    await clean_db.upsert_candles(frame.reverse())  # insertion order must not matter
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    got = await clean_db.query_candles("ETH", "1m", start, end)
    assert got["timestamp"].to_list() == [start + timedelta(minutes=i) for i in range(10)]
    assert_frame_equal(got, frame.slice(10, 10))


async def test_unknown_trade_counts_come_back_as_null(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("kBONK", 30, price=0.0213, trades=False)
    await clean_db.upsert_candles(frame)
    got = await clean_db.query_candles("kBONK", "1m", T0, FAR)
    assert got["trades"].null_count() == 30
    assert_frame_equal(got, frame, check_exact=True)


async def test_query_of_nothing_is_an_empty_candle_frame(clean_db: DatabaseClient) -> None:
    got = await clean_db.query_candles("NOPE", "1m", T0, FAR)
    assert got.height == 0
    assert got.schema == CANDLE_FRAME_SCHEMA


async def test_same_bars_twice_store_once_and_write_nothing_the_second_time(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("SOL", 250)
    assert await clean_db.upsert_candles(frame) == 250
    assert await clean_db.upsert_candles(frame) == 0
    assert await count(clean_db) == 250


async def test_updated_values_overwrite_stored_bars(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("SOL", 50)
    await clean_db.upsert_candles(frame)
    changed = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 5)
        .then(pl.col("high") * 1.01)
        .otherwise(pl.col("high"))
        .alias("high"),
        pl.when(pl.int_range(pl.len()) < 5)
        .then(pl.col("volume") + 1)
        .otherwise(pl.col("volume"))
        .alias("volume"),
    )
    # 5 changed bars + 10 new ones.
    more = make_candles("SOL", 60).slice(50, 10)
    assert await clean_db.upsert_candles(pl.concat([changed, more])) == 15
    got = await clean_db.query_candles("SOL", "1m", T0, FAR)
    assert_frame_equal(got, pl.concat([changed, more]))


async def test_duplicate_keys_within_one_frame_keep_the_last_row(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("DOGE", 20, price=0.2)
    last = frame.slice(3, 1).with_columns(volume=pl.lit(123.0))
    assert await clean_db.upsert_candles(pl.concat([frame, last])) == 20
    got = await clean_db.query_candles("DOGE", "1m", T0, FAR)
    assert got.height == 20
    assert got["volume"][3] == 123.0


async def test_a_frame_without_trade_counts_keeps_the_stored_ones(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("BTC", 10)
    await clean_db.upsert_candles(frame)
    await clean_db.upsert_candles(frame.drop("trades").with_columns(close=pl.col("close")))
    got = await clean_db.query_candles("BTC", "1m", T0, FAR)
    assert got["trades"].to_list() == frame["trades"].to_list()


async def test_series_are_kept_apart_by_symbol_exchange_and_interval(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    await clean_db.upsert_candles(make_candles("BTC", 10))
    await clean_db.upsert_candles(make_candles("BTC", 5, exchange="binance"))
    await clean_db.upsert_candles(make_candles("BTC", 3, interval="1h"))
    await clean_db.upsert_candles(make_candles("ETH", 7))
    assert (await clean_db.query_candles("BTC", "1m", T0, FAR)).height == 10
    assert (await clean_db.query_candles("BTC", "1m", T0, FAR, exchange="binance")).height == 5
    assert (await clean_db.query_candles("BTC", "1h", T0, FAR)).height == 3
    assert await clean_db.latest_candle_time("BTC", "1m") == T0 + timedelta(minutes=9)
    assert await clean_db.latest_candle_time("BTC", "1m", "binance") == T0 + timedelta(minutes=4)
    assert await clean_db.latest_candle_time("BTC", "1h") == T0 + timedelta(hours=2)
    assert await clean_db.latest_candle_time("ETH", "1h") is None


async def test_numeric_columns_keep_the_exact_decimals(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("kPEPE", 1).with_columns(
        open=pl.lit(0.000012345),
        high=pl.lit(0.000012399),
        low=pl.lit(0.0000123),
        close=pl.lit(0.00001235),
        volume=pl.lit(123456789012.5),
    )
    await clean_db.upsert_candles(frame)
    async with clean_db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT open, high, low, close, volume FROM ohlcv WHERE symbol = 'kPEPE'")
    assert dict(row) == {
        "open": Decimal("0.000012345"),
        "high": Decimal("0.000012399"),
        "low": Decimal("0.0000123"),
        "close": Decimal("0.00001235"),
        "volume": Decimal("123456789012.5"),
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"high": 1.0}, "high 1.0 is below low"),
        (
            {"open": 10.0, "high": 12.0, "low": 11.0, "close": 11.5},
            r"low 11.0 is above min\(open, close\) 10.0",
        ),
        (
            {"open": 10.0, "high": 11.0, "low": 9.0, "close": 11.5},
            r"high 11.0 is below max\(open, close\) 11.5",
        ),
        ({"close": float("nan")}, "close is not a finite number"),
        ({"open": -1.0}, "open must be positive"),
        ({"volume": -2.0}, "volume must be >= 0"),
    ],
)
async def test_an_invalid_bar_rejects_the_whole_frame(
    clean_db: DatabaseClient, make_candles: MakeCandles, values: dict[str, float], expected: str
) -> None:
    frame = make_candles("AVAX", 30, price=20.0)
    row = pl.int_range(pl.len()) == 17
    bad = frame.with_columns(pl.when(row).then(v).otherwise(pl.col(c)).alias(c) for c, v in values.items())
    with pytest.raises(CandleValidationError, match=expected) as info:
        await clean_db.upsert_candles(bad)
    assert "row 18 (AVAX 1m at 2025-01-01T00:17:00Z)" in str(info.value)
    assert await count(clean_db) == 0


async def test_frames_the_store_cannot_take_are_refused(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("ATOM", 5)
    with pytest.raises(DataError, match="timezone-aware"):
        await clean_db.upsert_candles(frame.with_columns(pl.col("timestamp").dt.replace_time_zone(None)))
    with pytest.raises(DataError, match="missing column"):
        await clean_db.upsert_candles(frame.drop("close"))
    with pytest.raises(DataError, match="unknown interval"):
        await clean_db.upsert_candles(frame.with_columns(interval=pl.lit("7m")))
    with pytest.raises(CandleValidationError, match="not aligned to the 1m interval"):
        await clean_db.upsert_candles(frame.with_columns(pl.col("timestamp") + timedelta(seconds=30)))
    assert await count(clean_db) == 0


async def test_the_table_itself_rejects_an_invalid_bar(clean_db: DatabaseClient) -> None:
    async with clean_db.pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO ohlcv (timestamp, symbol, interval, open, high, low, close, volume) "
                "VALUES (now(), 'X', '1m', 1, 1, 2, 1, 0)"
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO ohlcv (timestamp, symbol, interval, open, high, low, close, volume) "
                "VALUES (now(), 'X', '1m', 1, 'NaN', 1, 1, 0)"
            )


async def test_candle_status_counts_bars_and_finds_gaps(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("NEAR", 20)
    # Remove bar 5 (one missing) and bars 10-12 (three missing): two gaps, four missing bars.
    holes = frame.filter(~pl.int_range(pl.len()).is_in([5, 10, 11, 12]))
    await clean_db.upsert_candles(holes)
    await clean_db.upsert_candles(make_candles("NEAR", 48, interval="1h"))
    status = await clean_db.candle_status()
    assert [(s.symbol, s.interval) for s in status] == [("NEAR", "1m"), ("NEAR", "1h")]
    minute, hour = status
    assert (minute.bars, minute.gaps, minute.missing_bars) == (16, 2, 4)
    assert (minute.first, minute.last) == (T0, T0 + timedelta(minutes=19))
    assert minute.expected_bars == 20
    assert (hour.bars, hour.gaps, hour.missing_bars) == (48, 0, 0)
    assert [s.interval for s in await clean_db.candle_status(interval="1h")] == ["1h"]
    assert await clean_db.candle_status(symbol="BTC") == []


async def test_concurrent_upserts_of_the_same_bars_both_succeed(make_candles: MakeCandles) -> None:
    frame = make_candles("WLD", 2_000, price=1.2)
    async with temporary_client() as db:
        written = await asyncio.gather(db.upsert_candles(frame), db.upsert_candles(frame))
        assert sorted(written) in ([0, 2_000], [2_000, 2_000])
        assert_frame_equal(await db.query_candles("WLD", "1m", T0, FAR), frame)


async def test_a_bar_stored_meanwhile_by_another_session_is_merged(make_candles: MakeCandles) -> None:
    """The probe finds no stored bar in the range, but another session's insert commits before ours."""
    frame = make_candles("SEI", 100, price=0.3)
    async with temporary_client() as db:
        other = await asyncpg.connect(db._url)  # an independent session
        try:
            tx = other.transaction()
            await tx.start()
            bar = frame.row(5, named=True)
            await other.execute(
                "INSERT INTO ohlcv (timestamp, symbol, exchange, interval, open, high, low, close, volume) "
                "VALUES ($1, 'SEI', 'hyperliquid', '1m', $2, $3, $4, $5, 999999)",
                bar["timestamp"],
                *(Decimal(repr(bar[c])) for c in ("open", "high", "low", "close")),
            )
            upsert = asyncio.create_task(db.upsert_candles(frame))
            await _blocked_by(other)  # our INSERT waits on the other session's uncommitted bar
            await tx.commit()
            assert await upsert == 100  # 99 inserted + the other session's bar updated
        finally:
            await other.close()
        got = await db.query_candles("SEI", "1m", T0, FAR)
        assert_frame_equal(got, frame)


async def _blocked_by(conn: asyncpg.Connection, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
            "WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the upsert never waited for the other session")


async def test_candle_symbols_and_window_counts(clean_db: DatabaseClient, make_candles: MakeCandles) -> None:
    assert await clean_db.candle_symbols() == []
    await clean_db.upsert_candles(make_candles("kPEPE", 120, price=0.0123))
    await clean_db.upsert_candles(make_candles("BTC", 60))
    await clean_db.upsert_candles(make_candles("BTC", 10, interval="1h"))
    await clean_db.upsert_candles(make_candles("ETH", 30, exchange="synthetic"))
    assert await clean_db.candle_symbols() == ["BTC", "ETH", "kPEPE"]
    start, end = T0 + timedelta(minutes=30), T0 + timedelta(minutes=90)  # start <= t < end
    counts = await clean_db.count_candles(["BTC", "kPEPE", "ETH", "NOPE"], "1m", start, end)
    assert counts == {"BTC": 30, "kPEPE": 60, "ETH": 0, "NOPE": 0}
    assert await clean_db.count_candles(["ETH"], "1m", T0, FAR, "synthetic") == {"ETH": 30}
    assert await clean_db.count_candles(["BTC"], "1h", T0, FAR) == {"BTC": 10}


async def test_hourly_closes_are_each_hours_last_close_computed_in_the_database(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("SOL", 600, start=T0 + timedelta(minutes=7))  # 10 hours, not hour-aligned
    gap = (frame["timestamp"] >= T0 + timedelta(hours=3, minutes=30)) & (
        frame["timestamp"] < T0 + timedelta(hours=5, minutes=10)
    )
    frame = frame.filter(~gap)  # hour 4 has no bar, hour 3 ends early
    await clean_db.upsert_candles(frame)
    await clean_db.upsert_candles(make_candles("SOL", 50, start=T0, interval="1h"))  # another series
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=9, minutes=30)
    times, closes = await clean_db.query_hourly_closes("SOL", "1m", start, end)
    window = frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))
    expected = (
        window.group_by(pl.col("timestamp").dt.truncate("1h").alias("hour"), maintain_order=True)
        .agg(pl.col("close").last())
        .sort("hour")
    )
    assert times == [int(t.timestamp() * 1000) for t in expected["hour"]]
    assert closes == expected["close"].to_list()
    assert T0 + timedelta(hours=4) not in expected["hour"].to_list()
    # The plain PostgreSQL statement and TimescaleDB's (time_bucket + last) give the same closes.
    from algo_trade_data._db_candles import _HOURLY_CLOSES_PLAIN, _HOURLY_CLOSES_TIMESCALEDB

    variants = [_HOURLY_CLOSES_PLAIN] + ([_HOURLY_CLOSES_TIMESCALEDB] if clean_db.timescaledb_enabled else [])
    async with clean_db.pool.acquire() as conn:
        for query in variants:
            row = await conn.fetchrow(query, "SOL", "hyperliquid", "1m", start, end)
            assert (list(row[0]), list(row[1])) == (times, closes)
    # Hourly and longer bars are their own closes.
    hourly_times, hourly_closes = await clean_db.query_hourly_closes("SOL", "1h", T0, T0 + timedelta(hours=5))
    assert hourly_times == [int((T0 + timedelta(hours=h)).timestamp() * 1000) for h in range(5)]
    assert len(hourly_closes) == 5
    assert await clean_db.query_hourly_closes("SOL", "5m", T0, FAR) == ([], [])
