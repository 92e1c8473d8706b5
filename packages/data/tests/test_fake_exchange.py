"""The fake Hyperliquid server itself: shapes against recorded real responses, caps, weights, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import polars as pl
import pytest

from algo_trade_data.testing import FakeHyperliquid, ManualClock, fake_candles, shared_data_dir

SHARED = shared_data_dir()
RECORDED = SHARED / "hyperliquid-recorded"
BTC_1M = SHARED / "real-candles" / "hyperliquid-perp" / "BTC_USDC_USDC-1m-futures.feather"

MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000  # 2025-07-20 08:00 UTC, hour-aligned
RECORDED_AT = 1_689_630_201_000  # Date header of the candle cassette: Mon, 17 Jul 2023 21:43:21 GMT


def recorded(name: str) -> list[tuple[dict[str, Any], Any]]:
    """Return (request body, decoded response) pairs of a cassette; skip when the files are absent."""
    path = RECORDED / name
    if not path.exists():
        pytest.skip(f"recorded Hyperliquid responses not found at {RECORDED}")
    yaml = pytest.importorskip("yaml")
    with path.open() as f:
        cassette = yaml.safe_load(f)
    return [
        (json.loads(i["request"]["body"]), json.loads(i["response"]["body"]["string"]))
        for i in cassette["interactions"]
    ]


def json_types(obj: dict[str, Any]) -> dict[str, type]:
    return {k: type(v) for k, v in obj.items()}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeHyperliquid]:
    async with FakeHyperliquid(now_ms=T0 + 5_999 * MINUTE + 30_000, clock=clock.monotonic) as server:
        server.add_candles("BTC", "1m", fake_candles(T0, 6_000, "1m", price=117_000.0))
        yield server


async def post(session: aiohttp.ClientSession, fake: FakeHyperliquid, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with session.post(f"{fake.url}/info", data=data, headers={"Content-Type": "application/json"}) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


def snapshot(coin: str, interval: str, start: int, end: int) -> dict[str, Any]:
    return {
        "type": "candleSnapshot",
        "req": {"coin": coin, "interval": interval, "startTime": start, "endTime": end},
    }


# -- shapes against the recorded real responses -------------------------------------------------


async def test_replaying_the_recorded_candles_gives_the_recorded_response(
    session: aiohttp.ClientSession,
) -> None:
    _, (request, response) = recorded("test_get_candles_snapshot.yaml")
    assert request["type"] == "candleSnapshot"
    async with FakeHyperliquid(now_ms=RECORDED_AT) as fake:
        fake.add_candles("kPEPE", "1h", response)
        status, body = await post(session, fake, request)
    assert status == 200
    assert body == response  # same bars, same keys, same JSON types, same strings
    assert [json_types(c) for c in body] == [json_types(c) for c in response]


async def test_candle_shape_matches_the_recorded_response(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    (_, _), (_, response) = recorded("test_get_candles_snapshot.yaml")
    status, body = await post(session, fake, snapshot("BTC", "1m", T0 + 5_000 * MINUTE, T0 + 5_010 * MINUTE))
    assert status == 200
    assert isinstance(body, list)
    assert len(body) == 11
    expected = json_types(response[0])
    assert expected == {k: (int if k in "tTn" else str) for k in "tTsiocvhln"}
    for candle in body:
        assert json_types(candle) == expected
        assert candle["T"] == candle["t"] + MINUTE - 1
        assert candle["s"] == "BTC"
        assert candle["i"] == "1m"


async def test_meta_shape_matches_the_recorded_response(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    [(request, response)] = recorded("test_get_info.yaml")
    status, body = await post(session, fake, request)
    assert status == 200
    assert isinstance(body, dict)
    assert set(response) <= set(body)
    recorded_entry = json_types(response["universe"][0])
    for entry in body["universe"]:
        assert {k: type(entry[k]) for k in recorded_entry} == recorded_entry
    delisted = {e["name"] for e in body["universe"] if e.get("isDelisted") is True}
    assert {"MATIC", "FTM"} <= delisted
    assert "POL" in {e["name"] for e in body["universe"]} - delisted


async def test_meta_and_asset_ctxs_shape(session: aiohttp.ClientSession, fake: FakeHyperliquid) -> None:
    # No perp metaAndAssetCtxs is recorded; the spot one has the same context fields (README).
    [(_, spot)] = recorded("test_spot_asset_ctx.yaml")
    spot_ctx_types = json_types(spot[1][0])
    [(_, meta)] = recorded("test_get_info.yaml")
    status, body = await post(session, fake, {"type": "metaAndAssetCtxs"})
    assert status == 200
    assert isinstance(body, list)
    assert len(body) == 2
    universe, ctxs = body[0]["universe"], body[1]
    assert len(ctxs) == len(universe)
    recorded_entry = json_types(meta["universe"][0])
    assert all({k: type(e[k]) for k in recorded_entry} == recorded_entry for e in universe)
    shared = {"dayNtlVlm", "markPx", "midPx", "prevDayPx", "dayBaseVlm"}
    assert shared <= set(spot_ctx_types)
    perp_only = {"funding", "openInterest", "oraclePx", "premium", "impactPxs"}  # HYPERLIQUID-API.md 5
    for entry, ctx in zip(universe, ctxs, strict=True):
        assert shared | perp_only <= set(ctx)
        for key in shared:
            if ctx[key] is not None:  # midPx may be null
                assert type(ctx[key]) is spot_ctx_types[key]
        float(ctx["dayNtlVlm"])  # all numbers are decimal strings
        if not entry.get("isDelisted"):
            assert isinstance(ctx["impactPxs"], list)


# -- candle availability --------------------------------------------------------------------------


async def test_only_the_5000_most_recent_bars_exist(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    status, body = await post(session, fake, snapshot("BTC", "1m", 0, fake.now_ms))
    assert status == 200
    assert len(body) == 5000
    assert body[0]["t"] == T0 + 1_000 * MINUTE
    assert body[-1]["t"] == T0 + 5_999 * MINUTE
    assert body[-1]["T"] > fake.now_ms  # the bar containing now is served, still forming
    status, older = await post(session, fake, snapshot("BTC", "1m", T0, T0 + 999 * MINUTE))
    assert (status, older) == (200, [])


async def test_bars_after_now_are_not_served(session: aiohttp.ClientSession, fake: FakeHyperliquid) -> None:
    fake.now_ms = T0 + 5_500 * MINUTE
    _, body = await post(session, fake, snapshot("BTC", "1m", T0 + 5_490 * MINUTE, T0 + 6_000 * MINUTE))
    assert [c["t"] for c in body] == [T0 + m * MINUTE for m in range(5_490, 5_501)]


async def test_every_bar_overlapping_the_window_is_returned(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    # Like the recorded response: the bar containing startTime comes back too.
    _, body = await post(
        session, fake, snapshot("BTC", "1m", T0 + 5_100 * MINUTE + 17_000, T0 + 5_103 * MINUTE)
    )
    assert [c["t"] for c in body] == [T0 + m * MINUTE for m in range(5_100, 5_104)]


async def test_page_size_caps_one_response(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    async with FakeHyperliquid(now_ms=T0 + 2_000 * MINUTE, max_candles_per_response=500) as fake:
        fake.add_candles("ETH", "1m", fake_candles(T0, 2_000, "1m"))
        _, body = await post(session, fake, snapshot("ETH", "1m", T0, T0 + 2_000 * MINUTE))
    assert len(body) == 500
    assert body[0]["t"] == T0  # ascending from the start of the window


async def test_unknown_coin_has_no_candles(session: aiohttp.ClientSession, fake: FakeHyperliquid) -> None:
    assert await post(session, fake, snapshot("NOPE", "1m", T0, fake.now_ms)) == (200, [])


async def test_freqtrade_feather_frames_are_served_as_exchange_strings(
    session: aiohttp.ClientSession,
) -> None:
    if not BTC_1M.exists():
        pytest.skip(f"real candles not found at {BTC_1M}")
    frame = pl.read_ipc(BTC_1M)
    last = int(frame["date"][-1].timestamp() * 1000)
    async with FakeHyperliquid(now_ms=last + 2 * MINUTE) as fake:
        assert fake.add_candles("BTC", "1m", frame) == frame.height
        first = int(frame["date"][0].timestamp() * 1000)
        _, body = await post(session, fake, snapshot("BTC", "1m", first, first))
    assert body == []  # 6808 bars were given, only the last 5000 exist
    async with FakeHyperliquid(now_ms=first + 2 * MINUTE) as fake:
        fake.add_candles("BTC", "1m", frame)
        _, body = await post(session, fake, snapshot("BTC", "1m", first, first))
    assert body[0]["o"] == "118712.0"
    assert body[0]["v"] == "2.63688"
    assert body[0]["T"] == first + MINUTE - 1


# -- weight, 429 and 422 --------------------------------------------------------------------------


async def test_weight_is_charged_like_the_real_api(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    await post(session, fake, snapshot("BTC", "1m", T0 + 5_000 * MINUTE, T0 + 5_023 * MINUTE))  # 24 bars
    await post(session, fake, snapshot("BTC", "1m", 0, fake.now_ms))  # 5000 bars
    await post(session, fake, {"type": "meta"})
    await post(session, fake, {"type": "metaAndAssetCtxs"})
    await post(session, fake, {"type": "allMids"})
    assert [(r.candles, r.weight) for r in fake.requests] == [(24, 21), (5000, 104), (0, 20), (0, 20), (0, 2)]
    assert fake.total_weight == 167
    assert fake.budget_left == pytest.approx(1200 - 167)
    assert fake.requests[0].body == snapshot("BTC", "1m", T0 + 5_000 * MINUTE, T0 + 5_023 * MINUTE)
    assert len(fake.requests_of("candleSnapshot")) == 2


async def test_429_past_the_budget_until_it_refills(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeHyperliquid(weight_per_minute=100, clock=clock.monotonic) as fake:
        for _ in range(5):
            assert (await post(session, fake, {"type": "meta"}))[0] == 200
        async with session.post(f"{fake.url}/info", json={"type": "meta"}) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "12"  # 20 weight at 100/60 per second
        clock.advance(11)
        assert (await post(session, fake, {"type": "meta"}))[0] == 429
        clock.advance(1)
        assert (await post(session, fake, {"type": "meta"}))[0] == 200
    assert [r.status for r in fake.requests] == [200] * 5 + [429, 429, 200]
    assert [r.weight for r in fake.requests if r.status == 429] == [0, 0]  # rejected requests cost nothing


async def test_foreign_consumption_and_no_retry_after(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeHyperliquid(clock=clock.monotonic, send_retry_after=False) as fake:
        fake.consume_weight(1_190)
        async with session.post(f"{fake.url}/info", json={"type": "meta"}) as r:
            assert r.status == 429
            assert "Retry-After" not in r.headers


@pytest.mark.parametrize(
    "body",
    [
        snapshot("BTC", "1m", -60_000, T0),  # ccxt's negative start (ccxt issue 27160)
        snapshot("BTC", "7m", T0, T0 + MINUTE),
        snapshot("BTC", "1m", True, T0),
        {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m"}},
        {"type": "candleSnapshot"},
        {"type": "noSuchRequest"},
        {"kind": "meta"},
        [1, 2],
        b"{not json",
    ],
)
async def test_unprocessable_bodies_get_422(
    session: aiohttp.ClientSession, fake: FakeHyperliquid, body: Any
) -> None:
    status, text = await post(session, fake, body)
    assert status == 422
    assert isinstance(text, str)
    assert text.startswith("Failed to deserialize the JSON body into the target type")
    assert fake.requests[-1].status == 422
    assert fake.total_weight == 0


# -- faults ---------------------------------------------------------------------------------------


async def test_status_faults_hit_the_next_matching_requests(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    fake.inject("status", 2, status=502, body="bad gateway", coin="ETH")
    assert (await post(session, fake, snapshot("BTC", "1m", T0 + 5_000 * MINUTE, T0 + 5_001 * MINUTE)))[
        0
    ] == 200
    assert await post(session, fake, snapshot("ETH", "1m", T0, T0)) == (502, "bad gateway")
    assert await post(session, fake, snapshot("ETH", "1m", T0, T0)) == (502, "bad gateway")
    assert await post(session, fake, snapshot("ETH", "1m", T0, T0)) == (200, [])
    assert [r.fault for r in fake.requests] == [None, "status", "status", None]


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("not_json", lambda body: isinstance(body, str) and "502 Bad Gateway" in body),
        ("wrong_shape", lambda body: body == {"error": "unexpected"}),
        ("bad_number", lambda body: body[0]["o"] == "not-a-number"),
        ("high_below_low", lambda body: float(body[0]["h"]) < float(body[0]["l"])),
        ("missing_field", lambda body: "o" not in body[0] and "o" in body[1]),
    ],
)
async def test_malformed_payload_faults(
    session: aiohttp.ClientSession, fake: FakeHyperliquid, kind: Any, check: Any
) -> None:
    fake.inject(kind)
    status, body = await post(session, fake, snapshot("BTC", "1m", T0 + 5_000 * MINUTE, T0 + 5_005 * MINUTE))
    assert status == 200
    assert check(body)
    assert fake.requests[-1].fault == kind


async def test_hang_outlasts_a_client_timeout(fake: FakeHyperliquid) -> None:
    fake.inject("hang")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as s:
        with pytest.raises(TimeoutError):
            await post(s, fake, {"type": "meta"})
        assert (await post(s, fake, {"type": "meta"}))[0] == 200


async def test_disconnect_drops_the_connection(session: aiohttp.ClientSession, fake: FakeHyperliquid) -> None:
    fake.inject("disconnect")
    with pytest.raises(aiohttp.ClientError):
        await post(session, fake, {"type": "meta"})
    assert (await post(session, fake, {"type": "meta"}))[0] == 200


def test_fault_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="times >= 1"):
        FakeHyperliquid().inject("hang", 0)


def test_url_needs_a_started_server() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeHyperliquid().url


# -- WebSocket extension point --------------------------------------------------------------------


async def test_websocket_ping_subscribe_and_candle_push(
    session: aiohttp.ClientSession, fake: FakeHyperliquid
) -> None:
    sub = {"type": "candle", "coin": "BTC", "interval": "1m"}
    async with session.ws_connect(fake.ws_url) as ws:
        await ws.send_json({"method": "ping"})
        assert await asyncio.wait_for(ws.receive_json(), 2) == {"channel": "pong"}
        await ws.send_json({"method": "subscribe", "subscription": sub})
        ack = await asyncio.wait_for(ws.receive_json(), 2)
        assert ack == {
            "channel": "subscriptionResponse",
            "data": {"method": "subscribe", "subscription": sub},
        }
        assert fake.ws_connections == 1
        row = {"t": T0, "o": 71400.0, "h": "71422.0", "l": 71389.0, "c": "71411.0", "v": 1.20407, "n": 20}
        assert await fake.push_candle("BTC", "1m", row) == 1
        assert await fake.push_candle("ETH", "1m", row) == 0
        push = await asyncio.wait_for(ws.receive_json(), 2)
        assert push["channel"] == "candle"
        assert push["data"] == {
            "t": T0,
            "T": T0 + MINUTE - 1,
            "s": "BTC",
            "i": "1m",
            "o": "71400.0",
            "c": "71411.0",
            "h": "71422.0",
            "l": "71389.0",
            "v": "1.20407",
            "n": 20,
        }
        await ws.send_json({"method": "unsubscribe", "subscription": sub})
        assert (await asyncio.wait_for(ws.receive_json(), 2))["data"]["method"] == "unsubscribe"
        assert await fake.push_candle("BTC", "1m", row) == 0
        await fake.close_ws_connections()
        msg = await asyncio.wait_for(ws.receive(), 2)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
