"""The one gap finder (SQL over ohlcv) and what status makes of it: holes, edges, unrecoverable parts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from algo_trade_core import datetime_to_ms, ms_to_datetime
from algo_trade_data._database import DatabaseClient
from algo_trade_data._db_coverage import CandleGap, summarize_gaps
from algo_trade_data._ratelimit import earliest_available_ms

MakeCandles = Callable[..., pl.DataFrame]
T0 = datetime(2025, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def without(frame: pl.DataFrame, *ranges: tuple[int, int]) -> pl.DataFrame:
    """``frame`` minus the rows whose index lies in any [first, last] range."""
    keep = pl.int_range(pl.len())
    mask = pl.lit(True)
    for first, last in ranges:
        mask = mask & ~keep.is_between(first, last)
    return frame.filter(mask)


async def test_interior_gaps_of_each_series(clean_db: DatabaseClient, make_candles: MakeCandles) -> None:
    await clean_db.upsert_candles(without(make_candles("BTC", 100), (10, 14), (50, 50)))
    await clean_db.upsert_candles(without(make_candles("ETH", 48, interval="1h"), (5, 6)))
    await clean_db.upsert_candles(make_candles("SOL", 30))
    gaps = await clean_db.candle_gaps()
    assert [(g.symbol, g.interval, g.start, g.end, g.bars) for g in gaps] == [
        ("BTC", "1m", T0 + 10 * MINUTE, T0 + 14 * MINUTE, 5),
        ("BTC", "1m", T0 + 50 * MINUTE, T0 + 50 * MINUTE, 1),
        ("ETH", "1h", T0 + timedelta(hours=5), T0 + timedelta(hours=6), 2),
    ]
    assert await clean_db.candle_gaps("BTC", "1m", start=T0 + 20 * MINUTE) == gaps[1:2]
    assert await clean_db.candle_gaps(["SOL"]) == []
    assert summarize_gaps(gaps[:2]) == (
        "2 gaps, 6 bars (5 bars 2025-01-01 00:10 .. 00:14 UTC, 1 bar 2025-01-01 00:50 .. 00:50 UTC)"
    )


async def test_edges_count_the_bars_missing_at_both_ends(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    await clean_db.upsert_candles(without(make_candles("BTC", 100), (0, 9), (40, 44), (90, 99)))
    gaps = await clean_db.candle_gaps(
        "BTC", "1m", start=T0 + 30 * MINUTE / 60, end=T0 + 99 * MINUTE + MINUTE / 2, edges=True
    )
    assert [(g.start, g.bars) for g in gaps] == [
        (T0 + MINUTE, 9),  # from the first bar at or after start (00:00:30 -> 00:01) to bar 9
        (T0 + 40 * MINUTE, 5),
        (T0 + 90 * MINUTE, 10),
    ]
    # A series with nothing stored in the range is one gap over all of it.
    [empty] = await clean_db.candle_gaps("NOPE", "1m", start=T0, end=T0 + 59 * MINUTE, edges=True)
    assert (empty.symbol, empty.exchange, empty.start, empty.bars) == ("NOPE", "hyperliquid", T0, 60)
    with pytest.raises(ValueError, match="edges=True"):
        await clean_db.candle_gaps("BTC", "1m", edges=True)


async def test_calendar_months_are_not_gaps(clean_db: DatabaseClient, make_candles: MakeCandles) -> None:
    months = [datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3, 5, 6, 7)]  # April missing
    frame = make_candles("BTC", len(months), interval="1h").with_columns(
        pl.Series("timestamp", months, dtype=pl.Datetime("ms", "UTC")), pl.lit("1M").alias("interval")
    )
    await clean_db.upsert_candles(frame)
    [gap] = await clean_db.candle_gaps("BTC", "1M")
    assert (gap.start, gap.end, gap.bars) == (months[3].replace(month=4), months[3].replace(month=4), 1)


def test_a_gap_splits_at_the_exchanges_oldest_bar() -> None:
    gap = CandleGap(symbol="BTC", exchange="hyperliquid", interval="1m", start=T0, end=T0 + 9 * MINUTE)
    old, new = gap.split(datetime_to_ms(T0 + 4 * MINUTE) - 30_000)  # mid-bar: bar 4 is the first served
    assert old is not None
    assert new is not None
    assert (old.start, old.end, new.start, new.end) == (T0, T0 + 3 * MINUTE, T0 + 4 * MINUTE, T0 + 9 * MINUTE)
    assert gap.split(datetime_to_ms(T0)) == (None, gap)
    assert gap.split(datetime_to_ms(T0 + 10 * MINUTE)) == (gap, None)


async def test_status_separates_the_unrecoverable_gaps(
    clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    now = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
    earliest = ms_to_datetime(earliest_available_ms("1m", datetime_to_ms(now)))
    start = earliest - 100 * MINUTE
    frame = make_candles("BTC", 300, start=start)
    # One hole long before the exchange's window, one across its edge, one inside it.
    await clean_db.upsert_candles(without(frame, (10, 19), (95, 104), (200, 202)))
    await clean_db.upsert_candles(without(make_candles("BTC", 50, exchange="binance"), (5, 5)))
    status = {s.exchange: s for s in await clean_db.candle_status("BTC", now=now)}
    hl = status["hyperliquid"]
    assert (hl.gaps, hl.missing_bars) == (3, 23)
    assert (hl.unrecoverable_gaps, hl.unrecoverable_bars) == (2, 15)  # 10 + the 5 bars before the edge
    assert hl.repairable_bars == 8
    other = status["binance"]  # not the exchange we can fetch from: nothing of it is repairable
    assert (other.gaps, other.unrecoverable_gaps, other.unrecoverable_bars) == (1, 1, 1)
