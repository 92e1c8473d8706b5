"""algo-trade optimisation: per-token strategy and parameter choice, deflated for the number of trials.

- :func:`run_optimisation`: every token x every parameter set of the ``[optimisation]`` spaces, on
  threads or Dask (:class:`ThreadExecutor`, :class:`DaskExecutor`), each task's trials stored as they
  arrive (an interrupted run resumes), then each token's :class:`Choice` from its stored trials.
- :func:`choose_per_token`: the same choice for one token's training window in memory (walk-forward).
- :func:`choose`: the rule itself (pure): the best trial passing the thresholds by score or DSR, its
  Deflated Sharpe Ratio with N = the token's trials.
"""

from loguru import logger

from algo_trade_optimisation._choice import Choice, TrialTable, choose, dsr_of
from algo_trade_optimisation._executors import ComputeError, DaskExecutor, ThreadExecutor
from algo_trade_optimisation._per_token import TokenChoice, choose_per_token
from algo_trade_optimisation._plan import ParamSet, Space, data_fingerprint, plan_space, run_task
from algo_trade_optimisation._run import OptimisationSummary, TokenResult, run_optimisation

logger.disable("algo_trade_optimisation")

__all__ = [
    "Choice",
    "ComputeError",
    "DaskExecutor",
    "OptimisationSummary",
    "ParamSet",
    "Space",
    "ThreadExecutor",
    "TokenChoice",
    "TokenResult",
    "TrialTable",
    "choose",
    "choose_per_token",
    "data_fingerprint",
    "dsr_of",
    "plan_space",
    "run_optimisation",
    "run_task",
]
