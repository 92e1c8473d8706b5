"""What one sweep runs: the (strategy, parameter set) pairs from configuration, never hard-coded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from algo_trade_core import (
    MaCrossoverConfig,
    QuadMaConfig,
    SchedulerConfig,
    StrategyConfig,
    StrategyName,
    parameter_set_hash,
    strategy_params_from_mapping,
)

__all__ = ["BacktestJob", "jobs_from_config"]


@dataclass(frozen=True, slots=True)
class BacktestJob:
    """One strategy with one parameter set, to be run on every token of the universe."""

    strategy: StrategyName
    params: QuadMaConfig | MaCrossoverConfig
    params_hash: str

    def params_dict(self) -> dict[str, Any]:
        return asdict(self.params)


def jobs_from_config(scheduler: SchedulerConfig, strategies: StrategyConfig) -> list[BacktestJob]:
    """Expand ``[scheduler] strategies`` / ``parameter_sets`` over the ``[strategy.*]`` defaults.

    Raises:
        ConfigError: a parameter set names a key its strategy does not have, a value of the wrong type
            or out of range, or impossible periods (the same check as ``load_config``, which has
            normally rejected such a set already).
    """
    jobs: list[BacktestJob] = []
    if scheduler.parameter_sets:
        for i, pset in enumerate(scheduler.parameter_sets):
            params = strategy_params_from_mapping(
                pset.strategy,
                pset.params,
                base=getattr(strategies, pset.strategy),
                key_prefix=f"scheduler.parameter_sets[{i}].params",
                loose=True,  # sets built in code may say 200.0 for 200
            )
            jobs.append(BacktestJob(pset.strategy, params, parameter_set_hash(pset.strategy, params)))
    else:
        for name in scheduler.strategies:
            params = getattr(strategies, name)
            jobs.append(BacktestJob(name, params, parameter_set_hash(name, params)))
    seen: set[tuple[str, str]] = set()
    unique = []
    for job in jobs:
        if (job.strategy, job.params_hash) not in seen:
            seen.add((job.strategy, job.params_hash))
            unique.append(job)
    return unique
