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
from itertools import pairwise
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
    execution_to_array,
    params_hash,
    params_to_array,
    strategy_kind,
    validate_execution,
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
    kind = strategy_kind(strategy)
    rows = len(configs)
    param_rows = np.zeros((rows, K.NUM_PARAMS))
    for r, config in enumerate(configs):
        param_rows[r] = params_to_array(config)
    out = np.zeros((rows, NUM_METRICS))
    if rows:
        ring = max(K.ring_size(kind, param_rows[r]) for r in range(rows))
        exec_vector = execution_to_array(execution)
        threads = max(1, min(workers or os.cpu_count() or 1, rows))
        bounds = np.linspace(0, rows, threads + 1).astype(int)

        def work(a: int, b: int) -> None:
            fs, st, ring_close, ring_volume = K.allocate_state(kind, param_rows[a], 0.0, ring)
            n = bars[4].shape[0]
            K.grid_nb(
                kind,
                param_rows[a:b],
                exec_vector,
                *bars,
                periods,
                fs,
                st,
                ring_close,
                ring_volume,
                np.empty(n),
                np.empty((K.MAX_TRADES_PER_BAR, K.NUM_TRADE_INTS), dtype=np.int64),
                np.empty((K.MAX_TRADES_PER_BAR, K.NUM_TRADE_FLOATS)),
                np.empty((K.MAX_FILLS_PER_BAR, 3), dtype=np.int64),
                np.empty((K.MAX_FILLS_PER_BAR, 3)),
                out[a:b],
            )

        if threads == 1:
            work(0, rows)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = [pool.submit(work, int(a), int(b)) for a, b in pairwise(bounds.tolist())]
                for future in futures:
                    future.result()
    return _frame(strategy, configs, out)


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
