"""What an optimisation computes: the parameter sets of the spaces, the tasks, their memory, the work.

A task is one token and a chunk of its parameter sets, in a fixed order (by strategy, then by the
parameter values: a resumed run cuts the same chunks, and the sets of one quad_ma signal, which differ
only in take-profit, stop-loss or confirmation, sit in one chunk and share its setup bars).
:func:`run_task` is what a worker runs (a thread here, a Dask worker process elsewhere): plain arrays
in, a metrics matrix out.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import SWEEP_METRIC_NAMES, grid_run, params_hash, shared_bytes
from algo_trade_backtest._params import coerce_params
from algo_trade_core import (
    BacktestConfig,
    ComputeConfig,
    ConfigError,
    OptimisationConfig,
    expand_space,
    space_fields,
    space_size,
)

__all__ = [
    "Bars",
    "ParamSet",
    "Space",
    "Task",
    "data_fingerprint",
    "plan_space",
    "run_task",
    "task_bytes",
    "warm_kernels",
]

FloatArray = npt.NDArray[np.float64]
Bars = tuple[npt.NDArray[np.int64], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
_BYTES_PER_SET = 700  # a parameter set held in Python (dict, dataclass, hash) before it runs


@dataclass(frozen=True, slots=True)
class ParamSet:
    """One parameter set of a space: its strategy, full parameters and hash."""

    strategy: str
    params: dict[str, Any]
    params_hash: str


@dataclass(frozen=True, slots=True)
class Space:
    """The parameter sets to try on every token (by strategy, then by values), and what the constraints
    dropped."""

    sets: list[ParamSet]
    combinations: dict[str, int]
    dropped: dict[str, int]
    definition: dict[str, Any]

    def __len__(self) -> int:
        return len(self.sets)


@dataclass(frozen=True, slots=True)
class Task:
    """One token and a chunk of its parameter sets."""

    symbol: str
    sets: list[ParamSet]


def plan_space(optimisation: OptimisationConfig, compute: ComputeConfig, num_bars: int) -> Space:
    """Expand the spaces of ``optimisation.strategies``, refusing one that does not fit the memory budget.

    Raises:
        ConfigError: a space too large for ``[compute] memory_budget_mb`` (how large, and what to
            change), or a space the constraints leave empty.
    """
    budget = compute.memory_budget_mb * 1024 * 1024
    sets: list[ParamSet] = []
    combinations: dict[str, int] = {}
    dropped: dict[str, int] = {}
    definition: dict[str, Any] = {}
    for strategy in optimisation.strategies:
        space = getattr(optimisation, strategy)
        definition[strategy] = space_fields(space)
        size = space_size(space)
        need = size * _BYTES_PER_SET
        if need > budget:
            raise ConfigError(
                f"[optimisation.{strategy}]: the space has {size:,} combinations, about "
                f"{need / 2**20:,.0f} MB to hold > [compute] memory_budget_mb = "
                f"{compute.memory_budget_mb}: use fewer values or a larger step in the section (or a "
                "--space file), or raise memory_budget_mb"
            )
        try:
            expansion = expand_space(strategy, space)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        combinations[strategy], dropped[strategy] = expansion.combinations, expansion.dropped
        for params in expansion.sets:
            config = coerce_params(strategy, params)
            sets.append(ParamSet(strategy, asdict(config), params_hash(strategy, config)))
    sets.sort(key=lambda s: (s.strategy, tuple(s.params.values())))
    chunk = sets[: optimisation.chunk_size]
    need = task_bytes(num_bars, chunk)
    if need > budget:
        raise ConfigError(
            f"one task ({len(chunk)} parameter sets x {num_bars:,} bars) needs about "
            f"{need / 2**20:,.0f} MB > [compute] memory_budget_mb = {compute.memory_budget_mb}: "
            "lower [optimisation] chunk_size, shorten the window, or raise memory_budget_mb"
        )
    return Space(sets, combinations, dropped, definition)


def task_bytes(num_bars: int, sets: Sequence[ParamSet]) -> int:
    """Memory one task holds: the bars, the shared sums and signs, a thread's scratch, the results."""
    configs = [coerce_params(s.strategy, s.params) for s in sets]
    return (
        num_bars * 6 * 8 * 2  # the bars and their units
        + shared_bytes(num_bars, configs)
        + num_bars * 8  # returns scratch
        + len(sets) * (len(SWEEP_METRIC_NAMES) * 8 + _BYTES_PER_SET)
    )


def data_fingerprint(bars: Bars, interval: str, execution: BacktestConfig) -> str:
    """A stable id of a token's bars and the execution settings: equal inputs, equal trials."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"interval": interval, "execution": asdict(execution)}, sort_keys=True).encode())
    for array in bars:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:32]


def run_task(
    bars: Bars,
    strategies: Sequence[str],
    params: Sequence[Mapping[str, Any]],
    execution: BacktestConfig,
    interval: str,
) -> npt.NDArray[np.float64]:
    """Backtest a chunk of parameter sets over one token's (validated) bars; one metrics row per set
    (:data:`~algo_trade_backtest.SWEEP_METRIC_NAMES`), in input order."""
    configs = [coerce_params(s, p) for s, p in zip(strategies, params, strict=True)]
    out = np.zeros((len(configs), len(SWEEP_METRIC_NAMES)))
    for strategy in dict.fromkeys(strategies):
        rows = [k for k, s in enumerate(strategies) if s == strategy]
        run = grid_run(bars, [configs[k] for k in rows], execution=execution, interval=interval, workers=1)
        out[rows] = run.metrics
    return out


def warm_kernels() -> None:
    """Compile (or load from numba's cache) the sweep kernels in this process: run a tiny grid."""
    n = 300
    ts = 60_000 * np.arange(n, dtype=np.int64)
    close = 100.0 + np.sin(np.arange(n) / 7.0)
    bars = (ts, close, close + 0.5, close - 0.5, close, np.ones(n))
    run_task(
        bars,
        ["quad_ma", "ma_crossover"],
        [{"trend": 60, "long_2": 50}, {"fast": 3, "slow": 9}],
        BacktestConfig(),
        "1m",
    )


def work_size(num_bars: Mapping[str, int], num_sets: int) -> int:
    """Bar-steps of a sweep: sum over tokens of bars x parameter sets."""
    return sum(num_bars.values()) * num_sets


def chunks(symbol: str, space: Space, chunk_size: int, stored: set[str]) -> list[Task]:
    """The tasks of one token: chunks of the sorted sets, without those already stored whole."""
    out = []
    for start in range(0, len(space.sets), chunk_size):
        part = space.sets[start : start + chunk_size]
        if all(s.params_hash in stored for s in part):
            continue
        out.append(Task(symbol, part))
    return out


def annualisation_note(periods_per_year: float) -> float:
    return math.sqrt(periods_per_year)
