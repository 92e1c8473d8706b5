"""The typed public wrapper around the kernels: validate, convert, run, package the result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from algo_trade_backtest import _kernels as K
from algo_trade_backtest._metrics import NUM_METRICS, RawMetrics, metrics_nb
from algo_trade_backtest._params import (
    StrategyName,
    StrategyParams,
    coerce_params,
    params_hash,
    strategy_kind,
    validate_execution,
)
from algo_trade_backtest._results import BacktestResult, OpenPosition, trades_from_records
from algo_trade_backtest._state import (
    DecimalBars,
    StrategyState,
    execution_record,
    kernel_bars,
    params_record,
    series_decimals,
)
from algo_trade_core import BacktestConfig, bars_per_year

__all__ = [
    "BacktestArrays",
    "Bars",
    "Simulation",
    "prepare_bars",
    "run_backtest",
    "run_backtest_arrays",
    "run_backtest_frame",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Records = npt.NDArray[np.void]
Bars = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
ArrayLike = npt.ArrayLike


def _timestamps_ms(values: ArrayLike) -> IntArray:
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        return np.ascontiguousarray(arr.astype("datetime64[ms]").astype(np.int64))
    if arr.dtype.kind in "iu":
        return np.ascontiguousarray(arr, dtype=np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)):
        return np.ascontiguousarray(arr, dtype=np.int64)
    raise ValueError(
        f"timestamps: expected integer epoch milliseconds or datetime64 values, got dtype {arr.dtype}"
    )


def _first_index(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def prepare_bars(
    timestamps: ArrayLike,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
) -> Bars:
    """Validate OHLCV arrays and return them as contiguous int64 (ms) / float64 arrays.

    Raises:
        ValueError: unequal lengths, no bars, NaN or infinite values, timestamps not strictly
            increasing (duplicates included), non-positive prices, negative volume, or a high/low that
            does not contain the open and close; the message names the array and the first bad index.
    """
    ts = _timestamps_ms(timestamps)
    named: dict[str, FloatArray] = {}
    for name, values in (("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume)):
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array, got {arr.ndim} dimensions")
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
        named[name] = np.ascontiguousarray(arr, dtype=np.float64)
    if ts.ndim != 1:
        raise ValueError(f"timestamps: expected a 1-D array, got {ts.ndim} dimensions")
    lengths = {"timestamps": ts.shape[0]} | {name: arr.shape[0] for name, arr in named.items()}
    if len(set(lengths.values())) != 1:
        listed = ", ".join(f"{name} {length}" for name, length in lengths.items())
        raise ValueError(f"arrays must have equal lengths, got {listed}")
    if ts.shape[0] == 0:
        raise ValueError("expected at least one bar, got empty arrays")
    for name, arr in named.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            i = _first_index(bad)
            raise ValueError(f"{name} contains NaN or infinity at index {i} ({arr[i]})")
    steps = np.diff(ts)
    if (steps <= 0).any():
        i = _first_index(steps <= 0) + 1
        raise ValueError(
            f"timestamps must be strictly increasing: index {i} ({ts[i]}) is not after "
            f"index {i - 1} ({ts[i - 1]})"
        )
    for name in ("open", "high", "low", "close"):
        bad = named[name] <= 0.0
        if bad.any():
            i = _first_index(bad)
            raise ValueError(f"{name} prices must be positive, got {named[name][i]} at index {i}")
    if (named["volume"] < 0.0).any():
        i = _first_index(named["volume"] < 0.0)
        raise ValueError(f"volume must be >= 0, got {named['volume'][i]} at index {i}")
    o, h, lo, c = named["open"], named["high"], named["low"], named["close"]
    bad = h < np.maximum(o, c)
    if bad.any():
        i = _first_index(bad)
        raise ValueError(f"high {h[i]} is below max(open, close) {max(o[i], c[i])} at index {i}")
    bad = lo > np.minimum(o, c)
    if bad.any():
        i = _first_index(bad)
        raise ValueError(f"low {lo[i]} is above min(open, close) {min(o[i], c[i])} at index {i}")
    return ts, o, h, lo, c, named["volume"]


def _frame_bars(df: pl.DataFrame) -> Bars:
    time_col = "timestamp" if "timestamp" in df.columns else "date" if "date" in df.columns else None
    missing = [name for name in ("open", "high", "low", "close", "volume") if name not in df.columns]
    if time_col is None:
        missing.insert(0, "timestamp")
    if missing:
        raise ValueError(
            f"frame: missing column(s) {', '.join(missing)}; expected timestamp, open, high, low, "
            f"close, volume (got {', '.join(df.columns)})"
        )
    assert time_col is not None
    times = df[time_col]
    if isinstance(times.dtype, pl.Datetime):
        if times.dtype.time_zone is None:
            raise ValueError(f"frame: column {time_col!r} must be timezone-aware UTC, got naive datetimes")
        ts: ArrayLike = times.dt.epoch("ms").to_numpy()
    elif times.dtype.is_integer():
        ts = times.to_numpy()
    else:
        raise ValueError(f"frame: column {time_col!r} must be a UTC datetime or epoch ms, got {times.dtype}")
    return prepare_bars(
        ts, *(df[name].cast(pl.Float64).to_numpy() for name in ("open", "high", "low", "close", "volume"))
    )


class Simulation(NamedTuple):
    """What the batch loop produced: the equity curve, the closed trades and the final state."""

    equity: FloatArray
    trades: Records
    state: StrategyState


def simulate(params: Records, execution: Records, bars: Bars, units: DecimalBars | None = None) -> Simulation:
    """Run the batch loop over validated bars.

    ``units`` are the bars in decimal units for ``params`` (built here when ``None``; a caller running
    many backtests over one series builds them once). The kernel allocates nothing, so the trade
    buffer is grown here and the loop resumed from the bar where it stopped (the state carries
    everything across calls).
    """
    if units is None:
        units = kernel_bars(bars, *series_decimals(bars[4], bars[5], params))
    n = units.kernel.close.shape[0]
    state = StrategyState.new(params, float(execution[0]["capital"]))
    state.close_decimals = units.close_decimals
    state.volume_decimals = units.volume_decimals
    buffers = K.KernelBuffers(
        np.empty(n),
        np.empty(64 + n // 64, dtype=K.TRADE_DTYPE),
        np.empty(K.MAX_FILLS_PER_BAR, dtype=K.FILL_DTYPE),
    )
    start, count = 0, 0
    while True:
        start, count = K.run_bars_nb(
            params, execution, state.kernel, units.kernel, start, n, buffers, count, True
        )
        if start >= n:
            return Simulation(buffers.equity, buffers.trades[:count], state)
        grown = np.empty(2 * buffers.trades.shape[0], dtype=K.TRADE_DTYPE)
        grown[:count] = buffers.trades[:count]
        buffers = buffers._replace(trades=grown)


@dataclass(frozen=True, slots=True)
class BacktestArrays:
    """A backtest's equity and trades as arrays: what :func:`run_backtest` computes before it builds
    the metrics and one :class:`BacktestTrade` object per trade (for callers comparing thousands of
    trades, like the bots' reconciliation, where those objects would cost more than the backtest).

    ``trades`` are the kernels' closed round trips (``TRADE_DTYPE`` records: times in epoch ms, ``side``
    +1 long / -1 short, ``reason`` as the keys of ``EXIT_REASONS``, prices, quantity, fees and PnL);
    ``open_position`` the position still open after the last bar.
    """

    equity: FloatArray
    trades: Records
    open_position: OpenPosition | None
    execution: BacktestConfig


def _simulated(
    bars: Bars,
    strategy: StrategyName,
    params: StrategyParams | Mapping[str, Any] | None,
    execution: BacktestConfig | None,
) -> tuple[StrategyParams, BacktestConfig, Simulation]:
    config = coerce_params(strategy, params)
    execution = execution if execution is not None else BacktestConfig()
    validate_execution(execution)
    strategy_kind(strategy)
    return config, execution, simulate(params_record(config), execution_record(execution), bars)


def _run(
    bars: Bars,
    strategy: StrategyName,
    params: StrategyParams | Mapping[str, Any] | None,
    execution: BacktestConfig | None,
    interval: str,
    window_coverage: float | None,
) -> BacktestResult:
    periods = bars_per_year(interval)
    if window_coverage is not None and not window_coverage >= 0.0:
        raise ValueError(f"window_coverage: expected >= 0, got {window_coverage}")
    config, execution, run = _simulated(bars, strategy, params, execution)
    values = np.empty(NUM_METRICS)
    metrics_nb(run.equity, run.state.record, execution.initial_capital, periods, values)
    raw = RawMetrics.from_array(values)
    return BacktestResult(
        strategy=strategy,
        params=config,
        execution=execution,
        interval=interval,
        params_hash=params_hash(strategy, config),
        equity=run.equity,
        trades=trades_from_records(run.trades),
        metrics=raw.to_performance(window_coverage, periods_per_year=periods),
        raw_metrics=raw,
        open_position=run.state.open_position(has_exits=strategy == "quad_ma"),
        pending_signal=run.state.pending,
    )


def run_backtest_arrays(
    timestamps: ArrayLike,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    *,
    strategy: StrategyName,
    params: StrategyParams | Mapping[str, Any] | None = None,
    execution: BacktestConfig | None = None,
) -> BacktestArrays:
    """The same backtest as :func:`run_backtest` (same validation, same fills), returned as arrays
    without metrics or trade objects.

    Raises:
        ValueError: bad arrays, parameters or settings; the message names the problem.
    """
    bars = prepare_bars(timestamps, open, high, low, close, volume)
    _, execution, run = _simulated(bars, strategy, params, execution)
    return BacktestArrays(
        equity=run.equity,
        trades=run.trades,
        open_position=run.state.open_position(has_exits=strategy == "quad_ma"),
        execution=execution,
    )


def run_backtest(
    timestamps: ArrayLike,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    *,
    strategy: StrategyName,
    params: StrategyParams | Mapping[str, Any] | None = None,
    execution: BacktestConfig | None = None,
    interval: str,
    window_coverage: float | None = None,
) -> BacktestResult:
    """Backtest one strategy over OHLCV arrays with the execution model of DESIGN.md section 6.

    The strategy compares averages exactly on the decimal values of ``close`` and ``volume``: each
    series is taken at its decimal precision (at most 12 decimals; values with more digits count as
    rounded to it), so averages equal in decimal are ties (see ``algo_trade_backtest._decimal``).

    Args:
        timestamps: bar open times, epoch milliseconds (int64) or ``datetime64``; strictly increasing.
        open: bar opens (the fill prices before slippage).
        high: bar highs (take-profit/stop-loss checks).
        low: bar lows.
        close: bar closes (signals and mark-to-market).
        volume: bar volumes (quad_ma's volume filter).
        strategy: ``"quad_ma"`` or ``"ma_crossover"``.
        params: the strategy's dataclass, a mapping of overrides, or ``None`` for the defaults.
        execution: capital, fee, slippage and sizing; ``None`` for the defaults.
        interval: the bar interval (``"1m"``, ``"1h"``...), for annualisation.
        window_coverage: share of the window's expected bars present, passed through to the metrics.

    Returns:
        The equity curve, closed trades, metrics and the position still open after the last bar.

    Raises:
        ValueError: bad arrays, parameters or settings; the message names the problem.
    """
    bars = prepare_bars(timestamps, open, high, low, close, volume)
    return _run(bars, strategy, params, execution, interval, window_coverage)


def run_backtest_frame(
    df: pl.DataFrame,
    *,
    strategy: StrategyName,
    params: StrategyParams | Mapping[str, Any] | None = None,
    execution: BacktestConfig | None = None,
    interval: str,
    window_coverage: float | None = None,
) -> BacktestResult:
    """Like :func:`run_backtest` for a frame with ``timestamp`` (UTC datetime or epoch ms; a freqtrade
    ``date`` column is accepted too), ``open``, ``high``, ``low``, ``close`` and ``volume`` columns."""
    return _run(_frame_bars(df), strategy, params, execution, interval, window_coverage)
