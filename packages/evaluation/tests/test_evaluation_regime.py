"""Regimes and statistical gates in the walk-forward: attached at ``t_k`` from the past only, decided
exactly as the live sweep and selection decide them, and out-of-sample returns reported by regime."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from algo_trade_backtest_scheduler import BacktestScheduler
from algo_trade_data import DatabaseClient
from algo_trade_evaluation import (
    REGIME_KEYS,
    WalkForwardSettings,
    bars_from_frames,
    records_of,
    regime_split,
    run_walkforward,
    selection_steps,
)
from algo_trade_evaluation._select import token_regime_at
from algo_trade_pipeline import Pipeline

from .conftest import common_range, study_config
from .test_evaluation_walkforward import _shaken

# 30 days of lookback (15 trailing windows needed): with 20-day windows, regimes are known from about
# 35 days of history on, so from the first t_k of these studies.
GATED = {"regime_lookback_days": 30, "allowed_regimes": ("low", "normal"), "min_psr": 0.6, "min_dsr": 0.3}


def gated_settings(
    frames: dict[str, pl.DataFrame], weeks: int = 4, **selection: object
) -> WalkForwardSettings:
    first, _ = common_range(frames)
    start = first + timedelta(days=40)
    return WalkForwardSettings.from_config(
        study_config(**{**GATED, **selection}),
        start=start,
        end=start + timedelta(weeks=weeks),
        random_draws=50,
    )


def test_regimes_at_t_k_do_not_see_later_bars(frames_1h: dict[str, pl.DataFrame]) -> None:
    settings = gated_settings(frames_1h)
    assert settings.regime_lookback_days == 30
    steps = selection_steps(bars_from_frames(frames_1h), settings)
    t_k = settings.times()[2]
    shaken = {s: _shaken(f, t_k, seed=i) for i, (s, f) in enumerate(frames_1h.items())}
    after = selection_steps(bars_from_frames(shaken), settings)
    for k in range(3):
        assert after[k].regimes == steps[k].regimes
        assert after[k].approved == steps[k].approved
    assert all(r is not None for step in steps for r in step.regimes.values())
    assert len({r for step in steps for r in step.regimes.values()}) >= 2


def _wild_from(frame: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """Every bar opening at or after ``t`` scaled by 4 and 1/4 in turn: each of those hourly returns is
    about +-139 %, so a single one of them inside a window makes its volatility several times larger."""
    later = (frame["timestamp"] >= t).to_numpy()
    factor = np.where(np.cumsum(later) % 2 == 1, 4.0, 0.25)
    scale = pl.Series(np.where(later, factor, 1.0))
    return frame.with_columns(*(pl.col(c) * scale for c in ("open", "high", "low", "close")))


def test_the_regime_at_t_k_reads_no_bar_opening_at_or_after_t_k(frames_1h: dict[str, pl.DataFrame]) -> None:
    settings = gated_settings(frames_1h)
    bars = bars_from_frames(frames_1h)
    for t_k in settings.times():
        wild = bars_from_frames({s: _wild_from(f, t_k) for s, f in frames_1h.items()})
        before = {s: token_regime_at(bars[s], t_k, settings) for s in settings.symbols}
        assert {s: token_regime_at(wild[s], t_k, settings) for s in settings.symbols} == before
        assert None not in before.values()
        # The change is one the regime would see: the bar opening at t_k alone makes every window high.
        one_bar_later = t_k + timedelta(hours=1)
        assert {token_regime_at(wild[s], one_bar_later, settings) for s in settings.symbols} == {"high"}


async def test_regimes_and_gates_decide_as_the_live_sweep_and_selection_do(
    db: DatabaseClient, frames_1h: dict[str, pl.DataFrame]
) -> None:
    settings = gated_settings(frames_1h)
    config = study_config(**GATED)
    steps = selection_steps(bars_from_frames(frames_1h), settings)
    await db.upsert_candles(pl.concat(list(frames_1h.values())))
    scheduler = BacktestScheduler.from_app_config(config, db)
    pipeline = Pipeline(config, db)
    failed: set[str] = set()
    try:
        for k, t_k in enumerate(settings.times()):
            summary = await scheduler.run_once(t_k, refresh=False)
            assert summary.status == "ok"
            live = await pipeline.select(now=t_k, record=False)
            assert live.approved == list(steps[k].approved), k
            assert steps[k].selection is not None
            offline = {t.symbol: t for t in steps[k].selection.tokens}
            for token in live.tokens:
                mine = offline[token.symbol]
                assert token.regime == mine.regime == steps[k].regimes[token.symbol]
                assert token.psr == pytest.approx(mine.psr, rel=1e-12)
                assert token.dsr == pytest.approx(mine.dsr, rel=1e-9)
                assert token.trials == mine.trials == len(settings.symbols)
                assert [f.text for f in token.failed] == [f.text for f in mine.failed]
                failed.update(token.failed_criteria)
    finally:
        await scheduler.shutdown()
    assert {"allowed_regimes", "min_psr", "min_dsr"} <= failed  # every gate bound somewhere


def test_out_of_sample_returns_are_split_by_the_regime_at_selection(
    frames_1h: dict[str, pl.DataFrame],
) -> None:
    settings = gated_settings(
        frames_1h, weeks=6, allowed_regimes=("low", "normal", "high"), min_psr=0.0, min_dsr=0.0
    )
    result = run_walkforward(bars_from_frames(frames_1h), settings)
    split = result.summary_json()["by_regime"]
    assert set(split) == set(REGIME_KEYS)
    approved: dict[str, list[float]] = {key: [] for key in REGIME_KEYS}
    eligible: dict[str, list[float]] = {key: [] for key in REGIME_KEYS}
    for p in result.periods:
        for symbol, value in p.token_returns.items():
            key = p.regimes[symbol] or "unknown"
            eligible[key].append(value)
            if symbol in p.approved:
                approved[key].append(value)
    for key in REGIME_KEYS:
        assert split[key]["approved"] == len(approved[key])
        assert split[key]["eligible"] == len(eligible[key])
        if approved[key]:
            assert split[key]["approved_mean_return"] == pytest.approx(
                sum(approved[key]) / len(approved[key])
            )
        else:
            assert split[key]["approved_mean_return"] is None
    assert sum(split[key]["approved"] for key in REGIME_KEYS) == sum(
        len(set(p.approved) & set(p.token_returns)) for p in result.periods
    )
    assert sum(1 for key in ("low", "normal", "high") if split[key]["eligible"]) >= 2
    assert split["unknown"]["eligible"] == 0  # 30 days of lookback: every regime is known here
    _, periods = records_of(result)
    assert periods[0].details["regimes"] == result.periods[0].regimes
    assert regime_split(result.periods)["low"].to_json() == split["low"]


def test_a_regime_unknown_for_lack_of_history_counts_as_unknown(frames_1h: dict[str, pl.DataFrame]) -> None:
    settings = gated_settings(
        frames_1h,
        weeks=2,
        regime_lookback_days=180,
        allowed_regimes=("low", "normal", "high"),
        min_psr=0.0,
        min_dsr=0.0,
    )
    result = run_walkforward(bars_from_frames(frames_1h), settings)
    split = result.summary_json()["by_regime"]
    assert all(r is None for p in result.periods for r in p.regimes.values())
    assert split["unknown"]["eligible"] == sum(len(p.token_returns) for p in result.periods) > 0
