"""Metric formulas (DESIGN.md section 6) against numpy, and the stored form of the metrics."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from algo_trade_backtest import METRIC_NAMES, PerformanceMetrics, RawMetrics, run_backtest
from algo_trade_backtest import _kernels as K
from algo_trade_backtest._metrics import NUM_METRICS, metrics_nb
from algo_trade_core import bars_per_year

Bars = Any


def _metrics(equity: list[float], **kwargs: Any) -> RawMetrics:
    args: dict[str, Any] = {
        "initial_capital": equity[0],
        "first_open": 50.0,
        "last_close": 60.0,
        "num_trades": 4,
        "winners": 3,
        "gross_profit": 30.0,
        "gross_loss": 12.0,
        "exposed": 2,
        "periods_per_year": 12.0,
    } | kwargs
    state = np.zeros(1, dtype=K.STATE_DTYPE)  # the final state of a run: what the metrics read
    for name in (
        "first_open",
        "last_close",
        "num_trades",
        "winners",
        "gross_profit",
        "gross_loss",
        "exposed",
    ):
        state[0][name] = args[name]
    out = np.empty(NUM_METRICS)
    metrics_nb(np.array(equity), state, args["initial_capital"], args["periods_per_year"], out)
    return RawMetrics.from_array(out)


def test_formulas_against_numpy() -> None:
    equity = [100.0, 110.0, 99.0, 120.0, 120.0, 90.0]
    m = _metrics(equity)
    r = np.diff(equity) / np.array(equity[:-1])
    assert m.total_return == pytest.approx(90.0 / 100.0 - 1.0)
    assert m.sharpe_ratio == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(12.0), rel=1e-12)
    downside = math.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    assert m.sortino_ratio == pytest.approx(r.mean() / downside * math.sqrt(12.0), rel=1e-12)
    assert m.max_drawdown == pytest.approx(0.25)  # 120 -> 90
    assert m.calmar_ratio == pytest.approx((0.9 ** (12.0 / 5) - 1.0) / 0.25, rel=1e-12)
    assert (m.num_trades, m.win_rate, m.profit_factor) == (4, 0.75, 2.5)
    assert m.buy_hold_return == pytest.approx(0.2)
    assert m.exposure == pytest.approx(2 / 6)
    assert (m.num_bars, m.initial_capital, m.final_capital) == (6, 100.0, 90.0)


def test_return_moments_are_the_population_moments() -> None:
    # Population skewness m3 / m2^1.5 and kurtosis m4 / m2^2 (not in excess), what the PSR formula takes.
    equity = [100.0, 110.0, 99.0, 120.0, 120.0, 90.0, 91.0, 130.0]
    m = _metrics(equity)
    r = np.diff(equity) / np.array(equity[:-1])
    c = r - r.mean()
    assert m.returns_skewness == pytest.approx(np.mean(c**3) / np.mean(c**2) ** 1.5, rel=1e-12)
    assert m.returns_kurtosis == pytest.approx(np.mean(c**4) / np.mean(c**2) ** 2, rel=1e-12)
    flat = _metrics([100.0, 100.0, 100.0, 100.0])
    assert (flat.returns_skewness, flat.returns_kurtosis) == (0.0, 3.0)  # a normal's: no variation


def test_the_stored_psr_is_the_papers_formula_on_the_returns(walk: Callable[..., Bars]) -> None:
    from algo_trade_core import probabilistic_sharpe_ratio

    bars = walk(7, 2_000, vol=0.004)
    result = run_backtest(*bars, strategy="ma_crossover", interval="1h")
    r = np.diff(result.equity) / result.equity[:-1]
    c = r - r.mean()
    skew = float(np.mean(c**3) / np.mean(c**2) ** 1.5)
    kurt = float(np.mean(c**4) / np.mean(c**2) ** 2)
    expected = probabilistic_sharpe_ratio(float(r.mean() / r.std(ddof=1)), 0.0, r.shape[0], skew, kurt)
    assert result.metrics.returns_skewness == pytest.approx(skew, rel=1e-9)
    assert result.metrics.returns_kurtosis == pytest.approx(kurt, rel=1e-9)
    assert result.metrics.psr == pytest.approx(expected, rel=1e-9)
    assert result.metrics.to_record_fields()["psr"] == result.metrics.psr
    assert _metrics([100.0, 101.0]).to_performance(periods_per_year=12.0).psr is None  # one return


def test_degenerate_cases() -> None:
    flat = _metrics([100.0, 100.0, 100.0], num_trades=0, winners=0, gross_profit=0.0, gross_loss=0.0)
    assert (flat.sharpe_ratio, flat.sortino_ratio, flat.max_drawdown, flat.calmar_ratio) == (0, 0, 0, 0)
    assert flat.win_rate == 0.0
    assert flat.profit_factor == math.inf
    rising = _metrics([100.0, 101.0, 103.0])  # no negative return: no downside deviation
    assert rising.sortino_ratio == 0.0
    assert rising.sharpe_ratio > 0
    assert rising.calmar_ratio == 0.0
    one_return = _metrics([100.0, 90.0])  # fewer than two returns
    assert one_return.sharpe_ratio == 0.0
    assert one_return.sortino_ratio == 0.0
    assert one_return.calmar_ratio == pytest.approx((0.9**12 - 1.0) / 0.1)


def test_annualisation_uses_a_365_day_year(walk: Callable[..., Bars]) -> None:
    assert bars_per_year("1m") == 525_600
    assert bars_per_year("1h") == 8_760
    bars = walk(4, 3_000, vol=0.003)
    minute = run_backtest(*bars, strategy="ma_crossover", interval="1m").raw_metrics
    hour = run_backtest(*bars, strategy="ma_crossover", interval="1h").raw_metrics
    assert minute.sharpe_ratio == pytest.approx(hour.sharpe_ratio * math.sqrt(60), rel=1e-12)
    assert minute.total_return == hour.total_return


def test_stored_form() -> None:
    raw = _metrics([100.0, 110.0, 99.0, 120.0, 120.0, 90.0], initial_capital=100.0)
    perf = raw.to_performance(window_coverage=0.97)
    assert perf.total_return == Decimal("-0.10000000")
    assert perf.max_drawdown == Decimal("0.25000000")
    assert perf.final_capital == Decimal("90.00000000")
    assert perf.buy_hold_return == Decimal("0.20000000")
    assert perf.sharpe_ratio == raw.sharpe_ratio
    assert perf.window_coverage == 0.97
    no_loss = dataclasses.replace(raw, profit_factor=math.inf).to_performance()
    assert no_loss.profit_factor is None
    assert no_loss.window_coverage is None
    as_json = perf.to_json_dict()
    assert as_json["total_return"] == -0.1
    assert isinstance(as_json["final_capital"], float)


def test_record_fields_match_the_results_table() -> None:
    import algo_trade_data as data  # a test-only dependency of this package

    record_fields = {f.name for f in dataclasses.fields(data.BacktestResultRecord)}
    perf = _metrics([100.0, 101.0]).to_performance(window_coverage=1.0)
    fields = perf.to_record_fields()
    assert set(fields) <= record_fields
    assert set(fields) == set(METRIC_NAMES) | {"window_coverage", "psr"}
    for f in dataclasses.fields(data.BacktestResultRecord):
        if f.name in fields:
            declared = str(f.type)
            value = fields[f.name]
            assert ("Decimal" in declared) == isinstance(value, Decimal), f.name


def test_performance_metrics_is_frozen() -> None:
    perf = _metrics([100.0, 101.0]).to_performance()
    assert isinstance(perf, PerformanceMetrics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        perf.num_trades = 3  # type: ignore[misc]


def test_calmar_of_a_short_window_of_small_bars_is_none_not_infinite() -> None:
    # 40 1m bars up 0.4 % each, one dip: the annualised return (525,600 / 39 periods) overflows float64.
    n = 40
    t = np.arange(n, dtype=np.int64) * 60_000
    close = 100 * np.cumprod(np.r_[1.0, np.full(n - 1, 1.004)])
    close[20] = close[19] * 0.99
    open_ = np.r_[100.0, close[:-1]]
    result = run_backtest(
        t,
        open_,
        np.maximum(open_, close) * 1.001,
        np.minimum(open_, close) * 0.999,
        close,
        np.ones(n),
        strategy="ma_crossover",
        params={"fast": 2, "slow": 3},
        interval="1m",
    )
    assert result.raw_metrics.calmar_ratio == float("inf")
    assert float(result.metrics.max_drawdown) > 0
    assert result.metrics.calmar_ratio is None
    assert result.to_json_dict()["metrics"]["calmar_ratio"] is None  # valid JSON, no Infinity
