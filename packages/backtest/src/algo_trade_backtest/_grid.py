"""Parameter grids: many parameter sets over one token's bars, each moving average computed once.

The sets are grouped by the decimal precision of their units (usually one group); per group every
distinct close window's exact sums, the volume window sums, each distinct (short_1, short_2) pair's
crossover signs and crossover bars, and each distinct quad_ma signal's setup bars are computed once
(:class:`~algo_trade_backtest._kernels.SweepShared`) and shared by every set that uses them.
``_kernels.sweep_nb`` then runs each set's state machine over them; the sets are split into contiguous
chunks run by a thread pool (the kernels release the GIL), each thread with its own scratch. Trades and
metrics are identical to :func:`~algo_trade_backtest.run_backtest` for each set (tests compare them
trade by trade).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from algo_trade_backtest import _kernels as K
from algo_trade_backtest._engine import prepare_bars
from algo_trade_backtest._metrics import METRIC_NAMES
from algo_trade_backtest._params import (
    StrategyName,
    StrategyParams,
    coerce_params,
    params_hash,
    strategy_kind,
    validate_execution,
)
from algo_trade_backtest._results import BacktestTrade, trades_from_records
from algo_trade_backtest._state import (
    SeriesStats,
    execution_record,
    kernel_bars,
    params_record,
    params_records,
)
from algo_trade_core import BacktestConfig, bars_per_year

__all__ = ["SWEEP_METRIC_NAMES", "GridRun", "grid_run", "run_grid", "shared_bytes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Bars = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]

_WINDOW_FIELDS = ("short_1", "short_2", "long_1", "long_2", "trend")  # columns IX_SHORT_1..IX_TREND
# The parameters a quad_ma setup depends on (take-profit, stop-loss and the confirmation do not).
_SIGNAL_FIELDS = (*_WINDOW_FIELDS, "volume_filter", "factor_num", "factor_den")

# The metrics kernel's values; its returns_skewness and returns_kurtosis are the trials' skewness, kurtosis.
SWEEP_METRIC_NAMES: tuple[str, ...] = (*METRIC_NAMES[:-2], "skewness", "kurtosis")
"""The columns of :attr:`GridRun.metrics`: the engine's metrics, then the third and fourth standardised
moments of the per-bar returns (population moments; kurtosis not in excess, 3 for a normal law; 0 and
3 when the returns do not vary)."""


@dataclass(frozen=True, slots=True)
class GridRun:
    """What :func:`grid_run` computed: one row per parameter set, in input order.

    Attributes:
        metrics: ``(sets, len(SWEEP_METRIC_NAMES))`` float64; ``profit_factor`` is ``inf`` without a loss.
        curves: ``(sets, bars)`` equity curves when asked for, else None.
        trades: each set's closed trades when asked for, else None.
        windows: distinct close windows computed (the sharing: ``sets x 5`` without it).
    """

    metrics: FloatArray
    curves: FloatArray | None
    trades: list[list[BacktestTrade]] | None
    windows: int


def shared_bytes(num_bars: int, configs: Sequence[StrategyParams]) -> int:
    """Bytes of the shared window sums and signs a grid of ``configs`` over ``num_bars`` bars holds."""
    windows: set[int] = set()
    volume: set[int] = set()
    pairs: set[tuple[int, int]] = set()
    for record in (params_record(c)[0] for c in configs):
        names = ("short_1", "short_2", "long_1", "long_2", "trend") if record["kind"] == K.QUAD_MA else ()
        windows.update(int(record[name]) for name in names or ("short_1", "short_2"))
        if record["kind"] == K.QUAD_MA and record["volume_filter"]:
            volume.add(int(record["long_2"]))
        pairs.add((int(record["short_1"]), int(record["short_2"])))
    return num_bars * (8 * (len(windows) + max(len(volume), 1)) + 9 * len(pairs))


def _shared(units: K.KernelBars, records: Any, rows: list[int]) -> tuple[K.SweepShared, IntArray, int]:
    """Build the shared sums/signs of a group and each row's index into them."""
    n = units.close.shape[0]
    group = records[np.asarray(rows, dtype=np.intp)]
    quad = group["kind"] == K.QUAD_MA
    index = np.zeros((len(rows), 8), dtype=np.int64)
    # Distinct close windows: quad_ma reads five, ma_crossover two (its fast and slow).
    used = [group[name] if column < 2 else group[name][quad] for column, name in enumerate(_WINDOW_FIELDS)]
    window_values = np.unique(np.concatenate(used)) if used else np.zeros(0, dtype=np.int64)
    windows = {int(w): k for k, w in enumerate(window_values)}
    for column, name in enumerate(_WINDOW_FIELDS):
        rows_using = np.ones(len(rows), dtype=bool) if column < 2 else quad
        index[rows_using, column] = np.searchsorted(window_values, group[name][rows_using])
    filtered = quad & (group["volume_filter"] != 0)
    volume_values, volume_index = np.unique(group["long_2"][filtered], return_inverse=True)
    volume = {int(w): k for k, w in enumerate(volume_values)}
    index[filtered, K.IX_VOLUME] = volume_index
    pair_keys = np.stack([group["short_1"], group["short_2"]], axis=1)
    pair_values, pair_index = np.unique(pair_keys, axis=0, return_inverse=True)
    pairs = {(int(a), int(b)): k for k, (a, b) in enumerate(pair_values)}
    index[:, K.IX_PAIR] = pair_index.reshape(-1)
    representatives = np.zeros(0, dtype=np.intp)  # one row per quad_ma signal
    if quad.any():
        signal_keys = np.stack([group[name][quad] for name in _SIGNAL_FIELDS], axis=1)
        _, first, signal_index = np.unique(signal_keys, axis=0, return_index=True, return_inverse=True)
        index[quad, K.IX_SIGNAL] = signal_index.reshape(-1)
        representatives = np.flatnonzero(quad)[first]
    sums = np.empty((len(windows), n), dtype=np.int64)
    for window, k in windows.items():
        K.window_sums_nb(units.close_units, window, sums[k])
    volume_sums = np.zeros((max(len(volume), 1), n), dtype=np.int64)
    for window, k in volume.items():
        K.window_sums_nb(units.volume_units, window, volume_sums[k])
    signs = np.empty((len(pairs), n), dtype=np.int8)
    events: list[IntArray] = []
    for (p1, p2), k in pairs.items():
        K.cross_signs_nb(sums[windows[p1]], sums[windows[p2]], p1, p2, signs[k])
        above = signs[k] > 0
        events.append((np.flatnonzero(above[1:] != above[:-1]) + 1).astype(np.int64))
    starts = np.zeros(len(pairs) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(e) for e in events])
    flat = np.concatenate(events) if events else np.zeros(0, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    shared = K.SweepShared(
        sums, volume_sums, signs, flat, starts, empty, np.zeros(0, dtype=np.int8), np.zeros(1, dtype=np.int64)
    )
    if representatives.shape[0]:  # every quad_ma signal's setups, once for all the sets that share it
        reps = representatives
        rep_index = np.ascontiguousarray(index[reps])
        room = int(sum(len(events[j]) for j in rep_index[:, K.IX_PAIR]))
        setup_bars = np.empty(room, dtype=np.int64)
        setup_dirs = np.empty(room, dtype=np.int8)
        setup_start = np.empty(len(reps) + 1, dtype=np.int64)
        rep_rows = records[np.asarray(rows, dtype=np.intp)[reps]]
        K.setups_nb(rep_rows, rep_index, units, shared, setup_bars, setup_dirs, setup_start)
        shared = shared._replace(setup_bars=setup_bars, setup_dirs=setup_dirs, setup_start=setup_start)
    return shared, index, len(windows)


def grid_run(
    bars: Bars,
    configs: Sequence[StrategyParams],
    *,
    execution: BacktestConfig,
    interval: str,
    workers: int | None = None,
    curves: bool = False,
    trades: bool = False,
) -> GridRun:
    """Backtest validated parameter sets over validated bars (see :func:`run_grid` for the checks).

    Args:
        bars: :func:`~algo_trade_backtest.prepare_bars`'s arrays.
        configs: validated parameter sets (one strategy or both).
        execution: validated execution settings.
        interval: the bar interval, for annualisation.
        workers: threads (default: one per CPU, at most one per set).
        curves: also return every set's equity curve (``sets x bars`` floats).
        trades: also return every set's trades (runs the sets one thread each, for tests and reports).
    """
    rows = len(configs)
    n = bars[0].shape[0]
    out = np.zeros((rows, K.NUM_SWEEP_METRICS))
    curve_out = np.zeros((rows, n)) if curves else np.zeros((0, 0))
    trade_lists: list[list[BacktestTrade]] | None = [[] for _ in range(rows)] if trades else None
    if not rows:
        return GridRun(out, curve_out if curves else None, trade_lists, 0)
    records = params_records(configs)
    exec_record = execution_record(execution)
    periods = bars_per_year(interval)
    threads = max(1, min(workers or os.cpu_count() or 1, rows))
    stats = SeriesStats.of(bars[4], bars[5])
    groups: dict[tuple[int, int | None], list[int]] = {}
    for r, key in enumerate(stats.decimals_of_rows(records)):
        groups.setdefault(key, []).append(r)
    for close_decimals, volume_decimals in list(groups):
        # Sets that do not filter on volume never read the volume units: they join a group of the same
        # close precision, so the close sums are shared with it.
        host = next((key for key in groups if key[0] == close_decimals and key[1] is not None), None)
        if volume_decimals is None and host is not None:
            groups[host] = sorted(groups[host] + groups.pop((close_decimals, None)))
    tasks: list[tuple[K.KernelBars, K.SweepShared, npt.NDArray[np.intp], IntArray]] = []
    window_count = 0
    for (close_decimals, volume_decimals), members in groups.items():
        units = kernel_bars(bars, close_decimals, volume_decimals).kernel
        shared, index, used = _shared(units, records, members)
        window_count += used
        # Sets of one signal read the same setups (then one pair the same signs): neighbours in memory.
        order = np.lexsort((index[:, K.IX_PAIR], index[:, K.IX_SIGNAL]))
        member_rows = np.asarray(members, dtype=np.intp)[order]
        index = index[order]
        pieces = 1 if trades else min(threads, len(members))
        chunks = np.array_split(np.arange(len(members)), pieces)
        tasks.extend((units, shared, member_rows[chunk], index[chunk]) for chunk in chunks)

    def work(units: K.KernelBars, shared: K.SweepShared, chunk: npt.NDArray[np.intp], ix: IntArray) -> None:
        state = np.zeros(1, dtype=K.STATE_DTYPE)
        cap = 2 * n + 2 if trades else K.MAX_TRADES_PER_BAR
        buffers = K.KernelBuffers(
            np.empty(0), np.empty(cap, dtype=K.TRADE_DTYPE), np.empty(K.MAX_FILLS_PER_BAR, dtype=K.FILL_DTYPE)
        )
        rbuf = np.empty(n)
        local = np.zeros((len(chunk), K.NUM_SWEEP_METRICS))
        local_curves = np.zeros((len(chunk), n)) if curves else np.zeros((0, 0))
        counts = np.zeros(len(chunk), dtype=np.int64)
        if trades:  # one set per call: the trade buffer holds one set's worst case
            for k in range(len(chunk)):
                K.sweep_nb(
                    records[chunk[k : k + 1]],
                    ix[k : k + 1],
                    exec_record,
                    units,
                    shared,
                    periods,
                    state,
                    buffers,
                    rbuf,
                    local[k : k + 1],
                    counts[k : k + 1],
                    True,
                    local_curves[k : k + 1] if curves else local_curves,
                )
                assert trade_lists is not None
                trade_lists[int(chunk[k])] = trades_from_records(buffers.trades[: int(counts[k])])
        else:
            K.sweep_nb(
                records[chunk], ix, exec_record, units, shared, periods, state, buffers, rbuf, local, counts,
                False, local_curves,
            )  # fmt: skip
        out[chunk] = local
        if curves:
            curve_out[chunk] = local_curves

    if threads == 1 or len(tasks) == 1:
        for task in tasks:
            work(*task)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(work, *task) for task in tasks]:
                future.result()
    return GridRun(out, curve_out if curves else None, trade_lists, window_count)


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
    bars_per_year(interval)
    strategy_kind(strategy)
    run = grid_run(bars, configs, execution=execution, interval=interval, workers=workers)
    return _frame(strategy, configs, run.metrics[:, : len(METRIC_NAMES)])


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
