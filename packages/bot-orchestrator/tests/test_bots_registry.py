"""BotRegistry and bot actors on the real database with an in-memory feed.

Each test stores warm-up candles, pins the bots' clock just after them, then publishes the following
bars through the feed and polls until the bots have handled them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from algo_trade_backtest import run_backtest
from algo_trade_bot_orchestrator import (
    Bot,
    BotConfig,
    BotRegistry,
    BotState,
    FeedBar,
    MemoryFeed,
    PaperBook,
    status_from_record,
)
from algo_trade_core import AppConfig, BacktestConfig, BotsConfig, ConfigError, OrderSide, ms_to_datetime

STEP = 60_000
WARM = 60  # bars stored before the bots start (more than ma_crossover 5/20 needs)
FAST_CROSS = {"fast": 5, "slow": 20}
Walk = Callable[..., pl.DataFrame]
Bars = Callable[[pl.DataFrame], list[FeedBar]]
Eventually = Callable[..., Any]


def handled(bot: Bot, bar: FeedBar) -> Callable[[], bool]:
    def check() -> bool:
        last = bot.status().last_candle_time
        return last is not None and last >= ms_to_datetime(bar.t)

    check.__name__ = f"{bot.bot_id} to handle the bar at {ms_to_datetime(bar.t).isoformat()}"
    return check


async def start_bots(
    desk: Any,
    walk: Walk,
    bars_of: Bars,
    symbols: list[str],
    n: int = 400,
) -> dict[str, list[FeedBar]]:
    """Store WARM bars per symbol, pin the clock after them; return every symbol's bars."""
    out = {}
    for seed, symbol in enumerate(symbols, start=1):
        frame = walk(symbol, n, seed=seed)
        await desk.store(frame[:WARM])
        out[symbol] = bars_of(frame)
    desk.clock.after_bar(out[symbols[0]][WARM - 1].t)
    return out


async def play(desk: Any, eventually: Eventually, bots: list[Bot], bars: list[FeedBar]) -> None:
    desk.publish(bars)
    by_symbol = {}
    for bar in bars:
        by_symbol[bar.symbol] = bar
    for bot in bots:
        if bot.config.symbol in by_symbol:
            await eventually(handled(bot, by_symbol[bot.config.symbol]))
            assert await bot.flushed(), f"{bot.bot_id}: the store did not take the writes"


def reference(bars: list[FeedBar], config: BotConfig) -> PaperBook:
    """A book fed the same warm-up and live bars without any bot machinery."""
    book = PaperBook(config)
    warm = pl.DataFrame(
        [
            {"t": b.t, "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume}
            for b in bars[:WARM]
        ]
    )
    book.warm_up(warm)
    for bar in bars[WARM:]:
        book.on_bar(bar)
    return book


async def test_spawned_bot_starts_warm_and_trades(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    bars = (await start_bots(desk, walk, bars_of, ["BTC"]))["BTC"]
    bot_id = await desk.registry.spawn_bot(desk.registry.new_config("BTC", "ma_crossover"))
    bot = desk.registry.get_bot(bot_id)
    status = bot.status()
    assert bot_id == "ma_crossover:BTC"
    assert status.state is BotState.RUNNING
    assert status.last_candle_time == ms_to_datetime(bars[WARM - 1].t)  # warmed up on the stored bars
    assert desk.feed.subscribers("BTC", "1m") == 1
    assert await bot.flushed()
    assert (await desk.db.get_bot(bot_id)).state == "running"

    await play(desk, eventually, [bot], bars[WARM:])
    status = bot.status()
    book = reference(bars, bot.config)
    assert status.bars == len(bars) - WARM
    assert status.num_trades == book.num_trades > 5
    assert status.equity == book.equity
    fills = await desk.db.list_fills(bot_id=bot_id)
    assert len(fills) == status.num_fills == book.num_fills
    row = await desk.db.get_bot(bot_id)
    assert row.last_candle_time == ms_to_datetime(bars[-1].t)
    assert float(row.equity) == pytest.approx(status.equity, abs=1e-7)
    assert row.position["open_position"]["side"] == status.position.side
    # What `algo-trade bots list` shows from the database, with no daemon in this process.
    stored = status_from_record(row)
    assert stored.position == status.position
    for field in ("bot_id", "symbol", "state", "bars", "num_trades", "num_fills", "last_candle_time"):
        assert getattr(stored, field) == getattr(status, field)
    assert stored.equity == pytest.approx(status.equity, abs=1e-7)
    assert stored.realized_pnl == pytest.approx(status.realized_pnl)


async def test_first_live_bar_can_trade(desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually) -> None:
    # Exactly the strategy's warm-up in the store: the first live bar must already be able to signal.
    frame = walk("BTC", 200, seed=3)
    bars = bars_of(frame)
    await desk.store(frame[:WARM])
    desk.clock.after_bar(bars[WARM - 1].t)
    config = desk.registry.new_config("BTC", "ma_crossover", warmup_bars=19)
    bot = desk.registry.get_bot(await desk.registry.spawn_bot(config))
    await play(desk, eventually, [bot], bars[WARM : WARM + 2])
    fills = await desk.db.list_fills(bot_id=bot.bot_id)
    assert [f.timestamp for f in fills][:1] == [ms_to_datetime(bars[WARM + 1].t)]
    assert fills[0].reason == "entry"


async def test_status_never_disturbs_trading(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    bars = (await start_bots(desk, walk, bars_of, ["BTC"]))["BTC"]
    quiet = desk.registry.get_bot(
        await desk.registry.spawn_bot(desk.registry.new_config("BTC", "ma_crossover", bot_id="quiet"))
    )
    asked = desk.registry.get_bot(
        await desk.registry.spawn_bot(desk.registry.new_config("BTC", "ma_crossover", bot_id="asked"))
    )
    answers = []
    for bar in bars[WARM:]:
        desk.feed.publish(bar)
        answers.append(asked.status())
        answers.append(await asked.query_status())  # queued, answered between two bars
        assert desk.registry.statuses()
    await eventually(handled(quiet, bars[-1]))
    await eventually(handled(asked, bars[-1]))
    assert all(a.state is BotState.RUNNING for a in answers)
    seen = [a.bars for a in answers[1::2]]
    assert seen == sorted(seen)
    assert all(i - 1 <= n <= i for i, n in enumerate(seen, start=1))  # never more than one bar behind
    assert await quiet.flushed()
    assert await asked.flushed()
    q, a = quiet.status(), asked.status()
    assert (a.equity, a.num_trades, a.num_fills) == (q.equity, q.num_trades, q.num_fills)
    quiet_fills = [
        (f.timestamp, f.side, f.price, f.quantity) for f in await desk.db.list_fills(bot_id="quiet")
    ]
    asked_fills = [
        (f.timestamp, f.side, f.price, f.quantity) for f in await desk.db.list_fills(bot_id="asked")
    ]
    assert asked_fills == quiet_fills
    assert len(quiet_fills) > 10


async def test_sync_starts_the_approved_set_and_closes_the_rest(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    reg = desk.registry
    bars = await start_bots(desk, walk, bars_of, ["BTC", "ETH", "SOL"])
    other = await reg.spawn_bot(reg.new_config("BTC", "quad_ma"))  # another strategy: not synced
    started, stopped = await reg.sync_bots_with_approved_tokens(["BTC", "ETH", "BTC"], "ma_crossover")
    assert (started, stopped) == (["BTC", "ETH"], [])
    assert sorted(b.config.symbol for b in reg.list_bots() if b.config.strategy == "ma_crossover") == [
        "BTC",
        "ETH",
    ]
    assert await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover") == ([], [])

    btc = reg.get_bot("ma_crossover:BTC")
    eth = reg.get_bot("ma_crossover:ETH")
    await play(desk, eventually, [btc, eth], [*bars["BTC"][WARM:150], *bars["ETH"][WARM:150]])
    position = btc.status().position
    assert position is not None  # ma_crossover is always in the market once warm

    started, stopped = await reg.sync_bots_with_approved_tokens(["ETH", "SOL"], "ma_crossover")
    assert (started, stopped) == (["SOL"], ["BTC"])
    assert btc.status().state is BotState.STOPPING  # closes at the next price, not before
    assert reg.get_bot(other) is not None

    closing_bar = bars["BTC"][150]
    desk.feed.publish(closing_bar)
    await eventually(lambda: btc.done, what="the BTC bot to stop")
    assert reg.get_bot("ma_crossover:BTC") is None
    # Left on BTC: the quad_ma bot and the deselected token's shadow ([bots] shadow_days).
    assert desk.feed.subscribers("BTC", "1m") == 2
    assert reg.get_bot("shadow:ma_crossover:BTC") is not None
    status = btc.status()
    assert status.state is BotState.STOPPED
    assert status.position is None
    last = (await desk.db.list_fills(bot_id="ma_crossover:BTC"))[-1]
    assert last.reason == "close"
    assert last.timestamp == ms_to_datetime(closing_bar.t)
    assert last.side == ("sell" if position.side == "long" else "buy")
    slip = 1 - 5e-4 if position.side == "long" else 1 + 5e-4
    assert float(last.price) == pytest.approx(closing_bar.open * slip, rel=1e-9)
    assert float(last.quantity) == pytest.approx(position.quantity, rel=1e-9)
    row = await desk.db.get_bot("ma_crossover:BTC")
    assert row.state == "stopped"
    assert row.position["open_position"] is None
    assert float(row.equity) == pytest.approx(status.equity, abs=1e-7)

    sol = reg.get_bot("ma_crossover:SOL")
    await play(desk, eventually, [eth, sol], [*bars["ETH"][150:200], *bars["SOL"][WARM:200]])
    assert eth.status().state is sol.status().state is BotState.RUNNING
    assert sol.status().num_fills > 0


async def test_reapproval_before_the_close_keeps_the_bot(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    reg = desk.registry
    bars = await start_bots(desk, walk, bars_of, ["BTC"])
    await reg.sync_bots_with_approved_tokens(["BTC"], "ma_crossover")
    bot = reg.get_bot("ma_crossover:BTC")
    await play(desk, eventually, [bot], bars["BTC"][WARM:100])
    assert await reg.sync_bots_with_approved_tokens([], "ma_crossover") == ([], ["BTC"])
    assert await reg.sync_bots_with_approved_tokens(["BTC"], "ma_crossover") == (["BTC"], [])
    assert reg.get_bot("ma_crossover:BTC") is bot
    assert bot.status().state is BotState.RUNNING
    await play(desk, eventually, [bot], bars["BTC"][100:200])
    assert not any(f.reason == "close" for f in await desk.db.list_fills(bot_id=bot.bot_id))


async def test_drain_waits_for_the_strategy_exit(
    desk: Any, walk: Walk, bars_of: Bars, arrays_of: Any, eventually: Eventually
) -> None:
    frame = walk("BTC", 400, seed=1)
    bars = bars_of(frame)
    await desk.store(frame[:WARM])
    desk.clock.after_bar(bars[WARM - 1].t)
    reg = desk.registry
    bot = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", "ma_crossover")))
    await play(desk, eventually, [bot], bars[WARM:100])
    assert bot.status().position is not None

    status = await reg.remove_bot(bot.bot_id, drain=True, wait=False)
    assert status.state is BotState.STOPPING
    assert status.stop_mode == "drain"
    assert await bot.flushed()
    assert (await desk.db.get_bot(bot.bot_id)).state == "stopping"
    desk.publish(bars[100:])
    await eventually(lambda: bot.done, what="the drained bot to stop")
    # The exit is where the strategy itself left the position (a backtest's reversal), and no entry follows.
    batch = run_backtest(
        *arrays_of(frame[WARM - 19 :]), strategy="ma_crossover", params=FAST_CROSS, interval="1m"
    )
    exit_trade = next(t for t in batch.trades if t.exit_time > ms_to_datetime(bars[99].t))
    fills = await desk.db.list_fills(bot_id=bot.bot_id)
    assert fills[-1].reason == "signal"
    assert fills[-1].timestamp == exit_trade.exit_time
    assert float(fills[-1].price) == pytest.approx(exit_trade.exit_price, abs=1e-8)
    assert bot.status().state is BotState.STOPPED
    assert reg.get_bot(bot.bot_id) is None


async def test_removing_a_flat_bot_is_immediate(desk: Any, walk: Walk, bars_of: Bars) -> None:
    await start_bots(desk, walk, bars_of, ["BTC"])
    reg = desk.registry
    bot_id = await reg.spawn_bot(reg.new_config("BTC", "ma_crossover"))
    status = await reg.remove_bot(bot_id)
    assert status.state is BotState.STOPPED
    assert status.position is None
    assert reg.get_bot(bot_id) is None
    assert desk.feed.subscribers("BTC", "1m") == 0
    assert await desk.db.list_fills(bot_id=bot_id) == []
    with pytest.raises(KeyError):
        await reg.remove_bot(bot_id)


async def test_a_failing_bot_leaves_the_others_trading(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    reg = desk.registry
    bars = await start_bots(desk, walk, bars_of, ["BTC", "ETH"])
    await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover")
    btc, eth = reg.get_bot("ma_crossover:BTC"), reg.get_bot("ma_crossover:ETH")
    await play(desk, eventually, [btc, eth], [*bars["BTC"][WARM:80], *bars["ETH"][WARM:80]])

    good = bars["BTC"][80]
    broken = FeedBar(
        symbol="BTC",
        interval="1m",
        t=good.t,
        open=good.open,
        high=good.low * 0.99,
        low=good.low,
        close=good.close,
        volume=good.volume,
    )  # high below low
    desk.feed.publish(broken)
    await eventually(lambda: btc.status().state is BotState.ERROR, what="the BTC bot to fail")
    assert "high" in (btc.status().error or "")
    assert await btc.flushed()
    row = await desk.db.get_bot(btc.bot_id)
    assert row.state == "error"
    assert "high" in row.error

    await play(desk, eventually, [eth], bars["ETH"][80:200])
    assert eth.status().state is BotState.RUNNING
    assert eth.status().bars == 200 - WARM
    assert [b.bot_id for b in reg.list_bots()] == ["ma_crossover:BTC", "ma_crossover:ETH"]
    desk.publish(bars["BTC"][81:90])  # ignored by the failed bot
    assert btc.status().last_candle_time == ms_to_datetime(bars["BTC"][79].t)

    # The next sync replaces the failed bot.
    assert await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover") == (["BTC"], [])
    fresh = reg.get_bot("ma_crossover:BTC")
    assert fresh is not btc
    assert fresh.status().state is BotState.RUNNING


async def test_restore_after_a_crash(desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually) -> None:
    reg = desk.registry
    bars = await start_bots(desk, walk, bars_of, ["BTC", "ETH"])
    await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover")
    bots = {b.config.symbol: b for b in reg.list_bots()}
    await play(desk, eventually, list(bots.values()), [*bars["BTC"][WARM:150], *bars["ETH"][WARM:150]])
    await bots["ETH"].pause()
    before = {s: b.status() for s, b in bots.items()}
    assert all(s.position is not None for s in before.values())

    for bot in bots.values():  # SIGKILL: no more writes of any kind
        bot.kill()
    await eventually(lambda: all(b.done for b in bots.values()))

    desk.registry = reg = desk.new_registry()
    assert sorted(await reg.restore()) == ["ma_crossover:BTC", "ma_crossover:ETH"]
    after = {b.config.symbol: b.status() for b in reg.list_bots()}
    for symbol, old in before.items():
        new = after[symbol]
        assert new.state is old.state
        assert new.position == old.position
        assert (new.equity, new.num_trades, new.num_fills) == (old.equity, old.num_trades, old.num_fills)
        assert new.last_candle_time == old.last_candle_time
    assert after["ETH"].state is BotState.PAUSED

    # The feed re-delivers bars the bots had handled, then new ones.
    await reg.get_bot("ma_crossover:ETH").resume()
    restored = reg.list_bots()
    await play(desk, eventually, restored, [*bars["BTC"][120:], *bars["ETH"][120:]])
    btc = reg.get_bot("ma_crossover:BTC")
    assert btc.ignored_bars == 30
    reference_book = reference(bars["BTC"], btc.config)
    stored = await desk.db.list_fills(bot_id=btc.bot_id)
    assert len(stored) == btc.status().num_fills == reference_book.num_fills
    assert len({f.fill_id for f in stored}) == len(stored)
    assert btc.status().equity == reference_book.equity


async def test_restore_replays_from_a_lagging_checkpoint_without_duplicates(
    make_desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    desk = make_desk(checkpoint_s=3600.0)  # rows written only with fills or state changes
    bars = await start_bots(desk, walk, bars_of, ["BTC"])
    reg = desk.registry
    bot = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", "ma_crossover")))
    await play(desk, eventually, [bot], bars["BTC"][WARM:200])
    row = await desk.db.get_bot(bot.bot_id)
    assert row.last_candle_time < ms_to_datetime(bars["BTC"][199].t)  # the stored state lags
    fills_before = len(await desk.db.list_fills(bot_id=bot.bot_id))
    bot.kill()
    await eventually(lambda: bot.done)

    desk.registry = reg = desk.new_registry()
    await reg.restore()
    bot = reg.get_bot("ma_crossover:BTC")
    assert bot.status().last_candle_time == row.last_candle_time
    await play(desk, eventually, [bot], bars["BTC"][WARM:])
    stored = await desk.db.list_fills(bot_id=bot.bot_id)
    book = reference(bars["BTC"], bot.config)
    assert len(stored) == book.num_fills > fills_before
    assert bot.status().equity == book.equity


async def test_restore_catches_up_on_bars_stored_while_down(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    frame = walk("BTC", 300, seed=4)
    bars = bars_of(frame)
    await desk.store(frame[:WARM])
    desk.clock.after_bar(bars[WARM - 1].t)
    reg = desk.registry
    bot = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", "ma_crossover")))
    await play(desk, eventually, [bot], bars[WARM:150])
    await reg.shutdown_all()  # a clean daemon stop keeps the bots' rows running
    assert (await desk.db.get_bot(bot.bot_id)).state == "running"

    await desk.store(frame[150:250])  # the hub of another process recorded these meanwhile
    desk.clock.after_bar(bars[249].t)
    desk.registry = reg = desk.new_registry()
    assert await reg.restore() == [bot.bot_id]
    bot = reg.get_bot(bot.bot_id)
    assert bot.status().last_candle_time == ms_to_datetime(bars[249].t)
    await play(desk, eventually, [bot], bars[250:])
    book = reference(bars, bot.config)
    assert bot.status().equity == book.equity
    assert len(await desk.db.list_fills(bot_id=bot.bot_id)) == book.num_fills


async def test_spawn_resumes_a_stored_live_bot(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    bars = await start_bots(desk, walk, bars_of, ["BTC"])
    reg = desk.registry
    config = reg.new_config("BTC", "ma_crossover")
    bot = reg.get_bot(await reg.spawn_bot(config))
    await play(desk, eventually, [bot], bars["BTC"][WARM:120])
    before = bot.status()
    await reg.shutdown_all()
    desk.registry = reg = desk.new_registry()
    again = reg.get_bot(await reg.spawn_bot(config))  # no restore(): the sync path after a restart
    assert again.status().position == before.position
    assert again.status().num_fills == before.num_fills


async def test_pause_and_resume(desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually) -> None:
    bars = (await start_bots(desk, walk, bars_of, ["BTC"]))["BTC"]
    reg = desk.registry
    bot = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", "ma_crossover")))
    await play(desk, eventually, [bot], bars[WARM:100])
    position = bot.status().position
    assert (await bot.pause()).state is BotState.PAUSED
    assert await bot.flushed()
    assert (await desk.db.get_bot(bot.bot_id)).state == "paused"
    fills = bot.status().num_fills
    await play(desk, eventually, [bot], bars[100:200])
    assert bot.status().num_fills == fills  # no reversal, no entry while paused
    assert bot.status().position.entry_time == position.entry_time
    assert bot.status().bars == 200 - WARM  # but every bar went through the strategy
    await bot.resume()
    await play(desk, eventually, [bot], bars[200:])
    assert bot.status().num_fills > fills
    assert (await bot.resume()).state is BotState.RUNNING  # idempotent
    await reg.remove_bot(bot.bot_id, wait=False)
    with pytest.raises(RuntimeError, match="cannot pause while stopping"):
        await bot.pause()


async def test_update_config(desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually) -> None:
    bars = (await start_bots(desk, walk, bars_of, ["BTC"]))["BTC"]
    reg = desk.registry
    bot = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", "ma_crossover")))
    await play(desk, eventually, [bot], bars[WARM:100])
    slower = bot.config.with_changes(parameters={"fast": 8, "slow": 30})
    with pytest.raises(ValueError, match="holds a position"):
        await bot.update_config(slower)
    with pytest.raises(ValueError, match="symbol"):
        await bot.update_config(bot.config.with_changes(symbol="ETH"))
    await reg.remove_bot(bot.bot_id, wait=False)
    desk.feed.publish(bars[100])
    await eventually(lambda: bot.done)

    flat = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", "quad_ma")))
    status = await flat.update_config(flat.config.with_changes(parameters={"trend": 40}))
    assert flat.config.parameters["trend"] == 40
    assert status.state is BotState.RUNNING


async def test_max_bots(make_desk: Any, walk: Walk, bars_of: Bars) -> None:
    desk = make_desk(max_bots=2)
    await start_bots(desk, walk, bars_of, ["BTC", "ETH", "SOL"])
    started, _ = await desk.registry.sync_bots_with_approved_tokens(["BTC", "ETH", "SOL"], "ma_crossover")
    assert len(started) == 2
    with pytest.raises(ConfigError, match="max_bots"):
        await desk.registry.spawn_bot(desk.registry.new_config("SOL", "quad_ma"))
    with pytest.raises(ValueError, match="already exists"):
        await desk.registry.spawn_bot(desk.registry.new_config(started[0], "ma_crossover"))


async def test_fills_carry_the_bot_and_the_paper_prices(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    bars = (await start_bots(desk, walk, bars_of, ["BTC"]))["BTC"]
    reg = desk.registry
    bot = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", "ma_crossover")))
    await play(desk, eventually, [bot], bars[WARM:120])
    fills = await desk.db.list_fills(bot_id=bot.bot_id)
    by_t = {b.t: b for b in bars}
    for fill in fills:
        bar = by_t[int(fill.timestamp.timestamp() * 1000)]
        slip = 1 + 5e-4 if fill.side == OrderSide.BUY else 1 - 5e-4
        assert float(fill.price) == pytest.approx(bar.open * slip, rel=1e-9)
        assert fill.symbol == "BTC"
        assert fill.bot_id == bot.bot_id
        assert fill.fill_id.startswith(f"{bot.bot_id}:{bar.t}:")


def test_registry_defaults_come_from_the_configuration(db: Any) -> None:
    app = AppConfig(
        backtest=BacktestConfig(fee_rate=0.0002, slippage_bps=1.0),
        bots=BotsConfig(interval="5m", warmup_bars=300),
    )
    registry = BotRegistry.from_app_config(app, db, MemoryFeed())
    config = registry.new_config("SOL", "quad_ma", {"trend": 80})
    assert config.execution == app.backtest
    assert (config.interval, config.warmup_bars) == ("5m", 300)
    assert config.parameters["trend"] == 80
    assert config.parameters["short_1"] == app.strategy.quad_ma.short_1


async def test_sync_with_choices_restarts_a_bot_whose_chosen_parameters_changed(
    desk: Any, walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    """Per-token choices: each symbol trades its own strategy and parameters; a changed choice is a new
    bot, the old one removed the on_remove way (close: at the next open); an unchanged one is kept."""
    reg = desk.registry
    bars = await start_bots(desk, walk, bars_of, ["BTC", "ETH"])
    slow = {"fast": 5, "slow": 30}
    choices = {"BTC": ("ma_crossover", FAST_CROSS), "ETH": ("ma_crossover", slow)}
    started, stopped = await reg.sync_bots_with_approved_tokens(
        ["BTC", "ETH"], "quad_ma", choices=choices, strategies=("quad_ma", "ma_crossover")
    )
    assert (started, stopped) == (["BTC", "ETH"], [])
    btc, eth = (next(b for b in reg.list_bots() if b.config.symbol == s) for s in ("BTC", "ETH"))
    assert (btc.config.parameters["fast"], btc.config.parameters["slow"]) == (5, 20)
    assert (eth.config.parameters["fast"], eth.config.parameters["slow"]) == (5, 30)
    assert btc.bot_id.startswith("ma_crossover:BTC:")
    assert btc.bot_id != eth.bot_id
    again = await reg.sync_bots_with_approved_tokens(
        ["BTC", "ETH"], "quad_ma", choices=choices, strategies=("quad_ma", "ma_crossover")
    )
    assert again == ([], [])
    await play(desk, eventually, [btc, eth], [*bars["BTC"][WARM:150], *bars["ETH"][WARM:150]])
    assert btc.status().position is not None

    # BTC's chosen parameters change; ETH's do not.
    changed = {**choices, "BTC": ("ma_crossover", {"fast": 8, "slow": 20})}
    started, stopped = await reg.sync_bots_with_approved_tokens(
        ["BTC", "ETH"], "quad_ma", choices=changed, strategies=("quad_ma", "ma_crossover")
    )
    assert (started, stopped) == (["BTC"], ["BTC"])
    assert btc.status().state is BotState.STOPPING  # on_remove = close: at the next open
    assert eth.status().state is BotState.RUNNING
    successor = next(b for b in reg.list_bots() if b.config.symbol == "BTC" and b is not btc and not b.done)
    assert successor.config.parameters["fast"] == 8
    assert successor.status().state is BotState.RUNNING
    desk.feed.publish(bars["BTC"][150])
    await eventually(lambda: btc.done, what="the replaced BTC bot to stop")
    last = (await desk.db.list_fills(bot_id=btc.bot_id))[-1]
    assert last.reason == "close"
    assert last.timestamp == ms_to_datetime(bars["BTC"][150].t)
    assert reg.get_bot(eth.bot_id) is eth

    # A token whose choice moves to another strategy is a new bot of that strategy.
    moved = {**changed, "ETH": ("quad_ma", {"trend": 40, "long_2": 30, "long_1": 20})}
    started, stopped = await reg.sync_bots_with_approved_tokens(
        ["ETH"], "quad_ma", choices=moved, strategies=("quad_ma", "ma_crossover")
    )
    assert (started, stopped) == (["ETH"], ["BTC", "ETH"])
    assert {b.config.strategy for b in reg.list_bots() if b.config.symbol == "ETH" and not b.done} >= {
        "quad_ma"
    }
