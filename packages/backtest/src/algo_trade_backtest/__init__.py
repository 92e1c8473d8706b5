"""algo-trade backtest: the numba-jitted engine for quad_ma and ma_crossover, metrics, grids, runners.

Arrays in, results out (no database). The semantics are DESIGN.md section 6: signals at a bar's close,
fills at the next open with slippage, fees on every fill, sizing from mark-to-market equity, intrabar
take-profit/stop-loss (gap rule, stop first), reversal confirmation, metrics on the mark-to-market equity
curve annualised over a 365-day year. Every comparison of averages is decided exactly on the decimal
values of the closes and volumes (the exchange's quotes, not their binary approximations): see
``algo_trade_backtest._decimal`` for the decimal precision and its bound.

- :func:`run_backtest` / :func:`run_backtest_frame`: one backtest, validated inputs;
  :func:`run_backtest_arrays` the same fills and equity as arrays, without metrics or trade objects.
- :func:`run_grid`: many parameter sets over one token's bars, one row each in a polars frame;
  :func:`grid_run` the same on validated inputs as arrays (metrics, optional curves and trades), each
  moving-average window computed once for every set that uses it.
- :class:`StrategyRunner`: the same step bar by bar with paper execution, for live bots.
- :func:`backtest_report`: the freqtrade-style report (durations, expectancy, CAGR, monthly returns).
- :func:`strategy_averages`, :func:`sma`, :func:`drawdown_curve`, :func:`minmax_indices`: what a chart
  of a backtest draws (the CLI's ``--plot`` and the dashboard share them).
- :func:`volatility_regime`: a token's volatility regime (low / normal / high) before a time.

``algo_trade_backtest._reference`` holds a slow pure-Python implementation used only by the tests.
"""

from loguru import logger

from algo_trade_backtest._engine import (
    BacktestArrays,
    prepare_bars,
    run_backtest,
    run_backtest_arrays,
    run_backtest_frame,
)
from algo_trade_backtest._grid import SWEEP_METRIC_NAMES, GridRun, grid_run, run_grid, shared_bytes
from algo_trade_backtest._metrics import METRIC_NAMES, PerformanceMetrics, RawMetrics, result_psr
from algo_trade_backtest._params import (
    STRATEGIES,
    StrategyName,
    StrategyParams,
    params_from_mapping,
    params_hash,
    validate_execution,
    validate_params,
)
from algo_trade_backtest._regime import (
    RegimeReading,
    hourly_closes,
    regime_history_days,
    regime_step_ms,
    volatility_regime,
)
from algo_trade_backtest._report import (
    BacktestReport,
    MonthlyReturn,
    SideSummary,
    TradeExtreme,
    backtest_report,
    build_report,
    trade_return,
)
from algo_trade_backtest._results import (
    EXIT_REASONS,
    BacktestResult,
    BacktestTrade,
    ExitReason,
    OpenPosition,
    Side,
)
from algo_trade_backtest._runner import StrategyRunner
from algo_trade_backtest._series import (
    MIN_LINE_POINTS,
    drawdown_curve,
    minmax_indices,
    sma,
    strategy_averages,
)
from algo_trade_backtest._state import DecimalBars

logger.disable("algo_trade_backtest")

__all__ = [
    "EXIT_REASONS",
    "METRIC_NAMES",
    "MIN_LINE_POINTS",
    "STRATEGIES",
    "SWEEP_METRIC_NAMES",
    "BacktestArrays",
    "BacktestReport",
    "BacktestResult",
    "BacktestTrade",
    "DecimalBars",
    "ExitReason",
    "GridRun",
    "MonthlyReturn",
    "OpenPosition",
    "PerformanceMetrics",
    "RawMetrics",
    "RegimeReading",
    "Side",
    "SideSummary",
    "StrategyName",
    "StrategyParams",
    "StrategyRunner",
    "TradeExtreme",
    "backtest_report",
    "build_report",
    "drawdown_curve",
    "grid_run",
    "hourly_closes",
    "minmax_indices",
    "params_from_mapping",
    "params_hash",
    "prepare_bars",
    "regime_history_days",
    "regime_step_ms",
    "result_psr",
    "run_backtest",
    "run_backtest_arrays",
    "run_backtest_frame",
    "run_grid",
    "shared_bytes",
    "sma",
    "strategy_averages",
    "trade_return",
    "validate_execution",
    "validate_params",
    "volatility_regime",
]
