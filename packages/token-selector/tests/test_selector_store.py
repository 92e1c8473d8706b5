"""`TokenSelector` on the real database: it ranks the results of its scope and stores its reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from algo_trade_core import SelectionCriteria
from algo_trade_data import DatabaseClient
from algo_trade_token_selector import SelectionScope, TokenSelector

from .conftest import NOW, result


async def test_selection_ranks_only_its_scope_and_stores_structured_reasons(db: DatabaseClient) -> None:
    await db.insert_backtest_results_batch(
        [
            result("BTC", sharpe=2.0),
            result("ETH", sharpe=1.5, win=0.4),
            replace(result("SOL", sharpe=9.0), interval="1h"),  # another interval
            replace(result("BTC", sharpe=9.0), params_hash="p2"),  # another parameter set, same time
            result("OUT", sharpe=9.0),  # outside the universe
        ]
    )
    scope = SelectionScope(strategy="quad_ma", params_hash="p1", interval="1m", symbols=("BTC", "ETH", "SOL"))
    selection = await TokenSelector(db, SelectionCriteria()).select(scope, now=NOW, run_id="run-1")
    assert selection.approved == ["BTC"]
    assert [t.symbol for t in selection.tokens] == ["BTC", "ETH"]
    assert selection.tokens[0].sharpe_ratio == 2.0
    stored = await db.latest_selection("quad_ma")
    assert stored is not None
    assert stored.run_id == "run-1"
    eth = next(d for d in stored.details if d["symbol"] == "ETH")
    assert eth["failed"] == [
        {"criterion": "min_win_rate", "value": 0.4, "threshold": 0.5, "text": "win rate 40.0 % < 50 %"}
    ]
    assert eth["interval"] == "1m"
    assert eth["run_id"] == "run-1"


async def test_a_selection_as_of_a_past_time_does_not_see_later_windows(db: DatabaseClient) -> None:
    await db.insert_backtest_results_batch(
        [result("BTC", sharpe=2.0), result("BTC", sharpe=0.1, age_h=30 * 24)]
    )
    then = NOW - timedelta(days=30)
    selection = await TokenSelector(db, SelectionCriteria(fallback_top_n=0)).select(now=then, record=False)
    assert selection.tokens[0].sharpe_ratio == 0.1
    assert selection.approved == []
    assert await db.latest_selection() is None  # record=False stores nothing
