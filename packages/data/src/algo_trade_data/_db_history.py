"""Read-only history views for the CLI: sweeps with what they stored, selections over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from algo_trade_data._db_base import _DatabaseBase, require_aware
from algo_trade_data._records import BacktestRunRecord, SelectionRecord

__all__ = ["HistoryMixin", "RunOverview"]

_RUN_FIELDS = (
    "run_id",
    "started_at",
    "finished_at",
    "status",
    "tokens_ok",
    "tokens_failed",
    "errors",
    "config",
    "owner_host",
    "owner_pid",
    "heartbeat_at",
)

# The newest runs first, each with the results stored under its id (a run whose batch failed has none).
_RUN_OVERVIEWS = (
    "SELECT r.run_id, r.started_at, r.finished_at, r.status, r.tokens_ok, r.tokens_failed, r.errors, "
    "r.config, r.owner_host, r.owner_pid, r.heartbeat_at, "
    "s.results, s.interval, s.window_start, s.window_end "
    "FROM (SELECT * FROM backtest_runs WHERE ($1::text IS NULL OR status = $1) "
    "      ORDER BY started_at DESC, run_id LIMIT $2) r "
    "LEFT JOIN LATERAL (SELECT count(*) AS results, min(interval) AS interval, "
    "      min(backtest_window_start) AS window_start, max(backtest_window_end) AS window_end "
    "      FROM backtest_results b WHERE b.run_id = r.run_id) s ON TRUE "
    "ORDER BY r.started_at DESC, r.run_id"
)
_SELECTION_HISTORY = (
    "SELECT id, selected_at, strategy_name, approved, details, fallback_used, run_id FROM token_selections "
    "WHERE ($1::text IS NULL OR strategy_name = $1) AND ($2::timestamptz IS NULL OR selected_at >= $2) "
    "ORDER BY selected_at DESC, id DESC LIMIT $3"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunOverview:
    """One sweep as ``runs list`` shows it: the run row plus what it stored.

    ``interval`` and the window come from the stored results, or from the run's recorded configuration
    when it stored none (a failed run); ``None`` when neither says.
    """

    run: BacktestRunRecord
    results: int
    interval: str | None
    window_start: datetime | None
    window_end: datetime | None

    @property
    def seconds(self) -> float | None:
        """Wall-clock duration, or None while the run is still going (or was killed)."""
        if self.run.finished_at is None:
            return None
        return (self.run.finished_at - self.run.started_at).total_seconds()


def _from_config(config: dict[str, Any]) -> tuple[str | None, datetime | None, datetime | None]:
    """Interval and window as the sweep recorded them in ``backtest_runs.config`` (best effort)."""
    scheduler = config.get("scheduler")
    interval = scheduler.get("interval") if isinstance(scheduler, dict) else None
    window = config.get("window")
    bounds: list[datetime | None] = [None, None]
    if isinstance(window, dict):
        for i, key in enumerate(("start", "end")):
            try:
                bounds[i] = datetime.fromisoformat(str(window[key]))
            except (KeyError, ValueError):
                bounds[i] = None
    return (interval if isinstance(interval, str) else None), bounds[0], bounds[1]


def _overview(row: Any) -> RunOverview:
    values = dict(row)
    run = BacktestRunRecord(**{name: values[name] for name in _RUN_FIELDS})
    interval, start, end = values["interval"], values["window_start"], values["window_end"]
    if values["results"] == 0:
        interval, start, end = _from_config(run.config)
    return RunOverview(
        run=run, results=int(values["results"]), interval=interval, window_start=start, window_end=end
    )


class HistoryMixin(_DatabaseBase):
    """History reads of :class:`~algo_trade_data.DatabaseClient` (``runs list``, ``selection history``)."""

    async def run_overviews(self, limit: int = 20, *, status: str | None = None) -> list[RunOverview]:
        """Return the newest ``limit`` sweeps first, each with the number of results it stored."""
        async with self._connection("run_overviews") as conn:
            rows = await conn.fetch(_RUN_OVERVIEWS, status, limit)
        return [_overview(r) for r in rows]

    async def selection_history(
        self, strategy_name: str | None = None, *, limit: int = 50, since: datetime | None = None
    ) -> list[SelectionRecord]:
        """Return the newest ``limit`` selections (since ``since``), oldest first: a time line."""
        if since is not None:
            require_aware(since, "since")
        async with self._connection("selection_history") as conn:
            rows = await conn.fetch(_SELECTION_HISTORY, strategy_name, since, limit)
        out = []
        for row in reversed(rows):
            values = dict(row)
            values["selection_id"] = values.pop("id")
            values["approved"] = list(values["approved"])
            out.append(SelectionRecord(**values))
        return out
