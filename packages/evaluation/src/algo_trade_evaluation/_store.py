"""A finished study as database rows (``walkforward_runs`` and ``walkforward_periods``) and back."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from algo_trade_core import datetime_to_ms
from algo_trade_data import DatabaseClient, WalkForwardPeriodRecord, WalkForwardRunRecord
from algo_trade_evaluation._finite import finite
from algo_trade_evaluation._walkforward import WalkForwardResult

__all__ = ["MAX_CURVE_POINTS", "curves_of", "finite", "records_of", "store_walkforward"]

MAX_CURVE_POINTS = 2000
_OPTIMISED = "optimised"  # algo_trade_token_selector.OPTIMISED: each token trades its own chosen set


def curves_of(result: WalkForwardResult) -> dict[str, Any]:
    """The equity curves a plot needs, each reduced to at most :data:`MAX_CURVE_POINTS` bar closes (the
    last bar of each bucket), plus the random baseline's band at every boundary."""
    n = result.grid.n
    stride = max(1, -(-n // MAX_CURVE_POINTS))
    keep = np.unique(np.concatenate((np.arange(stride - 1, n, stride), [n - 1])))
    times = result.grid.times_ms()[keep] + result.grid.step_ms  # each bar's close
    low, median, high = result.random.band() if result.random.draws else (None, None, None)
    boundaries = [datetime_to_ms(p.start) for p in result.periods] + [datetime_to_ms(result.settings.end)]
    curves: dict[str, Any] = finite(
        {
            "t": times.tolist(),
            "selection": result.selection.equity[keep].tolist(),
            "universe": result.universe.equity[keep].tolist(),
            "buy_hold": result.buy_hold_equity[keep].tolist(),
            "selection_capital": result.selection.sleeves * result.selection.capital,
            "universe_capital": result.universe.sleeves * result.universe.capital,
            "reduced_from": n,
            "boundaries": boundaries,
            "random_p05": None if low is None else low.tolist(),
            "random_median": None if median is None else median.tolist(),
            "random_p95": None if high is None else high.tolist(),
        }
    )
    return curves


def records_of(
    result: WalkForwardResult, run_id: str | None = None
) -> tuple[WalkForwardRunRecord, list[WalkForwardPeriodRecord]]:
    settings = result.settings
    run = WalkForwardRunRecord(
        run_id=run_id or uuid.uuid4().hex,
        range_start=settings.start,
        range_end=settings.end,
        interval=settings.interval,
        strategy_name=settings.strategy if result.optimisation is None else _OPTIMISED,
        params_hash=settings.params_hash,
        settings=finite(settings.to_json()),
        summary=finite(result.summary_json()),
        statistics=finite(result.statistics),
        curves=curves_of(result),
        verdict=result.verdict,
    )
    periods = [
        WalkForwardPeriodRecord(
            period_start=p.start,
            period_end=p.end,
            approved=list(p.approved),
            fallback=p.fallback,
            turnover=p.turnover.jaccard_distance,
            ic=finite(p.ic),
            selection_return=p.selection_return,
            universe_return=p.universe_return,
            random_median_return=finite(p.random_median_return),
            token_returns=finite(p.token_returns),
            details=finite(
                {
                    "skipped": p.skipped,
                    "added": list(p.turnover.added),
                    "removed": list(p.turnover.removed),
                    "scores": p.scores,
                    "missing": p.missing,
                    "regimes": p.regimes,
                    "approved_pnl": p.approved_pnl,
                    **({"choices": p.choices} if p.choices else {}),
                }
            ),
        )
        for p in result.periods
    ]
    return run, periods


async def store_walkforward(db: DatabaseClient, result: WalkForwardResult, run_id: str | None = None) -> str:
    """Store the study and its periods in one transaction; return its id."""
    run, periods = records_of(result, run_id)
    await db.insert_walkforward(run, periods)
    return run.run_id
