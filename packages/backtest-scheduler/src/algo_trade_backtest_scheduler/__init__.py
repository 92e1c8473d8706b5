"""algo-trade backtest scheduler: cron-scheduled sweeps whose results land in one transaction.

Names load on first use (:func:`~algo_trade_core.lazy_exports`): :func:`window_for` does not import the
engine, APScheduler or polars.
"""

from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import SchedulerConfig, lazy_exports

if TYPE_CHECKING:
    from algo_trade_backtest_scheduler._jobs import BacktestJob, jobs_from_config
    from algo_trade_backtest_scheduler._regimes import HourlyCloseCache, token_regime
    from algo_trade_backtest_scheduler._scheduler import AfterSweep, BacktestScheduler
    from algo_trade_backtest_scheduler._sweep import (
        ProgressCallback,
        RunSummary,
        TokenOutcome,
        backtest_token,
        run_sweep,
    )
    from algo_trade_backtest_scheduler._window import Window, window_for
    from algo_trade_core import cron_trigger  # re-exported: the trigger is core's
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "algo_trade_backtest_scheduler._jobs": ("BacktestJob", "jobs_from_config"),
            "algo_trade_backtest_scheduler._regimes": ("HourlyCloseCache", "token_regime"),
            "algo_trade_backtest_scheduler._scheduler": ("AfterSweep", "BacktestScheduler"),
            "algo_trade_core": ("cron_trigger",),
            "algo_trade_backtest_scheduler._sweep": (
                "ProgressCallback",
                "RunSummary",
                "TokenOutcome",
                "backtest_token",
                "run_sweep",
            ),
            "algo_trade_backtest_scheduler._window": ("Window", "window_for"),
        },
    )

logger.disable("algo_trade_backtest_scheduler")

__all__ = [
    "AfterSweep",
    "BacktestJob",
    "BacktestScheduler",
    "HourlyCloseCache",
    "ProgressCallback",
    "RunSummary",
    "SchedulerConfig",
    "TokenOutcome",
    "Window",
    "backtest_token",
    "cron_trigger",
    "jobs_from_config",
    "run_sweep",
    "token_regime",
    "window_for",
]
