"""Reconciliation of real paper bots with the backtest over their bars (real PostgreSQL, real candles).

A bot warms up on stored real BTC 1m candles, trades the next ones published through the MemoryFeed,
records its fills in the database; the store then holds the bars it saw (the hub records them in a
daemon; here the test does). :func:`report_bot` reads everything back from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import polars as pl
import pytest

from algo_trade_bot_orchestrator import bars_from_frame
from algo_trade_core import BacktestConfig, DataError, TrackingConfig, datetime_to_ms
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import wait_for
from algo_trade_tracking import reconcile_running_bots, report_bot

STORED = 400  # warm-up bars in the store before the bot starts
LIVE = 2400  # bars the bot trades
PARAMS = {
    "ma_crossover": {"fast": 5, "slow": 20},
    "quad_ma": {"volume_filter": False, "take_profit": 0.003, "stop_loss": 0.002},
}
SETTINGS = TrackingConfig(bootstrap_samples=200)


@pytest.mark.parametrize("strategy", ["ma_crossover", "quad_ma"])
async def test_a_paper_bot_reconciles_exactly_with_the_backtest_over_its_bars(
    strategy: str, make_desk: Callable[..., Any], real_btc_1m: pl.DataFrame
) -> None:
    desk = make_desk()
    frame = real_btc_1m[: STORED + LIVE]
    bot = await desk.run_bot(frame, strategy, PARAMS[strategy], stored=STORED, live=frame[STORED:])
    await desk.db.upsert_candles(frame[STORED:])

    report = await report_bot(desk.db, bot.bot_id, SETTINGS)
    rec = report.reconciliation
    assert rec.status == "exact", rec.message
    assert rec.live_from_ms == datetime_to_ms(frame["timestamp"][STORED])
    assert (rec.bars_expected, rec.bars_in_store, rec.bars_seen_by_bot) == (LIVE, LIVE, LIVE)
    assert rec.expected_trades == rec.live_trades >= 20, "choose parameters that trade often"
    assert all(m.kind == "matched" and m.exact for m in rec.matches)
    assert rec.pnl_gap == pytest.approx(0.0, abs=1e-6)  # the fills' 8th decimal at most
    assert rec.slippage_paid_bps == pytest.approx(5.0, abs=0.01)  # the modelled 5 bps, to the stored decimals
    assert rec.fee_rate_paid == pytest.approx(0.00045, rel=1e-6)
    # The equity rebuilt from the stored fills is the bot's own (to the fills' 8 stored decimals).
    assert rec.live_equity[-1] == pytest.approx(bot.status().equity, rel=1e-8)
    assert rec.backtest_equity[-1] == pytest.approx(bot.status().equity, rel=1e-8)
    assert report.basis is None
    assert report.divergence is None


async def _claim_execution(db: DatabaseClient, bot_id: str, execution: BacktestConfig) -> None:
    """Rewrite the bot's stored configuration to ``execution``: its fills were made with other costs,
    as if the paper executor applied costs other than the configured ones."""
    record = await db.get_bot(bot_id)
    assert record is not None
    assert record.position is not None
    position = dict(record.position)
    position["config"] = {**position["config"], "execution": asdict(execution)}
    await db.upsert_bot(replace(record, position=position))


@pytest.mark.parametrize(
    ("injected", "expect"),
    [
        (BacktestConfig(slippage_bps=15.0), "slippage"),
        (BacktestConfig(fee_rate=0.0009), "fee"),
    ],
)
async def test_an_injected_slippage_or_fee_difference_is_detected_and_quantified(
    injected: BacktestConfig, expect: str, make_desk: Callable[..., Any], real_btc_1m: pl.DataFrame
) -> None:
    desk = make_desk(execution=injected)
    frame = real_btc_1m[: STORED + 1500]
    strategy = "ma_crossover"  # no TP/SL: the costs move prices and sizes, never the trade bars
    bot = await desk.run_bot(frame, strategy, PARAMS[strategy], stored=STORED, live=frame[STORED:])
    await desk.db.upsert_candles(frame[STORED:])
    await _claim_execution(desk.db, bot.bot_id, BacktestConfig())

    rec = (await report_bot(desk.db, bot.bot_id, SETTINGS)).reconciliation
    assert rec.status == "diverged"
    first = rec.matches[0]
    assert rec.diverges_at_ms == first.expected.entry.t  # type: ignore[union-attr]  # the first trade
    assert rec.expected_trades == rec.live_trades == rec.to_json()["matched"] >= 20
    assert all(m.entry_lag_bars == 0 and m.exit_lag_bars in (0, None) for m in rec.matches)
    assert rec.pnl_gap < 0  # the bot paid more than the backtest
    if expect == "slippage":
        assert rec.slippage_paid_bps == pytest.approx(15.0, abs=0.01)
        assert rec.slippage_modelled_bps == 5.0
        # Every fill 10 bps worse than the backtest's fill on the same bar (1 + 15 bps vs 1 + 5 bps).
        assert first.entry_price_bps == pytest.approx(10.0 / 1.0005, abs=0.01)
        assert rec.fee_rate_paid == pytest.approx(0.00045, rel=1e-6)
    else:
        assert rec.fee_rate_paid == pytest.approx(0.0009, rel=1e-6)
        assert rec.fee_rate_modelled == 0.00045
        assert rec.slippage_paid_bps == pytest.approx(5.0, abs=0.01)
        assert first.entry_price_bps == 0.0
        assert rec.fees_live > 1.9 * rec.fees_backtest


async def test_missing_bars_are_reported_as_such_not_as_a_divergence(
    make_desk: Callable[..., Any], real_btc_1m: pl.DataFrame
) -> None:
    desk = make_desk()
    frame = real_btc_1m[: STORED + LIVE]
    strategy = "ma_crossover"
    bot = await desk.run_bot(frame, strategy, PARAMS[strategy], stored=STORED, live=frame[STORED:])
    hole_at, hole = STORED + 1000, 30  # a WebSocket outage: the store never got these 30 bars
    await desk.db.upsert_candles(pl.concat([frame[STORED:hole_at], frame[hole_at + hole :]]))

    rec = (await report_bot(desk.db, bot.bot_id, SETTINGS)).reconciliation
    first_missing = datetime_to_ms(frame["timestamp"][hole_at])
    assert rec.status == "missing_bars", rec.message
    assert [(g.first_ms, g.count) for g in rec.gaps] == [(first_missing, hole)]
    assert rec.diverges_at_ms is None
    assert rec.compared_until_ms == first_missing
    assert (rec.bars_expected, rec.bars_in_store, rec.bars_seen_by_bot) == (LIVE, LIVE - hole, LIVE)
    assert "lacks 30 of the bot's 2400 bars" in rec.message
    assert rec.live_trades >= 10  # the trades before the hole were compared, and all matched
    assert all(m.exact for m in rec.matches)

    # The daemon's pass after a sweep reconciles every running bot the same way (stopped ones: not).
    [again] = await reconcile_running_bots(desk.db)
    assert (again.bot_id, again.status, again.gaps) == (bot.bot_id, "missing_bars", rec.gaps)
    await desk.db.set_bot_state(bot.bot_id, "stopped")
    assert await reconcile_running_bots(desk.db) == []


async def test_a_bot_that_is_not_stored_is_a_clear_error(clean_db: DatabaseClient) -> None:
    with pytest.raises(DataError, match="no bot 'quad_ma:NOPE' in the database"):
        await report_bot(clean_db, "quad_ma:NOPE", SETTINGS)


async def test_a_bot_restarted_mid_way_still_reconciles_exactly_from_its_first_live_bar(
    make_desk: Callable[..., Any], real_btc_1m: pl.DataFrame
) -> None:
    frame = real_btc_1m[: STORED + LIVE]
    strategy = "quad_ma"
    first = make_desk()
    bot = await first.run_bot(
        frame, strategy, PARAMS[strategy], stored=STORED, live=frame[STORED : STORED + 1200]
    )
    await first.registry.shutdown_all()
    # The daemon is down while 300 bars close (the store gets them: the recorder of another process, or
    # the REST catch-up); the restarted bot replays them, then trades the rest live.
    await first.db.upsert_candles(frame[STORED : STORED + 1500])
    second = make_desk()
    second.clock.after_bar(datetime_to_ms(frame["timestamp"][STORED + 1499]))
    assert await second.registry.restore() == [bot.bot_id]
    again = second.registry.get_bot(bot.bot_id)
    assert again is not None
    for bar in bars_from_frame(frame[STORED + 1500 :], symbol="BTC", interval="1m"):
        second.feed.publish(bar)
    await wait_for(lambda: again.status().bars == LIVE, timeout=120.0, what="the restarted bot to catch up")
    await again.shutdown()
    await second.db.upsert_candles(frame[STORED + 1500 :])

    rec = (await report_bot(second.db, bot.bot_id, SETTINGS)).reconciliation
    assert rec.status == "exact", rec.message
    assert rec.live_from_ms == datetime_to_ms(frame["timestamp"][STORED])  # kept across the restart
    assert rec.bars_seen_by_bot == LIVE
    assert rec.live_trades >= 20


async def test_bars_the_bot_never_saw_are_a_divergence_from_the_bar_where_it_starts(
    make_desk: Callable[..., Any], real_btc_1m: pl.DataFrame
) -> None:
    desk = make_desk()
    frame = real_btc_1m[: STORED + LIVE]
    lost_at, lost = STORED + 1200, 5  # the feed lost 5 bars; the store has them (repaired over REST)
    seen = pl.concat([frame[STORED:lost_at], frame[lost_at + lost :]])
    strategy = "ma_crossover"
    bot = await desk.run_bot(frame, strategy, PARAMS[strategy], stored=STORED, live=seen)
    await desk.db.upsert_candles(frame[STORED:])

    rec = (await report_bot(desk.db, bot.bot_id, SETTINGS)).reconciliation
    assert rec.status == "diverged"
    assert rec.gaps == []
    assert rec.diverges_at_ms is not None
    assert rec.diverges_at_ms >= datetime_to_ms(frame["timestamp"][lost_at])  # nothing differs before
    assert all(
        m.exact
        for m in rec.matches
        if m.live is not None and m.live.entry.t < datetime_to_ms(frame["timestamp"][lost_at - 40])
    )
    assert f"it handled {LIVE - lost} bars, the store holds {LIVE} of its span" in rec.message
