"""MarketDataHub against the fake Hyperliquid: multiplexing, closed bars, pings, reconnects, the store."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import polars as pl
import pytest

from algo_trade_core import DatabaseError, HyperliquidConfig
from algo_trade_data._candles import HyperliquidCandle, parse_candle
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._market_hub import CandleSubscription, ClosedBar, MarketDataHub, SubscriptionLimitError
from algo_trade_data.testing import FakeHyperliquid, fake_candles, wait_for

MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000  # 2025-07-20 08:00 UTC
BARS = 40
COINS = ("BTC", "ETH", "SOL")


class MemoryStore:
    """A CandleStore that keeps upserted rows in memory; fails the first ``fail`` writes."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.calls = 0
        self.rows: dict[tuple[str, str, int], tuple[float, float, float, float, float, int]] = {}

    async def latest_candle_time(
        self, symbol: str, interval: str, exchange: str = "hyperliquid"
    ) -> datetime | None:
        return None

    async def upsert_candles(self, frame: pl.DataFrame) -> int:
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise DatabaseError("connection refused (test)")
        for row in frame.iter_rows(named=True):
            key = (row["symbol"], row["interval"], int(row["timestamp"].timestamp() * 1000))
            values = (row["open"], row["high"], row["low"], row["close"], row["volume"], row["trades"])
            self.rows[key] = values
        return frame.height


class Collector:
    """Drains subscriptions into lists without blocking the test."""

    def __init__(self, *subs: CandleSubscription) -> None:
        self.subs = list(subs)
        self.got: dict[int, list[ClosedBar]] = {s.id: [] for s in subs}

    def drain(self) -> None:
        for s in self.subs:
            while not s.queue.empty():
                self.got[s.id].append(s.queue.get_nowait())

    def count(self, sub: CandleSubscription) -> Callable[[], int]:
        def n() -> int:
            self.drain()
            return len(self.got[sub.id])

        return n


def final(
    fake: FakeHyperliquid, coin: str, start: int = 0, stop: int | None = None
) -> list[HyperliquidCandle]:
    return [parse_candle(b, coin=coin, interval="1m") for b in fake.bars(coin, "1m")[start:stop]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeHyperliquid]:
    async with FakeHyperliquid(now_ms=T0) as server:
        for i, coin in enumerate(COINS):
            server.add_candles(coin, "1m", fake_candles(T0, BARS, "1m", price=100.0 * (i + 1), seed=i))
        yield server


@pytest.fixture
def config(fake: FakeHyperliquid) -> HyperliquidConfig:
    return HyperliquidConfig(
        api_url=fake.url, ws_url=fake.ws_url, backoff_base_s=0.01, backoff_max_s=0.05, max_retries=2
    )


@pytest.fixture
async def rest(fake: FakeHyperliquid, config: HyperliquidConfig) -> AsyncIterator[HyperliquidClient]:
    async with HyperliquidClient(config, now_ms=lambda: fake.now_ms) as client:
        yield client


def hub_for(config: HyperliquidConfig, rest: HyperliquidClient | None = None, **kwargs: Any) -> MarketDataHub:
    kwargs.setdefault("max_connections_per_minute", 1000)
    return MarketDataHub(config, rest=rest, **kwargs)


# -- subscriptions --------------------------------------------------------------------------------


async def test_consumers_share_one_connection_and_one_subscription_per_coin(
    fake: FakeHyperliquid, config: HyperliquidConfig
) -> None:
    async with hub_for(config) as hub:
        btc = [await hub.subscribe("BTC", "1m") for _ in range(5)]
        eth = [await hub.subscribe("ETH", "1m") for _ in range(3)]
        await wait_for(lambda: hub.is_subscribed("BTC", "1m") and hub.is_subscribed("ETH", "1m"))
        assert fake.ws.connections_opened == 1
        assert fake.ws.subscriber_count("BTC", "1m") == 1
        assert fake.ws.subscriber_count("ETH", "1m") == 1
        assert (hub.stats.subscriptions, hub.stats.consumers) == (2, 8)
        for s in btc[:4]:
            await hub.unsubscribe(s)
        await hub.unsubscribe(btc[0])  # idempotent
        assert hub.stats.subscriptions == 2
        await hub.unsubscribe(btc[4])
        await wait_for(lambda: fake.ws.subscriber_count("BTC", "1m") == 0)
        assert [(m, k) for _, m, k in fake.ws.subscription_log] == [
            ("subscribe", ("BTC", "1m")),
            ("subscribe", ("ETH", "1m")),
            ("unsubscribe", ("BTC", "1m")),
        ]
        assert (hub.stats.subscriptions, hub.stats.consumers) == (1, 3)
        assert not eth[0].queue.qsize()
    await wait_for(lambda: fake.ws.open_connections == 0)
    assert fake.ws.connections_opened == 1


async def test_subscribe_checks_interval_start_and_the_subscription_limit(config: HyperliquidConfig) -> None:
    hub = hub_for(config, max_subscriptions=2)
    with pytest.raises(RuntimeError, match="not started"):
        await hub.subscribe("BTC", "1m")
    async with hub:
        with pytest.raises(ValueError, match="intervals"):
            await hub.subscribe("BTC", "7m")
        await hub.subscribe("BTC", "1m")
        await hub.subscribe("BTC", "5m")
        await hub.subscribe("BTC", "1m")  # shares an existing subscription: no new one
        with pytest.raises(SubscriptionLimitError, match=r"ETH 1m: already 2 candle subscriptions"):
            await hub.subscribe("ETH", "1m")


# -- closed candles -------------------------------------------------------------------------------


async def test_each_closed_bar_is_delivered_once_with_its_final_values(
    fake: FakeHyperliquid, config: HyperliquidConfig
) -> None:
    fake.ws.start_replay("BTC", "1m", updates_per_bar=4)
    fake.ws.send_greeting = True
    async with hub_for(config) as hub:
        a, b = await hub.subscribe("BTC", "1m"), await hub.subscribe("BTC", "1m")
        await wait_for(lambda: hub.is_subscribed("BTC", "1m"))
        got = Collector(a, b)
        await fake.ws.step(updates=4 * 6)  # bars 0..5 complete; bar 5 not known closed yet
        await wait_for(lambda: hub.stats.candle_messages == 24)
        got.drain()
        assert len(got.got[a.id]) == 5
        await fake.ws.step()  # first update of bar 6 closes bar 5
        await wait_for(lambda: got.count(a)() == 6)
        await wait_for(lambda: got.count(b)() == 6)
    expected = final(fake, "BTC", 0, 6)
    for bars in got.got.values():
        assert [bar.candle for bar in bars] == expected
        assert all(bar.source == "ws" for bar in bars)
    first = got.got[a.id][0]
    assert (first.symbol, first.interval, first.t) == ("BTC", "1m", T0)
    assert (first.open, first.high, first.low, first.close, first.volume, first.trades) == (
        float(expected[0].open),
        float(expected[0].high),
        float(expected[0].low),
        float(expected[0].close),
        float(expected[0].volume),
        expected[0].trades,
    )
    assert got.got[a.id] == got.got[b.id]
    assert hub.stats.closed_bars_delivered == 6  # per bar, not per consumer


async def test_a_hole_in_the_stream_is_backfilled_in_order(
    fake: FakeHyperliquid, config: HyperliquidConfig, rest: HyperliquidClient
) -> None:
    bars = fake.bars("BTC", "1m")
    async with hub_for(config, rest) as hub:
        sub = await hub.subscribe("BTC", "1m")
        await wait_for(lambda: hub.is_subscribed("BTC", "1m"))
        for i in (0, 1, 3, 4):  # bar 2 is never pushed
            fake.now_ms = bars[i]["t"] + 30_000
            await fake.push_candle("BTC", "1m", bars[i])
        got = Collector(sub)
        await wait_for(lambda: got.count(sub)() == 4)
    assert [b.t for b in got.got[sub.id]] == [bars[i]["t"] for i in range(4)]
    assert [b.source for b in got.got[sub.id]][:3] == ["ws", "ws", "rest"]  # bar 3: either (same values)
    assert [b.candle for b in got.got[sub.id]] == final(fake, "BTC", 0, 4)


# -- heartbeat ----------------------------------------------------------------------------------


async def test_pings_keep_the_connection_past_the_server_idle_timeout(fake: FakeHyperliquid) -> None:
    fake.ws.idle_timeout_s = 0.15
    config = HyperliquidConfig(api_url=fake.url, ws_url=fake.ws_url, ping_interval_s=0.03)
    async with hub_for(config) as hub:
        await hub.subscribe("BTC", "1m")
        await wait_for(lambda: fake.ws.pings_received >= 15)  # about 0.45 s: three idle timeouts
        assert hub.stats.pongs_received >= 14
        assert hub.stats.pings_sent >= 15
        assert (fake.ws.connections_opened, fake.ws.idle_closes, hub.stats.reconnects) == (1, 0, 0)


async def test_the_server_closes_a_hub_that_does_not_ping_and_it_reconnects(fake: FakeHyperliquid) -> None:
    fake.ws.idle_timeout_s = 0.1
    config = HyperliquidConfig(
        api_url=fake.url, ws_url=fake.ws_url, ping_interval_s=30.0, backoff_base_s=0.01, backoff_max_s=0.02
    )
    async with hub_for(config) as hub:
        await hub.subscribe("BTC", "1m")
        await wait_for(lambda: fake.ws.idle_closes >= 1 and hub.stats.reconnects >= 1)
        await wait_for(lambda: hub.is_subscribed("BTC", "1m"))
        assert fake.ws.subscriber_count("BTC", "1m") == 1
        assert fake.ws.history[0].closed_by == "idle"


async def test_a_silent_server_makes_the_hub_reconnect(fake: FakeHyperliquid) -> None:
    fake.ws.answer_pings = False
    config = HyperliquidConfig(
        api_url=fake.url, ws_url=fake.ws_url, ping_interval_s=0.02, backoff_base_s=0.01, backoff_max_s=0.02
    )
    async with hub_for(config, idle_timeout_s=0.15) as hub:
        await wait_for(lambda: hub.stats.idle_timeouts >= 1 and hub.stats.reconnects >= 1)
        assert fake.ws.idle_closes == 0


# -- reconnect and backfill ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["drop", "close"])
async def test_a_dropped_connection_is_reconnected_resubscribed_and_backfilled(
    fake: FakeHyperliquid, config: HyperliquidConfig, rest: HyperliquidClient, how: str
) -> None:
    for coin in ("BTC", "ETH"):
        fake.ws.start_replay(coin, "1m", updates_per_bar=3)
    async with hub_for(config, rest) as hub:
        subs = {coin: await hub.subscribe(coin, "1m") for coin in ("BTC", "ETH")}
        got = Collector(*subs.values())
        await wait_for(lambda: hub.is_subscribed("BTC", "1m") and hub.is_subscribed("ETH", "1m"))
        await fake.ws.step(updates=3 * 5 + 2)  # bars 0..4 closed, bar 5 two updates in
        await wait_for(lambda: got.count(subs["ETH"])() == 5 and got.count(subs["BTC"])() == 5)
        fake.ws.refuse_connections = True  # an outage: the hub cannot come back at once
        if how == "drop":
            await fake.ws.drop_connections()
        else:
            await fake.close_ws_connections()
        await wait_for(lambda: not hub.connected)
        await fake.ws.step(updates=3 * 4)  # bars 5..8 close while nobody listens
        assert fake.ws.candle_messages_sent == 2 * 17
        fake.ws.refuse_connections = False
        await wait_for(lambda: hub.is_subscribed("BTC", "1m") and hub.is_subscribed("ETH", "1m"))
        await wait_for(lambda: got.count(subs["ETH"])() == 9 and got.count(subs["BTC"])() == 9)
        await fake.ws.step(updates=3 * BARS)  # the rest of the replay, live
        await wait_for(lambda: got.count(subs["ETH"])() == BARS - 1 and got.count(subs["BTC"])() == BARS - 1)
    for coin, s in subs.items():
        bars = got.got[s.id]
        assert [b.candle for b in bars] == final(fake, coin, 0, BARS - 1)  # no gap, no duplicate
        assert [b.source for b in bars[5:9]] == ["rest"] * 4
    assert fake.ws.connections_opened == 2
    assert hub.stats.reconnects == 1
    assert hub.stats.backfilled_bars == 8


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_random_drops_never_lose_or_repeat_a_closed_bar(
    fake: FakeHyperliquid, config: HyperliquidConfig, rest: HyperliquidClient, seed: int
) -> None:
    rng = random.Random(seed)
    for coin in COINS:
        fake.ws.start_replay(coin, "1m", updates_per_bar=rng.choice([1, 2, 3, 5]))
    store = MemoryStore(fail=1)
    async with hub_for(config, rest, store=store, store_flush_s=0.01, rng=random.Random(seed)) as hub:
        subs = {coin: await hub.subscribe(coin, "1m") for coin in COINS}
        got = Collector(*subs.values())
        await wait_for(lambda: all(hub.is_subscribed(c, "1m") for c in COINS))
        while not fake.ws.replays_done:
            await fake.ws.step(updates=rng.randint(1, 6))
            roll = rng.random()
            if roll < 0.15:
                await fake.ws.drop_connections()
            elif roll < 0.25:
                await fake.close_ws_connections()
            elif roll < 0.35:
                fake.ws.refuse_connections = True
                await fake.ws.drop_connections()
                await fake.ws.step(updates=rng.randint(1, 8))
                fake.ws.refuse_connections = False
            if rng.random() < 0.5:
                await asyncio.sleep(rng.random() * 0.02)  # let the hub catch up sometimes (jitter)
        for s in subs.values():
            await wait_for(lambda: got.count(s)() >= BARS - 1, timeout=10)  # noqa: B023 - awaited at once
        await hub.flush()
    for coin, s in subs.items():
        assert [b.candle for b in got.got[s.id]] == final(fake, coin, 0, BARS - 1)
    assert len(store.rows) == len(COINS) * (BARS - 1)


# -- the store ----------------------------------------------------------------------------------


async def test_closed_bars_are_stored_in_batches(fake: FakeHyperliquid, config: HyperliquidConfig) -> None:
    for coin in COINS:
        fake.ws.start_replay(coin, "1m", updates_per_bar=2)
    store = MemoryStore()
    async with hub_for(config, store=store, store_flush_s=3600.0, store_batch_bars=1000) as hub:
        subs = [await hub.subscribe(coin, "1m") for coin in COINS]
        await wait_for(lambda: all(hub.is_subscribed(c, "1m") for c in COINS))
        await fake.ws.step(updates=2 * 10 + 1)
        await wait_for(lambda: hub.stats.closed_bars_delivered == 30)
        assert store.calls == 0  # neither the size nor the time threshold reached
        assert hub.recorder is not None
        assert hub.recorder.pending == 30
        assert await hub.flush()
        assert (store.calls, len(store.rows)) == (1, 30)  # one round trip for every coin's bars
        hub.recorder.batch_bars = 6
        await fake.ws.step(updates=2 * 3)  # 9 more bars reach the size threshold
        await wait_for(lambda: len(store.rows) >= 36)
        assert store.calls == 2
        assert all(s.queue.qsize() == 13 for s in subs)
    assert len(store.rows) == 39  # stop() writes what is pending
    for coin in COINS:
        for c in final(fake, coin, 0, 13):
            assert store.rows[(coin, "1m", c.t)] == (
                float(c.open),
                float(c.high),
                float(c.low),
                float(c.close),
                float(c.volume),
                c.trades,
            )


async def test_a_failing_store_neither_stops_delivery_nor_loses_bars(
    fake: FakeHyperliquid, config: HyperliquidConfig
) -> None:
    fake.ws.start_replay("BTC", "1m", updates_per_bar=2)
    store = MemoryStore(fail=3)
    async with hub_for(config, store=store, store_flush_s=0.01, store_batch_bars=1) as hub:
        sub = await hub.subscribe("BTC", "1m")
        got = Collector(sub)
        await wait_for(lambda: hub.is_subscribed("BTC", "1m"))
        await fake.ws.step(updates=2 * 8 + 1)
        await wait_for(lambda: got.count(sub)() == 8)  # delivered while the store fails
        await wait_for(lambda: len(store.rows) == 8)
        assert hub.recorder is not None
        assert hub.recorder.failures == 3
        assert store.calls >= 4
    assert [b.candle for b in got.got[sub.id]] == final(fake, "BTC", 0, 8)


# -- latency stamps and shutdown ----------------------------------------------------------------


async def test_closed_bars_carry_the_push_time_of_the_message_that_closed_them(
    config: HyperliquidConfig,
) -> None:
    async with FakeHyperliquid(now_ms=T0, debug_timestamps=True) as fake:
        fake.add_candles("BTC", "1m", fake_candles(T0, 3, "1m"))
        fake.ws.start_replay("BTC", "1m", updates_per_bar=2)
        cfg = HyperliquidConfig(api_url=fake.url, ws_url=fake.ws_url)
        async with hub_for(cfg) as hub:
            sub = await hub.subscribe("BTC", "1m")
            await wait_for(lambda: hub.is_subscribed("BTC", "1m"))
            await fake.ws.step(updates=3)
            async with asyncio.timeout(2):
                bar = await sub.get()
    assert bar.t == T0
    assert bar.pushed_at == fake.ws.sent_at[("BTC", "1m", T0 + MINUTE, 0)]
    assert bar.received_at >= bar.pushed_at


async def test_stop_closes_the_connection_and_is_idempotent(
    fake: FakeHyperliquid, config: HyperliquidConfig
) -> None:
    hub = hub_for(config)
    await hub.start()
    async with asyncio.timeout(2):
        await hub.wait_connected()
    assert fake.ws.open_connections == 1
    await hub.stop()
    await hub.stop()
    assert not hub.connected
    await wait_for(lambda: fake.ws.open_connections == 0)
    assert fake.ws.history[0].closed_by == "client"
