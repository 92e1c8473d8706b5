"""Parameter grids: many parameter sets over one token's bars, one compiled kernel, all cores.

The loop over parameter sets runs in numba (``_kernels.grid_nb``); the sets are split into contiguous
chunks run by a thread pool (the kernels release the GIL), each thread with its own preallocated state.
Results are identical to :func:`~algo_trade_backtest.run_backtest` for each set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from algo_trade_backtest import _kernels as K
from algo_trade_backtest._engine import prepare_bars
from algo_trade_backtest._metrics import METRIC_NAMES, NUM_METRICS
from algo_trade_backtest._params import (
    StrategyName,
    StrategyParams,
    coerce_params,
    params_hash,
    strategy_kind,
    validate_execution,
)
from algo_trade_backtest._state import (
    DecimalBars,
    SeriesStats,
    StrategyState,
    execution_record,
    kernel_bars,
    params_record,
    ring_size,
)
from algo_trade_core import BacktestConfig, bars_per_year

__all__ = ["run_grid"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def run_grid(
    timestamps: npt.ArrayLike,
    open: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    *,
    strategy: StrategyName,
    param_sets: Iterable[StrategyParams | Mapping[str, Any]],
    execution: BacktestConfig | None = None,
    interval: str,
    workers: int | None = None,
) -> pl.DataFrame:
    """Backtest every parameter set over one token's bars.

    Args:
        timestamps: bar open times (see :func:`~algo_trade_backtest.run_backtest`).
        open: bar opens.
        high: bar highs.
        low: bar lows.
        close: bar closes.
        volume: bar volumes.
        strategy: ``"quad_ma"`` or ``"ma_crossover"``.
        param_sets: dataclasses or mappings of overrides, one per row of the result.
        execution: capital, fee, slippage and sizing shared by all sets (``None``: the defaults).
        interval: the bar interval, for annualisation.
        workers: threads to use (default: one per CPU, at most one per set).

    Returns:
        One row per parameter set, in input order: ``strategy``, ``params_hash``, every parameter of
        the strategy, then the metrics of :data:`~algo_trade_backtest.METRIC_NAMES` as floats
        (``num_trades``/``num_bars`` as integers, ``profit_factor`` null when no trade lost).

    Raises:
        ValueError: bad bars, an impossible parameter set (named by its position) or bad settings.
    """
    bars = prepare_bars(timestamps, open, high, low, close, volume)
    configs: list[StrategyParams] = []
    for position, params in enumerate(param_sets):
        try:
            configs.append(coerce_params(strategy, params))
        except ValueError as exc:
            raise ValueError(f"parameter set {position}: {exc}") from None
    execution = execution if execution is not None else BacktestConfig()
    validate_execution(execution)
    periods = bars_per_year(interval)
    strategy_kind(strategy)
    rows = len(configs)
    param_rows = np.concatenate([params_record(config) for config in configs]) if rows else None
    out = np.zeros((rows, NUM_METRICS))
    if param_rows is not None:
        exec_record = execution_record(execution)
        threads = max(1, min(workers or os.cpu_count() or 1, rows))
        # Rows sharing decimal precisions share one conversion of the bars to units (usually all rows).
        stats = SeriesStats.of(bars[4], bars[5])
        groups: dict[tuple[int, int | None], list[int]] = {}
        for r in range(rows):
            groups.setdefault(stats.decimals(param_rows[r : r + 1]), []).append(r)
        tasks: list[tuple[DecimalBars, npt.NDArray[np.intp]]] = []
        for (close_decimals, volume_decimals), members in groups.items():
            units = kernel_bars(bars, close_decimals, volume_decimals)
            chunks = np.array_split(np.array(members), min(threads, len(members)))
            tasks.extend((units, chunk) for chunk in chunks)

        def work(units: DecimalBars, chunk: npt.NDArray[np.intp]) -> None:
            # Rows of a chunk are contiguous only within a group: run each contiguous run of rows.
            ring = max(ring_size(param_rows[r : r + 1]) for r in chunk.tolist())
            state = StrategyState.new(param_rows[chunk[:1]], 0.0, ring)
            n = units.kernel.close.shape[0]
            buffers = K.KernelBuffers(
                np.empty(n),
                np.empty(K.MAX_TRADES_PER_BAR, dtype=K.TRADE_DTYPE),
                np.empty(K.MAX_FILLS_PER_BAR, dtype=K.FILL_DTYPE),
            )
            for a, b in _runs(chunk):
                K.grid_nb(
                    param_rows[a:b], exec_record, units.kernel, periods, state.kernel, buffers, out[a:b]
                )

        if threads == 1 or len(tasks) == 1:
            for units, chunk in tasks:
                work(units, chunk)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = [pool.submit(work, units, chunk) for units, chunk in tasks]
                for future in futures:
                    future.result()
    return _frame(strategy, configs, out)


def _runs(rows: npt.NDArray[np.intp]) -> list[tuple[int, int]]:
    """Split sorted row numbers into ``[a, b)`` runs of consecutive rows."""
    values = rows.tolist()
    runs: list[tuple[int, int]] = []
    for r in values:
        if runs and runs[-1][1] == r:
            runs[-1] = (runs[-1][0], r + 1)
        else:
            runs.append((r, r + 1))
    return runs


def _frame(strategy: str, configs: list[StrategyParams], out: FloatArray) -> pl.DataFrame:
    columns: dict[str, Any] = {
        "strategy": [strategy] * len(configs),
        "params_hash": [params_hash(strategy, config) for config in configs],
    }
    names = list(asdict(configs[0])) if configs else []
    for name in names:
        columns[name] = [getattr(config, name) for config in configs]
    for k, name in enumerate(METRIC_NAMES):
        values = out[:, k]
        if name in ("num_trades", "num_bars"):
            columns[name] = pl.Series(name, values.astype(np.int64))
        elif name == "profit_factor":
            columns[name] = pl.Series(name, np.where(np.isfinite(values), values, np.nan)).fill_nan(None)
        else:
            columns[name] = pl.Series(name, values)
    return pl.DataFrame(columns)
