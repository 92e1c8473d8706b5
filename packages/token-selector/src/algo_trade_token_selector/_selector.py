"""`TokenSelector`: reads each token's latest result from the database, selects, records the selection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import SelectionCriteria
from algo_trade_data import SelectionRecord

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient
from algo_trade_token_selector._scoring import Selection, evaluate

__all__ = ["TokenSelector"]


class TokenSelector:
    """Select the tokens whose latest backtest results pass the criteria, and store each selection."""

    def __init__(self, db: DatabaseClient, criteria: SelectionCriteria | None = None) -> None:
        self._db = db
        self.criteria = criteria or SelectionCriteria()

    async def select(
        self,
        strategy_name: str | None = None,
        *,
        params_hash: str | None = None,
        interval: str | None = None,
        now: datetime | None = None,
        record: bool = True,
    ) -> Selection:
        """Run one selection and (by default) store it in ``token_selections``."""
        strategy = strategy_name or self.criteria.strategy
        results = await self._db.query_latest_backtest_results(
            strategy, params_hash=params_hash, interval=interval
        )
        selection = evaluate(results, self.criteria, now or datetime.now(UTC), strategy)
        if not results:
            logger.warning("token selection: no backtest results stored for strategy {}", strategy)
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
            await self._db.insert_selection(
                SelectionRecord(
                    selected_at=selection.selected_at,
                    strategy_name=strategy,
                    approved=selection.approved,
                    details=[t.to_json() for t in selection.tokens],
                    fallback_used=selection.fallback_used,
                )
            )
        return selection

    async def select_approved_tokens(self, strategy_name: str | None = None) -> list[str]:
        """Return the approved symbols in rank order (and store the selection)."""
        return (await self.select(strategy_name)).approved
