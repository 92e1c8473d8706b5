"""The fake Hyperliquid's WebSocket: protocol, replays consistent with REST, idle close, drops."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import polars as pl
import pytest

from algo_trade_core import HyperliquidConfig
from algo_trade_data._candles import parse_candle
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data.testing import FakeHyperliquid, fake_candles, shared_data_dir, wait_for
from algo_trade_data.testing._fake_ws import LEGACY_GREETING, partial_bar

REAL_1M = shared_data_dir() / "real-candles" / "hyperliquid-perp"
MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000  # 2025-07-20 08:00 UTC


def sub(coin: str, interval: str = "1m") -> dict[str, str]:
    return {"type": "candle", "coin": coin, "interval": interval}


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    async with asyncio.timeout(2):
        return await ws.receive_json()


@pytest.fixture
async def fake() -> AsyncIterator[FakeHyperliquid]:
    async with FakeHyperliquid(now_ms=T0) as server:
        server.add_candles("BTC", "1m", fake_candles(T0, 20, "1m", price=117_000.0, seed=1))
        server.add_candles("ETH", "1m", fake_candles(T0, 20, "1m", price=3_700.0, seed=2))
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


async def subscribed(
    session: aiohttp.ClientSession, fake: FakeHyperliquid, *coins: str
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(fake.ws_url)
    for coin in coins:
        await ws.send_json({"method": "subscribe", "subscription": sub(coin)})
        assert (await receive(ws))["channel"] == "subscriptionResponse"
    return ws


# -- partial bars -------------------------------------------------------------------------------


@pytest.mark.parametrize("updates", [1, 2, 3, 7])
def test_partial_bars_run_like_a_forming_bar_and_end_exactly_on_the_bar(updates: int) -> None:
    for bar_index, bar in enumerate(
        [
            {
                "t": T0,
                "T": T0 + MINUTE - 1,
                "s": "X",
                "i": "1m",
                "o": "10.0",
                "c": "10.5",
                "h": "11.0",
                "l": "9.5",
                "v": "12.5",
                "n": 40,
            },
            {
                "t": T0,
                "T": T0 + MINUTE - 1,
                "s": "X",
                "i": "1m",
                "o": "10.0",
                "c": "9.8",
                "h": "10.1",
                "l": "9.0",
                "v": "3.0",
                "n": 9,
            },
        ]
    ):
        pushes = [partial_bar(bar, u, updates) for u in range(updates)]
        assert pushes[-1] == bar, bar_index
        parsed = [parse_candle(p, coin="X", interval="1m") for p in pushes]  # every update is a valid bar
        for before, after in itertools.pairwise(parsed):
            assert after.high >= before.high
            assert after.low <= before.low
            assert after.volume >= before.volume
            assert after.trades >= before.trades
        assert all(p.open == parsed[-1].open for p in parsed)


# -- protocol -----------------------------------------------------------------------------------


async def test_subscription_errors_like_the_exchange(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    fake.ws.max_subscriptions = 2
    async with await subscribed(session, fake, "BTC") as ws:
        await ws.send_json({"method": "subscribe", "subscription": sub("BTC")})
        assert (await receive(ws))["data"].startswith("Already subscribed")
        await ws.send_json({"method": "unsubscribe", "subscription": sub("ETH")})
        assert (await receive(ws))["channel"] == "error"
        await ws.send_json({"method": "subscribe", "subscription": sub("ETH", "7m")})
        assert (await receive(ws))["data"].startswith("Invalid subscription")
        await ws.send_json({"method": "subscribe", "subscription": sub("ETH")})
        assert (await receive(ws))["channel"] == "subscriptionResponse"
        await ws.send_json({"method": "subscribe", "subscription": sub("SOL")})
        assert "more than 2" in (await receive(ws))["data"]
        trades = {"type": "trades", "coin": "SOL"}
        await ws.send_json({"method": "subscribe", "subscription": trades})
        assert await receive(ws) == {
            "channel": "subscriptionResponse",
            "data": {"method": "subscribe", "subscription": trades},
        }
        assert fake.ws.total_subscriptions == 2
        assert [(m, k) for _, m, k in fake.ws.subscription_log] == [
            ("subscribe", ("BTC", "1m")),
            ("subscribe", ("ETH", "1m")),
        ]


async def test_legacy_greeting_is_sent_first_when_enabled(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    fake.ws.send_greeting = True
    async with session.ws_connect(fake.ws_url) as ws:
        async with asyncio.timeout(2):
            assert await ws.receive_str() == LEGACY_GREETING


# -- replays ------------------------------------------------------------------------------------


async def test_manual_replay_streams_partial_updates_to_subscribers_only_and_moves_rest_time(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    config = HyperliquidConfig(api_url=fake.url, ws_url=fake.ws_url)
    assert fake.ws.start_replay("BTC", "1m", start_index=2, updates_per_bar=3) == 18
    fake.ws.start_replay("ETH", "1m", updates_per_bar=3)
    bars = fake.bars("BTC", "1m")
    async with (
        await subscribed(session, fake, "BTC") as ws,
        HyperliquidClient(config, now_ms=lambda: fake.now_ms) as rest,
    ):
        assert await fake.ws.step(updates=3) == 3  # ETH steps too, but nobody listens
        pushes = [await receive(ws) for _ in range(3)]
        assert all(p["channel"] == "candle" and p["data"]["s"] == "BTC" for p in pushes)
        assert [p["data"]["t"] for p in pushes] == [bars[2]["t"]] * 3
        assert pushes[-1]["data"] == bars[2]
        assert pushes[0]["data"] != bars[2]
        # Bar 2 has had its last update but the next one has not started: still forming over REST.
        assert fake.now_ms < bars[2]["T"]
        assert await rest.fetch_candles("BTC", "1m", bars[2]["t"], bars[2]["T"]) == []
        await fake.ws.step("BTC", "1m")
        first_of_next = await receive(ws)
        assert first_of_next["data"]["t"] == bars[3]["t"]
        closed = await rest.fetch_candles("BTC", "1m", bars[2]["t"], bars[3]["T"])
        assert closed == [parse_candle(bars[2], coin="BTC", interval="1m")]
        assert fake.ws.replay_position("BTC", "1m") == (1, 1)
        assert fake.ws.replay_position("ETH", "1m") == (1, 0)
        assert fake.ws.candle_messages_sent == 4


async def test_timed_replay_of_real_candles_with_debug_timestamps(session: aiohttp.ClientSession) -> None:
    path = REAL_1M / "BTC_USDC_USDC-1m-futures.feather"
    if not path.exists():
        pytest.skip(f"real candles not found at {path}")
    real = pl.read_ipc(path).tail(4)
    async with FakeHyperliquid(debug_timestamps=True) as fake:
        fake.add_candles("BTC", "1m", real)
        async with await subscribed(session, fake, "BTC") as ws:
            fake.ws.start_replay("BTC", "1m", updates_per_bar=5, bar_period_s=0.05)
            messages = [await receive(ws) for _ in range(20)]
            await wait_for(lambda: fake.ws.replay_done("BTC", "1m"))
    finals = [m["data"] for i, m in enumerate(messages) if i % 5 == 4]
    assert [float(d["c"]) for d in finals] == real["close"].to_list()
    assert [float(d["h"]) for d in finals] == real["high"].to_list()
    assert [float(d["v"]) for d in finals] == real["volume"].to_list()
    stamps = [m["sent_at"] for m in messages]
    assert stamps == sorted(stamps)
    assert fake.ws.sent_at[("BTC", "1m", finals[1]["t"], 4)] == messages[9]["sent_at"]
    assert set(messages[0]) == {"channel", "data", "sent_at"}


async def test_replay_needs_bars(fake: FakeHyperliquid) -> None:
    with pytest.raises(ValueError, match="no SOL 1m bars"):
        fake.ws.start_replay("SOL", "1m")
    with pytest.raises(ValueError, match="no manual replay"):
        await fake.ws.step()


# -- connection faults --------------------------------------------------------------------------


async def test_server_closes_a_silent_connection_and_counts_connections(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeHyperliquid(now_ms=T0, ws_idle_timeout_s=0.2) as fake:
        async with session.ws_connect(fake.ws_url) as quiet:
            await wait_for(lambda: fake.ws.open_connections == 1)
            async with asyncio.timeout(2):
                msg = await quiet.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE
        assert fake.ws.idle_closes == 1
        assert fake.ws.history[0].closed_by == "idle"
        async with session.ws_connect(fake.ws_url) as chatty:
            # A client that pings more often than the timeout stays connected (this is real time on purpose).
            for _ in range(6):
                await chatty.send_json({"method": "ping"})
                assert await receive(chatty) == {"channel": "pong"}
                await asyncio.sleep(0.06)
            assert not chatty.closed
        assert fake.ws.idle_closes == 1
        assert fake.ws.connections_opened == 2
        assert fake.ws.pings_received == 6


async def test_dropped_and_refused_connections(session: aiohttp.ClientSession, fake: FakeHyperliquid) -> None:
    ws = await subscribed(session, fake, "BTC")
    assert await fake.ws.drop_connections() == 1
    async with asyncio.timeout(2):
        msg = await ws.receive()
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    await ws.close()
    assert fake.ws.open_connections == 0
    assert fake.ws.subscriber_count("BTC", "1m") == 0
    fake.ws.refuse_connections = True
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await session.ws_connect(fake.ws_url)
    fake.ws.refuse_connections = False
    async with await subscribed(session, fake, "BTC"):
        assert fake.ws.subscriber_count("BTC", "1m") == 1
    assert fake.ws.connections_opened == 2
