"""Bots on the real MarketDataHub, fed by the fake Hyperliquid's WebSocket replays, on the real database.

The fake server replays bars as the exchange streams them (several updates per bar; a bar is closed when
the next one starts), drops connections on demand and serves REST candles up to its clock, which the
replay moves forward. The bots' clock is the server's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import polars as pl
import pytest

from algo_trade_backtest import run_backtest
from algo_trade_bot_orchestrator import Bot, BotRegistry, BotState, strategy_warmup_bars
from algo_trade_core import HyperliquidConfig, ms_to_datetime
from algo_trade_data import HyperliquidClient, MarketDataHub
from algo_trade_data.testing import FakeHyperliquid, fake_candles

STEP = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000
BARS = 400
WARM = 60  # bars closed on the server when the bots start
UPDATES = 3  # pushes per bar
FAST_CROSS = {"fast": 5, "slow": 20}
COINS = ("BTC", "ETH", "SOL")
Eventually = Callable[..., Any]
Setup = tuple[MarketDataHub, BotRegistry, HyperliquidClient]


@pytest.fixture
async def fake() -> AsyncIterator[FakeHyperliquid]:
    async with FakeHyperliquid(now_ms=T0 + WARM * STEP + 1_000) as server:
        for seed, coin in enumerate(COINS):
            server.add_candles(coin, "1m", fake_candles(T0, BARS, "1m", price=100.0 * (seed + 1), seed=seed))
        yield server


@pytest.fixture
async def setup(fake: FakeHyperliquid, clean_db: Any) -> AsyncIterator[Setup]:
    config = HyperliquidConfig(
        api_url=fake.url, ws_url=fake.ws_url, backoff_base_s=0.01, backoff_max_s=0.05, max_retries=2
    )
    async with HyperliquidClient(config, now_ms=lambda: fake.now_ms) as rest:
        async with MarketDataHub(config, rest=rest, store=clean_db, max_connections_per_minute=1000) as hub:
            registry = BotRegistry(
                clean_db,
                hub,
                candles=rest,
                clock_ms=lambda: fake.now_ms,
                strategy_parameters={"ma_crossover": FAST_CROSS},
                checkpoint_s=0.0,
            )
            yield hub, registry, rest
            await registry.shutdown_all()


def frame_of(coin: str) -> pl.DataFrame:
    seed = COINS.index(coin)
    return fake_candles(T0, BARS, "1m", price=100.0 * (seed + 1), seed=seed)


def closed_upto(bot: Bot, index: int) -> Callable[[], bool]:
    t = ms_to_datetime(T0 + index * STEP)

    def check() -> bool:
        return bot.status().last_candle_time == t

    check.__name__ = f"{bot.bot_id} to handle bar #{index}"
    return check


def expected(coin: str, last_index: int) -> Any:
    """The engine over the warm-up the bot fetched and every closed bar up to ``last_index``."""
    warmup = strategy_warmup_bars("ma_crossover", FAST_CROSS)
    frame = frame_of(coin)[WARM - warmup : last_index + 1]
    return run_backtest(
        frame["timestamp"].dt.epoch("ms").to_numpy(),
        *(frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")),
        strategy="ma_crossover",
        params=FAST_CROSS,
        interval="1m",
    )


async def test_bots_on_one_connection_survive_a_drop_and_follow_the_approved_tokens(
    fake: FakeHyperliquid,
    setup: Setup,
    clean_db: Any,
    eventually: Eventually,
) -> None:
    hub, registry, _ = setup
    assert await registry.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover") == (
        ["BTC", "ETH"],
        [],
    )
    btc, eth = registry.get_bot("ma_crossover:BTC"), registry.get_bot("ma_crossover:ETH")
    # The store was empty: the warm-up came over REST, up to the last bar the server has closed.
    assert btc.status().last_candle_time == ms_to_datetime(T0 + (WARM - 1) * STEP)
    await eventually(lambda: hub.is_subscribed("BTC", "1m") and hub.is_subscribed("ETH", "1m"))

    for coin in ("BTC", "ETH"):
        fake.ws.start_replay(coin, "1m", start_index=WARM, updates_per_bar=UPDATES)
    await fake.ws.step(updates=1 + UPDATES * 80)  # bars WARM..WARM+79 closed, WARM+80 forming
    await eventually(closed_upto(btc, WARM + 79))
    await eventually(closed_upto(eth, WARM + 79))

    # A network failure mid-stream: pushes sent meanwhile are lost; the hub reconnects and backfills.
    await fake.ws.drop_connections()
    await fake.ws.step(updates=UPDATES * 10)
    await eventually(
        lambda: (
            fake.ws.connections_opened == 2
            and hub.is_subscribed("BTC", "1m")
            and hub.is_subscribed("ETH", "1m")
        ),
        what="the hub to reconnect",
    )
    await fake.ws.step(updates=UPDATES * 100)
    last = WARM + 189
    await eventually(closed_upto(btc, last))
    await eventually(closed_upto(eth, last))

    for bot in (btc, eth):
        status = bot.status()
        assert status.bars == last - WARM + 1  # every closed bar once: none missed, none twice
        assert bot.ignored_bars == 0
        batch = expected(bot.config.symbol, last)
        assert status.num_trades == len(batch.trades) > 10
        assert status.equity == batch.equity[-1]
        assert await bot.flushed()
        assert len(await clean_db.list_fills(bot_id=bot.bot_id)) == status.num_fills
    assert fake.ws.open_connections == 1

    # BTC drops out, SOL comes in: BTC's position is closed at the next bar's open.
    position = btc.status().position
    assert position is not None
    assert await registry.sync_bots_with_approved_tokens(["ETH", "SOL"], "ma_crossover") == (["SOL"], ["BTC"])
    sol = registry.get_bot("ma_crossover:SOL")
    assert sol.status().last_candle_time == ms_to_datetime(T0 + last * STEP)  # warm up to the last close
    fake.ws.start_replay("SOL", "1m", start_index=last + 1, updates_per_bar=UPDATES)
    await eventually(lambda: hub.is_subscribed("SOL", "1m"))
    await fake.ws.step("SOL", "1m")  # in step with ETH: bar last+1 forming
    await fake.ws.step("BTC", "1m", updates=UPDATES)  # bar last+1 closes
    await eventually(lambda: btc.done, what="the BTC bot to close and stop")
    close = (await clean_db.list_fills(bot_id=btc.bot_id))[-1]
    closing_bar = frame_of("BTC").row(last + 1, named=True)
    assert close.reason == "close"
    assert close.timestamp == closing_bar["timestamp"]
    slip = 1 - 5e-4 if position.side == "long" else 1 + 5e-4
    assert float(close.price) == pytest.approx(closing_bar["open"] * slip, rel=1e-9)
    assert (await clean_db.get_bot(btc.bot_id)).state == "stopped"
    # The deselected token keeps a shadow bot ([bots] shadow_days): the only BTC subscriber left.
    shadow = registry.get_bot("shadow:ma_crossover:BTC")
    assert shadow is not None
    assert shadow.status().shadow
    await eventually(lambda: fake.ws.subscriber_count("BTC", "1m") == 1)

    await fake.ws.step(updates=UPDATES * 20)
    await eventually(closed_upto(sol, last + 20))
    await eventually(closed_upto(eth, last + 20))
    assert sol.status().bars == 20
    assert sol.status().num_fills > 0
    assert sol.status().state is eth.status().state is BotState.RUNNING
    assert fake.ws.connections_opened == 2
    assert fake.ws.open_connections == 1
    # The hub recorded the closed bars: the store now holds what a restarted bot would warm up on.
    assert await hub.flush()
    stored = await clean_db.query_candles("ETH", "1m", ms_to_datetime(T0), ms_to_datetime(T0 + BARS * STEP))
    assert stored.height >= last - WARM


async def test_a_restarted_daemon_resumes_its_bots_on_the_hub(
    fake: FakeHyperliquid,
    setup: Setup,
    clean_db: Any,
    eventually: Eventually,
) -> None:
    hub, registry, rest = setup
    await registry.sync_bots_with_approved_tokens(["BTC"], "ma_crossover")
    btc = registry.get_bot("ma_crossover:BTC")
    fake.ws.start_replay("BTC", "1m", start_index=WARM, updates_per_bar=UPDATES)
    await eventually(lambda: hub.is_subscribed("BTC", "1m"))
    await fake.ws.step(updates=1 + UPDATES * 100)
    await eventually(closed_upto(btc, WARM + 99))
    before = btc.status()
    btc.kill()  # the process dies: no goodbye write
    await eventually(lambda: btc.done)

    # While it is down, 30 more bars close (the hub of the new process will not see their pushes).
    await fake.ws.step(updates=UPDATES * 30)
    restarted = BotRegistry(clean_db, hub, candles=rest, clock_ms=lambda: fake.now_ms, checkpoint_s=0.0)
    try:
        assert await restarted.restore() == ["ma_crossover:BTC"]
        bot = restarted.get_bot("ma_crossover:BTC")
        assert bot.status().num_fills >= before.num_fills
        assert bot.status().last_candle_time == ms_to_datetime(T0 + (WARM + 129) * STEP)  # caught up (REST)
        await fake.ws.step(updates=UPDATES * 50)
        await eventually(closed_upto(bot, WARM + 179))
        batch = expected("BTC", WARM + 179)
        assert bot.status().num_trades == len(batch.trades)
        assert bot.status().equity == batch.equity[-1]
        assert await bot.flushed()
        fills = await clean_db.list_fills(bot_id=bot.bot_id)
        assert (
            len(fills) == bot.status().num_fills == 2 * len(batch.trades) + (batch.open_position is not None)
        )
    finally:
        await restarted.shutdown_all()


async def test_bars_a_bot_warms_up_on_or_replays_over_rest_are_stored(
    fake: FakeHyperliquid, setup: Setup, clean_db: Any, eventually: Eventually
) -> None:
    # The store starts empty: the warm-up comes from REST, and so do the bars a restored bot replays
    # after a kill. Both are bars the hub never saw; once they leave the exchange's 5000-bar window
    # nothing else has them, so they must land in ohlcv.
    hub, registry, rest = setup
    await registry.sync_bots_with_approved_tokens(["BTC"], "ma_crossover")
    btc = registry.get_bot("ma_crossover:BTC")
    source = frame_of("BTC")

    async def stored(first: int, last: int) -> pl.DataFrame:
        return await clean_db.query_candles(
            "BTC", "1m", ms_to_datetime(T0 + first * STEP), ms_to_datetime(T0 + (last + 1) * STEP)
        )

    warm = await stored(0, WARM - 1)
    assert warm.height >= strategy_warmup_bars("ma_crossover", FAST_CROSS)
    first = int(warm["timestamp"].dt.epoch("ms")[0] - T0) // STEP
    assert warm["close"].to_list() == source["close"][first:WARM].to_list()

    fake.ws.start_replay("BTC", "1m", start_index=WARM, updates_per_bar=UPDATES)
    await eventually(lambda: hub.is_subscribed("BTC", "1m"))
    await fake.ws.step(updates=1 + UPDATES * 20)
    await eventually(closed_upto(btc, WARM + 19))
    btc.kill()
    await eventually(lambda: btc.done)
    await eventually(lambda: fake.ws.subscriber_count("BTC", "1m") == 0)
    await fake.ws.step(updates=UPDATES * 30)  # bars WARM+20 .. WARM+49 close while nobody listens
    restarted = BotRegistry(clean_db, hub, candles=rest, clock_ms=lambda: fake.now_ms, checkpoint_s=0.0)
    try:
        assert await restarted.restore() == ["ma_crossover:BTC"]
        replayed = await stored(WARM + 20, WARM + 49)
        assert replayed.height == 30
        assert replayed["close"].to_list() == source["close"][WARM + 20 : WARM + 50].to_list()
    finally:
        await restarted.shutdown_all()
