"""What follows a sweep: selection on the product's rule → bot sync → retention (DESIGN.md section 3).

:class:`Pipeline` is the one place that does it; the daemon calls it after every scheduled sweep and
``algo-trade sweep`` / ``demo`` after theirs (without bots).

With ``[optimisation] enabled`` one step comes first: the optimisation over the sweep's window and
universe (every trial stored, each token's choice made from its stored trials); the selection then ranks
each token's chosen (strategy, parameter set) with the ``min_dsr`` gate, and each approved token's bot
trades its own choice (a bot whose chosen set changed is replaced the ``on_remove`` way). Disabled, the
cycle is exactly the plain one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import AlgoTradeError, AppConfig
from algo_trade_pipeline._scope import (
    optimised_scope,
    selection_scope,
    traded_parameter_set,
    universe_of_latest_sweep,
)
from algo_trade_token_selector import OPTIMISED, Selection, SelectionScope, TokenSelector

if TYPE_CHECKING:
    from algo_trade_backtest_scheduler import RunSummary
    from algo_trade_bot_orchestrator import BotRegistry
    from algo_trade_data import BacktestResultRecord, DatabaseClient
    from algo_trade_optimisation import OptimisationSummary
    from algo_trade_tracking import Reconciliation

__all__ = ["Cycle", "Pipeline", "fresh_results", "no_fresh_result_reason"]


@dataclass(slots=True)
class Cycle:
    """One sweep and what followed it."""

    summary: RunSummary
    selection: Selection | None = None
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    skipped: str | None = None  # why no selection was made (the sweep produced no fresh result)
    error: str | None = None
    optimisation: OptimisationSummary | None = None  # with [optimisation] enabled: the run after the sweep
    reconciliations: list[Reconciliation] = field(default_factory=list)  # the running bots vs backtest


def fresh_results(
    results: Sequence[BacktestResultRecord], scope: SelectionScope, max_age_hours: float, now: datetime
) -> list[BacktestResultRecord]:
    """Return the results in ``scope`` whose window ended at most ``max_age_hours`` before ``now``."""
    limit = timedelta(hours=max_age_hours)
    return [r for r in results if scope.contains(r) and now - r.backtest_window_end <= limit]


def no_fresh_result_reason(
    summary: RunSummary, scope: SelectionScope, max_age_hours: float, now: datetime
) -> str | None:
    """Return why a sweep leaves the selection and the bots as they are, or None when it may change them."""
    if fresh_results(summary.results, scope, max_age_hours, now):
        return None
    if not summary.results:
        why = summary.error or f"every token failed ({summary.tokens_failed} of {len(summary.tokens)})"
        return f"the sweep stored no result: {why}"
    in_scope = [r for r in summary.results if scope.contains(r)]
    if not in_scope:
        return f"the sweep produced no result in the selection's scope ({scope.describe()})"
    end = max(r.backtest_window_end for r in in_scope)
    age = (now - end).total_seconds() / 3600
    return (
        f"the sweep's window ended {end:%Y-%m-%d %H:%M} UTC, {age:,.0f} h before now "
        f"> max_result_age_hours {max_age_hours:g}: its results are not current"
    )


class Pipeline:
    """Selection on the results the bots trade, bot sync and retention, for one configuration.

    Args:
        config: the whole configuration.
        db: the store.
        registry: the bots to keep in line with each selection (None: no bot sync).
        clock: "now" for result ages and stored selections (default: the wall clock); replays pin it.
    """

    def __init__(
        self,
        config: AppConfig,
        db: DatabaseClient,
        *,
        registry: BotRegistry | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.registry = registry
        self.selector = TokenSelector(db, config.token_selection)
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    async def scope(
        self,
        *,
        strategy: str | None = None,
        params_hash: str | None = None,
        all_params: bool = False,
        interval: str | None = None,
        all_intervals: bool = False,
        all_symbols: bool = False,
    ) -> SelectionScope:
        """Return the product's selection scope (see :func:`selection_scope`), widened where asked.

        In top-volume mode the universe is the newest sweep's, read from the store. With
        ``[optimisation] enabled`` and nothing widened (no strategy, parameter set, interval or universe
        asked for), the product's scope is each token's choice (:func:`optimised_scope`).
        """
        symbols = None
        if not all_symbols and self.config.scheduler.universe_mode == "top_volume":
            symbols = await universe_of_latest_sweep(self.db)
        widened = strategy or params_hash or all_params or interval or all_intervals or all_symbols
        if self.config.optimisation.enabled and not widened:
            return optimised_scope(self.config, symbols=symbols)
        return selection_scope(
            self.config,
            strategy=strategy or self.selector.criteria.strategy,
            params_hash=params_hash,
            all_params=all_params,
            interval=interval,
            all_intervals=all_intervals,
            symbols=symbols,
            all_symbols=all_symbols,
        )

    async def select(
        self,
        scope: SelectionScope | None = None,
        *,
        now: datetime | None = None,
        record: bool = True,
        run_id: str | None = None,
    ) -> Selection:
        """Select on ``scope`` (default: the product's rule) as of ``now`` (default: the clock)."""
        scope = scope or await self.scope()
        at = now or self.now()
        if scope.strategy == OPTIMISED:
            return await self.select_choices(scope, now=at, record=record, run_id=run_id)
        return await self.selector.select(scope, now=at, record=record, run_id=run_id)

    async def select_choices(
        self, scope: SelectionScope, *, now: datetime, record: bool = True, run_id: str | None = None
    ) -> Selection:
        """Select among each token's latest choice whose optimisation window ended by ``now``."""
        from algo_trade_optimisation import candidates_from_choices

        interval = scope.interval or self.config.scheduler.interval
        stored = await self.db.latest_choices(interval, scope.symbols, until=now)
        candidates = candidates_from_choices(
            stored,
            interval=interval,
            exchange=self.config.scheduler.exchange,
            capital=float(self.config.backtest.initial_capital),
        )
        return await self.selector.select_candidates(
            candidates,
            scope,
            min_dsr=self.config.optimisation.min_dsr,
            now=now,
            record=record,
            run_id=run_id,
        )

    async def after_sweep(self, summary: RunSummary) -> Cycle:
        """Select on the sweep's fresh results, sync the bots to the approved tokens, apply retention.

        A sweep that produced no fresh result in the scope (every token failed, the results could not
        be stored, or its window is older than ``max_result_age_hours``) changes nothing: no selection
        is stored and no bot is started or stopped. Errors are reported in the returned cycle, never
        raised: the schedule must go on.
        """
        cycle = Cycle(summary=summary)
        try:
            now = self.now()
            symbols = None
            if self.config.scheduler.universe_mode == "top_volume":
                symbols = [t.symbol for t in summary.tokens]  # the universe this sweep ran on
            scope = selection_scope(self.config, strategy=self.selector.criteria.strategy, symbols=symbols)
            cycle.skipped = no_fresh_result_reason(
                summary, scope, self.selector.criteria.max_result_age_hours, now
            )
            if cycle.skipped is not None:
                logger.warning(
                    "after sweep {}: no selection and no bot change: {}", summary.run_id[:8], cycle.skipped
                )
            elif self.config.optimisation.enabled:
                await self._optimised_cycle(cycle, now, symbols)
            else:
                cycle.selection = await self.selector.select(scope, now=now, run_id=summary.run_id)
                if self.registry is not None:
                    _, parameters = traded_parameter_set(self.config, scope.strategy)
                    cycle.started, cycle.stopped = await self.registry.sync_bots_with_approved_tokens(
                        cycle.selection.approved, cycle.selection.strategy_name, parameters
                    )
            if self.registry is not None and self.config.bots.tracking.reconcile_after_sweep:
                from algo_trade_tracking import reconcile_running_bots

                cycle.reconciliations = await reconcile_running_bots(self.db)
            if self.config.database.retention_days > 0:  # the app's own retention (no Apache-licence policy)
                await self.db.apply_retention(self.config.database.retention_days)
        except AlgoTradeError as exc:
            cycle.error = f"{type(exc).__name__}: {exc}"
            logger.error("after sweep {}: {}", summary.run_id[:8], cycle.error)
        except Exception as exc:  # selection or bot sync failing must not stop the schedule
            cycle.error = f"{type(exc).__name__}: {exc}"
            logger.exception("after sweep {}: selection or bot sync failed", summary.run_id[:8])
        return cycle

    async def _optimised_cycle(self, cycle: Cycle, now: datetime, symbols: list[str] | None) -> None:
        """Optimise over the sweep's window and universe, select among the choices, sync the bots.

        An optimisation that cannot run (a space too large, an unreachable Dask scheduler) raises
        before anything is selected: the cycle records the error and changes nothing.
        """
        from algo_trade_optimisation import run_optimisation

        summary = cycle.summary
        universe = [t.symbol for t in summary.tokens]
        cycle.optimisation = await run_optimisation(
            self.config,
            self.db,
            universe,
            as_of=summary.window.end,
            interval=summary.window.interval,
        )
        scope = optimised_scope(self.config, interval=summary.window.interval, symbols=symbols)
        selection = await self.select_choices(scope, now=now, run_id=summary.run_id)
        cycle.selection = selection
        if self.registry is not None:
            choices = {s: (c.strategy, c.parameters) for s, c in selection.choices.items()}
            cycle.started, cycle.stopped = await self.registry.sync_bots_with_approved_tokens(
                selection.approved,
                self.selector.criteria.strategy,
                choices=choices,
                strategies=self.config.optimisation.strategies,
            )
