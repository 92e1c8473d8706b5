"""algo-trade backtest scheduler: cron-scheduled sweeps whose results land in one transaction."""

from loguru import logger

from algo_trade_backtest_scheduler._jobs import BacktestJob, jobs_from_config
from algo_trade_backtest_scheduler._scheduler import AfterSweep, BacktestScheduler
from algo_trade_backtest_scheduler._sweep import ProgressCallback, RunSummary, TokenOutcome, run_sweep
from algo_trade_backtest_scheduler._window import Window, window_for
from algo_trade_core import SchedulerConfig, cron_trigger  # re-exported: the trigger is core's

logger.disable("algo_trade_backtest_scheduler")

__all__ = [
    "AfterSweep",
    "BacktestJob",
    "BacktestScheduler",
    "ProgressCallback",
    "RunSummary",
    "SchedulerConfig",
    "TokenOutcome",
    "Window",
    "cron_trigger",
    "jobs_from_config",
    "run_sweep",
    "window_for",
]
