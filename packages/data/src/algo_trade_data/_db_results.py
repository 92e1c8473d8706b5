"""Backtest results, sweep runs and token selections.

Batches go through ``COPY`` (binary) into a temporary table and ONE ``INSERT ... SELECT`` (see
:mod:`._results_batch`), in one transaction together with the run row: a sweep's results are stored
completely or not at all.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from algo_trade_core import DataError, sample_variance
from algo_trade_data._db_base import _DatabaseBase, command_count, require_aware
from algo_trade_data._records import BacktestResultRecord, BacktestRunRecord, RunTrials, SelectionRecord
from algo_trade_data._results_batch import (
    CREATE_STAGE,
    INSERT_STAGED,
    KEYS_STORED,
    RESULT_COLUMNS,
    RESULT_ROW,
    UPSERT_STAGED,
    checked_result,
    stage_rows,
)

__all__ = ["ResultsMixin"]

_RESULT_COLUMNS = RESULT_COLUMNS
_TIMESTAMP_AT = _RESULT_COLUMNS.index("timestamp")
_RESULT_KEY = ("timestamp", "symbol", "strategy_name", "params_hash")
_COLS = ", ".join(_RESULT_COLUMNS)
_ON_CONFLICT = f"ON CONFLICT ({', '.join(_RESULT_KEY)}) DO UPDATE SET " + ", ".join(
    f"{c} = EXCLUDED.{c}" for c in _RESULT_COLUMNS if c not in _RESULT_KEY
)
_INSERT_ONE = (
    f"INSERT INTO backtest_results ({_COLS}) "  # noqa: S608 - identifiers are module constants; values are bound parameters
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_RESULT_COLUMNS) + 1))}) {_ON_CONFLICT}"
)
_SELECT_RESULTS = f"SELECT {_COLS} FROM backtest_results"  # noqa: S608 - identifiers are module constants; values are bound parameters

_RUN_COLUMNS = (
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
_KEEP_WHEN_NULL = ("owner_host", "owner_pid", "heartbeat_at")  # a finish record does not erase them
_UPSERT_RUN = (
    f"INSERT INTO backtest_runs ({', '.join(_RUN_COLUMNS)}) "  # noqa: S608 - identifiers are module constants; values are bound parameters
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_RUN_COLUMNS) + 1))}) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = coalesce(EXCLUDED.{c}, backtest_runs.{c})" if c in _KEEP_WHEN_NULL else f"{c} = EXCLUDED.{c}"
        for c in _RUN_COLUMNS
        if c != "run_id"
    )
)
_SELECT_RUNS = f"SELECT {', '.join(_RUN_COLUMNS)} FROM backtest_runs"  # noqa: S608 - identifiers are module constants; values are bound parameters

_SELECTION_COLUMNS = "id, selected_at, strategy_name, approved, details, fallback_used, run_id"


def _run_args(run: BacktestRunRecord) -> tuple[Any, ...]:
    require_aware(run.started_at, "run.started_at")
    if run.finished_at is not None:
        require_aware(run.finished_at, "run.finished_at")
    if run.heartbeat_at is not None:
        require_aware(run.heartbeat_at, "run.heartbeat_at")
    return (
        run.run_id,
        run.started_at,
        run.finished_at,
        run.status,
        run.tokens_ok,
        run.tokens_failed,
        dict(run.errors),
        dict(run.config),
        run.owner_host,
        run.owner_pid,
        run.heartbeat_at,
    )


async def _move_staged(conn: Any, timestamps: set[datetime]) -> int:
    """INSERT the stage into backtest_results (ON CONFLICT only when a key may exist); return the count."""
    if not await conn.fetchval(KEYS_STORED, list(timestamps)):
        try:
            async with conn.transaction():  # savepoint
                return command_count(await conn.execute(INSERT_STAGED))
        except asyncpg.UniqueViolationError:
            pass  # another session stored one of these results meanwhile: merge instead
    return command_count(await conn.execute(UPSERT_STAGED))


def _run(row: Any) -> BacktestRunRecord:
    return BacktestRunRecord(**dict(row))


def _result(row: Any) -> BacktestResultRecord:
    return BacktestResultRecord(**dict(row))


def _selection(row: Any) -> SelectionRecord:
    fields_ = dict(row)
    fields_["selection_id"] = fields_.pop("id")
    fields_["approved"] = list(fields_["approved"])
    return SelectionRecord(**fields_)


class ResultsMixin(_DatabaseBase):
    """Results, runs and selections methods of :class:`~algo_trade_data.DatabaseClient`."""

    # --- backtest_results --------------------------------------------------------------------

    async def insert_backtest_result(self, record: BacktestResultRecord) -> None:
        """Insert one result, or update it when its key (timestamp, symbol, strategy, params_hash) exists."""
        row = RESULT_ROW(checked_result(record, 0, batch=False))
        async with self._connection("insert_backtest_result") as conn:
            await conn.execute(_INSERT_ONE, *row)

    async def insert_backtest_results_batch(
        self, records: Sequence[BacktestResultRecord], run: BacktestRunRecord | None = None
    ) -> int:
        """Upsert many results in ONE transaction (COPY + one INSERT); optionally upsert their run too.

        The run row is written in the same transaction, after the results, so a sweep is recorded
        completely or not at all. Records repeating a key keep the last one. Returns the number of
        result rows written.

        Raises:
            DataError: a record holds NaN/inf or a naive time (nothing is written).
            DatabaseError: the database refused the batch or went away (nothing is written).
        """
        rows = stage_rows(records)
        run_args = _run_args(run) if run is not None else None
        if not rows and run_args is None:
            return 0
        async with self._transaction(f"insert_backtest_results_batch ({len(rows)} results)") as conn:
            written = 0
            if rows:
                await conn.execute(CREATE_STAGE)
                async with asyncio.timeout(self._copy_timeout_s):
                    await conn.copy_records_to_table("_results_stage", records=rows, columns=RESULT_COLUMNS)
                written = await _move_staged(conn, {row[_TIMESTAMP_AT] for row in rows})
            if run_args is not None:
                await conn.execute(_UPSERT_RUN, *run_args)
        return written

    async def query_latest_backtest_results(
        self,
        strategy_name: str,
        params_hash: str | None = None,
        *,
        since: datetime | None = None,
        interval: str | None = None,
        symbols: Sequence[str] | None = None,
        until: datetime | None = None,
    ) -> dict[str, BacktestResultRecord]:
        """Return each symbol's latest result of ``strategy_name`` (one query).

        "Latest" is the result whose backtest window ends last (then the newest run): a backfill run
        today over an old window never hides the current result of a token.

        Args:
            strategy_name: the strategy.
            params_hash: only this parameter set. Without it, the latest result of any parameter set
                wins; several with the same window end and run time are decided by params_hash order.
            since: ignore results stored before this.
            interval: only results computed on this bar interval.
            symbols: only these symbols (the configured universe); None for every stored symbol.
            until: ignore results whose backtest window ends after this (a selection as of a past
                time must not see results computed on later bars).
        """
        args: list[Any] = [strategy_name]

        def bind(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        # Only the filters that are set: a generic ``($n IS NULL OR col = $n)`` keeps the planner from
        # using the index on (strategy, symbol, params_hash, interval, window end), which is the
        # difference between one index probe per token and reading every stored result of the strategy.
        where = ["strategy_name = $1"]
        if params_hash is not None:
            where.append(f"params_hash = {bind(params_hash)}")
        if interval is not None:
            where.append(f"interval = {bind(interval)}")
        if since is not None:
            where.append(f"timestamp >= {bind(require_aware(since, 'since'))}")
        if until is not None:
            where.append(f"backtest_window_end <= {bind(require_aware(until, 'until'))}")
        order = "backtest_window_end DESC, timestamp DESC, params_hash"
        if symbols is not None:  # the universe: one probe per token
            sql = (
                f"SELECT r.* FROM unnest({bind(list(symbols))}::text[]) AS u(sym) CROSS JOIN LATERAL "  # noqa: S608 - identifiers are module constants; values are bound parameters
                f"(SELECT {_COLS} FROM backtest_results WHERE symbol = u.sym AND {' AND '.join(where)} "
                f"ORDER BY {order} LIMIT 1) r"
            )
        else:  # every stored token (a widened view)
            sql = (
                f"SELECT DISTINCT ON (symbol) {_COLS} FROM backtest_results WHERE {' AND '.join(where)} "  # noqa: S608 - identifiers are module constants; values are bound parameters
                f"ORDER BY symbol, {order}"
            )
        async with self._connection("query_latest_backtest_results") as conn:
            rows = await conn.fetch(sql, *args)
        return {row["symbol"]: _result(row) for row in rows}

    async def query_result_history(
        self,
        symbol: str,
        strategy_name: str | None = None,
        limit: int = 100,
        *,
        params_hash: str | None = None,
    ) -> list[BacktestResultRecord]:
        """Return a symbol's results, newest first (at most ``limit``)."""
        async with self._connection("query_result_history") as conn:
            rows = await conn.fetch(
                f"{_SELECT_RESULTS} WHERE symbol = $1 AND ($2::text IS NULL OR strategy_name = $2) "
                "AND ($3::text IS NULL OR params_hash = $3) "
                "ORDER BY timestamp DESC, strategy_name, params_hash LIMIT $4",
                symbol,
                strategy_name,
                params_hash,
                limit,
            )
        return [_result(r) for r in rows]

    async def query_run_results(self, run_id: str) -> list[BacktestResultRecord]:
        """Return the results a run produced, by symbol, strategy and parameter set."""
        async with self._connection("query_run_results") as conn:
            rows = await conn.fetch(
                f"{_SELECT_RESULTS} WHERE run_id = $1 ORDER BY symbol, strategy_name, params_hash", run_id
            )
        return [_result(r) for r in rows]

    async def query_run_trials(self, run_ids: Sequence[str]) -> list[RunTrials]:
        """Return, per run and interval, how many results it stored and the sample variance of their
        annualised Sharpe ratios (:func:`~algo_trade_core.sample_variance`: the same bits whatever order
        the rows come in, unlike ``var_samp``; read through the run_id index)."""
        if not run_ids:
            return []
        async with self._connection("query_run_trials") as conn:
            rows = await conn.fetch(
                "SELECT run_id, interval, sharpe_ratio FROM backtest_results WHERE run_id = ANY($1::text[]) "
                "ORDER BY run_id, interval",
                sorted(set(run_ids)),
            )
        groups: dict[tuple[str, str], list[float]] = {}
        for r in rows:
            groups.setdefault((r["run_id"], r["interval"]), []).append(float(r["sharpe_ratio"]))
        return [
            RunTrials(
                run_id=run_id,
                interval=interval,
                trials=len(values),
                sharpe_variance=sample_variance(values),
            )
            for (run_id, interval), values in groups.items()
        ]

    # --- backtest_runs -------------------------------------------------------------------------

    async def record_run(self, run: BacktestRunRecord) -> None:
        """Insert or update a run row (every column is taken from ``run``)."""
        args = _run_args(run)
        async with self._connection("record_run") as conn:
            await conn.execute(_UPSERT_RUN, *args)

    async def start_run(
        self,
        *,
        run_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> BacktestRunRecord:
        """Record a run as ``running`` and return it (``run_id`` defaults to a new UUID hex)."""
        run = BacktestRunRecord(
            run_id=run_id or uuid.uuid4().hex,
            started_at=started_at or datetime.now(UTC),
            finished_at=None,
            status="running",
            config=dict(config or {}),
        )
        await self.record_run(run)
        return run

    async def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        tokens_ok: int = 0,
        tokens_failed: int = 0,
        errors: Mapping[str, str] | None = None,
        finished_at: datetime | None = None,
    ) -> BacktestRunRecord:
        """Mark a run finished with its outcome and return the updated row.

        Raises:
            DataError: no run has this id.
        """
        finished = require_aware(finished_at, "finished_at") if finished_at else datetime.now(UTC)
        async with self._connection("finish_run") as conn:
            row = await conn.fetchrow(
                "UPDATE backtest_runs SET finished_at = $2, status = $3, tokens_ok = $4, tokens_failed = $5, "  # noqa: S608 - identifiers are module constants; values are bound parameters
                f"errors = $6 WHERE run_id = $1 RETURNING {', '.join(_RUN_COLUMNS)}",
                run_id,
                finished,
                status,
                tokens_ok,
                tokens_failed,
                dict(errors or {}),
            )
        if row is None:
            raise DataError(f"finish_run: no backtest run with id {run_id!r}")
        return _run(row)

    async def get_run(self, run_id: str) -> BacktestRunRecord | None:
        """Return one run, or None."""
        async with self._connection("get_run") as conn:
            row = await conn.fetchrow(f"{_SELECT_RUNS} WHERE run_id = $1", run_id)
        return _run(row) if row is not None else None

    async def list_runs(self, limit: int = 20, *, status: str | None = None) -> list[BacktestRunRecord]:
        """Return the newest runs first (optionally only those with ``status``)."""
        async with self._connection("list_runs") as conn:
            rows = await conn.fetch(
                f"{_SELECT_RUNS} WHERE ($1::text IS NULL OR status = $1) "
                "ORDER BY started_at DESC, run_id LIMIT $2",
                status,
                limit,
            )
        return [_run(r) for r in rows]

    # --- token_selections ----------------------------------------------------------------------

    async def insert_selection(self, record: SelectionRecord) -> SelectionRecord:
        """Store a selection; return it with its ``selection_id``."""
        require_aware(record.selected_at, "selected_at")
        async with self._connection("insert_selection") as conn:
            row = await conn.fetchrow(
                "INSERT INTO token_selections (selected_at, strategy_name, approved, details, fallback_used, "  # noqa: S608 - identifiers are module constants; values are bound parameters
                f"run_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_SELECTION_COLUMNS}",
                record.selected_at,
                record.strategy_name,
                list(record.approved),
                list(record.details),
                record.fallback_used,
                record.run_id,
            )
        return _selection(row)

    async def latest_selection(self, strategy_name: str | None = None) -> SelectionRecord | None:
        """Return the newest selection (of ``strategy_name``, when given), or None."""
        found = await self.list_selections(strategy_name, limit=1)
        return found[0] if found else None

    async def list_selections(
        self, strategy_name: str | None = None, limit: int = 20
    ) -> list[SelectionRecord]:
        """Return selections, newest first."""
        async with self._connection("list_selections") as conn:
            rows = await conn.fetch(
                f"SELECT {_SELECTION_COLUMNS} FROM token_selections "  # noqa: S608 - identifiers are module constants; values are bound parameters
                "WHERE ($1::text IS NULL OR strategy_name = $1) ORDER BY selected_at DESC, id DESC LIMIT $2",
                strategy_name,
                limit,
            )
        return [_selection(r) for r in rows]
