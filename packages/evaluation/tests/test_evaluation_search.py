"""Rule search: shared backtests change no result; DSR deflates by the variants; bad grids are refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from algo_trade_core import ConfigError, deflated_sharpe_ratio
from algo_trade_evaluation import (
    WalkForwardSettings,
    bars_from_frames,
    run_search,
    run_walkforward,
    variants_from_grid,
)

from .conftest import common_range, study_config


def test_each_variant_equals_its_own_walk_forward_and_the_best_is_deflated(
    frames_1h: dict[str, pl.DataFrame],
) -> None:
    first, _ = common_range(frames_1h)
    start = first + timedelta(days=40)
    base = WalkForwardSettings.from_config(
        study_config(), start=start, end=start + timedelta(weeks=6), random_draws=50
    )
    bars = bars_from_frames(frames_1h)
    variants = variants_from_grid(
        {"min_sharpe_ratio": [0.0, 3.0], "top_n": [1, 3], "step": [timedelta(days=7), timedelta(days=14)]}
    )
    search = run_search(bars, base, variants, blocks=4)
    assert len(search.variants) == 8
    for v in search.variants:
        alone = run_walkforward(bars, replace(v.variant.apply(base), random_draws=0))
        assert v.result.stats["selection"] == alone.stats["selection"], v.variant.label
        assert [p.approved for p in v.result.periods] == [p.approved for p in alone.periods]
    sharpes = np.array([v.result.stats["selection"].sharpe_per_bar for v in search.variants])
    best = search.best_result.stats["selection"]
    assert search.best.sharpe == max(v.sharpe for v in search.variants)
    assert search.dsr == pytest.approx(
        deflated_sharpe_ratio(
            best.sharpe_per_bar, 8, float(np.var(sharpes, ddof=1)), best.bars, best.skewness, best.kurtosis
        )
    )
    assert search.pbo is not None
    assert search.pbo.n_variants == 8
    assert search.best_result.random.draws == 50  # the best variant gets its random baseline
    assert "variants" in search.verdict


def test_a_grid_with_unknown_or_empty_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        variants_from_grid({"min_sharp": [1.0]})
    with pytest.raises(ConfigError, match="list no values"):
        variants_from_grid({"top_n": []})
