"""The candle read path against the real local PostgreSQL: values, boundaries and the query plan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from algo_trade_data._candle_read import WINDOW_QUERY, decode_window
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._database import DatabaseClient

T0 = datetime(2025, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
MakeCandles = Callable[..., pl.DataFrame]


async def test_extreme_values_come_back_as_the_float64_that_was_written(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("kPEPE", 4, trades=False).with_columns(
        # 17 significant digits, sub-satoshi prices, a memecoin's base volume, a null trade count.
        open=pl.Series([0.1 + 0.2, 1.2345e-12, 98765.4321, 2.5]),
        high=pl.Series([0.30000000000000010, 1.2399e-12, 98765.4321, 3.0]),
        low=pl.Series([0.1 + 0.2, 1.23e-12, 98765.4321, 2.0]),
        close=pl.Series([0.30000000000000004, 1.235e-12, 98765.4321, 2.0]),
        volume=pl.Series([0.0, 123456789012345.6, 1e-8, 7.0]),
        trades=pl.Series([None, 0, 2_000_000_000, None], dtype=pl.Int64),
    )
    await clean_db.upsert_candles(frame)
    got = await clean_db.query_candles("kPEPE", "1m", T0, FAR)
    assert_frame_equal(got, frame, check_exact=True)


async def test_the_window_holds_its_start_and_not_its_end(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    frame = make_candles("ETH", 30)
    await clean_db.upsert_candles(frame)
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(minutes=8)
    assert (await clean_db.query_candles("ETH", "1m", start, end))["timestamp"].to_list() == [
        start,
        start + timedelta(minutes=1),
        start + timedelta(minutes=2),
    ]
    # A window between two bars, one that ends where the data starts, and an inverted one: empty.
    between = T0 + timedelta(minutes=5, seconds=30)
    for lo, hi in ((between, between + timedelta(seconds=20)), (T0 - timedelta(hours=1), T0), (end, start)):
        empty = await clean_db.query_candles("ETH", "1m", lo, hi)
        assert empty.height == 0
        assert empty.schema == CANDLE_FRAME_SCHEMA


def test_decoding_no_text_is_an_empty_candle_frame() -> None:
    for text in (None, ""):
        frame = decode_window(text, symbol="BTC", exchange="hyperliquid", interval="1m")
        assert frame.height == 0
        assert frame.schema == CANDLE_FRAME_SCHEMA


async def test_a_window_is_read_in_index_order_without_a_sort(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    """With ten tokens stored, the default planner costs read a window by bitmap scan and then sort it.

    The sort (spilled to disk for a 30-day 1m window) took a third of the read; the pool's
    random_page_cost makes the in-order index scan of the primary key the plan.
    """
    frames = [make_candles(f"T{i}", 3_000, seed=i) for i in range(10)]
    await clean_db.upsert_candles(pl.concat(frames))
    async with clean_db.pool.acquire() as conn:
        await conn.execute("ANALYZE ohlcv")
        # The first executions of a statement on a connection are planned with their values.
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                f"EXPLAIN {WINDOW_QUERY}", "T3", "hyperliquid", "1m", T0, T0 + timedelta(days=1)
            )
        )
    assert "Sort" not in plan, plan
    assert "Index Scan" in plan, plan
