"""`BacktestScheduler`: an APScheduler cron job around :func:`run_sweep`."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from loguru import logger

from algo_trade_backtest_scheduler._jobs import BacktestJob, jobs_from_config
from algo_trade_backtest_scheduler._regimes import DEFAULT_REGIME_LOOKBACK_DAYS, HourlyCloseCache
from algo_trade_backtest_scheduler._sweep import (
    ProgressCallback,
    RunSummary,
    mark_interrupted_runs,
    run_sweep,
)
from algo_trade_core import (
    AlgoTradeError,
    AppConfig,
    BacktestConfig,
    SchedulerConfig,
    StrategyConfig,
    cron_trigger,
)

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient, HyperliquidClient

__all__ = ["AfterSweep", "BacktestScheduler"]

AfterSweep = Callable[[RunSummary], Awaitable[None]]


class BacktestScheduler:
    """Runs a backtest sweep over the token universe on a cron schedule.

    Backtests run in a thread pool kept across sweeps, never on the event loop. The numba kernels are
    compiled with ``nogil=True``, so threads use every core without pickling windows to worker
    processes. Measured with benchmarks/bench_sweep.py on 2 cores, 20 tokens x 43,200 1m bars: the
    backtest phase takes 0.06 s in 2 threads against 0.21 s in 2 warm worker processes (the
    processes pay for pickling each window), so threads are kept. Pass ``executor`` to override.
    """

    def __init__(
        self,
        config: SchedulerConfig,
        db: DatabaseClient,
        hyperliquid: HyperliquidClient | None = None,
        *,
        execution: BacktestConfig | None = None,
        strategies: StrategyConfig | None = None,
        after_sweep: AfterSweep | None = None,
        executor: Executor | None = None,
        clock: Callable[[], datetime] | None = None,
        regime_lookback_days: int = DEFAULT_REGIME_LOOKBACK_DAYS,
    ) -> None:
        self.config = config
        self.regime_lookback_days = regime_lookback_days  # [token_selection] regime_lookback_days
        self.regime_cache = HourlyCloseCache()  # hourly closes kept between sweeps
        self._clock = clock  # where "now" ends the window (default: the wall clock); replays pin it
        self.execution = execution or BacktestConfig()
        self.jobs: list[BacktestJob] = jobs_from_config(config, strategies or StrategyConfig())
        self._db = db
        self._hyperliquid = hyperliquid
        self._after_sweep = after_sweep
        self._owns_executor = executor is None  # a caller's executor is the caller's to shut down
        self._executor = executor or ThreadPoolExecutor(
            max_workers=config.max_workers, thread_name_prefix="backtest"
        )
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._recovery: asyncio.Task[None] | None = None
        self.runs: deque[RunSummary] = deque(maxlen=20)  # the latest sweeps (a daemon runs for months)

    @classmethod
    def from_app_config(
        cls,
        config: AppConfig,
        db: DatabaseClient,
        hyperliquid: HyperliquidClient | None = None,
        after_sweep: AfterSweep | None = None,
    ) -> BacktestScheduler:
        return cls(
            config.scheduler,
            db,
            hyperliquid,
            execution=config.backtest,
            strategies=config.strategy,
            after_sweep=after_sweep,
            regime_lookback_days=config.token_selection.regime_lookback_days,
        )

    async def universe(self) -> list[str]:
        """The tokens of this sweep: the static list, or today's top N by 24h notional volume."""
        if self.config.universe_mode == "top_volume":
            if self._hyperliquid is None:
                raise AlgoTradeError("universe_mode = 'top_volume' needs the Hyperliquid client")
            return [m.name for m in await self._hyperliquid.top_by_volume(self.config.top_volume_n)]
        return list(self.config.token_universe)

    async def run_once(
        self,
        as_of: datetime | None = None,
        *,
        symbols: list[str] | None = None,
        refresh: bool | None = None,
        progress: ProgressCallback | None = None,
    ) -> RunSummary:
        """Run one sweep now and return its summary. Sweeps never overlap: a second call waits."""
        async with self._lock:
            universe = symbols if symbols is not None else await self.universe()
            if as_of is None and self._clock is not None:
                as_of = self._clock()
            summary = await run_sweep(
                config=self.config,
                execution=self.execution,
                jobs=self.jobs,
                db=self._db,
                hyperliquid=self._hyperliquid,
                executor=self._executor,
                symbols=universe,
                as_of=as_of,
                refresh=refresh,
                progress=progress,
                regime_lookback_days=self.regime_lookback_days,
                regime_cache=self.regime_cache,
            )
            self.runs.append(summary)
            # Inside the lock: shutdown() waits for selection and bot sync too, not only the sweep.
            if self._after_sweep is not None:
                try:
                    await self._after_sweep(summary)
                except Exception:  # the schedule must survive a failing follow-up step
                    logger.exception("after-sweep step of run {} failed", summary.run_id[:8])
        return summary

    async def _fire(self) -> None:
        try:
            await self.run_once()
        except AlgoTradeError as exc:  # the next trigger must still run
            logger.error("scheduled sweep failed: {}", exc)
        except Exception:  # a bug must not silently end the schedule either
            logger.exception("scheduled sweep failed unexpectedly")

    def start(self) -> None:
        """Register the cron job on an ``AsyncIOScheduler`` (call from inside the running loop).

        One instance at a time; late triggers coalesce into one run; a trigger missed by less than
        ``misfire_grace_s`` still runs.
        """
        if self._scheduler is not None:
            return
        self._recovery = asyncio.get_running_loop().create_task(self._mark_interrupted())
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self._fire,
            cron_trigger(self.config.cron_expression),
            id="backtest-sweep",
            name="backtest sweep",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.config.misfire_grace_s,
            replace_existing=True,
        )
        scheduler.start()
        self._scheduler = scheduler
        logger.info(
            "scheduler started: cron '{}', next fire {}", self.config.cron_expression, self.next_fire_time()
        )

    async def _mark_interrupted(self) -> None:
        """Runs a killed process left at ``running`` are marked at start, not only at the next sweep."""
        try:
            await mark_interrupted_runs(self._db)
        except AlgoTradeError as exc:  # the first sweep tries again
            logger.warning("could not mark interrupted runs at start: {}", exc)

    def next_fire_time(self) -> datetime | None:
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job("backtest-sweep")
        return None if job is None else job.next_run_time

    async def shutdown(self) -> None:
        """Stop the cron job, wait for a running sweep to finish, close the worker pool."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._recovery is not None:
            await asyncio.gather(self._recovery, return_exceptions=True)
            self._recovery = None
        async with self._lock:  # a sweep in progress finishes its transaction and follow-up first
            if self._owns_executor:
                await asyncio.to_thread(self._executor.shutdown, wait=True)
