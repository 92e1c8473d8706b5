"""Protections, cooldowns and shadow bots: the monitor's arithmetic against numpy, then the registry on the
real database with an in-memory feed (a protection stop is stored, closes the position, blocks bot sync
for the cooldown, also after a restart; a deselected token keeps a shadow bot until its time is over)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from algo_trade_bot_orchestrator import (
    Bot,
    BotConfig,
    BotRegistry,
    BotState,
    DivergenceVerdict,
    FeedBar,
    LiveStats,
    PaperBook,
    ProtectionMonitor,
    strategy_warmup_bars,
)
from algo_trade_core import ConfigError, ProtectionConfig, bars_per_year, config_from_dict, ms_to_datetime
from algo_trade_data import BotEventRecord

STEP = 60_000
WARM = 60
FAST_CROSS = {"fast": 5, "slow": 20}
Walk = Callable[..., pl.DataFrame]
Bars = Callable[[pl.DataFrame], list[FeedBar]]
Eventually = Callable[..., Any]


def no_stats() -> LiveStats:
    raise AssertionError("the judge is not consulted")


def stats_of(drawdown: float) -> Callable[[], LiveStats]:
    return lambda: LiveStats(
        bot_id="b",
        symbol="X",
        strategy="ma_crossover",
        interval="1m",
        bar_t=0,
        bars=0,
        num_trades=0,
        equity=1.0,
        initial_capital=1.0,
        peak_equity=1.0,
        drawdown=drawdown,
        sharpe=None,
    )


class DrawdownBound:
    """A simple real judge: live drawdown within a fixed bound (the tracking envelope plugs in instead)."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.calls = 0

    def __call__(self, stats: LiveStats) -> DivergenceVerdict:
        self.calls += 1
        ok = stats.drawdown <= self.bound
        return DivergenceVerdict(ok=ok, details={"drawdown": stats.drawdown, "bound": self.bound})


def test_drawdown_and_sharpe_fire_at_the_first_bar_numpy_says_and_not_before() -> None:
    rng = np.random.default_rng(7)
    equity = 10_000 * np.exp(np.cumsum(rng.normal(-2e-4, 3e-3, 2_000)))
    peak = np.maximum.accumulate(np.concatenate(([10_000.0], equity)))[1:]
    drawdown = 1 - equity / peak
    expected_dd = int(np.argmax(drawdown >= 0.05))
    assert drawdown[expected_dd] >= 0.05 > drawdown[:expected_dd].max()

    monitor = ProtectionMonitor(ProtectionConfig(max_drawdown=0.05), interval="1m", initial_capital=10_000)
    fired = [i for i, e in enumerate(equity) if monitor.on_bar(float(e), 0, no_stats)]
    assert fired == [expected_dd]  # once: a stopping bot is not stopped again

    # Sharpe < 0 after 30 trades: trades come every 50 bars, the rule looks from the 30th on.
    trades = np.arange(equity.size) // 50
    returns = np.diff(np.concatenate(([10_000.0], equity))) / np.concatenate(([10_000.0], equity[:-1]))
    sharpe = np.array(
        [np.nan, *(returns[: i + 1].mean() / returns[: i + 1].std(ddof=1) for i in range(1, equity.size))]
    ) * np.sqrt(bars_per_year("1m"))
    eligible = (trades >= 30) & (sharpe < 0)
    expected_sharpe = int(np.argmax(eligible))
    rules = ProtectionConfig(min_sharpe=0.0, min_sharpe_after_trades=30)
    monitor = ProtectionMonitor(rules, interval="1m", initial_capital=10_000)
    trips = [(i, monitor.on_bar(float(e), int(trades[i]), no_stats)) for i, e in enumerate(equity)]
    fired_at = [(i, t) for i, t in trips if t]
    assert [i for i, _ in fired_at] == [expected_sharpe]
    assert expected_sharpe == 30 * 50
    (trip,) = fired_at[0][1]
    assert (trip.kind, trip.rule) == ("stop", "min_sharpe")
    assert trip.details["sharpe"] == pytest.approx(sharpe[expected_sharpe], rel=1e-9)
    assert monitor.mean_return == pytest.approx(returns[: expected_sharpe + 1].mean(), rel=1e-9)
    assert monitor.std_return == pytest.approx(returns[: expected_sharpe + 1].std(ddof=1), rel=1e-9)


def test_divergence_stops_after_n_consecutive_failures_and_a_success_resets_the_count() -> None:
    judge = DrawdownBound(0.10)
    rules = ProtectionConfig(divergence_evaluations=3, divergence_every_bars=5)
    monitor = ProtectionMonitor(rules, interval="1m", initial_capital=1.0, judge=judge)
    # Evaluations 1..7 see drawdowns: bad, bad, good, bad, bad, bad (stop here), bad.
    verdicts = [0.2, 0.2, 0.0, 0.3, 0.3, 0.3, 0.3]
    seen: list[list[tuple[str, str]]] = []
    for drawdown in verdicts:
        for bar in range(5):
            trips = monitor.on_bar(1.0, 0, stats_of(drawdown))
            if bar < 4:
                assert trips == []  # evaluated every 5th bar only
        seen.append([(t.kind, t.rule) for t in trips])
    alert, stop = ("alert", "divergence"), ("stop", "divergence")
    assert seen == [[alert], [alert], [], [alert], [alert], [alert, stop], []]
    assert judge.calls == 6  # a stopped monitor no longer asks


def test_monitor_state_round_trips_so_a_restart_keeps_measuring_from_the_start() -> None:
    rules = ProtectionConfig(max_drawdown=0.2)
    first = ProtectionMonitor(rules, interval="1m", initial_capital=100.0)
    for e in (110.0, 120.0, 100.0):
        assert first.on_bar(e, 0, no_stats) == []
    second = ProtectionMonitor(rules, interval="1m", initial_capital=100.0)
    second.load_state(first.state_dict())
    assert second.on_bar(96.5, 0, no_stats) == []  # 19.6 % below the peak of 120
    assert [t.rule for t in second.on_bar(95.9, 0, no_stats)] == ["max_drawdown"]


def test_impossible_protection_values_are_config_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(
            {
                "bots": {
                    "protection": {"max_drawdown": 1.2, "cooldown_hours": -1},
                    "alerts": {"webhook_url": "hooks.example/abc", "webhook_timeout_s": 0},
                }
            }
        )
    text = str(caught.value)
    for key in (
        "bots.protection.max_drawdown: expected < 1.0",
        "bots.protection.cooldown_hours: expected >= 0.0",
        "bots.alerts.webhook_url: expected an http:// or https:// URL",
        "bots.alerts.webhook_timeout_s: expected > 0.0",
    ):
        assert key in text
    assert "abc" not in text  # the webhook's path is its secret
    with pytest.raises(ConfigError, match="min_sharpe_after_trades: expected > 0 when min_sharpe is set"):
        config_from_dict({"bots": {"protection": {"min_sharpe": 0.5}}})  # a rule that could never run


# -- the registry ---------------------------------------------------------------------------------


def offline_equity(frame: pl.DataFrame, bars: list[FeedBar], upto: int) -> np.ndarray:
    """The equity a bot of ``frame``'s symbol has after each live bar WARM..upto-1 (warm-up as a bot's)."""
    config = BotConfig(symbol=str(frame["symbol"][0]), strategy="ma_crossover", parameters=FAST_CROSS)
    book = PaperBook(config)
    need = strategy_warmup_bars("ma_crossover", FAST_CROSS)
    warm = frame[WARM - need : WARM]
    book.warm_up(
        warm.select(pl.col("timestamp").dt.epoch("ms").alias("t"), "open", "high", "low", "close", "volume")
    )
    out = []
    for bar in bars[WARM:upto]:
        book.on_bar(bar)
        out.append(book.equity)
    return np.array(out)


def first_breach(equity: np.ndarray, capital: float, limit: float) -> int | None:
    peak = np.maximum.accumulate(np.concatenate(([capital], equity)))[1:]
    hits = np.flatnonzero(1 - equity / peak >= limit)
    return int(hits[0]) if hits.size else None


async def play(desk: Any, eventually: Eventually, bots: list[Bot], bars: list[FeedBar]) -> None:
    desk.publish(bars)
    last = {b.symbol: b.t for b in bars}

    def done() -> bool:
        for bot in bots:
            t = last.get(bot.config.symbol)
            seen = bot.status().last_candle_time
            if t is not None and not bot.done and (seen is None or seen < ms_to_datetime(t)):
                return False
        return True

    await eventually(done, timeout=20, what="the bots to handle the bars")


async def test_a_drawdown_stop_is_stored_closes_the_position_and_cools_the_token_down_across_a_restart(
    make_desk: Callable[..., Any], walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    n = 400
    frames = {s: walk(s, n, seed=seed, vol=4e-3) for seed, s in enumerate(("BTC", "ETH"), start=11)}
    bars = {s: bars_of(f) for s, f in frames.items()}
    equity = {s: offline_equity(frames[s], bars[s], n - 1) for s in frames}
    worst = {
        s: float((1 - e / np.maximum.accumulate(np.concatenate(([1e4], e)))[1:]).max())
        for s, e in equity.items()
    }
    loser, other = sorted(worst, key=worst.get, reverse=True)  # type: ignore[arg-type]
    limit = (worst[loser] + worst[other]) / 2  # only the loser reaches it
    trip = first_breach(equity[loser], 1e4, limit)
    assert trip is not None
    assert first_breach(equity[other], 1e4, limit) is None

    desk = make_desk(protection=ProtectionConfig(max_drawdown=limit, cooldown_hours=2.0), shadow_days=0)
    for frame in frames.values():
        await desk.store(frame[:WARM])
    desk.clock.after_bar(bars[loser][WARM - 1].t)
    reg = desk.registry
    assert await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover") == (["BTC", "ETH"], [])
    losing, steady = reg.get_bot(f"ma_crossover:{loser}"), reg.get_bot(f"ma_crossover:{other}")

    # Up to the bar before the breach nothing happens; the breach bar stops the bot.
    await play(
        desk,
        eventually,
        [losing, steady],
        [*bars[loser][WARM : WARM + trip], *bars[other][WARM : WARM + trip]],
    )
    assert losing.status().state is BotState.RUNNING
    assert await desk.db.list_bot_events() == []
    breach_bar = bars[loser][WARM + trip]
    await play(desk, eventually, [losing], [breach_bar])
    if losing.status().position is not None:
        assert losing.status().state is BotState.STOPPING  # closes at the next open ([bots] on_remove)
        await play(desk, eventually, [losing], [bars[loser][WARM + trip + 1]])
    await eventually(lambda: losing.done, what="the losing bot to stop")
    status = losing.status()
    assert status.state is BotState.STOPPED
    assert status.position is None
    assert status.stop_reason is not None
    assert status.stop_reason.startswith("max_drawdown")
    assert await losing.flushed()
    (event,) = await desk.db.list_bot_events()
    assert (event.bot_id, event.kind, event.details["rule"]) == (losing.bot_id, "stop", "max_drawdown")
    assert event.time == ms_to_datetime(breach_bar.t + STEP)
    assert event.details["drawdown"] == pytest.approx(
        1 - equity[loser][trip] / max(1e4, equity[loser][: trip + 1].max()), rel=1e-9
    )
    assert (await desk.db.get_bot(losing.bot_id)).state == "stopped"

    # The other bot is unaffected: it trades on, exactly as offline.
    await play(desk, eventually, [steady], bars[other][WARM + trip : n - 1])
    assert steady.status().state is BotState.RUNNING
    assert steady.status().equity == pytest.approx(equity[other][-1], rel=1e-12)

    # Still approved: sync does not restart it during the cooldown, not even after a restart.
    assert await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover") == ([], [])
    await reg.shutdown_all()
    desk.registry = reg = desk.new_registry()
    await reg.restore()
    assert reg.get_bot(losing.bot_id) is None
    desk.clock.ms = int((event.time + timedelta(hours=2) - timedelta(seconds=1)).timestamp() * 1000)
    assert await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover") == ([], [])
    desk.clock.ms = int((event.time + timedelta(hours=2)).timestamp() * 1000)
    assert await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "ma_crossover") == ([loser], [])


async def test_a_deselected_token_keeps_a_shadow_bot_until_shadow_days_or_its_return(
    make_desk: Callable[..., Any], walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    # 20 minutes of 1m bars; max_bots = 2 holds the live ETH bot and BTC's stopping one, not the shadow.
    desk = make_desk(shadow_days=20 / 1440, max_bots=2)
    frames = {s: walk(s, 200, seed=seed) for seed, s in enumerate(("BTC", "ETH"), start=1)}
    bars = {s: bars_of(f) for s, f in frames.items()}
    for frame in frames.values():
        await desk.store(frame[:WARM])
    desk.clock.after_bar(bars["BTC"][WARM - 1].t)
    reg = desk.registry
    assert await reg.sync_bots_with_approved_tokens(["BTC"], "ma_crossover") == (["BTC"], [])
    live = reg.get_bot("ma_crossover:BTC")
    await play(desk, eventually, [live], bars["BTC"][WARM : WARM + 30])
    for frame in frames.values():  # what the hub would have recorded meanwhile
        await desk.store(frame[WARM : WARM + 30])
    desk.clock.after_bar(bars["BTC"][WARM + 29].t)

    # BTC out, ETH in: BTC's live bot closes, its shadow starts with the live bot's paper account.
    held = live.status()
    assert held.position is not None
    assert await reg.sync_bots_with_approved_tokens(["ETH"], "ma_crossover") == (["ETH"], ["BTC"])
    shadow = reg.get_bot("shadow:ma_crossover:BTC")
    assert shadow is not None
    assert shadow.status().shadow
    assert shadow.config.symbol == "BTC"
    start = desk.clock.ms
    assert shadow.config.shadow_until_ms == start + 20 * STEP
    (started,) = await desk.db.list_bot_events(kind="shadow_started")
    assert started.bot_id == shadow.bot_id
    assert started.symbol == "BTC"
    # Sync never takes the shadow for BTC's live bot, nor stops it while it runs.
    assert await reg.sync_bots_with_approved_tokens(["ETH"], "ma_crossover") == ([], [])
    assert reg.get_bot(shadow.bot_id) is shadow
    assert live.state is BotState.STOPPING  # the live bot closes at BTC's next bar, the shadow trades on

    assert shadow.status().position == held.position
    assert shadow.status().equity == held.equity

    # It trades on as the live bot would have (the offline book over the same bars), fills under its own
    # id, and ends itself at the first bar closing at or after its end.
    never_deselected = offline_equity(frames["BTC"], bars["BTC"], WARM + 50)
    await play(desk, eventually, [shadow, live], bars["BTC"][WARM + 30 : WARM + 50])
    assert shadow.status().state is BotState.RUNNING
    assert shadow.status().equity == pytest.approx(never_deselected[-1], rel=1e-12)
    assert live.status().state is BotState.STOPPED  # while the live bot closed at WARM + 30's open
    assert shadow.status().num_fills > held.num_fills
    await play(desk, eventually, [shadow], bars["BTC"][WARM + 50 : WARM + 52])
    await eventually(lambda: shadow.done, what="the shadow bot to end")
    assert shadow.status().position is None
    assert await shadow.flushed()
    (ended,) = await desk.db.list_bot_events(kind="shadow_ended")
    assert ended.bot_id == shadow.bot_id
    assert ended.details["reason"] == "shadow period over"
    # Ended by the first bar closing at or after its end (its position closed at the next open).
    until = ms_to_datetime(start + 20 * STEP)
    assert ended.time >= until > ended.time - timedelta(milliseconds=STEP)
    fills = await desk.db.list_fills(bot_id=shadow.bot_id)
    assert len(fills) == shadow.status().num_fills - held.num_fills  # its own, after the hand-over

    # Deselected again, then approved again before its time: the shadow ends, the live bot starts.
    assert await reg.sync_bots_with_approved_tokens(["BTC"], "ma_crossover") == (["BTC"], ["ETH"])
    eth_shadow = reg.get_bot("shadow:ma_crossover:ETH")
    assert eth_shadow is not None
    assert await reg.sync_bots_with_approved_tokens(["ETH"], "ma_crossover") == (["ETH"], ["BTC"])
    await eventually(lambda: eth_shadow.done, what="the ETH shadow to end")
    assert reg.get_bot("ma_crossover:ETH") is not None
    reasons = {e.bot_id: e.details["reason"] for e in await desk.db.list_bot_events(kind="shadow_ended")}
    assert reasons == {shadow.bot_id: "shadow period over", eth_shadow.bot_id: "token approved again"}


async def test_a_bot_failing_its_divergence_check_n_times_in_a_row_is_stopped_then_and_not_before(
    make_desk: Callable[..., Any], walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    every, needed, n = 10, 3, 400
    frame = walk("SOL", n, seed=5, vol=4e-3)
    bars = bars_of(frame)
    equity = offline_equity(frame, bars, n)
    checked = np.arange(every - 1, equity.size, every)  # the bars the judge is asked after
    dd = (1 - equity / np.maximum.accumulate(np.concatenate(([1e4], equity)))[1:])[checked]
    bound = float(np.median(dd))
    fails = dd > bound
    runs = [k for k in range(needed - 1, fails.size) if fails[k - needed + 1 : k + 1].all()]
    assert runs, "no run of failures in this walk"
    stop_at = runs[0]
    assert fails[: stop_at - needed + 1].any()  # an earlier failure that a success reset

    desk = make_desk(protection=ProtectionConfig(divergence_evaluations=needed, divergence_every_bars=every))
    judge = DrawdownBound(bound)
    desk.registry = reg = BotRegistry(
        desk.db,
        desk.feed,
        bots=desk.bots_config,
        strategy_parameters={"ma_crossover": FAST_CROSS},
        clock_ms=desk.clock,
        checkpoint_s=0.0,
        divergence_judge=judge,
    )
    await desk.store(frame[:WARM])
    desk.clock.after_bar(bars[WARM - 1].t)
    assert await reg.sync_bots_with_approved_tokens(["SOL"], "ma_crossover") == (["SOL"], [])
    bot = reg.get_bot("ma_crossover:SOL")
    assert bot is not None
    last = WARM + int(checked[stop_at])
    await play(desk, eventually, [bot], bars[WARM:last])
    assert bot.status().state is BotState.RUNNING  # one bar before the deciding evaluation
    await play(desk, eventually, [bot], bars[last : last + 2])
    await eventually(lambda: bot.done, what="the diverging bot to stop")
    assert await bot.flushed()
    assert judge.calls == stop_at + 1

    events = await desk.db.list_bot_events(bot_id=bot.bot_id)
    alerts = [e for e in events if e.kind == "alert"]
    stops = [e for e in events if e.kind == "stop"]
    assert [e.time for e in alerts] == [
        ms_to_datetime(bars[WARM + int(checked[k])].t + STEP) for k in range(stop_at + 1) if fails[k]
    ]
    assert len(stops) == 1
    assert stops[0].details["rule"] == "divergence"
    assert stops[0].time == alerts[-1].time
    assert stops[0].details["consecutive_failures"] == needed
    assert stops[0].details["bound"] == bound
    assert bot.status().stop_reason == f"divergence: divergence check failed {needed} evaluations in a row"


async def test_per_token_choices_keep_cooldowns_and_shadow_the_chosen_parameters(
    desk: Any, walk: Walk, bars_of: Bars
) -> None:
    reg = desk.registry
    frames = {s: walk(s, 100, seed=seed) for seed, s in enumerate(("BTC", "ETH"), start=1)}
    for frame in frames.values():
        await desk.store(frame[:WARM])
    bars = {s: bars_of(f) for s, f in frames.items()}
    desk.clock.after_bar(bars["BTC"][WARM - 1].t)
    now = ms_to_datetime(desk.clock.ms)
    stop = BotEventRecord(
        event_key="ma_crossover:ETH:x:stop",
        time=now - timedelta(hours=23),  # the default cooldown is 24 h
        bot_id="ma_crossover:ETH:0a1b2c3d",
        symbol="ETH",
        strategy_name="ma_crossover",
        kind="stop",
        details={"rule": "max_drawdown"},
    )
    await desk.db.insert_bot_events([stop])
    slow = {"fast": 5, "slow": 30}
    choices = {"BTC": ("ma_crossover", slow), "ETH": ("ma_crossover", FAST_CROSS)}
    sync = {"choices": choices, "strategies": ("quad_ma", "ma_crossover")}
    assert await reg.sync_bots_with_approved_tokens(["BTC", "ETH"], "quad_ma", **sync) == (["BTC"], [])
    live = next(b for b in reg.list_bots() if b.config.symbol == "BTC")

    desk.clock.ms += 3_600_000  # the cooldown is over; BTC leaves the approved list
    assert await reg.sync_bots_with_approved_tokens(["ETH"], "quad_ma", **sync) == (["ETH"], ["BTC"])
    shadow = reg.get_bot(f"shadow:{live.bot_id}")
    assert shadow is not None
    assert shadow.status().shadow
    assert dict(shadow.config.parameters) == dict(live.config.parameters)
    assert shadow.config.parameters["slow"] == 30
    # The shadow is neither the token's live bot nor one the choices would replace.
    assert await reg.sync_bots_with_approved_tokens(["ETH"], "quad_ma", **sync) == ([], [])
    assert reg.get_bot(shadow.bot_id) is shadow

    # A restarted daemon brings the shadow back as a shadow, with its end unchanged.
    until = shadow.config.shadow_until_ms
    await reg.shutdown_all()
    desk.registry = reg = desk.new_registry()
    assert shadow.bot_id in await reg.restore()
    back = reg.get_bot(shadow.bot_id)
    assert back is not None
    assert back.config.is_shadow
    assert back.config.shadow_until_ms == until
    assert await reg.sync_bots_with_approved_tokens(["ETH"], "quad_ma", **sync) == ([], [])


async def test_a_protection_stop_in_drain_mode_waits_for_the_strategys_exit_and_sync_does_not_cancel_it(
    make_desk: Callable[..., Any], walk: Walk, bars_of: Bars, eventually: Eventually
) -> None:
    n = 400
    frame = walk("BTC", n, seed=11, vol=4e-3)
    bars = bars_of(frame)
    equity = offline_equity(frame, bars, n - 1)
    limit = 0.02
    trip = first_breach(equity, 1e4, limit)
    assert trip is not None
    desk = make_desk(protection=ProtectionConfig(max_drawdown=limit), on_remove="drain", shadow_days=0)
    await desk.store(frame[:WARM])
    desk.clock.after_bar(bars[WARM - 1].t)
    reg = desk.registry
    assert await reg.sync_bots_with_approved_tokens(["BTC"], "ma_crossover") == (["BTC"], [])
    bot = reg.get_bot("ma_crossover:BTC")
    await play(desk, eventually, [bot], bars[WARM : WARM + trip + 1])
    status = bot.status()
    assert status.position is not None  # ma_crossover is always in the market: the drain must wait
    assert status.state is BotState.STOPPING
    assert status.stop_mode == "drain"
    # Still approved: sync neither cancels the stop nor starts a second bot.
    assert await reg.sync_bots_with_approved_tokens(["BTC"], "ma_crossover") == ([], [])
    assert bot.status().state is BotState.STOPPING
    await play(desk, eventually, [bot], bars[WARM + trip + 1 : n - 1])
    await eventually(lambda: bot.done, what="the drained bot to stop")
    assert await bot.flushed()
    fills = await desk.db.list_fills(bot_id=bot.bot_id)
    assert fills[-1].reason == "signal"  # the strategy's own exit, not a forced close
    assert fills[-1].timestamp > ms_to_datetime(bars[WARM + trip].t)
    assert [e.kind for e in await desk.db.list_bot_events()] == ["stop"]
