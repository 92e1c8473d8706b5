"""The sweep kernel (shared moving averages) against the single-run kernel, trade by trade.

Every member of a grid is run through :func:`~algo_trade_backtest.run_backtest` on real Hyperliquid
candles and compared with the grid's trades (every field, exactly) and metrics (exactly).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from algo_trade_backtest import METRIC_NAMES, SWEEP_METRIC_NAMES, grid_run, prepare_bars, run_backtest
from algo_trade_backtest._params import coerce_params
from algo_trade_backtest._state import params_record, params_records
from algo_trade_core import BacktestConfig
from algo_trade_data.testing import real_candle_arrays


def _quad_members() -> list[Any]:
    sets = []
    for s1, s2, l1, l2, trend, vf, tp, rcb in itertools.product(
        [3, 5], [8, 13], [20, 21], [34, 50], [55, 120], [True, False], [0.004, 0.02], [1, 3]
    ):
        if s1 < s2 < l1 < l2 < trend:
            params = {"short_1": s1, "short_2": s2, "long_1": l1, "long_2": l2, "trend": trend}
            params |= {"volume_filter": vf, "take_profit": tp, "stop_loss": tp / 2}
            sets.append(coerce_params("quad_ma", params | {"reversal_confirmation_bars": rcb}))
    return sets


def _assert_members_equal_single_runs(
    bars: Any, strategy: str, members: list[Any], execution: BacktestConfig, interval: str
) -> int:
    run = grid_run(bars, members, execution=execution, interval=interval, trades=True, curves=True)
    assert run.trades is not None
    assert run.curves is not None
    compared = 0
    for k, params in enumerate(members):
        single = run_backtest(*bars, strategy=strategy, params=params, execution=execution, interval=interval)  # type: ignore[arg-type]
        assert run.trades[k] == single.trades, f"set {k} ({params}): trades differ"
        assert np.array_equal(run.curves[k], single.equity), f"set {k}: equity curves differ"
        for name, value in single.raw_metrics.as_dict().items():
            # same columns as the single run's metrics (its returns_skewness/kurtosis are the last two)
            assert run.metrics[k, METRIC_NAMES.index(name)] == value, f"set {k}: {name}"
        compared += len(single.trades)
    return compared


@pytest.mark.slow
@pytest.mark.parametrize(("symbol", "days"), [("BTC", 20), ("kPEPE", 20)])
def test_every_quad_ma_member_equals_its_single_run_on_real_1m_candles(symbol: str, days: int) -> None:
    bars = prepare_bars(*(a[-days * 1440 :] for a in real_candle_arrays(symbol, "1m")))
    members = _quad_members()
    execution = BacktestConfig(fee_rate=0.0002, slippage_bps=2.0)
    trades = _assert_members_equal_single_runs(bars, "quad_ma", members, execution, "1m")
    assert len(members) == 256
    assert trades > 5_000  # the comparison covers many trades of every exit kind


def test_every_ma_crossover_member_equals_its_single_run_on_real_1h_candles() -> None:
    bars = prepare_bars(*real_candle_arrays("ETH", "1h"))
    members = [
        coerce_params("ma_crossover", {"fast": f, "slow": s})
        for f, s in itertools.product([2, 5, 10, 21], [8, 30, 55])
        if f < s
    ]
    assert _assert_members_equal_single_runs(bars, "ma_crossover", members, BacktestConfig(), "1h") > 1_000


def test_quad_ma_members_on_real_1h_candles_and_the_moments() -> None:
    bars = prepare_bars(*real_candle_arrays("SOL", "1h"))
    members = _quad_members()[:40]
    _assert_members_equal_single_runs(bars, "quad_ma", members, BacktestConfig(), "1h")
    run = grid_run(bars, members, execution=BacktestConfig(), interval="1h", curves=True)
    assert run.curves is not None
    assert run.windows <= 10  # 40 sets, 9 distinct windows: each computed once
    for k in (0, 7, 31):
        equity = run.curves[k]
        r = equity[1:] / equity[:-1] - 1.0
        d = r - r.mean()
        m2 = np.mean(d**2)
        skew, kurt = run.metrics[k, SWEEP_METRIC_NAMES.index("skewness") :]
        assert skew == pytest.approx(np.mean(d**3) / m2**1.5, rel=1e-9)
        assert kurt == pytest.approx(np.mean(d**4) / m2**2, rel=1e-9)


def test_records_of_a_grid_equal_each_sets_record() -> None:
    members = [
        *_quad_members()[:30],
        coerce_params("quad_ma", {"volume_factor": 1.37, "long_2": 40, "trend": 90}),
        coerce_params("quad_ma", {"volume_factor": 0.1 + 0.2}),  # a float that is not its decimal
        coerce_params("ma_crossover", {"fast": 4, "slow": 9}),
        *_quad_members()[30:40],
    ]
    assert np.array_equal(params_records(members), np.concatenate([params_record(m) for m in members]))


def test_sets_sharing_a_signal_share_its_setups_and_still_equal_their_single_runs() -> None:
    """Take-profit, stop-loss and the confirmation do not change where a setup is: six sets of one
    signal read one setup list, interleaved with ma_crossover sets in one grid."""
    bars = prepare_bars(*(a[-10 * 1440 :] for a in real_candle_arrays("ETH", "1m")))
    RCB = "reversal_confirmation_bars"
    signal = {"short_1": 3, "short_2": 8, "long_1": 20, "long_2": 34, "trend": 55}
    quad = [
        coerce_params("quad_ma", {**signal, "take_profit": tp, "stop_loss": sl, RCB: c})
        for tp, sl, c in itertools.product([0.003, 0.01, 0.05], [0.002, 0.02], [1, 3])
    ]
    cross = [coerce_params("ma_crossover", {"fast": f, "slow": 21}) for f in (3, 8)]
    members = [quad[0], cross[0], *quad[1:6], cross[1], *quad[6:]]
    run = grid_run(bars, members, execution=BacktestConfig(), interval="1m", trades=True)
    assert run.trades is not None
    for k, params in enumerate(members):
        strategy = "ma_crossover" if k in (1, 7) else "quad_ma"
        single = run_backtest(*bars, strategy=strategy, params=params, interval="1m")  # type: ignore[arg-type]
        assert run.trades[k] == single.trades, f"set {k}"
        assert run.metrics[k, SWEEP_METRIC_NAMES.index("sharpe_ratio")] == single.raw_metrics.sharpe_ratio
    exits = {t.exit_reason for trades in run.trades[:1] + run.trades[2:7] for t in trades}
    assert exits >= {"take_profit", "stop_loss", "reversal"}
