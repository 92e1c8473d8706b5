"""WeightRateLimiter and the request-weight rules, on a manual clock (no real waiting)."""

from __future__ import annotations

import asyncio

import pytest

from algo_trade_core import HyperliquidConfig
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._ratelimit import (
    WeightRateLimiter,
    candle_snapshot_weight,
    info_request_weight,
    shared_limiter,
)
from algo_trade_data.testing import ManualClock


def limiter_on(clock: ManualClock, per_minute: int = 1200) -> WeightRateLimiter:
    return WeightRateLimiter(per_minute, clock=clock.monotonic, sleep=clock.sleep)


def test_weights_follow_the_documented_rules() -> None:
    # HYPERLIQUID-API.md section 4: 20 base, +1 per 60 candles (5000 -> ~104, 24 -> ~21).
    assert info_request_weight("candleSnapshot") == 20
    assert info_request_weight("meta") == 20
    assert info_request_weight("metaAndAssetCtxs") == 20
    assert info_request_weight("allMids") == 2
    assert info_request_weight("l2Book") == 2
    assert info_request_weight("userRole") == 60
    assert candle_snapshot_weight(0) == 20
    assert candle_snapshot_weight(1) == 21
    assert candle_snapshot_weight(24) == 21
    assert candle_snapshot_weight(60) == 21
    assert candle_snapshot_weight(61) == 22
    assert candle_snapshot_weight(5000) == 104
    with pytest.raises(ValueError, match="candle count"):
        candle_snapshot_weight(-1)


async def test_burst_up_to_capacity_does_not_wait_then_waits_for_refill() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, 120)  # 2 weight per second
    for _ in range(6):
        await limiter.acquire(20)
    assert clock.now == 1_000.0
    assert limiter.available == pytest.approx(0.0)
    await limiter.acquire(20)
    assert clock.now == pytest.approx(1_010.0)  # 20 weight at 2/s


async def test_concurrent_acquires_are_serialised_and_paced() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, 120)
    await asyncio.gather(*(limiter.acquire(60) for _ in range(10)))
    # 600 weight, 120 available at once, the rest at 2/s: 240 s, not more and not less.
    assert clock.now - 1_000.0 == pytest.approx(240.0)
    assert limiter.available == pytest.approx(0.0, abs=1e-9)


async def test_refill_is_capped_at_capacity() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, 120)
    await limiter.acquire(120)
    clock.advance(3_600)
    assert limiter.available == pytest.approx(120.0)


async def test_penalize_pauses_every_acquire() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock)
    limiter.penalize(7.5)
    assert limiter.paused_for == pytest.approx(7.5)
    await limiter.acquire(1)
    assert clock.now == pytest.approx(1_007.5)
    limiter.penalize(1.0)
    limiter.penalize(0.5)  # never shortens a pause
    assert limiter.paused_for == pytest.approx(1.0)


async def test_charge_leaves_debt_and_refund_is_capped() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, 60)  # 1 per second
    limiter.charge(90)
    assert limiter.available == pytest.approx(-30.0)
    await limiter.acquire(10)
    assert clock.now == pytest.approx(1_040.0)  # 40 s to climb from -30 to 10
    limiter.refund(1_000)
    assert limiter.available == pytest.approx(60.0)


async def test_weight_above_capacity_waits_for_a_full_bucket_instead_of_forever() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, 60)
    await limiter.acquire(30)
    await limiter.acquire(100)
    assert clock.now == pytest.approx(1_030.0)
    assert limiter.available == pytest.approx(-40.0)


async def test_negative_weight_is_rejected() -> None:
    with pytest.raises(ValueError, match="weight >= 0"):
        await limiter_on(ManualClock()).acquire(-1)


def test_rejects_a_zero_budget() -> None:
    with pytest.raises(ValueError, match="weight_per_minute"):
        WeightRateLimiter(0)


def test_limiter_survives_being_used_from_two_event_loops() -> None:
    # A module-level shared limiter outlives asyncio.run(); its lock must not stay bound to a dead loop.
    clock = ManualClock()
    limiter = limiter_on(clock, 60)

    async def use() -> None:
        await asyncio.gather(limiter.acquire(40), limiter.acquire(40))

    asyncio.run(use())
    asyncio.run(use())
    assert clock.now > 1_000.0


def test_clients_of_one_api_url_share_one_limiter_by_default() -> None:
    config = HyperliquidConfig(api_url="http://127.0.0.1:1")
    same = HyperliquidConfig(api_url="http://127.0.0.1:1/")
    other = HyperliquidConfig(api_url="http://127.0.0.1:2")
    a, b, c = HyperliquidClient(config), HyperliquidClient(same), HyperliquidClient(other)
    assert a.limiter is b.limiter is shared_limiter(config)
    assert c.limiter is not a.limiter
    explicit = WeightRateLimiter(10)
    assert HyperliquidClient(config, limiter=explicit).limiter is explicit
