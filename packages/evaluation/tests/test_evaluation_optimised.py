"""The walk-forward with per-token optimisation: no look-ahead, the live optimisation's and selection's own
decisions at every t_k, and bots replaced the on_remove way when a token's chosen set changes."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta

import polars as pl
import pytest

from algo_trade_core import (
    AppConfig,
    ComputeConfig,
    MaCrossoverSpace,
    OptimisationConfig,
    QuadMaSpace,
    parameter_set_hash,
    strategy_params_from_mapping,
)
from algo_trade_data import DatabaseClient
from algo_trade_evaluation import (
    BotPlan,
    OptimiseSpec,
    WalkForwardSettings,
    bars_from_frames,
    book_tables,
    optimised_steps,
    picks_at,
    run_sleeves,
)
from algo_trade_optimisation import plan_space, run_optimisation
from algo_trade_pipeline import Pipeline, optimised_scope

from .conftest import TOKENS, common_range, study_config
from .test_evaluation_walkforward import _shaken

SYMBOLS = TOKENS[:3]


def optimised_config() -> AppConfig:
    """12 sets per token (8 quad_ma, 4 ma_crossover); min_dsr 0 so that the gate lets tokens through."""
    config = study_config(SYMBOLS)
    optimisation = OptimisationConfig(
        enabled=True,
        min_dsr=0.0,
        quad_ma=QuadMaSpace(
            short_1=(3, 5),
            short_2=(8, 13),
            long_1=(21,),
            long_2=(34,),
            trend=(100,),
            take_profit=(0.02, 0.04),
            stop_loss=(0.01,),
        ),
        ma_crossover=MaCrossoverSpace(fast=(3, 5), slow=(21, 34)),
    )
    return replace(config, optimisation=optimisation)


def study(frames: dict[str, pl.DataFrame], weeks: int = 3) -> tuple[WalkForwardSettings, OptimiseSpec]:
    config = optimised_config()
    first, _ = common_range(frames)
    start = first + timedelta(days=40)
    settings = WalkForwardSettings.from_config(
        config, start=start, end=start + timedelta(weeks=weeks), random_draws=50
    )
    space = plan_space(config.optimisation, ComputeConfig(), 24 * 20)
    assert len(space) == 12
    return settings, OptimiseSpec(space, config.optimisation, pbo_blocks=8)


@pytest.fixture(scope="module")
def frames(frames_1h: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {s: frames_1h[s] for s in SYMBOLS}


def test_nothing_at_or_after_t_k_changes_the_choices_at_t_k(frames: dict[str, pl.DataFrame]) -> None:
    settings, spec = study(frames)
    times = settings.times()
    t_k = times[1]
    shaken = {s: _shaken(f, t_k, seed=i) for i, (s, f) in enumerate(frames.items())}
    picks, _ = picks_at(t_k, bars_from_frames(frames), settings, spec)
    after, _ = picks_at(t_k, bars_from_frames(shaken), settings, spec)
    assert set(picks) == set(SYMBOLS)
    for symbol, pick in picks.items():
        assert after[symbol].choice == pick.choice  # strategy, parameters, metrics, N, V[SR], DSR
        assert pick.pbo is not None
        assert after[symbol].pbo is not None
        assert after[symbol].pbo.pbo == pick.pbo.pbo
    steps, _, _ = optimised_steps(bars_from_frames(frames), settings, spec)
    steps_after, picks_after, _ = optimised_steps(bars_from_frames(shaken), settings, spec)
    for k in range(2):
        assert steps_after[k].approved == steps[k].approved
        assert steps_after[k].scores == steps[k].scores
    # ...and the change is real: the choices at the next t_k saw other bars.
    later, _ = picks_at(times[2], bars_from_frames(frames), settings, spec)
    assert any(picks_after[2][s].choice.metrics != later[s].choice.metrics for s in SYMBOLS)


async def test_each_t_k_chooses_and_selects_as_the_daemons_optimisation_would(
    db: DatabaseClient, frames: dict[str, pl.DataFrame]
) -> None:
    """At every t_k: each token's choice is what `algo-trade optimise --as-of t_k` stores (N from the
    store), and the approved list what the selection among the stored choices approves at t_k."""
    settings, spec = study(frames)
    config = optimised_config()
    steps, picks, plans = optimised_steps(bars_from_frames(frames), settings, spec)
    await db.upsert_candles(pl.concat(list(frames.values())))
    pipeline = Pipeline(config, db)
    scope = optimised_scope(config, interval="1h")
    approved_any = False
    for k, t_k in enumerate(settings.times()):
        summary = await run_optimisation(config, db, SYMBOLS, as_of=t_k, executor="threads")
        assert summary.status == "ok"
        for symbol, stored in summary.choices.items():
            mine = picks[k][symbol].choice
            assert (mine.strategy, mine.params_hash, mine.n_trials) == (
                stored.strategy,
                stored.params_hash,
                stored.n_trials,
            )
            # V[SR] to the bit (the exactly rounded variance, here and in the store); the DSR to the
            # precision of the stored skewness and kurtosis (float4)
            assert mine.sharpe_variance == stored.sharpe_variance
            assert mine.dsr == pytest.approx(stored.dsr, rel=1e-6)
            assert plans[k][symbol].params_hash == stored.params_hash  # what the bot trades
        live = await pipeline.select_choices(scope, now=t_k, record=False)
        assert live.approved == list(steps[k].approved), k
        assert live.fallback_used == steps[k].fallback
        assert {t.symbol: t.score for t in live.tokens} == pytest.approx(steps[k].scores)
        approved_any = approved_any or bool(live.approved)
    assert approved_any


def _plans(settings: WalkForwardSettings) -> tuple[BotPlan, BotPlan]:
    a = BotPlan(settings.strategy, dict(settings.params), settings.params_hash)
    params = asdict(strategy_params_from_mapping("ma_crossover", {"fast": 5, "slow": 21}))
    return a, BotPlan("ma_crossover", params, parameter_set_hash("ma_crossover", params))


def test_a_changed_choice_closes_the_bot_and_starts_one_of_the_new_set(
    frames: dict[str, pl.DataFrame],
) -> None:
    """on_remove = close: a token approved in every period with another set each time trades a fresh bot
    per period, closed at the open of the next t_k's bar: its P&L is that bot's, as the baseline tables
    book it (a period's P&L is marked at the last close before the next t_k, so the closing fill's cost
    falls into the next period)."""
    settings, _ = study(frames)
    bars = bars_from_frames(frames)
    times = settings.times()
    a, b = _plans(settings)
    plans = [dict.fromkeys(SYMBOLS, a if k % 2 == 0 else b) for k in range(len(times))]
    every = [SYMBOLS] * len(times)
    run = run_sleeves(bars, settings, times, every, len(SYMBOLS), plans)
    tables = book_tables(bars, settings, times, every, plans)
    assert run.bots_started == len(SYMBOLS) * len(times)
    last = len(times) - 1
    for symbol in SYMBOLS:
        marked, closed = tables.marked[symbol], tables.closed[symbol]
        for k in range(len(times)):
            own = (closed if k == last else marked)[k][k + 1] - settings.capital
            carried = closed[k - 1][k] - marked[k - 1][k] if k else 0.0  # the previous bot's close
            assert run.token_pnl[symbol][k] == pytest.approx(own + carried, abs=1e-6), (symbol, k)
        total = sum(float(closed[k][k + 1]) - settings.capital for k in range(len(times)))
        assert sum(run.token_pnl[symbol]) == pytest.approx(total, abs=1e-6)
    # The same set in every period keeps one bot per token: the plain walk-forward's trading.
    same = run_sleeves(bars, settings, times, every, len(SYMBOLS), [dict.fromkeys(SYMBOLS, a)] * len(times))
    plain = run_sleeves(bars, settings, times, every, len(SYMBOLS))
    assert same.bots_started == len(SYMBOLS)
    assert same.pnl.tolist() == plain.pnl.tolist()


def test_under_drain_a_replaced_bot_drains_beside_its_successor(frames: dict[str, pl.DataFrame]) -> None:
    settings, _ = study(frames, weeks=2)
    settings = replace(settings, on_remove="drain")
    bars = bars_from_frames(frames)
    times = settings.times()
    assert len(times) == 2
    quad, crossover = _plans(settings)
    plans = [dict.fromkeys(SYMBOLS, crossover), dict.fromkeys(SYMBOLS, quad)]  # crossover is long at t_1
    every = [SYMBOLS, SYMBOLS]
    run = run_sleeves(bars, settings, times, every, len(SYMBOLS), plans)
    tables = book_tables(bars, settings, times, every, plans)
    capital = settings.capital
    held = 0
    for symbol in SYMBOLS:
        drained = float(tables.closed[symbol][0][1])  # the crossover bot from t_0, draining from t_1
        successor = float(tables.closed[symbol][1][2])  # the quad_ma bot from t_1, closed at the end
        held += drained != float(tables.marked[symbol][0][1])  # it held a position at t_1
        total = sum(run.token_pnl[symbol])
        assert total == pytest.approx((drained - capital) + (successor - capital), abs=1e-6), symbol
        assert run.token_curves[symbol][-1] == pytest.approx(total, abs=1e-6)
    assert held >= 1  # the drain path ran: a crossover bot still held a position when quad_ma took over
