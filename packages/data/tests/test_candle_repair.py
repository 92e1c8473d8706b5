"""Holes in the stored history are repaired while the exchange still has them, and named when it does not.

Real database, fake exchange (5000-bar history, its own clock). The store's holes are made the way
they happen: bars the recorder never wrote (a kill), bars of a daemon's downtime.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import polars as pl
import pytest

from algo_trade_core import HyperliquidConfig, ms_to_datetime
from algo_trade_data._database import DatabaseClient
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._market_hub import MarketDataHub
from algo_trade_data._ratelimit import WeightRateLimiter
from algo_trade_data._refresh import refresh_candles, refresh_many
from algo_trade_data._repair import repair_candles, stored_series
from algo_trade_data.testing import FakeHyperliquid, ManualClock, fake_candles, wait_for

MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000  # 2025-07-20 08:00 UTC
BARS = 6_000
NOW = T0 + (BARS - 1) * MINUTE + 30_000  # bar BARS-1 forming; the exchange serves bars 1000..5999
INJECTION = "BTC'; DROP TABLE ohlcv;--"


def dt(index: int) -> datetime:
    return ms_to_datetime(T0 + index * MINUTE)


def source(coin: str = "BTC") -> pl.DataFrame:
    seed = sum(map(ord, coin))
    return fake_candles(T0, BARS, "1m", price=50.0, seed=seed).with_columns(
        pl.lit(coin).alias("symbol"), pl.lit("hyperliquid").alias("exchange"), pl.lit("1m").alias("interval")
    )


def rows(frame: pl.DataFrame, *ranges: tuple[int, int]) -> pl.DataFrame:
    """The rows of ``frame`` whose index lies in any of the [first, last] ranges."""
    index = pl.int_range(pl.len())
    mask = pl.lit(False)
    for first, last in ranges:
        mask = mask | index.is_between(first, last)
    return frame.filter(mask)


async def stored(db: DatabaseClient, coin: str = "BTC") -> pl.DataFrame:
    return await db.query_candles(coin, "1m", dt(0), dt(BARS + 10))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeHyperliquid]:
    async with FakeHyperliquid(now_ms=NOW, clock=clock.monotonic) as server:
        for coin in ("BTC", "ETH", "SOL"):
            server.add_candles(coin, "1m", source(coin))
        yield server


def client_for(fake: FakeHyperliquid, clock: ManualClock, **config: object) -> HyperliquidClient:
    cfg = HyperliquidConfig(
        api_url=fake.url, ws_url=fake.ws_url, backoff_base_s=0.01, backoff_max_s=0.05, **config
    )  # type: ignore[arg-type]
    limiter = WeightRateLimiter(cfg.weight_per_minute, clock=clock.monotonic, sleep=clock.sleep)
    return HyperliquidClient(cfg, limiter=limiter, now_ms=lambda: fake.now_ms, sleep=clock.sleep)


async def test_a_refresh_repairs_the_holes_before_the_latest_bar(
    fake: FakeHyperliquid, clock: ManualClock, clean_db: DatabaseClient
) -> None:
    # Stored: 4000..4499 and 4600..5899. The daemon was down for 4500..4599; the tail 5900.. is new.
    full = source()
    await clean_db.upsert_candles(rows(full, (4_000, 4_499), (4_600, 5_899)))
    async with client_for(fake, clock) as client:
        report = await refresh_candles(client, clean_db, "BTC", "1m", dt(4_000))
    assert report.fetched == 100  # the tail: 5899 again + 5900..5998
    assert report.repaired == 100
    assert report.unfilled == 0
    assert [(h.start, h.end) for h in report.holes] == [(dt(4_500), dt(4_599))]
    assert "repaired 100 of 100 missing bars in 1 hole(s)" in report.message
    snapshots = fake.requests_of("candleSnapshot")
    assert len(snapshots) == 2  # one for the tail, one for every hole
    assert await clean_db.candle_gaps("BTC", "1m") == []
    assert (await stored(clean_db))["close"].to_list() == full["close"][4_000:5_999].to_list()


async def test_holes_older_than_the_exchange_keeps_are_reported_and_not_asked_for(
    fake: FakeHyperliquid, clock: ManualClock, clean_db: DatabaseClient
) -> None:
    full = source()
    # Holes at 500..509 (long gone from the exchange), 995..1004 (across the edge of what it serves:
    # bar 1000 is the oldest) and 3000..3001 (still there).
    await clean_db.upsert_candles(rows(full, (0, 499), (510, 994), (1_005, 2_999), (3_002, 5_998)))
    async with client_for(fake, clock) as client:
        report = await refresh_candles(client, clean_db, "BTC", "1m", dt(0))
    assert [(g.start, g.bars) for g in report.unrecoverable] == [(dt(500), 10), (dt(995), 5)]
    assert report.unrecoverable_bars == 15
    assert report.repaired == 7  # 1000..1004 and 3000..3001
    assert report.needs_attention
    assert "2 gaps, 15 bars" in report.message
    assert "older than the exchange keeps and cannot be repaired" in report.message
    [hole_request] = [
        r for r in fake.requests_of("candleSnapshot") if r.body["req"]["startTime"] < T0 + 5_998 * MINUTE
    ]
    assert hole_request.body["req"]["startTime"] == T0 + 1_000 * MINUTE  # nothing older is asked for
    assert [(g.start, g.bars) for g in await clean_db.candle_gaps("BTC", "1m")] == [
        (dt(500), 10),
        (dt(995), 5),
    ]


async def test_repair_fills_every_stored_series_and_names_what_is_lost(
    fake: FakeHyperliquid, clock: ManualClock, clean_db: DatabaseClient
) -> None:
    for coin in ("BTC", "ETH"):
        await clean_db.upsert_candles(rows(source(coin), (900, 1_999), (2_100, 4_999)))
    await clean_db.upsert_candles(rows(source("SOL"), (5_000, 5_100)))  # begins inside the window
    series = await stored_series(clean_db)
    assert set(series) == {("BTC", "1m"), ("ETH", "1m"), ("SOL", "1m")}
    done: list[tuple[str, str]] = []
    async with client_for(fake, clock) as client:
        summary = await repair_candles(client, clean_db, series, on_done=lambda s, i: done.append((s, i)))
    assert sorted(done) == sorted(series)
    assert summary.unreachable is None
    assert summary.failures == {}
    assert summary.repaired == 2 * 100 + 4_000  # the two holes, and SOL's history back to bar 1000
    assert {k: [(g.start, g.bars) for g in v] for k, v in summary.unrecoverable.items()} == {
        ("BTC", "1m"): [],
        ("ETH", "1m"): [],
    } or summary.unrecoverable == {}
    for coin in ("BTC", "ETH", "SOL"):
        gaps = await clean_db.candle_gaps(coin, "1m")
        assert gaps == []
        frame = await stored(clean_db, coin)
        first = 900 if coin != "SOL" else 1_000
        assert frame["close"].to_list() == source(coin)["close"][first:5_999].to_list()


async def test_refresh_many_names_unknown_and_malformed_symbols_without_asking_for_them(
    fake: FakeHyperliquid, clock: ManualClock, clean_db: DatabaseClient
) -> None:
    done: list[str] = []
    async with client_for(fake, clock) as client:
        summary = await refresh_many(
            client,
            clean_db,
            ["BTC", "NOPE", "MATIC", "PEPE", INJECTION],
            "1m",
            dt(5_900),
            on_done=done.append,
        )
    assert sorted(done) == sorted(["BTC", "NOPE", "MATIC", "PEPE", INJECTION])
    assert list(summary.reports) == ["BTC"]
    assert "NOPE is not a Hyperliquid perp" in summary.failures["NOPE"]
    assert "MATIC is delisted" in summary.failures["MATIC"]
    assert "use POL" in summary.failures["MATIC"]
    assert "kPEPE" in summary.failures["PEPE"]
    assert "is not a coin name" in summary.failures[INJECTION]
    assert [r.type for r in fake.requests] == ["meta", "candleSnapshot"]  # one probe, one fetch (BTC)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://api.hyperliquid.invalid"])
async def test_an_unreachable_exchange_is_asked_once_not_per_token(
    clock: ManualClock, clean_db: DatabaseClient, url: str
) -> None:
    cfg = HyperliquidConfig(api_url=url, max_retries=5)
    limiter = WeightRateLimiter(1200, clock=clock.monotonic, sleep=clock.sleep)
    done: list[str] = []
    async with HyperliquidClient(cfg, limiter=limiter, sleep=clock.sleep) as client:
        summary = await refresh_many(
            client,
            clean_db,
            ["BTC", "ETH", "SOL"],
            "1m",
            datetime(2025, 7, 1, tzinfo=UTC),
            on_done=done.append,
        )
    assert summary.unreachable is not None
    assert "Hyperliquid is unreachable" in summary.unreachable
    assert (summary.reports, summary.failures) == ({}, {})
    assert not summary.ok
    assert sorted(done) == ["BTC", "ETH", "SOL"]  # progress advances for every token
    assert clock.sleeps == []  # no retry, no backoff


async def test_twenty_tokens_complete_under_a_server_stricter_than_configured(
    clock: ManualClock, clean_db: DatabaseClient
) -> None:
    # The client believes in 1200 weight/min; the server grants 300 and answers 429 with Retry-After.
    coins = ["BTC", "ETH", "ATOM", "SOL", "AVAX", "OP", "ARB", "DOGE", "INJ", "SUI"]
    coins += ["kPEPE", "APT", "SEI", "TIA", "NEAR", "WLD", "kSHIB", "kBONK", "POL", "S"]
    bars = 3 * 1440
    now = T0 + bars * MINUTE + 30_000
    async with FakeHyperliquid(now_ms=now, clock=clock.monotonic, weight_per_minute=300) as fake:
        for coin in coins:
            fake.add_candles(coin, "1m", fake_candles(T0, bars + 1, "1m", seed=len(coin)))
        async with client_for(fake, clock, max_retries=3) as client:
            summary = await refresh_many(client, clean_db, coins, "1m", dt(0), concurrency=4)
            limiter = client.limiter
    assert summary.failures == {}
    assert sorted(summary.reports) == sorted(coins)
    assert all(r.fetched == bars for r in summary.reports.values())
    statuses = [r.status for r in fake.requests]
    assert 1 <= statuses.count(429) <= 5  # the server was stricter, and was not hammered ...
    assert limiter.capacity < 1200  # ... and the client adapted to what it was seen to accept
    assert limiter.observed_per_minute is not None
    assert limiter.observed_per_minute < 600


async def test_the_hub_repairs_the_store_after_a_reconnect(clean_db: DatabaseClient) -> None:
    # Bars the recorder never wrote (killed mid-buffer, or the store was down too long) are holes the
    # live feed does not see: the hub's repair after a reconnect fills them from REST.
    async with FakeHyperliquid(now_ms=T0) as fake:
        fake.add_candles("BTC", "1m", fake_candles(T0, 60, "1m", seed=5))
        config = HyperliquidConfig(
            api_url=fake.url, ws_url=fake.ws_url, backoff_base_s=0.01, backoff_max_s=0.02
        )
        fake.ws.start_replay("BTC", "1m", updates_per_bar=2)
        async with (
            HyperliquidClient(config, now_ms=lambda: fake.now_ms) as rest,
            MarketDataHub(
                config,
                rest=rest,
                store=clean_db,
                store_flush_s=0.01,
                rng=random.Random(1),
                max_connections_per_minute=1000,
            ) as hub,
        ):
            sub = await hub.subscribe("BTC", "1m")
            await wait_for(lambda: hub.is_subscribed("BTC", "1m"))
            await fake.ws.step(updates=2 * 30 + 1)  # bars 0..29 closed
            await wait_for(lambda: sub.queue.qsize() == 30)
            assert await hub.flush()
            async with clean_db.pool.acquire() as conn:  # what a lost recorder buffer leaves behind
                await conn.execute(
                    "DELETE FROM ohlcv WHERE symbol = 'BTC' AND timestamp BETWEEN $1 AND $2", dt(10), dt(14)
                )
            assert [g.bars for g in await clean_db.candle_gaps("BTC", "1m")] == [5]
            await fake.ws.drop_connections()
            await wait_for(lambda: hub.stats.repairs >= 1, timeout=20)
            assert hub.stats.repaired_bars == 5
            assert await clean_db.candle_gaps("BTC", "1m") == []
            frame = await stored(clean_db)
            assert frame["close"].to_list()[:30] == fake_candles(T0, 60, "1m", seed=5)["close"][:30].to_list()
