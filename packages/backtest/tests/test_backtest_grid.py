"""Parameter grids: one row per set, identical to single backtests, stable hashes, any thread count."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from algo_trade_backtest import METRIC_NAMES, params_hash, run_backtest, run_grid
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig

Bars = Any


def _quad_sets() -> list[dict[str, Any]]:
    sets = []
    for s1, s2, l1, l2, trend, vf, tp, rcb in itertools.product(
        [2, 5], [8], [13, 20], [34], [55, 100], [True, False], [0.005, 0.02], [1, 2]
    ):
        sets.append(
            {
                "short_1": s1,
                "short_2": s2,
                "long_1": l1,
                "long_2": l2,
                "trend": trend,
                "volume_filter": vf,
                "take_profit": tp,
                "stop_loss": tp / 2,
                "reversal_confirmation_bars": rcb,
            }
        )
    return sets


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_grid_rows_equal_single_backtests(walk: Callable[..., Bars], workers: int) -> None:
    bars = walk(21, 5_000, vol=0.003)
    execution = BacktestConfig(fee_rate=0.0002, slippage_bps=2.0)
    sets = _quad_sets()
    frame = run_grid(
        *bars, strategy="quad_ma", param_sets=sets, execution=execution, interval="1m", workers=workers
    )
    assert frame.height == len(sets)
    assert frame.columns[:2] == ["strategy", "params_hash"]
    assert frame.columns[-len(METRIC_NAMES) :] == list(METRIC_NAMES)
    assert frame["num_trades"].sum() > 1_000
    for row, params in zip(frame.iter_rows(named=True), sets, strict=True):
        single = run_backtest(*bars, strategy="quad_ma", params=params, execution=execution, interval="1m")
        assert row["params_hash"] == single.params_hash == params_hash("quad_ma", params)
        assert {k: row[k] for k in params} == params
        for name, value in single.raw_metrics.as_dict().items():
            expected = None if name == "profit_factor" and math.isinf(value) else value
            assert row[name] == expected, name


def test_grid_for_ma_crossover_and_dataclass_sets(walk: Callable[..., Bars]) -> None:
    bars = walk(22, 2_000)
    sets = [MaCrossoverConfig(fast=f, slow=s) for f in (3, 5, 10) for s in (20, 30)]
    frame = run_grid(*bars, strategy="ma_crossover", param_sets=sets, interval="1m")
    assert frame["fast"].to_list() == [3, 3, 5, 5, 10, 10]
    assert frame["params_hash"].n_unique() == 6
    assert frame.schema["num_trades"] == pl.Int64
    assert frame.schema["total_return"] == pl.Float64
    single = run_backtest(*bars, strategy="ma_crossover", params=sets[3], interval="1m")
    assert frame.row(3, named=True)["final_capital"] == single.raw_metrics.final_capital


def test_grid_profit_factor_is_null_without_losses(bars_from: Callable[..., Bars]) -> None:
    frame = run_grid(*bars_from([10.0] * 50), strategy="quad_ma", param_sets=[{}], interval="1h")
    assert frame["profit_factor"].to_list() == [None]


def test_grid_names_the_bad_parameter_set(walk: Callable[..., Bars]) -> None:
    with pytest.raises(ValueError, match=r"parameter set 1: quad_ma.short_1: expected < short_2"):
        run_grid(
            *walk(1, 100), strategy="quad_ma", param_sets=[QuadMaConfig(), {"short_1": 20}], interval="1m"
        )


def test_empty_grid(walk: Callable[..., Bars]) -> None:
    assert run_grid(*walk(1, 100), strategy="quad_ma", param_sets=[], interval="1m").height == 0
