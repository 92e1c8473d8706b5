"""``DatabaseClient``: the asyncpg pool, migrations on connect, TimescaleDB detection, retention.

The table methods live in mixins: candles in :mod:`._db_candles`, coverage and gaps in
:mod:`._db_coverage`, backtest results, runs and selections in :mod:`._db_results`, run liveness in
:mod:`._db_runs`, bots and fills in :mod:`._db_bots`, the history views of the CLI (runs with what
they stored, selections over time) in :mod:`._db_history`, the dashboard's (a token's metrics
across sweeps, whether a token is known) in :mod:`._db_dashboard`, walk-forward studies in
:mod:`._db_walkforward`, the optimisation's runs, trials and choices in :mod:`._db_trials`.

While the server is down, asyncpg's pool keeps trying to restore its minimum of connections and logs
each failure as a warning *with a full traceback* (``asyncpg.pool``: "Failed to restore the pool
connection floor"); with no logging configured Python prints those 30 lines to stderr, in the middle
of the command's own clear error. :class:`_PoolFloorFilter` turns them into one loguru warning a minute.

Usage::

    async with await DatabaseClient.connect(config.database) as db:
        await db.upsert_candles(frame)
        window = await db.query_candles("BTC", "1m", start, end)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.abc import Traversable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import asyncpg
from loguru import logger

from algo_trade_core import DatabaseConfig, DatabaseError, redact_url
from algo_trade_data._db_base import _DB_ERRORS, _wrap, command_count, init_connection
from algo_trade_data._db_bots import BotsMixin
from algo_trade_data._db_candles import CandleStoreMixin
from algo_trade_data._db_coverage import CoverageMixin
from algo_trade_data._db_dashboard import DashboardMixin
from algo_trade_data._db_events import EventsMixin
from algo_trade_data._db_history import HistoryMixin
from algo_trade_data._db_results import ResultsMixin
from algo_trade_data._db_runs import RunsMixin
from algo_trade_data._db_trials import TrialsMixin
from algo_trade_data._db_walkforward import WalkForwardMixin
from algo_trade_data._migrate import (
    AppliedMigration,
    MigrationReport,
    applied_migrations,
    is_license_error,
    migrate,
)

__all__ = ["DatabaseClient", "RetentionReport", "redact_url"]

# Server settings for every pooled connection. JIT compilation costs 50-100 ms on the first big
# query of a connection and buys nothing for these short statements. random_page_cost: the candle
# store is read by primary-key range and stays cached; at the default of 4 the planner prefers a
# bitmap scan plus a sort (spilled to disk beyond work_mem) for a 30-day window over the index scan
# that returns it in order: 42 ms against 28 ms of server time per 43,200-bar window (the first
# executions of a statement on a connection are planned with their values, so a sweep meets it).
_SERVER_SETTINGS = {
    "application_name": "algo-trade",
    "jit": "off",
    "temp_buffers": "128MB",
    "random_page_cost": "1.1",
}


class _PoolFloorFilter(logging.Filter):
    """Drop asyncpg's pool-floor tracebacks; say it once a minute, in one line, through loguru."""

    def __init__(self) -> None:
        super().__init__()
        self._said_at = -math.inf

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("Failed to restore the pool connection floor"):
            return True
        now = time.monotonic()
        if now - self._said_at >= 60.0:
            self._said_at = now
            error = record.exc_info[1] if record.exc_info else None
            reason = f"{type(error).__name__}: {error}" if error is not None else "no connection"
            logger.warning("the database is unreachable ({}); the pool keeps reconnecting", reason)
        return False


def _quiet_pool_floor_warnings() -> None:
    pool_logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _PoolFloorFilter) for f in pool_logger.filters):
        pool_logger.addFilter(_PoolFloorFilter())


_quiet_pool_floor_warnings()


@dataclass(frozen=True, kw_only=True, slots=True)
class RetentionReport:
    """What :meth:`DatabaseClient.apply_retention` removed (rows older than ``cutoff``)."""

    cutoff: datetime
    chunks_dropped: int
    results_deleted: int
    runs_deleted: int
    selections_deleted: int


class DatabaseClient(
    CandleStoreMixin,
    CoverageMixin,
    ResultsMixin,
    RunsMixin,
    BotsMixin,
    EventsMixin,
    HistoryMixin,
    DashboardMixin,
    TrialsMixin,
    WalkForwardMixin,
):
    """The project's PostgreSQL/TimescaleDB store on an asyncpg pool.

    Create it with :meth:`connect`; close it with :meth:`close` or ``async with``. Every method wraps
    asyncpg failures in :class:`~algo_trade_core.DatabaseError` naming the operation; batch writes are
    single transactions, so a failure leaves nothing behind.
    """

    def __init__(self, pool: Any, *, url: str, timescaledb: bool, report: MigrationReport | None) -> None:
        """Wrap an open pool (use :meth:`connect`)."""
        self._pool = pool
        self._url = url
        self._timescaledb = timescaledb
        self._migration_report = report

    @classmethod
    async def connect(
        cls,
        config: DatabaseConfig | str,
        *,
        migrate: bool = True,
        timescaledb: bool | None = None,
        sql_dir: Traversable | Path | None = None,
    ) -> Self:
        """Open the pool and (by default) apply pending migrations.

        Args:
            config: a :class:`~algo_trade_core.DatabaseConfig` or a ``postgresql://`` URL.
            migrate: apply pending migration files first (idempotent, safe on every start).
            timescaledb: None detects it; False keeps plain tables even when the extension exists.
            sql_dir: migration folder (default: the packaged ``algo_trade_data/sql``).

        Raises:
            DatabaseError: the server cannot be reached (the message says how to start it) or a
                migration failed (``MigrationError``).
        """
        cfg = DatabaseConfig(url=config) if isinstance(config, str) else config
        try:
            pool = await asyncpg.create_pool(
                cfg.url,
                min_size=min(cfg.min_connections, cfg.max_connections),
                max_size=cfg.max_connections,
                command_timeout=cfg.command_timeout_s,
                init=init_connection,
                server_settings=_SERVER_SETTINGS,
            )
        except _DB_ERRORS as exc:
            raise DatabaseError(
                f"cannot connect to PostgreSQL at {redact_url(cfg.url)}: {type(exc).__name__}: {exc}. "
                "Is it running? Start the project-local cluster with `make db-up`."
            ) from exc
        try:
            report = None
            skipped: list[str] = []
            license_ = None
            async with pool.acquire() as conn:
                if migrate:
                    report = await _migrate(conn, sql_dir=sql_dir, timescaledb=timescaledb)
                    skipped, license_ = list(report.skipped), report.license
                enabled = await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
                )
                use_timescale = bool(enabled) and timescaledb is not False
                if use_timescale and cfg.retention_days > 0:
                    refused = await _try_retention_policy(conn, cfg.retention_days)
                    if refused:
                        skipped.append(refused)
                        license_ = license_ or await conn.fetchval(
                            "SELECT current_setting('timescaledb.license', true)"
                        )
            if skipped:
                logger.warning(MigrationReport(skipped=skipped, license=license_).skipped_warning() or "")
        except BaseException:
            await pool.close()
            raise
        client = cls(pool, url=cfg.url, timescaledb=use_timescale, report=report)
        client._copy_timeout_s = cfg.command_timeout_s
        return client

    async def close(self) -> None:
        """Close the pool (waits for connections in use to be released)."""
        await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def timescaledb_enabled(self) -> bool:
        """True when the database has the TimescaleDB extension (hypertables, drop_chunks)."""
        return self._timescaledb

    @property
    def url(self) -> str:
        """The connection URL, password removed."""
        return redact_url(self._url)

    @property
    def migration_report(self) -> MigrationReport | None:
        """What the migration run at :meth:`connect` did (None with ``migrate=False``)."""
        return self._migration_report

    @property
    def pool(self) -> Any:
        """The underlying ``asyncpg.Pool`` (for ad-hoc SQL in tools and tests)."""
        return self._pool

    async def applied_migrations(self) -> list[AppliedMigration]:
        """Return the rows of ``schema_migrations`` (version, name, checksum, applied_at, skipped)."""
        async with self._connection("applied_migrations") as conn:
            return await applied_migrations(conn)

    async def hypertables(self) -> list[str]:
        """Return the names of the TimescaleDB hypertables (empty on plain PostgreSQL)."""
        if not self._timescaledb:
            return []
        async with self._connection("hypertables") as conn:
            rows = await conn.fetch(
                "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY hypertable_name"
            )
        return [r["hypertable_name"] for r in rows]

    async def apply_retention(self, days: int) -> RetentionReport:
        """Remove backtest results, finished runs and selections older than ``days`` days.

        Candles, fills and bots are never removed: 1m candles older than the exchange's 5000-bar
        history cannot be fetched again. On TimescaleDB whole chunks of ``backtest_results`` go with
        ``drop_chunks`` first; a ``DELETE`` then removes the older rows left in the boundary chunk
        (and is all there is on plain PostgreSQL). ``days <= 0`` keeps everything.
        """
        cutoff = datetime.now(UTC) - timedelta(days=max(days, 0))
        if days <= 0:
            return RetentionReport(
                cutoff=cutoff, chunks_dropped=0, results_deleted=0, runs_deleted=0, selections_deleted=0
            )
        async with self._transaction(f"apply_retention ({days} days)") as conn:
            chunks = 0
            if self._timescaledb and await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables "
                "WHERE hypertable_name = 'backtest_results')"
            ):
                chunks = len(
                    await conn.fetch(
                        "SELECT drop_chunks('backtest_results', older_than => $1::timestamptz)", cutoff
                    )
                )
            results = await conn.execute("DELETE FROM backtest_results WHERE timestamp < $1", cutoff)
            runs = await conn.execute(
                "DELETE FROM backtest_runs WHERE started_at < $1 AND status <> 'running'", cutoff
            )
            selections = await conn.execute("DELETE FROM token_selections WHERE selected_at < $1", cutoff)
        report = RetentionReport(
            cutoff=cutoff,
            chunks_dropped=chunks,
            results_deleted=command_count(results),
            runs_deleted=command_count(runs),
            selections_deleted=command_count(selections),
        )
        logger.info("retention ({} days): {}", days, report)
        return report


async def _migrate(
    conn: Any, *, sql_dir: Traversable | Path | None, timescaledb: bool | None
) -> MigrationReport:
    try:
        return await migrate(conn, sql_dir=sql_dir, timescaledb=timescaledb, warn=False)
    except _DB_ERRORS as exc:
        raise _wrap("migrate", exc) from exc


async def _try_retention_policy(conn: Any, days: int) -> str | None:
    """Try a TimescaleDB retention policy on backtest_results; return what was refused, or None."""
    try:
        async with conn.transaction():
            await conn.execute("SELECT remove_retention_policy('backtest_results', if_exists => TRUE)")
            await conn.execute(
                "SELECT add_retention_policy('backtest_results', make_interval(days => $1))", days
            )
    except asyncpg.PostgresError as exc:
        if is_license_error(exc):
            return f"retention policy on backtest_results ({days} days)"
        raise _wrap("retention policy", exc) from exc
    return None
