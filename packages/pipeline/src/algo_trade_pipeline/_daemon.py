"""The daemon: the scheduler's sweeps, each followed by the :class:`Pipeline` (selection → bot sync →
retention), with the market-data hub and the bots it keeps running (no separate timer), and the
services it is asked to run beside them (the web dashboard with ``[server] enabled = true``).

The `scheduled-backtest` command runs it until Ctrl+C or SIGTERM; tests run it against the fake
exchange with an injected clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary
from algo_trade_bot_orchestrator import AlertDispatcher, BotRegistry, DivergenceJudge, notifiers_from_config
from algo_trade_core import AppConfig, ms_to_datetime, strategy_params
from algo_trade_data import (
    BackgroundRepair,
    DatabaseClient,
    HyperliquidClient,
    MarketDataHub,
    announce_daemon,
)
from algo_trade_pipeline._cycle import Cycle, Pipeline
from algo_trade_token_selector import TokenSelector

__all__ = ["Daemon"]


class Daemon:
    """Runs sweeps on the cron schedule; after each, :meth:`Pipeline.after_sweep`.

    Args:
        config: the whole configuration.
        db: the store.
        hyperliquid: the process's one REST client (refresh, top-volume universe, bot warm-up).
        on_cycle: called after each cycle (the CLI prints it).
        clock_ms: "now" in epoch ms for windows, result ages and bot warm-up (default: the wall clock);
            replays pin it.
        divergence_judge: the live-against-backtest check of ``[bots.protection] divergence_evaluations``
            (default: the tracking package's ``EnvelopeJudge`` when that rule is on; its envelopes are
            built after the bots are restored and after every sweep).
    """

    def __init__(
        self,
        config: AppConfig,
        db: DatabaseClient,
        hyperliquid: HyperliquidClient | None,
        *,
        on_cycle: Callable[[Cycle], Awaitable[None] | None] | None = None,
        clock_ms: Callable[[], int] | None = None,
        divergence_judge: DivergenceJudge | None = None,
    ) -> None:
        self.config = config
        self.db = db
        clock = None if clock_ms is None else (lambda: ms_to_datetime(clock_ms()))
        self.pipeline = Pipeline(config, db, clock=clock)
        self.cycles: deque[Cycle] = deque(maxlen=20)  # the latest cycles (a daemon runs for months)
        self.cycle_count = 0
        self.hub: MarketDataHub | None = None
        self._hyperliquid = hyperliquid
        self._on_cycle = on_cycle
        self._clock_ms = clock_ms
        if divergence_judge is None and config.bots.protection.divergence_evaluations > 0:
            from algo_trade_tracking import EnvelopeJudge  # the envelope of each bot's own backtest

            divergence_judge = EnvelopeJudge(config.bots.tracking)
        self._judge = divergence_judge
        self.alerts: AlertDispatcher | None = None
        self._stack = AsyncExitStack()
        self._services: list[AbstractAsyncContextManager[Any]] = []
        self.scheduler = BacktestScheduler(
            config.scheduler,
            db,
            hyperliquid,
            execution=config.backtest,
            strategies=config.strategy,
            after_sweep=self._after_sweep,
            clock=clock,
            regime_lookback_days=config.token_selection.regime_lookback_days,
        )

    @property
    def selector(self) -> TokenSelector:
        """The selector the pipeline uses (its ``criteria`` may be replaced between sweeps)."""
        return self.pipeline.selector

    @property
    def registry(self) -> BotRegistry | None:
        return self.pipeline.registry

    def serve(self, service: AbstractAsyncContextManager[Any]) -> None:
        """Run ``service`` with the daemon: entered by :meth:`start` before the first sweep, exited by
        :meth:`stop` before the bots stop (e.g. ``algo_trade_dashboard.DashboardServer``, which the
        pipeline does not import: the dashboard depends on the pipeline, not the other way round)."""
        self._services.append(service)

    async def start(self) -> list[str]:
        """Open the market-data hub, restore the bots of a previous run, repair the candle history in
        the background, start the services and the cron job.

        Returns the ids of the restored bots.
        """
        restored: list[str] = []
        # While this lock is held, `algo-trade bots list` knows a daemon runs the bots (see _presence).
        await self._stack.enter_async_context(announce_daemon(self.db))
        if self.config.bots.enabled:
            self.hub = await self._stack.enter_async_context(
                MarketDataHub(self.config.hyperliquid, rest=self._hyperliquid, store=self.db)
            )
            alerts_config = self.config.bots.alerts
            self.alerts = AlertDispatcher(
                notifiers_from_config(alerts_config), queue_size=alerts_config.queue_size
            )
            self._stack.push_async_callback(self.alerts.close)  # after the bots: their last alerts go out
            registry = BotRegistry(
                self.db,
                self.hub,
                candles=self._hyperliquid,
                execution=self.config.backtest,
                bots=self.config.bots,
                clock_ms=self._clock_ms,
                strategy_parameters={
                    name: strategy_params(self.config, name) for name in ("quad_ma", "ma_crossover")
                },
                divergence_judge=self._judge,
                alerts=self.alerts,
            )
            self.pipeline.registry = registry
            # Shutdown leaves positions open and rows live, so the next start restores them.
            self._stack.push_async_callback(registry.shutdown_all)
            restored = await registry.restore()
            await self._refresh_envelopes()
        if self._hyperliquid is not None:  # bars missed while down, fetched while the exchange has them
            s = self.config.scheduler
            await self._stack.enter_async_context(
                BackgroundRepair(self._hyperliquid, self.db, s.token_universe, s.interval)
            )
        for service in self._services:  # exited first on stop (the stack unwinds in reverse)
            await self._stack.enter_async_context(service)
        self.scheduler.start()
        return restored

    async def _refresh_envelopes(self) -> None:
        """Build the divergence envelopes of live bots that need one (a judge with ``refresh``)."""
        refresh = getattr(self._judge, "refresh", None)
        registry = self.registry
        if refresh is None or registry is None:
            return
        live = [bot.config.bot_id for bot in registry.list_bots() if not bot.config.is_shadow]
        await refresh(self.db, live)

    async def _after_sweep(self, summary: RunSummary) -> None:
        cycle = await self.pipeline.after_sweep(summary)
        await self._refresh_envelopes()
        self.cycles.append(cycle)
        self.cycle_count += 1
        if self._on_cycle is not None:
            result = self._on_cycle(cycle)
            if result is not None:
                await result

    def next_fire_time(self) -> datetime | None:
        return self.scheduler.next_fire_time()

    async def stop(self) -> None:
        """Stop the cron job (a running sweep commits first), the bots (positions kept), the hub."""
        await self.scheduler.shutdown()
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
