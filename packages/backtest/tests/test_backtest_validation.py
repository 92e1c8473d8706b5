"""Bad input raises ValueError naming the problem; parameter mappings and the stable params hash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

from algo_trade_backtest import params_from_mapping, params_hash, run_backtest, run_backtest_frame
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig

Bars = Any


@pytest.fixture
def bars(walk: Callable[..., Bars]) -> list[np.ndarray[Any, Any]]:
    return [x.copy() for x in walk(11, 200)]


def _run(bars: list[Any], **kwargs: Any) -> Any:
    options: dict[str, Any] = {"strategy": "quad_ma", "interval": "1m"} | kwargs
    return run_backtest(*bars, **options)


def test_unequal_lengths(bars: list[Any]) -> None:
    bars[3] = bars[3][:-1]
    with pytest.raises(ValueError, match=r"equal lengths, got timestamps 200, open 200, high 200, low 199"):
        _run(bars)


@pytest.mark.parametrize(
    ("column", "name"), [(1, "open"), (2, "high"), (3, "low"), (4, "close"), (5, "volume")]
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_infinity(bars: list[Any], column: int, name: str, bad: float) -> None:
    bars[column][17] = bad
    with pytest.raises(ValueError, match=rf"{name} contains NaN or infinity at index 17"):
        _run(bars)


@pytest.mark.parametrize("delta", [0, -60_000])
def test_timestamps_must_strictly_increase(bars: list[Any], delta: int) -> None:
    bars[0][50] = bars[0][49] + delta
    with pytest.raises(ValueError, match=r"strictly increasing: index 50 .* is not after index 49"):
        _run(bars)


def test_gaps_in_time_are_allowed(bars: list[Any]) -> None:
    bars[0][100:] += 3_600_000
    assert _run(bars).raw_metrics.num_bars == 200


@pytest.mark.parametrize(("column", "name"), [(1, "open"), (2, "high"), (3, "low"), (4, "close")])
@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_prices_must_be_positive(bars: list[Any], column: int, name: str, bad: float) -> None:
    bars[column][5] = bad
    with pytest.raises(ValueError, match=rf"{name} prices must be positive, got {bad} at index 5"):
        _run(bars)


def test_volume_must_not_be_negative(bars: list[Any]) -> None:
    bars[5][9] = -0.5
    with pytest.raises(ValueError, match=r"volume must be >= 0, got -0.5 at index 9"):
        _run(bars)


def test_range_must_contain_open_and_close(bars: list[Any]) -> None:
    bars[2][30] = min(bars[1][30], bars[4][30]) * 0.99
    with pytest.raises(ValueError, match=r"high .* is below max\(open, close\) .* at index 30"):
        _run(bars)


def test_no_bars() -> None:
    with pytest.raises(ValueError, match="at least one bar"):
        run_backtest([], [], [], [], [], [], strategy="quad_ma", interval="1m")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"short_1": 10, "short_2": 10}, r"quad_ma.short_1: expected < short_2 \(10\), got 10"),
        ({"short_1": 12}, r"quad_ma.short_1: expected < short_2 \(10\), got 12"),
        ({"short_2": 20}, r"quad_ma.short_2: expected < long_1 \(20\), got 20"),
        ({"long_1": 60}, r"quad_ma.long_1: expected < long_2 \(50\), got 60"),
        ({"short_1": 0}, r"quad_ma.short_1: expected >= 1, got 0"),
        ({"trend": 0}, r"quad_ma.trend: expected >= 1, got 0"),
        ({"stop_loss": 1.0}, r"quad_ma.stop_loss: expected < 1, got 1.0"),
        ({"take_profit": 0.0}, r"quad_ma.take_profit: expected > 0, got 0.0"),
        ({"volume_factor": -1.0}, r"quad_ma.volume_factor: expected >= 0, got -1.0"),
        ({"reversal_confirmation_bars": 0}, r"quad_ma.reversal_confirmation_bars: expected >= 1, got 0"),
        ({"short_1": 2.5}, r"quad_ma.short_1: expected an integer, got 2.5"),
        ({"short_1": True}, r"quad_ma.short_1: expected an integer, got True"),
        ({"volume_filter": 1}, r"quad_ma.volume_filter: expected true or false, got 1"),
        ({"take_profit": float("nan")}, r"quad_ma.take_profit: expected a finite number"),
        ({"shrot_1": 3}, r"quad_ma.shrot_1: unknown quad_ma parameter; did you mean 'short_1'\?"),
    ],
)
def test_impossible_quad_ma_parameters(bars: list[Any], params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _run(bars, params=params)


def test_impossible_parameters_as_dataclasses(bars: list[Any]) -> None:
    with pytest.raises(ValueError, match=r"quad_ma.short_1: expected < short_2"):
        _run(bars, params=QuadMaConfig(short_1=10, short_2=5))
    with pytest.raises(ValueError, match=r"ma_crossover.fast: expected < slow \(30\), got 30"):
        _run(bars, strategy="ma_crossover", params=MaCrossoverConfig(fast=30))
    with pytest.raises(ValueError, match=r"quad_ma: expected QuadMaConfig parameters, got MaCrossoverConfig"):
        _run(bars, params=MaCrossoverConfig())
    with pytest.raises(ValueError, match=r"unknown strategy 'quad': expected one of quad_ma, ma_crossover"):
        _run(bars, strategy="quad")


@pytest.mark.parametrize(
    ("execution", "message"),
    [
        (BacktestConfig(fee_rate=-0.001), r"execution.fee_rate: expected >= 0, got -0.001"),
        (BacktestConfig(slippage_bps=-1.0), r"execution.slippage_bps: expected >= 0, got -1.0"),
        (BacktestConfig(position_fraction=0.0), r"execution.position_fraction: expected > 0, got 0.0"),
        (BacktestConfig(position_fraction=1.5), r"execution.position_fraction: expected <= 1, got 1.5"),
        (BacktestConfig(position_fraction=-0.2), r"execution.position_fraction: expected > 0, got -0.2"),
        (BacktestConfig(initial_capital=0.0), r"execution.initial_capital: expected > 0, got 0.0"),
        (BacktestConfig(fee_rate=float("nan")), r"execution.fee_rate: expected a finite number"),
    ],
)
def test_impossible_execution_settings(bars: list[Any], execution: BacktestConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _run(bars, execution=execution)


def test_unknown_interval_and_bad_coverage(bars: list[Any]) -> None:
    with pytest.raises(ValueError, match=r"unknown interval '7m'"):
        _run(bars, interval="7m")
    with pytest.raises(ValueError, match=r"window_coverage: expected >= 0"):
        _run(bars, window_coverage=-0.5)


def test_frame_input(walk: Callable[..., Bars]) -> None:
    ts, o, h, lo, c, v = walk(2, 300)
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("ms", "UTC")),
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": v,
        }
    )
    from_frame = run_backtest_frame(frame, strategy="ma_crossover", interval="1m", window_coverage=0.5)
    from_arrays = run_backtest(ts, o, h, lo, c, v, strategy="ma_crossover", interval="1m")
    assert from_frame.trades == from_arrays.trades
    assert from_frame.metrics.window_coverage == 0.5
    freqtrade = frame.rename({"timestamp": "date"}).with_columns(
        pl.col("date").cast(pl.Datetime("ns", "UTC"))
    )
    assert run_backtest_frame(freqtrade, strategy="ma_crossover", interval="1m").trades == from_arrays.trades
    with pytest.raises(ValueError, match="timezone-aware UTC"):
        run_backtest_frame(
            frame.with_columns(pl.col("timestamp").dt.replace_time_zone(None)),
            strategy="ma_crossover",
            interval="1m",
        )
    with pytest.raises(ValueError, match=r"missing column\(s\) volume"):
        run_backtest_frame(frame.drop("volume"), strategy="ma_crossover", interval="1m")


def test_params_from_mapping_fills_defaults_and_converts_strings() -> None:
    params = params_from_mapping(
        "quad_ma", {"short_1": "3", "take_profit": "0.05", "volume_filter": "false", "volume_factor": 2}
    )
    assert params == QuadMaConfig(short_1=3, take_profit=0.05, volume_filter=False, volume_factor=2.0)
    assert isinstance(params, QuadMaConfig)
    assert isinstance(params.volume_factor, float)
    assert params_from_mapping("ma_crossover", {"fast": np.int64(5), "slow": 20.0}) == MaCrossoverConfig(
        fast=5, slow=20
    )
    with pytest.raises(ValueError, match=r"quad_ma.volume_filter: expected true or false, got 'maybe'"):
        params_from_mapping("quad_ma", {"volume_filter": "maybe"})
    with pytest.raises(ValueError, match=r"ma_crossover.fast: expected an integer, got 'ten'"):
        params_from_mapping("ma_crossover", {"fast": "ten"})


def test_params_hash_is_stable_and_canonical() -> None:
    default = params_hash("quad_ma", QuadMaConfig())
    # A fixed value: changing the canonical form would silently re-key every stored result.
    assert default == "dc9eca84ddbc4c66"
    assert params_hash("quad_ma", {}) == default
    assert params_hash("quad_ma", None) == default
    assert params_hash("quad_ma", {"volume_factor": 1.5, "short_1": 5}) == default
    assert params_hash("quad_ma", {"volume_factor": "1.5"}) == default
    assert params_hash("quad_ma", {"short_1": 4}) != default
    assert params_hash("ma_crossover", {"fast": 10.0}) == params_hash("ma_crossover", MaCrossoverConfig())
    assert params_hash("ma_crossover", None) != params_hash("ma_crossover", {"slow": 31})
    assert len(default) == 16
    assert int(default, 16) >= 0
