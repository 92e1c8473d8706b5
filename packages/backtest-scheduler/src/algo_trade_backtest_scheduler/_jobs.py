"""What one sweep runs: the (strategy, parameter set) pairs from configuration, never hard-coded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from algo_trade_backtest import StrategyName, params_hash
from algo_trade_core import ConfigError, MaCrossoverConfig, QuadMaConfig, SchedulerConfig, StrategyConfig

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
        ConfigError: a parameter set names a key its strategy does not have, or impossible periods.
    """
    jobs: list[BacktestJob] = []
    if scheduler.parameter_sets:
        for i, pset in enumerate(scheduler.parameter_sets):
            base: QuadMaConfig | MaCrossoverConfig = getattr(strategies, pset.strategy)
            unknown = sorted(set(pset.params) - set(asdict(base)))
            if unknown:
                raise ConfigError(
                    f"scheduler.parameter_sets[{i}]: unknown {pset.strategy} parameter(s) "
                    f"{', '.join(unknown)}; expected some of {', '.join(sorted(asdict(base)))}"
                )
            try:
                params = replace(base, **pset.params)  # type: ignore[arg-type]
            except TypeError as exc:
                raise ConfigError(f"scheduler.parameter_sets[{i}]: {exc}") from None
            check = getattr(params, "check", None)
            problems = check() if check else []
            if problems:
                key, expected = problems[0]
                raise ConfigError(f"scheduler.parameter_sets[{i}].params.{key}: expected {expected}")
            jobs.append(BacktestJob(pset.strategy, params, params_hash(pset.strategy, asdict(params))))
    else:
        for name in scheduler.strategies:
            params = getattr(strategies, name)
            jobs.append(BacktestJob(name, params, params_hash(name, asdict(params))))
    seen: set[tuple[str, str]] = set()
    unique = []
    for job in jobs:
        if (job.strategy, job.params_hash) not in seen:
            seen.add((job.strategy, job.params_hash))
            unique.append(job)
    return unique
