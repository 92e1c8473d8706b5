"""algo-trade optimisation: per-token strategy and parameter choice, deflated for the number of trials.

- :func:`run_optimisation`: every token x every parameter set of the ``[optimisation]`` spaces, on
  threads or Dask (:class:`ThreadExecutor`, :class:`DaskExecutor`), each task's trials stored as they
  arrive (an interrupted run resumes), then each token's :class:`Choice` from its stored trials.
- :func:`choose_per_token`: the same choice for one token's training window in memory (walk-forward).
- :func:`candidates_from_choices`, :func:`candidate_of`: choices as the selection's candidates.
- :func:`choose`: the rule itself (pure): the best trial passing the thresholds by score or DSR, its
  Deflated Sharpe Ratio with N = the token's trials.

Names load on first use (:func:`~algo_trade_core.lazy_exports`): reading stored choices
(:func:`candidates_from_choices`) imports neither the engine (numba) nor Dask.
"""

from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import lazy_exports

if TYPE_CHECKING:
    from algo_trade_optimisation._candidates import candidate_of, candidates_from_choices
    from algo_trade_optimisation._choice import Choice, TrialTable, choose, dsr_of
    from algo_trade_optimisation._executors import ComputeError, DaskExecutor, ThreadExecutor
    from algo_trade_optimisation._per_token import TokenChoice, choose_per_token
    from algo_trade_optimisation._plan import ParamSet, Space, data_fingerprint, plan_space, run_task
    from algo_trade_optimisation._run import OptimisationSummary, TokenResult, run_optimisation
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "algo_trade_optimisation._candidates": ("candidate_of", "candidates_from_choices"),
            "algo_trade_optimisation._choice": ("Choice", "TrialTable", "choose", "dsr_of"),
            "algo_trade_optimisation._executors": ("ComputeError", "DaskExecutor", "ThreadExecutor"),
            "algo_trade_optimisation._per_token": ("TokenChoice", "choose_per_token"),
            "algo_trade_optimisation._plan": (
                "ParamSet",
                "Space",
                "data_fingerprint",
                "plan_space",
                "run_task",
            ),
            "algo_trade_optimisation._run": ("OptimisationSummary", "TokenResult", "run_optimisation"),
        },
    )

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
    "candidate_of",
    "candidates_from_choices",
    "choose",
    "choose_per_token",
    "data_fingerprint",
    "dsr_of",
    "plan_space",
    "run_optimisation",
    "run_task",
]
