"""algo-trade pipeline: the product's cycle as a library (sweep → selection → bot sync → retention).

- :func:`selection_scope` / :func:`traded_parameter_set`: the selection rule, defined once: rank the
  results of the parameter set the bots trade, at the sweep's interval, over the configured universe.
- :class:`Pipeline`: selection on that rule, bot sync and retention after a sweep; a sweep without a
  fresh result changes nothing. With ``[optimisation] enabled`` the sweep is followed by the
  optimisation, the selection ranks each token's chosen (strategy, parameter set) (:func:`optimised_scope`)
  and each approved token's bot trades its own choice.
- :class:`Daemon`: the scheduler's sweeps, each followed by the pipeline, with the bots it runs.

The CLI (and, later, a dashboard) call these; none of them decides the rule on its own.
"""

from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import lazy_exports
from algo_trade_pipeline._cycle import Cycle, Pipeline, fresh_results, no_fresh_result_reason
from algo_trade_pipeline._scope import (
    optimised_scope,
    selection_scope,
    traded_parameter_set,
    universe_of_latest_sweep,
)

if TYPE_CHECKING:
    from algo_trade_pipeline._daemon import Daemon
else:
    # The daemon pulls in the bot stack and APScheduler: loaded when first asked for, so that commands
    # that only select or read results start fast.
    __getattr__, __dir__ = lazy_exports(__name__, {"algo_trade_pipeline._daemon": ("Daemon",)})

logger.disable("algo_trade_pipeline")

__all__ = [
    "Cycle",
    "Daemon",
    "Pipeline",
    "fresh_results",
    "no_fresh_result_reason",
    "optimised_scope",
    "selection_scope",
    "traded_parameter_set",
    "universe_of_latest_sweep",
]
