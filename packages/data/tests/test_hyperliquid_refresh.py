"""Incremental refresh against the fake exchange, with an in-memory CandleStore."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl
import pytest

from algo_trade_core import HyperliquidConfig, datetime_to_ms, interval_to_ms
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._db_coverage import CandleGap
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._ratelimit import WeightRateLimiter
from algo_trade_data._refresh import CandleStore, refresh_candles, refresh_many
from algo_trade_data.testing import FakeHyperliquid, ManualClock, fake_candles

MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000  # 2025-07-20 08:00 UTC
BARS = 6_000


def dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def bar(i: int) -> int:
    return T0 + i * MINUTE


class MemoryStore:
    """The smallest CandleStore: one frame per (symbol, interval, exchange), upsert keyed on timestamp."""

    def __init__(self) -> None:
        self.frames: dict[tuple[str, str, str], pl.DataFrame] = {}
        self.upserts: list[int] = []

    async def latest_candle_time(
        self, symbol: str, interval: str, exchange: str = "hyperliquid"
    ) -> datetime | None:
        frame = self.frames.get((symbol, interval, exchange))
        if frame is None or frame.height == 0:
            return None
        latest: datetime = frame["timestamp"].max()  # type: ignore[assignment]
        return latest

    async def upsert_candles(self, frame: pl.DataFrame) -> int:
        assert frame.schema == CANDLE_FRAME_SCHEMA
        for (symbol, interval, exchange), part in frame.group_by(["symbol", "interval", "exchange"]):
            key = (str(symbol), str(interval), str(exchange))
            old = self.frames.get(key)
            merged = part if old is None else pl.concat([old, part])
            self.frames[key] = merged.unique("timestamp", keep="last", maintain_order=True).sort("timestamp")
        self.upserts.append(frame.height)
        return frame.height

    async def candle_gaps(
        self,
        symbols: str | Iterable[str] | None = None,
        interval: str | None = None,
        exchange: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        edges: bool = False,
    ) -> list[CandleGap]:
        """Missing 1m-grid bars of one series between ``start`` and ``end`` (what refresh asks for)."""
        assert isinstance(symbols, str)
        assert interval is not None
        assert start is not None
        assert end is not None
        step = interval_to_ms(interval)
        frame = self.frames.get((symbols, interval, exchange or "hyperliquid"))
        have = set() if frame is None else set(frame["timestamp"].dt.epoch("ms").to_list())
        missing = [t for t in range(datetime_to_ms(start), datetime_to_ms(end) + 1, step) if t not in have]
        gaps: list[CandleGap] = []
        for t in missing:
            if gaps and datetime_to_ms(gaps[-1].end) == t - step:
                gaps[-1] = replace(gaps[-1], end=dt(t))
            else:
                gaps.append(
                    CandleGap(
                        symbol=symbols, exchange="hyperliquid", interval=interval, start=dt(t), end=dt(t)
                    )
                )
        return gaps

    def frame(self, symbol: str, interval: str = "1m") -> pl.DataFrame:
        return self.frames[(symbol, interval, "hyperliquid")]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def source() -> pl.DataFrame:
    return fake_candles(T0, BARS, "1m", price=50.0, seed=3)


@pytest.fixture
async def fake(clock: ManualClock, source: pl.DataFrame) -> AsyncIterator[FakeHyperliquid]:
    async with FakeHyperliquid(now_ms=bar(BARS - 1) + 30_000, clock=clock.monotonic) as server:
        for coin in ("BTC", "ETH", "SOL"):
            server.add_candles(coin, "1m", source)
        yield server


@pytest.fixture
async def client(fake: FakeHyperliquid, clock: ManualClock) -> AsyncIterator[HyperliquidClient]:
    cfg = HyperliquidConfig(
        api_url=fake.url, max_retries=1, backoff_base_s=0.1, backoff_max_s=0.2, max_concurrency=2
    )
    limiter = WeightRateLimiter(1200, clock=clock.monotonic, sleep=clock.sleep)
    async with HyperliquidClient(
        cfg, limiter=limiter, now_ms=lambda: fake.now_ms, sleep=clock.sleep, rng=random.Random(1)
    ) as c:
        yield c


def test_memory_store_satisfies_the_protocol() -> None:
    store: CandleStore = MemoryStore()  # mypy checks the signatures; this checks it is importable
    assert store is not None


async def test_first_refresh_fetches_the_window(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    store = MemoryStore()
    report = await refresh_candles(client, store, "BTC", "1m", dt(bar(5_000)), dt(bar(5_999)))
    assert report.fetched == 999  # bar 5999 is still forming
    assert report.stored == 999
    assert report.new_bars == 999
    assert report.latest_before is None
    assert report.fetch_start == dt(bar(5_000))
    assert report.first_bar == dt(bar(5_000))
    assert report.last_bar == dt(bar(5_998))
    assert not report.truncated
    assert "fetched 999 bars" in report.message
    assert store.frame("BTC").height == 999


async def test_second_refresh_asks_only_for_the_missing_tail(
    fake: FakeHyperliquid, client: HyperliquidClient, source: pl.DataFrame
) -> None:
    store = MemoryStore()
    await refresh_candles(client, store, "BTC", "1m", dt(bar(5_000)), None)
    fake.now_ms = bar(5_999) + 10 * MINUTE  # ten minutes later (bars up to 5999 have closed)
    fake.add_candles("BTC", "1m", fake_candles(bar(BARS), 20, "1m", price=50.0, seed=4))
    before = len(fake.requests)
    report = await refresh_candles(client, store, "BTC", "1m", dt(bar(5_000)), None)
    [request] = fake.requests[before:]
    assert request.body["req"]["startTime"] == bar(5_998)  # the latest stored bar, fetched again
    assert report.latest_before == dt(bar(5_998))
    assert report.fetched == 11  # 5998 again + 5999..6008
    assert report.new_bars == 10
    frame = store.frame("BTC")
    assert frame["timestamp"].to_list() == [dt(bar(i)) for i in range(5_000, 6_009)]  # no gap, no duplicate
    assert frame["close"].head(999).to_list() == source["close"].slice(5_000, 999).to_list()


async def test_up_to_date_store_makes_no_request(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    store = MemoryStore()
    await refresh_candles(client, store, "BTC", "1m", dt(bar(5_500)), None)
    before = len(fake.requests)
    report = await refresh_candles(client, store, "BTC", "1m", dt(bar(5_500)), None)
    assert len(fake.requests) == before
    assert report.fetch_start is None
    assert report.fetched == 0
    assert "up to date" in report.message
    # An end before the latest stored bar also needs nothing.
    report = await refresh_candles(client, store, "BTC", "1m", dt(bar(5_500)), dt(bar(5_600)))
    assert len(fake.requests) == before
    assert "nothing to fetch" in report.message


async def test_window_older_than_the_exchange_keeps_is_reported_truncated(
    fake: FakeHyperliquid, client: HyperliquidClient
) -> None:
    store = MemoryStore()
    report = await refresh_candles(client, store, "BTC", "1m", dt(T0), None)
    assert report.truncated
    assert report.earliest_available == dt(bar(1_000))  # 5000 bars up to the forming one
    assert report.first_bar == dt(bar(1_000))
    assert report.fetched == 4_999
    assert "5000 1m bars" in report.message
    assert "nothing before 2025-07-21 00:40 UTC can be fetched" in report.message
    assert "data import" in report.message
    assert store.frame("BTC").height == 4_999


async def test_a_bar_stored_while_forming_is_healed(
    fake: FakeHyperliquid, client: HyperliquidClient, source: pl.DataFrame
) -> None:
    store = MemoryStore()
    await refresh_candles(client, store, "BTC", "1m", dt(bar(5_900)), dt(bar(5_997)))
    # The live recorder wrote bar 5998 while it was forming (wrong close).
    forming = (
        store.frame("BTC")
        .tail(1)
        .with_columns(
            pl.lit(dt(bar(5_998))).cast(pl.Datetime("ms", "UTC")).alias("timestamp"),
            pl.lit(1.0).alias("close"),
        )
    )
    await store.upsert_candles(forming.cast(CANDLE_FRAME_SCHEMA))
    fake.now_ms = bar(6_000) + 1
    report = await refresh_candles(client, store, "BTC", "1m", dt(bar(5_900)), None)
    assert report.new_bars == 1  # bar 5999
    healed = store.frame("BTC").filter(pl.col("timestamp") == dt(bar(5_998)))
    assert healed["close"].to_list() == [source["close"][5_998]]


async def test_unknown_coin_reports_no_bars(client: HyperliquidClient) -> None:
    store = MemoryStore()
    report = await refresh_candles(client, store, "NOPE", "1m", dt(bar(5_900)), None)
    assert report.fetched == 0
    assert "returned no closed bars" in report.message
    assert store.upserts == []


async def test_naive_datetimes_are_refused(client: HyperliquidClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await refresh_candles(client, MemoryStore(), "BTC", "1m", datetime(2025, 7, 20), None)  # noqa: DTZ001


async def test_refresh_many_records_failures_and_goes_on(
    fake: FakeHyperliquid, client: HyperliquidClient
) -> None:
    store = MemoryStore()
    fake.inject("high_below_low", 5, coin="ETH")
    summary = await refresh_many(client, store, ["BTC", "ETH", "SOL", "BTC"], "1m", dt(bar(5_900)), None)
    assert not summary.ok
    assert list(summary.reports) == ["BTC", "SOL"]
    assert list(summary.failures) == ["ETH"]
    assert summary.failures["ETH"].startswith("CandleValidationError: ETH 1m candle #0 at ")
    assert summary.reports["SOL"].fetched == 99
    assert ("ETH", "1m", "hyperliquid") not in store.frames
    assert summary.truncated == []


async def test_refresh_many_bounds_concurrency(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    store = MemoryStore()
    summary = await refresh_many(
        client, store, ["BTC", "ETH", "SOL"], "1m", dt(T0), None, concurrency=1, now=dt(fake.now_ms)
    )
    assert summary.ok
    assert summary.truncated == ["BTC", "ETH", "SOL"]
    assert [r.type for r in fake.requests][:1] == ["meta"]  # one probe first
    coins = [r.body["req"]["coin"] for r in fake.requests_of("candleSnapshot")]
    assert coins == ["BTC", "ETH", "SOL"]  # one at a time, in order
    with pytest.raises(ValueError, match="concurrency >= 1"):
        await refresh_many(client, store, ["BTC"], "1m", dt(T0), None, concurrency=0)
