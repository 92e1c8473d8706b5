"""The daemon end to end: seconds-level cron → sweep over the fake exchange → selection → bots.

Real 1m candles are served by the fake Hyperliquid (REST with the 5000 cap, WebSocket replays), the
database is real, and the daemon's clock is the fake server's, which the replays move forward.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl

from algo_trade_bot_orchestrator import BotState, status_from_record
from algo_trade_core import (
    AppConfig,
    BotsConfig,
    DatabaseConfig,
    SchedulerConfig,
    SelectionCriteria,
    ms_to_datetime,
)
from algo_trade_data import BacktestResultRecord, DatabaseClient, synthetic_candles
from algo_trade_data.testing import FakeHyperliquid, real_candles, wait_for
from algo_trade_pipeline import Daemon
from algo_trade_token_selector import Selection, evaluate

from .conftest import MINUTE, client_for, daemon_config

COINS = ("BTC", "ETH", "SOL", "AVAX", "DOGE", "NEAR")
UPDATES = 3


def changed_selection(
    latest: dict[str, BacktestResultRecord],
    criteria: SelectionCriteria,
    before: list[str],
    now: datetime,
    holding: set[str],
) -> tuple[SelectionCriteria, Selection] | None:
    """Find one threshold that drops approved tokens whose bots hold positions and lets another in."""
    tries = []
    for r in latest.values():
        tries += [
            replace(criteria, min_sharpe_ratio=r.sharpe_ratio + 1e-9),
            replace(criteria, min_win_rate=min(r.win_rate + 1e-9, 1.0)),
            replace(criteria, max_drawdown=max(float(r.max_drawdown) - 1e-9, 0.0)),
            replace(criteria, min_num_trades=r.num_trades + 1),
        ]
    for candidate in tries:
        selection = evaluate(latest, candidate, now)
        dropped = set(before) - set(selection.approved)
        if set(selection.approved) - set(before) and dropped and dropped <= holding:
            return candidate, selection
    return None


async def test_daemon_runs_bots_for_exactly_the_approved_tokens(db: DatabaseClient) -> None:
    frames = {c: real_candles(c) for c in COINS}
    end = min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values())
    now0 = end - 300 * MINUTE  # 300 bars left to replay
    start_index = {c: int(f["timestamp"].dt.epoch("ms").search_sorted(now0)) for c, f in frames.items()}
    fake = FakeHyperliquid(now_ms=now0 + 1_000)
    for coin, frame in frames.items():
        fake.add_candles(coin, "1m", frame)
    async with fake, client_for(fake) as rest:
        cfg = daemon_config(fake, COINS)
        daemon = Daemon(cfg, db, rest, clock_ms=lambda: fake.now_ms)
        await daemon.start()
        try:
            registry = daemon.registry
            assert registry is not None

            def running() -> set[str]:
                """Symbols of the running live bots (a deselected token's shadow bot is no live bot)."""
                return {
                    b.config.symbol
                    for b in registry.list_bots()
                    if b.state is BotState.RUNNING and not b.config.is_shadow
                }

            await wait_for(lambda: daemon.cycle_count >= 1, timeout=30, what="the first sweep")
            first = daemon.cycles[0]
            assert first.summary.status == "ok", first.summary.errors
            assert first.selection is not None
            assert len(first.selection.approved) == 3
            assert running() == set(first.selection.approved)
            assert set(first.started) == set(first.selection.approved)

            # Live bars: every coin streams (only subscribed coins reach the daemon's one connection).
            for coin in COINS:
                fake.ws.start_replay(coin, "1m", start_index=start_index[coin], updates_per_bar=UPDATES)
            await wait_for(lambda: all(daemon.hub.is_subscribed(c, "1m") for c in running()), timeout=10)  # type: ignore[union-attr]
            await fake.ws.step(updates=1 + UPDATES * 10)
            await wait_for(
                lambda: all(b.status().position is not None for b in registry.list_bots()),
                timeout=15,
                what="every bot to hold a paper position",
            )

            # Thresholds change so that an approved token drops out: the next sweep stops its bot
            # (closing its position) and starts one for the token that takes its place.
            async def settled() -> list[str]:
                """Two sweeps on the current bars: the approved set no longer moves until the next step."""
                seen = daemon.cycle_count
                await wait_for(lambda: daemon.cycle_count >= seen + 2, timeout=30, what="two sweeps")
                return daemon.cycles[-1].selection.approved  # type: ignore[union-attr]

            found = None
            for _ in range(4):
                before = await settled()
                await wait_for(lambda b=set(before): running() == b, timeout=15)  # type: ignore[misc]
                latest = await db.query_latest_backtest_results("ma_crossover")
                now = ms_to_datetime(fake.now_ms)  # the daemon measures result ages on its clock
                holding = {
                    b.config.symbol
                    for b in registry.list_bots()
                    if b.status().position is not None and not b.config.is_shadow
                }
                found = changed_selection(latest, cfg.token_selection, before, now, holding)
                if found is not None:
                    break
                await fake.ws.step(updates=UPDATES * 3)  # let newly started bots take positions
            assert found is not None, "no single threshold drops a token whose bot holds a position"
            stricter, expected = found
            best = sorted(set(before) - set(expected.approved))[0]
            dropping = registry.get_bot(f"ma_crossover:{best}")
            assert dropping is not None
            position = dropping.status().position
            assert position is not None
            daemon.selector.criteria = stricter
            seen = daemon.cycle_count
            await wait_for(
                lambda: daemon.cycle_count > seen, timeout=30, what="a sweep with the new thresholds"
            )
            cycle = daemon.cycles[-1]
            assert cycle.selection is not None
            assert cycle.selection.approved == expected.approved
            assert best in cycle.stopped

            # The dropped bot closes at the next bar's open, with the fill recorded.
            await fake.ws.step(updates=UPDATES * 2)
            await wait_for(lambda: dropping.done, timeout=15, what=f"the {best} bot to close and stop")
            fills = await db.list_fills(bot_id=dropping.bot_id)
            assert fills[-1].reason == "close"
            assert fills[-1].side == ("sell" if position.side == "long" else "buy")
            assert (await db.get_bot(dropping.bot_id)).state == "stopped"  # type: ignore[union-attr]
            await wait_for(lambda: running() == set(expected.approved), timeout=15)
            shadow = registry.get_bot(f"shadow:{dropping.bot_id}")  # the dropped token, watched on
            assert shadow is not None
            assert shadow.status().shadow

            # One WebSocket connection in total, whatever the number of bots.
            assert fake.ws.connections_opened == 1
            assert daemon.hub.stats.connections_opened == 1  # type: ignore[union-attr]
        finally:
            await daemon.stop()
    # Stopping keeps the running bots' rows live (with their positions) for the next start.
    stored = await db.list_bots()
    assert {r.bot_id for r in stored if r.state == "running"} >= {f"shadow:{dropping.bot_id}"}
    rows = {r.symbol: r for r in stored if not status_from_record(r).shadow}
    assert {s for s, r in rows.items() if r.state == "running"} == set(expected.approved)
    assert pl.Series([r.symbol for r in rows.values()]).is_unique().all()


async def test_daemon_applies_result_retention_after_each_sweep(db: DatabaseClient) -> None:

    end = datetime.now(UTC)
    await db.upsert_candles(synthetic_candles("RET", "1m", end, 1440))
    cfg = AppConfig(
        database=DatabaseConfig(url=db.url, retention_days=30),
        scheduler=SchedulerConfig(
            cron_expression="*/2 * * * * *",
            token_universe=("RET",),
            backtest_window_days=1,
            refresh_data=False,
            exchange="synthetic",
        ),
        bots=BotsConfig(enabled=False),
    )
    daemon = Daemon(cfg, db, None)
    await daemon.start()
    try:
        await wait_for(lambda: daemon.cycle_count >= 1, timeout=30, what="a sweep")
        stale = replace(
            daemon.cycles[-1].summary.results[0], timestamp=end - timedelta(days=400), run_id=None
        )
        await db.insert_backtest_result(stale)
        assert len(await db.query_result_history("RET")) == 2
        seen = daemon.cycle_count
        await wait_for(lambda: daemon.cycle_count > seen, timeout=30, what="the next sweep")
    finally:
        await daemon.stop()
    history = await db.query_result_history("RET")
    assert history
    assert all(r.timestamp > end - timedelta(days=30) for r in history)  # the 400-day-old row is gone


async def test_a_sweep_in_which_every_token_failed_stores_no_selection(db: DatabaseClient) -> None:
    end = datetime.now(UTC)
    await db.upsert_candles(synthetic_candles("GOOD", "1m", end, 1440))
    cfg = AppConfig(
        database=DatabaseConfig(url=db.url),
        scheduler=SchedulerConfig(
            cron_expression="0 0 3 * * *",
            token_universe=("GOOD",),
            backtest_window_days=1,
            refresh_data=False,
            exchange="synthetic",
        ),
        token_selection=SelectionCriteria(
            min_sharpe_ratio=-1e9, min_win_rate=0, max_drawdown=1, min_num_trades=0
        ),
        bots=BotsConfig(enabled=False),
    )
    daemon = Daemon(cfg, db, None)
    try:
        await daemon.scheduler.run_once()
        assert daemon.cycles[-1].selection is not None
        assert daemon.cycles[-1].selection.approved == ["GOOD"]
        # The next sweep fails for every token (no candles): GOOD's result is still fresh, but a sweep
        # that produced nothing new must change nothing.
        failed = await daemon.scheduler.run_once(symbols=["NODATA"])
    finally:
        await daemon.stop()
    assert failed.status == "failed"
    assert daemon.cycles[-1].selection is None
    assert len(await db.list_selections()) == 1
