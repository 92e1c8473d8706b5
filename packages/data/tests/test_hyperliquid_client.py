"""HyperliquidClient against the fake exchange: pagination, caps, budget, retries, faults, universe."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import polars as pl
import pytest

from algo_trade_core import (
    AlgoTradeError,
    CandleValidationError,
    ExchangeError,
    ExchangeUnavailable,
    ExchangeUnreachable,
    HyperliquidConfig,
    RateLimited,
)
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._ratelimit import WeightRateLimiter
from algo_trade_data.testing import FakeHyperliquid, FakeMarket, ManualClock, fake_candles, shared_data_dir

BTC_1M = shared_data_dir() / "real-candles" / "hyperliquid-perp" / "BTC_USDC_USDC-1m-futures.feather"
MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000  # 2025-07-20 08:00 UTC
BARS = 1_300
NOW = T0 + BARS * MINUTE + 5_000  # every stored bar has closed


def make_client(
    fake: FakeHyperliquid,
    clock: ManualClock,
    *,
    now_ms: int = NOW,
    limiter_weight: int | None = None,
    **config: Any,
) -> HyperliquidClient:
    settings: dict[str, Any] = {
        "request_timeout_s": 2.0,
        "max_retries": 2,
        "backoff_base_s": 0.5,
        "backoff_max_s": 4.0,
        "weight_per_minute": int(fake.capacity),
    }
    settings.update(config)
    cfg = HyperliquidConfig(api_url=fake.url, **settings)
    limiter = WeightRateLimiter(
        limiter_weight or cfg.weight_per_minute, clock=clock.monotonic, sleep=clock.sleep
    )
    return HyperliquidClient(
        cfg, limiter=limiter, now_ms=lambda: now_ms, sleep=clock.sleep, rng=random.Random(7)
    )


def expected_times(first_bar: int, count: int) -> list[datetime]:
    return [datetime.fromtimestamp((T0 + (first_bar + i) * MINUTE) / 1000, tz=UTC) for i in range(count)]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def source() -> pl.DataFrame:
    return fake_candles(T0, BARS, "1m", price=3_000.0, seed=11)


@pytest.fixture
async def fake(clock: ManualClock, source: pl.DataFrame) -> AsyncIterator[FakeHyperliquid]:
    async with FakeHyperliquid(now_ms=NOW, clock=clock.monotonic, max_candles_per_response=500) as server:
        server.add_candles("BTC", "1m", source)
        server.add_candles("ETH", "1m", source)
        yield server


def assert_same_bars(frame: pl.DataFrame, source: pl.DataFrame, first_bar: int, count: int) -> None:
    assert frame.schema == CANDLE_FRAME_SCHEMA
    assert frame["timestamp"].to_list() == expected_times(first_bar, count)  # none lost, none doubled
    want = source.slice(first_bar, count)
    for column in ("open", "high", "low", "close", "volume", "trades"):
        assert frame[column].to_list() == want[column].to_list(), column


# -- candles ------------------------------------------------------------------------------------


async def test_pagination_covers_a_window_larger_than_one_page(
    fake: FakeHyperliquid, clock: ManualClock, source: pl.DataFrame
) -> None:
    async with make_client(fake, clock) as client:
        frame = await client.candle_snapshot("BTC", "1m", T0, T0 + (BARS - 1) * MINUTE)
    assert_same_bars(frame, source, 0, BARS)
    starts = [r.body["req"]["startTime"] for r in fake.requests_of("candleSnapshot")]
    assert starts == [T0, T0 + 500 * MINUTE, T0 + 1_000 * MINUTE]  # next start = last t + interval
    assert set(frame["symbol"]) == {"BTC"}
    assert set(frame["exchange"]) == {"hyperliquid"}
    assert set(frame["interval"]) == {"1m"}


async def test_overlapping_pages_are_deduplicated(clock: ManualClock, source: pl.DataFrame) -> None:
    async with FakeHyperliquid(
        now_ms=NOW, clock=clock.monotonic, max_candles_per_response=400, overlap_bars=7
    ) as fake:
        fake.add_candles("BTC", "1m", source)
        async with make_client(fake, clock) as client:
            frame = await client.candle_snapshot("BTC", "1m", T0 + 100 * MINUTE, T0 + 1_199 * MINUTE)
    sent = sum(r.candles for r in fake.requests)
    assert sent > frame.height  # the pages really overlapped
    # The window's first bar is preceded by 7 overlap bars the server added; they overlap nothing
    # requested, so only bars touching the window are kept.
    assert_same_bars(frame, source, 100, 1_100)
    assert frame["timestamp"].is_unique().all()


async def test_still_forming_last_bar_is_dropped(
    fake: FakeHyperliquid, clock: ManualClock, source: pl.DataFrame
) -> None:
    fake.now_ms = T0 + 1_299 * MINUTE + 20_000  # inside the last stored bar
    async with make_client(fake, clock, now_ms=fake.now_ms) as client:
        frame = await client.candle_snapshot("BTC", "1m", T0 + 1_200 * MINUTE, fake.now_ms)
        assert fake.requests[-1].candles == 100  # the server sent the forming bar...
        assert_same_bars(frame, source, 1_200, 99)  # ...the client dropped it
        # The same bar once closed (the client's clock past its T) is kept.
        frame = await client.candle_snapshot("BTC", "1m", T0 + 1_200 * MINUTE, fake.now_ms, now_ms=NOW)
        assert_same_bars(frame, source, 1_200, 100)


async def test_pagination_stops_at_the_bar_that_has_not_opened(
    fake: FakeHyperliquid, clock: ManualClock
) -> None:
    # endTime far in the future: one page reaches the forming bar; no empty follow-up request.
    fake.now_ms = T0 + 1_250 * MINUTE + 1
    async with make_client(fake, clock, now_ms=fake.now_ms) as client:
        frame = await client.candle_snapshot("BTC", "1m", T0 + 1_000 * MINUTE, T0 + 10_000 * MINUTE)
    assert frame.height == 250
    assert len(fake.requests) == 1


async def test_only_the_most_recent_5000_real_bars_are_available(clock: ManualClock) -> None:
    if not BTC_1M.exists():
        pytest.skip(f"real candles not found at {BTC_1M}")
    real = pl.read_ipc(BTC_1M)
    opens = [int(d.timestamp() * 1000) for d in real["date"]]
    now = opens[-1] + 30_000  # the last real bar is still forming
    async with FakeHyperliquid(now_ms=now, clock=clock.monotonic) as fake:
        fake.add_candles("BTC", "1m", real)
        async with make_client(fake, clock, now_ms=now) as client:
            frame = await client.candle_snapshot("BTC", "1m", opens[0], now)
            older = await client.candle_snapshot("BTC", "1m", opens[0], opens[-5_001])
    assert real.height > 5_000
    assert frame.height == 4_999  # 5000 exist, the newest is forming
    assert frame["timestamp"][0] == real["date"][-5_000]
    assert frame["close"].to_list() == real["close"][-5_000:-1].to_list()
    assert older.height == 0
    weights = [r.weight for r in fake.requests]
    assert weights[0] == 104  # 20 + ceil(5000 / 60)


async def test_exact_values_come_through(fake: FakeHyperliquid, clock: ManualClock) -> None:
    fake.add_candles(
        "kPEPE",
        "1h",
        [{"t": T0, "o": "0.001601", "h": "0.001616", "l": "0.001601", "c": "0.001604", "v": "5.5", "n": 7}],
    )
    async with make_client(fake, clock, now_ms=T0 + 3_600_000) as client:
        [candle] = await client.fetch_candles("kPEPE", "1h", T0, T0)
    assert str(candle.close) == "0.001604"
    assert candle.to_candle("kPEPE", "1h").high == candle.high


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [(-1, T0, "start_ms >= 0"), (T0, T0 - 1, "end_ms >= start_ms")],
)
async def test_bad_windows_are_refused_before_any_request(
    fake: FakeHyperliquid, clock: ManualClock, start: int, end: int, message: str
) -> None:
    async with make_client(fake, clock) as client:
        with pytest.raises(ValueError, match=message):
            await client.candle_snapshot("BTC", "1m", start, end)
        with pytest.raises(ValueError, match="unknown interval"):
            await client.candle_snapshot("BTC", "7m", T0, T0)
    assert fake.requests == []


# -- budget and 429 -------------------------------------------------------------------------------


async def test_a_burst_never_exceeds_the_server_budget(clock: ManualClock, source: pl.DataFrame) -> None:
    async with FakeHyperliquid(now_ms=NOW, clock=clock.monotonic, weight_per_minute=300) as fake:
        fake.add_candles("BTC", "1m", source)
        async with make_client(fake, clock, max_concurrency=4) as client:
            windows = [(T0 + i * 60 * MINUTE, T0 + (i * 60 + 119) * MINUTE) for i in range(20)]
            frames = await asyncio.gather(*(client.candle_snapshot("BTC", "1m", a, b) for a, b in windows))
    assert [r.status for r in fake.requests] == [200] * 20  # no 429 at all
    assert all(f.height == 120 for f in frames)
    assert fake.total_weight == 20 * 22  # 20 + ceil(120 / 60) each
    assert clock.now - 1_000.0 >= (fake.total_weight - 300) / 5.0 - 1e-6  # paced at 300/min


async def test_after_a_429_the_client_backs_off_and_completes(
    clock: ManualClock, source: pl.DataFrame
) -> None:
    async with FakeHyperliquid(now_ms=NOW, clock=clock.monotonic, weight_per_minute=300) as fake:
        fake.add_candles("BTC", "1m", source)
        fake.consume_weight(290)  # another process on this IP spent the budget
        async with make_client(fake, clock, max_retries=3) as client:
            frames = await asyncio.gather(
                client.candle_snapshot("BTC", "1m", T0, T0 + 59 * MINUTE),
                client.candle_snapshot("BTC", "1m", T0 + 60 * MINUTE, T0 + 119 * MINUTE),
            )
            assert client.limiter.paused_for == 0
    statuses = [r.status for r in fake.requests]
    assert statuses.count(429) >= 1
    assert statuses.count(200) == 2
    assert [f.height for f in frames] == [60, 60]
    retry_after = 3  # ceil((21 - 10) / 5): the first 429's Retry-After
    assert clock.now - 1_000.0 >= retry_after


async def test_429_without_retry_after_uses_exponential_backoff(
    clock: ManualClock, source: pl.DataFrame
) -> None:
    async with FakeHyperliquid(now_ms=NOW, clock=clock.monotonic, send_retry_after=False) as fake:
        fake.add_candles("BTC", "1m", source)
        fake.consume_weight(1_200)
        async with make_client(fake, clock, max_retries=6, backoff_base_s=1.0, backoff_max_s=8.0) as client:
            frame = await client.candle_snapshot("BTC", "1m", T0, T0 + 9 * MINUTE)
    assert frame.height == 10
    assert [r.status for r in fake.requests][-1] == 200
    assert 429 in [r.status for r in fake.requests]


async def test_persistent_429_is_retried_until_the_deadline_not_a_retry_count(clock: ManualClock) -> None:
    # Without Retry-After the pause is the backoff (0.5 s doubling to 4 s) and the adapted budget paces
    # the tries: far more than max_retries (2) of them fit in the 600 s deadline, and the error quotes
    # the budget the server was seen to grant.
    async with FakeHyperliquid(now_ms=NOW, clock=clock.monotonic, send_retry_after=False) as fake:
        fake.consume_weight(10**9)
        async with make_client(fake, clock, max_retries=2, retry_deadline_s=600.0) as client:
            with pytest.raises(RateLimited) as info:
                await client.candle_snapshot("BTC", "1m", T0, T0 + MINUTE)
    message = str(info.value)
    assert "candleSnapshot BTC 1m" in message
    assert "429" in message
    assert "600 s deadline" in message
    assert "the server accepted only about 0 weight" in message  # observed, not the configured 1200
    assert len(fake.requests) > 10
    assert {r.status for r in fake.requests} == {429}
    assert clock.now - 1_000.0 <= 600.0 + 30.0  # past the deadline by at most one pause and one refill


async def test_a_retry_after_beyond_the_deadline_fails_at_once(clock: ManualClock) -> None:
    async with FakeHyperliquid(now_ms=NOW, clock=clock.monotonic) as fake:
        fake.consume_weight(10**9)  # Retry-After: 600 s (capped)
        async with make_client(fake, clock, retry_deadline_s=120.0) as client:
            with pytest.raises(RateLimited) as info:
                await client.candle_snapshot("BTC", "1m", T0, T0 + MINUTE)
    assert info.value.retry_after == 600.0
    assert [r.status for r in fake.requests] == [429]


# -- faults ---------------------------------------------------------------------------------------


async def test_transient_5xx_then_success(
    fake: FakeHyperliquid, clock: ManualClock, source: pl.DataFrame
) -> None:
    fake.inject("status", 2, status=502)
    async with make_client(fake, clock) as client:
        frame = await client.candle_snapshot("BTC", "1m", T0, T0 + 99 * MINUTE)
    assert_same_bars(frame, source, 0, 100)
    assert [r.status for r in fake.requests] == [502, 502, 200]
    assert len(clock.sleeps) >= 2  # it backed off between attempts


async def test_persistent_5xx_raises_exchange_unavailable(fake: FakeHyperliquid, clock: ManualClock) -> None:
    fake.inject("status", 99, status=503, body="maintenance")
    async with make_client(fake, clock) as client:
        with pytest.raises(ExchangeUnavailable) as info:
            await client.candle_snapshot("ETH", "1m", T0, T0 + MINUTE)
    message = str(info.value)
    assert "candleSnapshot ETH 1m" in message
    assert "after 3 attempts" in message
    assert "HTTP 503" in message
    assert "maintenance" in message


async def test_timeouts_are_retried(fake: FakeHyperliquid, clock: ManualClock, source: pl.DataFrame) -> None:
    fake.inject("hang", 1)
    async with make_client(fake, clock, request_timeout_s=0.2) as client:
        frame = await client.candle_snapshot("BTC", "1m", T0, T0 + 9 * MINUTE)
        assert_same_bars(frame, source, 0, 10)
        fake.inject("hang", 5)
        with pytest.raises(ExchangeUnavailable, match=r"BTC 1m .*after 3 attempts.*timed out after 0.2 s"):
            await client.candle_snapshot("BTC", "1m", T0, T0 + 9 * MINUTE)


async def test_dropped_connections_are_retried(
    fake: FakeHyperliquid, clock: ManualClock, source: pl.DataFrame
) -> None:
    fake.inject("disconnect", 2)
    async with make_client(fake, clock) as client:
        frame = await client.candle_snapshot("BTC", "1m", T0, T0 + 9 * MINUTE)
    assert_same_bars(frame, source, 0, 10)


async def test_no_candle_lost_or_doubled_when_later_pages_fail(
    fake: FakeHyperliquid, clock: ManualClock, source: pl.DataFrame
) -> None:
    def page(n: int) -> Any:
        return lambda body: body["req"]["startTime"] == T0 + n * 500 * MINUTE

    # Page 1 is clean; page 2 meets a 500, a hang and a non-JSON body; page 3 a 502 and a drop.
    fake.inject("status", 1, status=500, when=page(1))
    fake.inject("hang", 1, when=page(1))
    fake.inject("not_json", 1, when=page(1))
    fake.inject("status", 1, status=502, when=page(2))
    fake.inject("disconnect", 1, when=page(2))
    async with make_client(fake, clock, request_timeout_s=0.3, max_retries=3) as client:
        frame = await client.candle_snapshot("BTC", "1m", T0, T0 + (BARS - 1) * MINUTE)
    assert_same_bars(frame, source, 0, BARS)
    log = [(r.body["req"]["startTime"], r.fault) for r in fake.requests]
    p1, p2, p3 = (T0 + n * 500 * MINUTE for n in range(3))
    assert log == [
        (p1, None),
        (p2, "status"),
        (p2, "hang"),
        (p2, "not_json"),
        (p2, None),
        (p3, "status"),
        (p3, "disconnect"),
        (p3, None),
    ]


async def test_non_json_body_persisting_is_an_exchange_error(
    fake: FakeHyperliquid, clock: ManualClock
) -> None:
    fake.inject("not_json", 9)
    async with make_client(fake, clock) as client:
        with pytest.raises(ExchangeError) as info:
            await client.candle_snapshot("BTC", "1m", T0, T0 + MINUTE)
    assert not isinstance(info.value, ExchangeUnavailable)
    assert "candleSnapshot BTC 1m" in str(info.value)
    assert "not JSON" in str(info.value)
    assert "502 Bad Gateway" in str(info.value)


@pytest.mark.parametrize(
    ("kind", "error", "expected"),
    [
        ("wrong_shape", ExchangeError, "expected a JSON array of candles"),
        ("missing_field", ExchangeError, "missing field(s) o"),
        ("bad_number", CandleValidationError, "'o' is not a number: 'not-a-number'"),
        ("high_below_low", CandleValidationError, "is below max(open, close)"),
    ],
)
async def test_malformed_payloads_raise_clear_errors_without_retrying(
    fake: FakeHyperliquid, clock: ManualClock, kind: Any, error: type[AlgoTradeError], expected: str
) -> None:
    fake.inject(kind)
    async with make_client(fake, clock) as client:
        with pytest.raises(error) as info:
            await client.candle_snapshot("BTC", "1m", T0 + 60 * MINUTE, T0 + 70 * MINUTE)
    message = str(info.value)
    assert expected in message
    assert "BTC 1m" in message
    if kind != "wrong_shape":
        assert "2025-07-20T09:00:00+00:00" in message  # the bad bar's time
    assert len(fake.requests) == 1


async def test_http_4xx_is_not_retried_and_shows_the_body(fake: FakeHyperliquid, clock: ManualClock) -> None:
    fake.inject("status", 1, status=422, body="Failed to deserialize the JSON body into the target type")
    async with make_client(fake, clock) as client:
        with pytest.raises(ExchangeError, match=r"candleSnapshot BTC 1m .*HTTP 422.*Failed to deserialize"):
            await client.candle_snapshot("BTC", "1m", T0, T0 + MINUTE)
    assert len(fake.requests) == 1


async def test_refused_connection_is_unreachable_at_once_without_retries(clock: ManualClock) -> None:
    async with FakeHyperliquid() as fake:
        url = fake.url  # closed again: nothing listens on the port any more
    cfg = HyperliquidConfig(api_url=url, max_retries=5, backoff_base_s=0.01, backoff_max_s=0.01)
    limiter = WeightRateLimiter(1200, clock=clock.monotonic, sleep=clock.sleep)
    async with HyperliquidClient(cfg, limiter=limiter, sleep=clock.sleep) as client:
        with pytest.raises(
            ExchangeUnreachable, match=r"meta: Hyperliquid is unreachable: connection refused"
        ):
            await client.meta()
    assert clock.sleeps == []  # not retried: asking again would find nothing listening either
    assert limiter.available == 1200  # the weight of a request that never left is given back


async def test_unresolvable_host_is_unreachable_at_once(clock: ManualClock) -> None:
    cfg = HyperliquidConfig(api_url="http://api.hyperliquid.invalid", max_retries=5)  # RFC 2606
    limiter = WeightRateLimiter(1200, clock=clock.monotonic, sleep=clock.sleep)
    async with HyperliquidClient(cfg, limiter=limiter, sleep=clock.sleep) as client:
        with pytest.raises(ExchangeUnreachable, match=r"'api.hyperliquid.invalid' does not resolve"):
            await client.candle_snapshot("BTC", "1m", T0, T0 + MINUTE)
    assert clock.sleeps == []


# -- universe -------------------------------------------------------------------------------------


async def test_top_by_volume_excludes_delisted(clock: ManualClock) -> None:
    markets = [
        FakeMarket(name="MATIC", day_ntl_vlm="9999999999.0", is_delisted=True),  # stale, but the biggest
        FakeMarket(name="ETH", day_ntl_vlm="1450223817.2"),
        FakeMarket(name="BTC", day_ntl_vlm="2104518734.81"),
        FakeMarket(name="FTM", day_ntl_vlm="5000000000", is_delisted=True),
        FakeMarket(name="kPEPE", day_ntl_vlm="61234567.8"),
        FakeMarket(name="SOL", day_ntl_vlm="412775019.6"),
    ]
    async with (
        FakeHyperliquid(clock=clock.monotonic, markets=markets) as fake,
        make_client(fake, clock) as client,
    ):
        top = await client.top_by_volume(3)
        everything = await client.top_by_volume(100)
        universe = await client.meta()
        with_ctx = await client.meta_and_asset_ctxs()
    assert [m.name for m in top] == ["BTC", "ETH", "SOL"]
    assert [m.name for m in everything] == ["BTC", "ETH", "SOL", "kPEPE"]
    assert [(a.name, a.index, a.is_delisted) for a in universe][:2] == [("MATIC", 0, True), ("ETH", 1, False)]
    assert str(with_ctx[2].day_ntl_vlm) == "2104518734.81"
    assert with_ctx[0].mid_px is None  # null for the delisted coin
    assert [r.weight for r in fake.requests] == [20, 20, 20, 20]


async def test_check_symbols_explains_unknown_and_delisted_names(
    fake: FakeHyperliquid, clock: ManualClock
) -> None:
    async with make_client(fake, clock) as client:
        problems = await client.check_symbols(
            ["BTC", "kPEPE", "PEPE", "MATIC", "FTM", "SHIB", "btc", "NOPE", "POL"]
        )
    assert set(problems) == {"PEPE", "MATIC", "FTM", "SHIB", "btc", "NOPE"}
    assert "delisted" in problems["MATIC"]
    assert "POL" in problems["MATIC"]
    assert "delisted" in problems["FTM"]
    assert "use S " in problems["FTM"]
    assert "kPEPE" in problems["PEPE"]
    assert "per 1000" in problems["PEPE"]
    assert "kSHIB" in problems["SHIB"]
    assert "use BTC" in problems["btc"]
    assert "not a Hyperliquid perp" in problems["NOPE"]
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("kind", "method", "expected"),
    [
        ("wrong_shape", "meta", "expected an object with a 'universe' array"),
        ("wrong_shape", "meta_and_asset_ctxs", "expected a 2-element JSON array"),
    ],
)
async def test_universe_garbage_is_an_exchange_error(
    fake: FakeHyperliquid, clock: ManualClock, kind: Any, method: str, expected: str
) -> None:
    fake.inject(kind)
    async with make_client(fake, clock) as client:
        with pytest.raises(ExchangeError, match=expected):
            await getattr(client, method)()


# -- session ownership ----------------------------------------------------------------------------


async def test_one_session_per_client_and_a_given_session_stays_open(
    fake: FakeHyperliquid, clock: ManualClock
) -> None:
    client = make_client(fake, clock)
    async with client:
        await client.meta()
        session = client._session
        await client.meta()
        assert client._session is session
    assert session is not None
    assert session.closed
    async with aiohttp.ClientSession() as mine:
        cfg = HyperliquidConfig(api_url=fake.url)
        async with HyperliquidClient(cfg, mine, WeightRateLimiter(1200)) as client2:
            await client2.meta()
        assert not mine.closed
