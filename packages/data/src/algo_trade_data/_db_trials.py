"""The optimisation's store: runs, per-token fingerprints and choices, parameter sets, every trial.

Trials arrive in batches (one task: a token and a chunk of its parameter sets); each batch is one
transaction: its new parameter sets, its trial rows (binary ``COPY``) and the run's progress. A batch
is stored completely or not at all, so an interrupted run resumes from whole tasks.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from algo_trade_core import DataError, sample_variance
from algo_trade_data._db_base import _DatabaseBase, require_aware

__all__ = [
    "TRIAL_METRICS",
    "OptimisationRunRecord",
    "TrialBatch",
    "TrialRecord",
    "TrialsMixin",
    "params_key",
]

# The metric columns of backtest_trials, in table order.
TRIAL_METRICS = (
    "sharpe_ratio",
    "total_return",
    "sortino_ratio",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "exposure",
    "skewness",
    "kurtosis",
    "num_trades",
)
_TRIAL_COLUMNS = ("run_time", "run_id", "symbol", "params_key", *TRIAL_METRICS)
_RUN_COLUMNS = (
    "run_id, started_at, finished_at, status, resume_key, interval, window_start, window_end, executor, "
    "tasks_total, tasks_done, config"
)


def params_key(params_hash: str) -> int:
    """The signed 64-bit integer of a 16-hex-digit parameter-set hash (its key in ``backtest_trials``)."""
    value = int(params_hash, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def _hash_of(key: int) -> str:
    return f"{key & ((1 << 64) - 1):016x}"


@dataclass(frozen=True, kw_only=True, slots=True)
class OptimisationRunRecord:
    """One row of ``optimisation_runs``."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    resume_key: str
    interval: str
    window_start: datetime
    window_end: datetime
    executor: str = ""
    tasks_total: int = 0
    tasks_done: int = 0
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class TrialBatch:
    """One task's trials: a token, its parameter sets and their metrics (columns of ``TRIAL_METRICS``)."""

    symbol: str
    params_hashes: Sequence[str]
    strategies: Sequence[str]
    parameters: Sequence[Mapping[str, Any]]
    metrics: Mapping[str, Sequence[float]]


@dataclass(frozen=True, kw_only=True, slots=True)
class TrialRecord:
    """One stored trial with its parameter set."""

    symbol: str
    strategy_name: str
    params_hash: str
    parameters: dict[str, Any]
    sharpe_ratio: float
    total_return: float
    sortino_ratio: float
    max_drawdown: float
    win_rate: float
    profit_factor: float | None
    exposure: float
    skewness: float
    kurtosis: float
    num_trades: int


def _trial_rows(run_id: int, run_time: datetime, batch: TrialBatch) -> list[tuple[Any, ...]]:
    n = len(batch.params_hashes)
    columns = []
    for name in TRIAL_METRICS:
        values: list[float | None] = list(batch.metrics[name])
        if len(values) != n:
            raise DataError(f"trials of {batch.symbol}: {name} has {len(values)} values for {n} sets")
        if name == "profit_factor":
            values = [None if v is None or math.isinf(v) else v for v in values]
        elif name == "num_trades":
            values = [int(v or 0) for v in values]
        for i, v in enumerate(values):
            if v is not None and not math.isfinite(v):
                raise DataError(
                    f"trial of {batch.symbol} params_hash={batch.params_hashes[i]}: {name} is not finite "
                    f"({v}); nothing of the batch was written"
                )
        columns.append(values)
    keys = [params_key(h) for h in batch.params_hashes]
    return [(run_time, run_id, batch.symbol, keys[i], *(column[i] for column in columns)) for i in range(n)]


def _run(row: Any) -> OptimisationRunRecord:
    return OptimisationRunRecord(**dict(row))


class TrialsMixin(_DatabaseBase):
    """Optimisation runs and trials methods of :class:`~algo_trade_data.DatabaseClient`."""

    async def start_optimisation_run(
        self,
        *,
        started_at: datetime,
        resume_key: str,
        interval: str,
        window_start: datetime,
        window_end: datetime,
        executor: str,
        tasks_total: int,
        config: Mapping[str, Any],
    ) -> OptimisationRunRecord:
        """Record a new run as ``running`` and return it (with its id)."""
        require_aware(started_at, "started_at")
        async with self._connection("start_optimisation_run") as conn:
            row = await conn.fetchrow(
                "INSERT INTO optimisation_runs (started_at, status, resume_key, interval, window_start, "  # noqa: S608 - identifiers are module constants; values are bound parameters
                "window_end, executor, tasks_total, config) VALUES ($1, 'running', $2, $3, $4, $5, $6, $7, "
                f"$8) RETURNING {_RUN_COLUMNS}",
                started_at,
                resume_key,
                interval,
                window_start,
                window_end,
                executor,
                tasks_total,
                dict(config),
            )
        return _run(row)

    async def resumable_optimisation_run(self, resume_key: str) -> OptimisationRunRecord | None:
        """The newest unfinished run (running, interrupted or failed) with these inputs, or None."""
        async with self._connection("resumable_optimisation_run") as conn:
            row = await conn.fetchrow(
                f"SELECT {_RUN_COLUMNS} FROM optimisation_runs WHERE resume_key = $1 "  # noqa: S608 - identifiers are module constants; values are bound parameters
                "ORDER BY started_at DESC, run_id DESC LIMIT 1",
                resume_key,
            )
        if row is None or row["status"] in ("ok", "partial"):
            return None
        return _run(row)

    async def resume_optimisation_run(self, run_id: int, *, executor: str, tasks_total: int) -> None:
        """Mark an unfinished run running again (with the executor that resumes it)."""
        async with self._connection("resume_optimisation_run") as conn:
            await conn.execute(
                "UPDATE optimisation_runs SET status = 'running', executor = $2, tasks_total = $3 "
                "WHERE run_id = $1",
                run_id,
                executor,
                tasks_total,
            )

    async def finish_optimisation_run(
        self, run_id: int, *, status: str, finished_at: datetime, errors: Mapping[str, str] | None = None
    ) -> None:
        """Record a run's outcome (``errors``: symbol -> reason, kept in its config)."""
        async with self._connection("finish_optimisation_run") as conn:
            await conn.execute(
                "UPDATE optimisation_runs SET status = $2, finished_at = $3, "
                "config = config || jsonb_build_object('errors', $4::jsonb) WHERE run_id = $1",
                run_id,
                status,
                require_aware(finished_at, "finished_at"),
                dict(errors or {}),
            )

    async def get_optimisation_run(self, run_id: int) -> OptimisationRunRecord | None:
        async with self._connection("get_optimisation_run") as conn:
            row = await conn.fetchrow(
                f"SELECT {_RUN_COLUMNS} FROM optimisation_runs WHERE run_id = $1",  # noqa: S608 - identifiers are module constants; values are bound parameters
                run_id,
            )
        return None if row is None else _run(row)

    async def set_trial_token(
        self, run_id: int, symbol: str, *, fingerprint: str, num_bars: int, window_coverage: float
    ) -> bool:
        """Record the bars a token's trials are computed on; return True when stored trials stay valid.

        When the token's stored fingerprint differs (its data changed since the interrupted run), its
        stored trials and choice are deleted in the same transaction and False is returned.
        """
        async with self._transaction(f"set_trial_token ({symbol})") as conn:
            stored = await conn.fetchval(
                "SELECT data_fingerprint FROM optimisation_tokens WHERE run_id = $1 AND symbol = $2",
                run_id,
                symbol,
            )
            if stored == fingerprint:
                return True
            await conn.execute(
                "DELETE FROM backtest_trials WHERE run_id = $1 AND symbol = $2", run_id, symbol
            )
            await conn.execute(
                "INSERT INTO optimisation_tokens (run_id, symbol, data_fingerprint, num_bars, "
                "window_coverage) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, symbol) DO UPDATE SET "
                "data_fingerprint = EXCLUDED.data_fingerprint, num_bars = EXCLUDED.num_bars, "
                "window_coverage = EXCLUDED.window_coverage, choice = NULL",
                run_id,
                symbol,
                fingerprint,
                num_bars,
                window_coverage,
            )
            return False

    async def stored_trial_hashes(self, run_id: int, symbol: str) -> set[str]:
        """The parameter-set hashes whose trials of ``symbol`` this run has stored."""
        async with self._connection("stored_trial_hashes") as conn:
            rows = await conn.fetch(
                "SELECT params_key FROM backtest_trials WHERE run_id = $1 AND symbol = $2", run_id, symbol
            )
        return {_hash_of(r["params_key"]) for r in rows}

    async def insert_trials(self, run: OptimisationRunRecord, batch: TrialBatch) -> int:
        """Store one task's trials, its new parameter sets and the run's progress in ONE transaction.

        Raises:
            DataError: a metric is not finite or a column is short (nothing is written).
            DatabaseError: the database refused the batch or went away (nothing is written).
        """
        rows = _trial_rows(run.run_id, run.started_at, batch)
        sets = {
            params_key(h): (params_key(h), h, s, dict(p))
            for h, s, p in zip(batch.params_hashes, batch.strategies, batch.parameters, strict=True)
        }
        async with self._transaction(f"insert_trials ({batch.symbol}, {len(rows)} trials)") as conn:
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _sets_stage (LIKE parameter_sets) ON COMMIT DELETE ROWS"
            )
            async with asyncio.timeout(self._copy_timeout_s):
                await conn.copy_records_to_table("_sets_stage", records=list(sets.values()))
                await conn.execute(
                    "INSERT INTO parameter_sets SELECT * FROM _sets_stage ON CONFLICT (params_key) DO NOTHING"
                )
                await conn.copy_records_to_table("backtest_trials", records=rows, columns=_TRIAL_COLUMNS)
            await conn.execute(
                "UPDATE optimisation_runs SET tasks_done = tasks_done + 1 WHERE run_id = $1", run.run_id
            )
        return len(rows)

    async def trial_stats(self, run_id: int, symbol: str) -> tuple[int, float]:
        """``(N, variance of the annualised Sharpe ratios)`` of a token's stored trials in a run.

        The variance is :func:`~algo_trade_core.sample_variance` of the stored values (exactly rounded
        sums), not ``var_samp``, whose running sums depend on the order the rows are read in: the same
        trials give the same bits, so a DSR is reproducible between runs and resumes.
        """
        async with self._connection("trial_stats") as conn:
            rows = await conn.fetch(
                "SELECT sharpe_ratio FROM backtest_trials WHERE run_id = $1 AND symbol = $2 "
                "ORDER BY params_key",
                run_id,
                symbol,
            )
        return len(rows), sample_variance(r["sharpe_ratio"] for r in rows)

    async def query_trials(self, run_id: int, symbol: str | None = None) -> list[TrialRecord]:
        """A run's trials (of one token, when given) with their parameter sets."""
        async with self._connection("query_trials") as conn:
            rows = await conn.fetch(
                f"SELECT t.symbol, p.strategy_name, p.params_hash, p.parameters, "  # noqa: S608 - identifiers are module constants; values are bound parameters
                f"{', '.join('t.' + m for m in TRIAL_METRICS)} FROM backtest_trials t "
                "JOIN parameter_sets p USING (params_key) WHERE t.run_id = $1 "
                "AND ($2::text IS NULL OR t.symbol = $2) ORDER BY t.symbol, p.params_hash",
                run_id,
                symbol,
            )
        return [TrialRecord(**dict(r)) for r in rows]

    async def record_choice(self, run_id: int, symbol: str, choice: Mapping[str, Any]) -> None:
        """Store a token's choice (strategy, parameters, metrics, N, DSR) in its run."""
        async with self._connection("record_choice") as conn:
            await conn.execute(
                "UPDATE optimisation_tokens SET choice = $3 WHERE run_id = $1 AND symbol = $2",
                run_id,
                symbol,
                dict(choice),
            )

    async def latest_choices(
        self, interval: str, symbols: Sequence[str] | None = None, *, until: datetime | None = None
    ) -> dict[str, dict[str, Any]]:
        """Each token's choice from the newest finished run whose window ends by ``until``.

        Returns symbol -> the stored choice, with ``run_id``, ``window_start`` and ``window_end`` added.
        """
        async with self._connection("latest_choices") as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT ON (t.symbol) t.symbol, t.choice, r.run_id, r.window_start, r.window_end "
                "FROM optimisation_tokens t JOIN optimisation_runs r USING (run_id) "
                "WHERE r.interval = $1 AND r.status IN ('ok', 'partial') AND t.choice IS NOT NULL "
                "AND ($2::text[] IS NULL OR t.symbol = ANY($2)) "
                "AND ($3::timestamptz IS NULL OR r.window_end <= $3) "
                "ORDER BY t.symbol, r.window_end DESC, r.run_id DESC",
                interval,
                None if symbols is None else list(symbols),
                until,
            )
        return {
            r["symbol"]: {
                **r["choice"],
                "run_id": r["run_id"],
                "window_start": r["window_start"],
                "window_end": r["window_end"],
            }
            for r in rows
        }
