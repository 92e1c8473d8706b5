"""After a sweep: selection on the traded parameter set, bot sync; nothing at all without fresh results."""

from __future__ import annotations

from datetime import timedelta

from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary
from algo_trade_core import AppConfig, ParameterSet
from algo_trade_data import DatabaseClient
from algo_trade_pipeline import Daemon, Pipeline, selection_scope, traded_parameter_set
from algo_trade_token_selector import SelectionScope, TokenSelector

from .conftest import NOW, TOKENS, RecordingRegistry, config, store_candles

FAST = ParameterSet(
    strategy="quad_ma",
    params={"short_1": 3, "short_2": 8, "long_1": 15, "long_2": 30, "trend": 60, "volume_filter": False},
)
SLOW = ParameterSet(strategy="quad_ma", params={"trend": 200, "volume_filter": False})
CROSS = ParameterSet(strategy="ma_crossover", params={"fast": 5, "slow": 20})


async def sweep(cfg: AppConfig, db: DatabaseClient, **kwargs: object) -> RunSummary:
    scheduler = BacktestScheduler(cfg.scheduler, db, None, strategies=cfg.strategy)
    try:
        return await scheduler.run_once(**kwargs)  # type: ignore[arg-type]
    finally:
        await scheduler.shutdown()


async def test_a_fresh_sweep_is_selected_and_the_bots_follow_the_traded_set(db: DatabaseClient) -> None:
    await store_candles(db)
    cfg = config(parameter_sets=(SLOW, FAST, CROSS))
    summary = await sweep(cfg, db, as_of=NOW)
    registry = RecordingRegistry()
    cycle = await Pipeline(cfg, db, registry=registry, clock=lambda: NOW).after_sweep(summary)  # type: ignore[arg-type]
    assert cycle.error is None
    assert cycle.skipped is None
    assert cycle.selection is not None
    traded_hash, traded_params = traded_parameter_set(cfg)
    assert {t.params_hash for t in cycle.selection.tokens} == {traded_hash}
    assert len(cycle.selection.approved) == 3
    assert registry.calls == [(cycle.selection.approved, "quad_ma", traded_params)]
    stored = await db.latest_selection("quad_ma")
    assert stored is not None
    assert stored.run_id == summary.run_id
    assert stored.approved == cycle.selection.approved


async def test_a_sweep_in_which_every_token_failed_changes_nothing(db: DatabaseClient) -> None:
    await store_candles(db)
    cfg = config()
    registry = RecordingRegistry()
    pipeline = Pipeline(cfg, db, registry=registry, clock=lambda: NOW)  # type: ignore[arg-type]
    first = await pipeline.after_sweep(await sweep(cfg, db, as_of=NOW))
    assert first.selection is not None
    assert len(registry.calls) == 1

    failed = await sweep(cfg, db, as_of=NOW, symbols=["NODATA1", "NODATA2"])
    assert failed.status == "failed"
    cycle = await pipeline.after_sweep(failed)
    assert cycle.selection is None
    assert cycle.skipped == "the sweep stored no result: every token failed (2 of 2)"
    assert len(registry.calls) == 1  # no bot started or stopped
    assert len(await db.list_selections()) == 1  # no selection stored


async def test_a_sweep_over_an_old_window_changes_nothing(db: DatabaseClient) -> None:
    await store_candles(db)
    cfg = config()
    registry = RecordingRegistry()
    summary = await sweep(cfg, db, as_of=NOW - timedelta(hours=12))
    assert summary.status == "ok"
    later = NOW + timedelta(days=3)  # 3.5 days after the window's end > 48 h
    cycle = await Pipeline(cfg, db, registry=registry, clock=lambda: later).after_sweep(summary)  # type: ignore[arg-type]
    assert cycle.selection is None
    assert cycle.skipped is not None
    assert "84 h before now > max_result_age_hours 48" in cycle.skipped
    assert registry.calls == []
    assert await db.list_selections() == []


async def test_the_daemon_and_a_manual_selection_approve_the_same_tokens(db: DatabaseClient) -> None:
    await store_candles(db)
    # Two quad_ma sets and an ma_crossover set: the bots trade the first quad_ma set, SLOW.
    cfg = config(parameter_sets=(SLOW, FAST, CROSS))
    daemon = Daemon(cfg, db, None, clock_ms=lambda: int(NOW.timestamp() * 1000))
    try:
        await daemon.scheduler.run_once()
    finally:
        await daemon.stop()
    (cycle,) = daemon.cycles
    assert cycle.selection is not None
    manual = await Pipeline(cfg, db).select(now=NOW, record=False)
    assert manual.approved == cycle.selection.approved
    assert [t.symbol for t in manual.tokens] == [t.symbol for t in cycle.selection.tokens]

    # The other quad_ma set ranks differently: selecting on "the newest result of any set" would not
    # be the daemon's selection.
    other = traded_parameter_set(config(parameter_sets=(FAST,)))[0]
    scope = selection_scope(cfg)
    assert scope.params_hash != other
    on_other = await TokenSelector(db, cfg.token_selection).select(
        SelectionScope(strategy="quad_ma", params_hash=other, interval="1m", symbols=TOKENS),
        now=NOW,
        record=False,
    )
    assert on_other.approved != cycle.selection.approved
