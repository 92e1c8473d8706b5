"""The walk-forward: no look-ahead, the live selection's decisions, the bots' trading, a seeded baseline."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from algo_trade_backtest_scheduler import BacktestScheduler
from algo_trade_bot_orchestrator import BotRegistry, FeedBar, MemoryFeed, bars_from_frame
from algo_trade_core import ConfigError, DataError, datetime_to_ms
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import wait_for
from algo_trade_evaluation import WalkForwardSettings, bars_from_frames, run_walkforward, selection_steps
from algo_trade_pipeline import Pipeline

from .conftest import TOKENS, common_range, study_config


def settings_for(frames: dict[str, pl.DataFrame], weeks: int = 4, **overrides: object) -> WalkForwardSettings:
    first, _ = common_range(frames)
    start = first + timedelta(days=40)
    values: dict[str, object] = {"random_draws": 200, **overrides}
    return WalkForwardSettings.from_config(
        study_config(), start=start, end=start + timedelta(weeks=weeks), **values
    )


def _shaken(frame: pl.DataFrame, after: datetime, seed: int) -> pl.DataFrame:
    """Every bar opening at or after ``after`` replaced by another random path (still valid bars)."""
    mask = frame["timestamp"] >= after
    n = int(mask.sum())
    rng = np.random.default_rng(seed)
    factor = np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    scale = pl.Series(np.concatenate((np.ones(frame.height - n), factor)))
    return frame.with_columns(
        *(pl.col(c) * scale for c in ("open", "high", "low", "close")),
        pl.col("volume") * pl.Series(np.concatenate((np.ones(frame.height - n), rng.uniform(0.1, 9, n)))),
    )


def test_nothing_at_or_after_t_k_changes_the_selection_at_t_k(frames_1h: dict[str, pl.DataFrame]) -> None:
    settings = settings_for(frames_1h)
    times = settings.times()
    steps = selection_steps(bars_from_frames(frames_1h), settings)
    t_k = times[2]
    shaken = {s: _shaken(f, t_k, seed=i) for i, f in enumerate(frames_1h.values()) for s in [f["symbol"][0]]}
    after = selection_steps(bars_from_frames(shaken), settings)
    for k in range(3):  # every selection up to and including t_k is the same...
        assert after[k].approved == steps[k].approved
        assert after[k].scores == steps[k].scores
        assert {s: r.sharpe_ratio for s, r in after[k].results.items()} == {
            s: r.sharpe_ratio for s, r in steps[k].results.items()
        }
    # ...and the change is real: the selections after t_k saw other bars.
    assert any(after[k].scores != steps[k].scores for k in range(3, len(times)))


async def test_each_selection_is_what_a_sweep_as_of_t_k_and_token_selection_approve(
    db: DatabaseClient, frames_1h: dict[str, pl.DataFrame]
) -> None:
    settings = settings_for(frames_1h, weeks=4)
    config = study_config()
    steps = selection_steps(bars_from_frames(frames_1h), settings)
    await db.upsert_candles(pl.concat(list(frames_1h.values())))
    scheduler = BacktestScheduler.from_app_config(config, db)
    pipeline = Pipeline(config, db)
    try:
        for k, t_k in enumerate(settings.times()):
            summary = await scheduler.run_once(t_k, refresh=False)
            assert summary.status == "ok"
            live = await pipeline.select(now=t_k, record=False)
            assert live.approved == list(steps[k].approved), k
            assert live.fallback_used == steps[k].fallback
            assert {t.symbol: t.score for t in live.tokens} == steps[k].scores
    finally:
        await scheduler.shutdown()
    assert any(len(s.approved) == 2 for s in steps)  # the rule passed tokens, not only fallbacks


async def test_a_one_token_one_period_walk_forward_trades_like_a_paper_bot(
    db: DatabaseClient, frames_1h: dict[str, pl.DataFrame]
) -> None:
    frame = frames_1h["SOL"]
    first, _ = common_range(frames_1h)
    start = first + timedelta(days=40)
    end = start + timedelta(days=21)
    config = study_config(("SOL",), min_sharpe_ratio=-1e9, max_drawdown=1.0, min_num_trades=0, top_n=1)
    params = {"short_1": 3, "short_2": 6, "long_1": 12, "long_2": 24, "trend": 48, "volume_filter": False}
    settings = WalkForwardSettings.from_config(
        config, start=start, end=end, step=end - start, params=params, random_draws=0
    )
    result = run_walkforward(bars_from_frames({"SOL": frame}), settings)
    assert result.periods[0].approved == ("SOL",)

    # The same bars fed to a real paper bot of the registry: warmed up from the store at `start`,
    # trading the period, removed at `end` (closed at the next open).
    await db.upsert_candles(frame.filter(pl.col("timestamp") < start))
    feed = MemoryFeed()
    now = {"ms": datetime_to_ms(start) + 1_000}
    registry = BotRegistry(
        db,
        feed,
        execution=settings.execution,
        bots=config.bots,
        clock_ms=lambda: now["ms"],
        strategy_parameters={"quad_ma": params},
    )
    try:
        bot = registry.get_bot(await registry.spawn_bot(registry.new_config("SOL", "quad_ma", params)))
        period = frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") <= end))
        bars: list[FeedBar] = list(bars_from_frame(period, symbol="SOL", interval="1h"))
        for bar in bars[:-1]:
            feed.publish(bar)
        await wait_for(lambda: bot.status().bars == len(bars) - 1, 60, "the bot to trade the period")
        await registry.remove_bot(bot.bot_id, wait=False)
        feed.publish(bars[-1])  # the bar at `end`: the close fills at its open
        await wait_for(lambda: bot.done, 30, "the bot to close and stop")
        assert await bot.flushed()
        fills = await db.list_fills(bot_id=bot.bot_id)
    finally:
        await registry.shutdown_all()
    exits = [f for f in fills if f.reason != "entry"]
    fees = sum(float(f.fee) for f in fills)
    sel = result.stats["selection"]
    assert result.selection.trades == len(exits) >= 5
    assert result.selection.fees == pytest.approx(fees, abs=1e-6)
    final = bot.status().equity
    assert result.periods[0].approved_pnl["SOL"] == pytest.approx(final - settings.capital, abs=1e-6)
    assert sel.total_return == pytest.approx((final - settings.capital) / settings.capital, abs=1e-9)


def test_the_random_baseline_is_reproducible_by_seed(frames_1h: dict[str, pl.DataFrame]) -> None:
    bars = bars_from_frames(frames_1h)
    settings = settings_for(frames_1h, random_draws=100)
    steps = selection_steps(bars, settings)
    one = run_walkforward(bars, settings, steps=steps)
    again = run_walkforward(bars, settings, steps=steps)
    other = run_walkforward(bars, settings_for(frames_1h, random_draws=100, seed=7), steps=steps)
    np.testing.assert_array_equal(one.random.boundary_equity, again.random.boundary_equity)
    assert not np.array_equal(one.random.boundary_equity, other.random.boundary_equity)
    assert one.statistics["random_percentile"] == again.statistics["random_percentile"]
    assert one.random.total_returns.std() > 0  # the draws differ from one another


def test_periods_report_turnover_missing_tokens_and_the_ic(frames_1h: dict[str, pl.DataFrame]) -> None:
    frames = dict(frames_1h)
    first, _ = common_range(frames)
    listed = first + timedelta(days=40 + 10)  # DOGE's history starts ten days into the study
    frames["DOGE"] = frames["DOGE"].filter(pl.col("timestamp") >= listed)
    settings = settings_for(frames_1h)
    result = run_walkforward(bars_from_frames(frames), settings)
    periods = result.periods
    assert len(periods) == 4
    assert "no 1h bars" in periods[0].missing["DOGE"]
    assert "no 1h bars" in periods[1].missing["DOGE"]
    assert "DOGE" not in periods[2].missing  # four days of bars in its window: a (partial) result
    assert periods[2].token_returns.keys() >= {"DOGE"}
    for before, p in itertools.pairwise(periods):
        old, new = set(before.approved), set(p.approved)
        assert set(p.turnover.added) == new - old
        assert set(p.turnover.removed) == old - new
        assert p.turnover.jaccard_distance == pytest.approx(1 - len(old & new) / len(old | new))
    assert all(set(p.token_returns) <= set(TOKENS) for p in periods)
    assert any(p.ic is not None for p in periods)
    json = result.to_json()
    assert json["periods"][0]["start"] == periods[0].start.isoformat()
    assert {"psr", "dsr", "pbo"} <= set(json["statistics"])
    assert result.verdict.startswith("Out of sample over 4 period(s)")


def test_bad_settings_and_empty_ranges_say_what_is_wrong(frames_1h: dict[str, pl.DataFrame]) -> None:
    first, last = common_range(frames_1h)
    with pytest.raises(ConfigError, match="start: expected before end"):
        WalkForwardSettings.from_config(study_config(), start=last, end=first)
    with pytest.raises(ConfigError, match="window_days: expected >= 1"):
        WalkForwardSettings.from_config(study_config(), start=first, end=last, window_days=0)
    with pytest.raises(ConfigError, match="params"):
        WalkForwardSettings.from_config(study_config(), start=first, end=last, params={"trend": 0})
    future = last + timedelta(days=400)
    settings = WalkForwardSettings.from_config(study_config(), start=future, end=future + timedelta(days=7))
    with pytest.raises(DataError, match="nothing to evaluate"):
        run_walkforward(bars_from_frames(frames_1h), settings)


def test_random_draws_that_must_take_every_eligible_token_follow_the_bots_value_tables(
    frames_1h: dict[str, pl.DataFrame],
) -> None:
    from algo_trade_evaluation import book_tables, random_baseline

    bars = bars_from_frames(frames_1h)
    settings = settings_for(frames_1h, weeks=5)
    times = settings.times()
    eligible = [s.eligible for s in selection_steps(bars, settings)]
    eligible[2] = eligible[2][:3]  # some tokens leave for a period and come back: new bots then
    tables = book_tables(bars, settings, times, eligible)
    capital = settings.capital
    baseline = random_baseline(
        tables, eligible, [len(e) for e in eligible], draws=5, seed=3, capital=capital, sleeves=6
    )
    # Taking every eligible token leaves nothing to chance: every draw is the same path...
    assert np.all(baseline.boundary_equity == baseline.boundary_equity[0])
    # ...the one written out by hand: a bot per run of consecutive periods, closed when its run ends.
    expected = [6 * capital]
    realised = 0.0
    start: dict[str, int] = {}
    for k, tokens in enumerate(eligible):
        for s in [s for s in start if s not in tokens]:
            realised += tables.closed[s][start.pop(s)][k] - capital
        for s in tokens:
            start.setdefault(s, k)
        table = tables.closed if k + 1 == len(eligible) else tables.marked
        expected.append(6 * capital + realised + sum(table[s][a][k + 1] - capital for s, a in start.items()))
    np.testing.assert_allclose(baseline.boundary_equity[0], expected, rtol=0, atol=1e-6)
