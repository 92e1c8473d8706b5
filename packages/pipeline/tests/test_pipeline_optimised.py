"""After a sweep with [optimisation] enabled: every trial stored, selection among the per-token choices
with the min_dsr gate, each approved token's bot on its own strategy and parameters."""

from __future__ import annotations

from dataclasses import replace

from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary
from algo_trade_core import (
    AppConfig,
    MaCrossoverSpace,
    OptimisationConfig,
    QuadMaSpace,
    bars_per_year,
)
from algo_trade_data import DatabaseClient
from algo_trade_optimisation import dsr_of
from algo_trade_pipeline import Pipeline
from algo_trade_token_selector import OPTIMISED

from .conftest import NOW, TOKENS, RecordingRegistry, config, store_candles

QUAD = QuadMaSpace(
    short_1=(3, 5),
    short_2=(8,),
    long_1=(15,),
    long_2=(30,),
    trend=(60,),
    volume_filter=(False,),
    take_profit=(0.004, 0.01),
    stop_loss=(0.003,),
)
CROSS = MaCrossoverSpace(fast=(3, 5, 8), slow=(20, 30))
SETS = 4 + 6


def optimised(min_dsr: float = 0.0, **selection: object) -> AppConfig:
    cfg = config(**selection)
    space = OptimisationConfig(enabled=True, min_dsr=min_dsr, chunk_size=3, quad_ma=QUAD, ma_crossover=CROSS)
    return replace(cfg, optimisation=space)


async def sweep(cfg: AppConfig, db: DatabaseClient) -> RunSummary:
    scheduler = BacktestScheduler(cfg.scheduler, db, None, strategies=cfg.strategy)
    try:
        return await scheduler.run_once(as_of=NOW)
    finally:
        await scheduler.shutdown()


async def test_a_sweep_stores_every_trial_and_each_approved_bot_trades_its_choice(db: DatabaseClient) -> None:
    await store_candles(db)
    cfg = optimised()
    summary = await sweep(cfg, db)
    registry = RecordingRegistry()
    cycle = await Pipeline(cfg, db, registry=registry, clock=lambda: NOW).after_sweep(summary)  # type: ignore[arg-type]
    assert cycle.error is None
    assert cycle.optimisation is not None
    assert cycle.optimisation.status == "ok"
    run_id = cycle.optimisation.run_id
    trials = await db.query_trials(run_id)
    assert len(trials) == len({(t.symbol, t.params_hash) for t in trials}) == len(TOKENS) * SETS

    selection = cycle.selection
    assert selection is not None
    assert selection.strategy_name == OPTIMISED
    assert len(selection.approved) == 3  # top_n
    stored_choices = await db.latest_choices("1m", TOKENS)
    for token in selection.tokens:  # every token shows its choice with the N and DSR of its stored trials
        choice = token.choice
        assert choice is not None
        stored = stored_choices[token.symbol]
        assert (choice.strategy, choice.parameters) == (stored["strategy"], stored["parameters"])
        assert token.params_hash == stored["params_hash"]
        n, variance = await db.trial_stats(run_id, token.symbol)
        assert choice.n_trials == n == SETS
        assert choice.dsr == dsr_of(
            token.sharpe_ratio,
            n_trials=n,
            variance_per_period=variance / bars_per_year("1m"),
            num_returns=token.num_bars - 1,
            skewness=stored["metrics"]["skewness"],
            kurtosis=stored["metrics"]["kurtosis"],
            periods_per_year=bars_per_year("1m"),
        )
    # The bots: one sync, each approved token on its own chosen strategy and parameters.
    assert registry.calls == [(selection.approved, "quad_ma", None)]
    assert registry.choices == [
        {s: (stored_choices[s]["strategy"], stored_choices[s]["parameters"]) for s in selection.approved}
    ]
    assert set(registry.strategies[0]) == {"quad_ma", "ma_crossover"}
    record = await db.latest_selection(OPTIMISED)
    assert record is not None
    assert record.approved == selection.approved
    assert record.run_id == summary.run_id
    assert all("choice" in d for d in record.details)

    # token-selection's default (no widening) is the same selection among the choices.
    manual = await Pipeline(cfg, db).select(now=NOW, record=False)
    assert manual.approved == selection.approved
    assert manual.choices == selection.choices


async def test_a_choice_below_min_dsr_is_never_approved_not_even_as_a_fallback(db: DatabaseClient) -> None:
    await store_candles(db)
    cfg = optimised(min_dsr=1.0, fallback_top_n=3, min_sharpe_ratio=1e9)  # nothing passes
    registry = RecordingRegistry()
    cycle = await Pipeline(cfg, db, registry=registry, clock=lambda: NOW).after_sweep(await sweep(cfg, db))  # type: ignore[arg-type]
    assert cycle.selection is not None
    assert cycle.selection.approved == []
    assert not cycle.selection.fallback_used
    for token in cycle.selection.tokens:
        assert "min_dsr" in token.failed_criteria, token
    assert registry.choices == [{}]

    # The same stored choices with the gate at 0: the fallback approves the best by Sharpe.
    relaxed = replace(cfg, optimisation=replace(cfg.optimisation, min_dsr=0.0))
    fallback = await Pipeline(relaxed, db).select(now=NOW, record=False)
    assert fallback.fallback_used
    assert len(fallback.approved) == 3


async def test_an_optimisation_that_cannot_run_changes_nothing(db: DatabaseClient) -> None:
    await store_candles(db)
    cfg = optimised()
    unreachable = replace(cfg.compute, dask_min_work=0, scheduler="tcp://127.0.0.1:9", connect_timeout_s=1.0)
    cfg = replace(cfg, compute=unreachable)
    registry = RecordingRegistry()
    cycle = await Pipeline(cfg, db, registry=registry, clock=lambda: NOW).after_sweep(await sweep(cfg, db))  # type: ignore[arg-type]
    assert cycle.error is not None
    assert "cannot reach the Dask scheduler" in cycle.error
    assert cycle.selection is None
    assert registry.calls == []
    assert await db.list_selections() == []
