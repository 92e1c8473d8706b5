"""Walk-forward studies: one transaction stores a study and its periods; list and read them back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from algo_trade_data._db_base import _DatabaseBase, require_aware

__all__ = ["WalkForwardMixin", "WalkForwardPeriodRecord", "WalkForwardRunRecord"]


@dataclass(frozen=True, kw_only=True, slots=True)
class WalkForwardRunRecord:
    """One row of ``walkforward_runs``."""

    run_id: str
    range_start: datetime
    range_end: datetime
    interval: str
    strategy_name: str
    params_hash: str
    settings: dict[str, Any]
    summary: dict[str, Any]
    statistics: dict[str, Any]
    curves: dict[str, Any]
    verdict: str
    created_at: datetime | None = None  # set by the database
    periods: int | None = None  # how many periods it stored (set by list_walkforward_runs)


@dataclass(frozen=True, kw_only=True, slots=True)
class WalkForwardPeriodRecord:
    """One row of ``walkforward_periods``."""

    period_start: datetime
    period_end: datetime
    approved: list[str]
    fallback: bool
    turnover: float
    ic: float | None
    selection_return: float
    universe_return: float
    random_median_return: float | None
    token_returns: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


_INSERT_RUN = """
INSERT INTO walkforward_runs (run_id, range_start, range_end, interval, strategy_name, params_hash, settings,
                              summary, statistics, curves, verdict)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11)
"""
_INSERT_PERIOD = """
INSERT INTO walkforward_periods (run_id, period_start, period_end, approved, fallback, turnover, ic,
                                 selection_return, universe_return, random_median_return, token_returns,
                                 details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb)
"""
_SELECT_RUN = """
SELECT run_id, range_start, range_end, interval, strategy_name, params_hash, settings, summary, statistics,
       curves, verdict, created_at
FROM walkforward_runs
"""
_LIST_RUNS = """
SELECT r.run_id, r.range_start, r.range_end, r.interval, r.strategy_name, r.params_hash, r.settings,
       r.summary, r.statistics, CASE WHEN $2 THEN r.curves ELSE '{}'::jsonb END AS curves, r.verdict,
       r.created_at, (SELECT count(*) FROM walkforward_periods p WHERE p.run_id = r.run_id) AS periods
FROM walkforward_runs r
ORDER BY r.created_at DESC, r.run_id LIMIT $1
"""
_FIND_RUN = _SELECT_RUN + "WHERE run_id = $1 OR run_id LIKE $2 ORDER BY created_at DESC LIMIT 2"
_PERIODS = """
SELECT period_start, period_end, approved, fallback, turnover, ic, selection_return, universe_return,
       random_median_return, token_returns, details
FROM walkforward_periods WHERE run_id = $1 ORDER BY period_start
"""


def _json(value: Any) -> str:
    # NaN and infinities are not JSON: a ratio that does not exist is null.
    return json.dumps(value, allow_nan=False, default=str)


class WalkForwardMixin(_DatabaseBase):
    """Walk-forward methods of :class:`~algo_trade_data.DatabaseClient`."""

    async def insert_walkforward(
        self, run: WalkForwardRunRecord, periods: list[WalkForwardPeriodRecord]
    ) -> None:
        """Store a study and every period in one transaction (nothing is stored when any row fails).

        Raises:
            ValueError: a time is not timezone-aware, or a value is not JSON (NaN or infinity).
            DatabaseError: the database refused the batch or went away (nothing is stored).
        """
        for t in (run.range_start, run.range_end, *(p.period_start for p in periods)):
            require_aware(t, "walk-forward time")
        run_row = (
            run.run_id,
            run.range_start,
            run.range_end,
            run.interval,
            run.strategy_name,
            run.params_hash,
            _json(run.settings),
            _json(run.summary),
            _json(run.statistics),
            _json(run.curves),
            run.verdict,
        )
        period_rows = [
            (
                run.run_id,
                p.period_start,
                p.period_end,
                list(p.approved),
                p.fallback,
                p.turnover,
                p.ic,
                p.selection_return,
                p.universe_return,
                p.random_median_return,
                _json(p.token_returns),
                _json(p.details),
            )
            for p in periods
        ]
        async with self._transaction(f"insert_walkforward ({len(periods)} periods)") as conn:
            await conn.execute(_INSERT_RUN, *run_row)
            await conn.executemany(_INSERT_PERIOD, period_rows)

    async def list_walkforward_runs(
        self, limit: int = 20, *, curves: bool = True
    ) -> list[WalkForwardRunRecord]:
        """The newest studies first, with the number of their periods (not the periods themselves).

        Args:
            limit: at most this many studies.
            curves: False leaves each record's ``curves`` empty (``{}``): a list of studies does not
                need their equity curves, the bulk of a row.
        """
        async with self._connection("list_walkforward_runs") as conn:
            rows = await conn.fetch(_LIST_RUNS, limit, curves)
        return [_run(r) for r in rows]

    async def get_walkforward_run(
        self, run_id: str
    ) -> tuple[WalkForwardRunRecord, list[WalkForwardPeriodRecord]] | None:
        """One study and its periods in time order, or None when no study has this id (or prefix)."""
        async with self._connection("get_walkforward_run") as conn:
            rows = await conn.fetch(
                _FIND_RUN,
                run_id,
                run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
            )
            exact = [r for r in rows if r["run_id"] == run_id]
            if not exact and len(rows) != 1:
                return None  # no study, or a prefix that names two
            row = exact[0] if exact else rows[0]
            periods = await conn.fetch(_PERIODS, row["run_id"])
        return _run(row), [_period(p) for p in periods]


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _run(row: Any) -> WalkForwardRunRecord:
    return WalkForwardRunRecord(
        run_id=row["run_id"],
        range_start=row["range_start"],
        range_end=row["range_end"],
        interval=row["interval"],
        strategy_name=row["strategy_name"],
        params_hash=row["params_hash"],
        settings=_load(row["settings"]),
        summary=_load(row["summary"]),
        statistics=_load(row["statistics"]),
        curves=_load(row["curves"]),
        verdict=row["verdict"],
        created_at=row["created_at"],
        periods=row.get("periods"),
    )


def _period(row: Any) -> WalkForwardPeriodRecord:
    return WalkForwardPeriodRecord(
        period_start=row["period_start"],
        period_end=row["period_end"],
        approved=list(row["approved"]),
        fallback=row["fallback"],
        turnover=row["turnover"],
        ic=row["ic"],
        selection_return=row["selection_return"],
        universe_return=row["universe_return"],
        random_median_return=row["random_median_return"],
        token_returns=_load(row["token_returns"]),
        details=_load(row["details"]),
    )
