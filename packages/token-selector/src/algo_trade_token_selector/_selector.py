"""`TokenSelector`: reads each token's latest result in a scope, selects, records the selection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import SelectionCriteria
from algo_trade_data import BacktestResultRecord, SelectionRecord
from algo_trade_token_selector._candidates import Candidate, evaluate_candidates
from algo_trade_token_selector._gates import trials_by_key
from algo_trade_token_selector._scope import SelectionScope
from algo_trade_token_selector._scoring import Selection, evaluate

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient

__all__ = ["TokenSelector", "latest_results"]


async def latest_results(
    db: DatabaseClient, scope: SelectionScope, *, until: datetime | None = None
) -> dict[str, BacktestResultRecord]:
    """Return each token's latest result in ``scope`` (one query).

    Args:
        db: the store.
        scope: strategy, and optionally parameter set, interval and universe.
        until: ignore results whose window ends after this (a selection as of a past time must not
            see results computed on later bars).
    """
    results = await db.query_latest_backtest_results(
        scope.strategy, scope.params_hash, interval=scope.interval, symbols=scope.symbols, until=until
    )
    return results


class TokenSelector:
    """Select the tokens whose latest backtest results pass the criteria, and store each selection."""

    def __init__(self, db: DatabaseClient, criteria: SelectionCriteria | None = None) -> None:
        self._db = db
        self.criteria = criteria or SelectionCriteria()

    async def select(
        self,
        scope: SelectionScope | None = None,
        *,
        now: datetime | None = None,
        record: bool = True,
        run_id: str | None = None,
    ) -> Selection:
        """Run one selection and (by default) store it in ``token_selections``.

        Args:
            scope: the results to rank (default: every result of ``criteria.strategy``; the product's
                rule is ``algo_trade_pipeline.selection_scope``).
            now: the selection time that result ages are measured to (default: the wall clock).
            record: store the selection.
            run_id: the sweep the selection follows, stored with it.
        """
        scope = scope or SelectionScope(strategy=self.criteria.strategy)
        at = now or datetime.now(UTC)
        results = await latest_results(self._db, scope, until=at)
        run_ids = [r.run_id for r in results.values() if r.run_id is not None]
        trials = trials_by_key(await self._db.query_run_trials(run_ids))
        selection = evaluate(results, self.criteria, at, scope.strategy, scope, trials=trials)
        if not results:
            logger.warning("token selection: no backtest results stored in scope ({})", scope.describe())
        elif selection.fallback_used:
            logger.warning(
                "token selection: no token passed; FALLBACK approves the best {} by Sharpe: {}",
                self.criteria.fallback_top_n,
                ", ".join(selection.approved),
            )
        else:
            logger.info(
                "token selection: {} approved: {}",
                len(selection.approved),
                ", ".join(selection.approved) or "none",
            )
        if record:
            await self._record(selection, scope, run_id)
        return selection

    async def select_candidates(
        self,
        candidates: Mapping[str, Candidate],
        scope: SelectionScope,
        *,
        min_dsr: float,
        now: datetime | None = None,
        record: bool = True,
        run_id: str | None = None,
    ) -> Selection:
        """Select among per-token choices (:func:`~algo_trade_token_selector.evaluate_candidates`) and
        (by default) store the selection, each token's choice in its details."""
        at = now or datetime.now(UTC)
        selection = evaluate_candidates(candidates, self.criteria, at, min_dsr=min_dsr, scope=scope)
        if not candidates:
            logger.warning("token selection: no optimisation choice stored in scope ({})", scope.describe())
        else:
            logger.info(
                "token selection among choices: {} approved: {}",
                len(selection.approved),
                ", ".join(selection.approved) or "none",
            )
        if record:
            await self._record(selection, scope, run_id)
        return selection

    async def _record(self, selection: Selection, scope: SelectionScope, run_id: str | None) -> None:
        await self._db.insert_selection(
            SelectionRecord(
                selected_at=selection.selected_at,
                strategy_name=scope.strategy,
                approved=selection.approved,
                details=[t.to_json() for t in selection.tokens],
                fallback_used=selection.fallback_used,
                run_id=run_id,
            )
        )

    async def select_approved_tokens(self, scope: SelectionScope | None = None) -> list[str]:
        """Return the approved symbols in rank order (and store the selection)."""
        return (await self.select(scope)).approved
