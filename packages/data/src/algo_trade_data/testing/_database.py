"""Test helpers for every package's test suite: throw-away databases on the local cluster.

::

    from algo_trade_data.testing import temporary_client, truncate_tables

    @pytest.fixture(scope="session")
    async def db():
        async with temporary_client() as client:   # a fresh, migrated database; dropped afterwards
            yield client

The admin URL (a superuser connection to an existing database, used to CREATE and DROP the test
database) comes from ``$ALGO_TRADE_TEST_ADMIN_URL``, else the ``postgres`` database of the
project-local cluster of ``make db-up`` (on ``$ALGO_TRADE_PGPORT``, see
:func:`algo_trade_core.local_database_url`).
When the server cannot be reached these helpers raise :class:`~algo_trade_core.DatabaseError` saying
how to start it: database tests fail loudly instead of skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from algo_trade_core import DatabaseConfig, DatabaseError, local_database_url
from algo_trade_data._database import DatabaseClient, redact_url

__all__ = [
    "ADMIN_URL_ENV",
    "TABLES",
    "default_admin_url",
    "resolve_admin_url",
    "temporary_client",
    "temporary_database",
    "truncate_tables",
]

ADMIN_URL_ENV = "ALGO_TRADE_TEST_ADMIN_URL"
# Every table the migrations create, except schema_migrations.
TABLES = (
    "ohlcv",
    "trades",
    "fills",
    "backtest_results",
    "backtest_runs",
    "token_selections",
    "bots",
    "bot_events",
    "optimisation_runs",
    "optimisation_tokens",
    "parameter_sets",
    "backtest_trials",
    "walkforward_runs",
    "walkforward_periods",
)
_PREFIX = "algo_trade_test_"


def default_admin_url() -> str:
    """Return the ``postgres`` database of the project-local cluster (port ``$ALGO_TRADE_PGPORT``)."""
    return local_database_url("postgres")


def resolve_admin_url(url: str | None = None) -> str:
    """Return ``url``, else ``$ALGO_TRADE_TEST_ADMIN_URL``, else :func:`default_admin_url`."""
    return url or os.environ.get(ADMIN_URL_ENV) or default_admin_url()


def _database_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin_connection(url: str) -> Any:
    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseError(
            f"the test database server at {redact_url(url)} cannot be reached ({type(exc).__name__}: {exc}). "
            f"Start the project-local PostgreSQL with `make db-up`, or point {ADMIN_URL_ENV} at a server "
            "where this user may CREATE DATABASE."
        ) from exc


@asynccontextmanager
async def temporary_database(admin_url: str | None = None) -> AsyncIterator[str]:
    """Create an empty database ``algo_trade_test_<random>``, yield its URL, drop it afterwards.

    The drop uses ``WITH (FORCE)``, so connections left open (a client not closed by a failing test)
    do not keep it alive.

    Raises:
        DatabaseError: the server cannot be reached (the message says to run ``make db-up``).
    """
    url = resolve_admin_url(admin_url)
    name = _PREFIX + secrets.token_hex(6)
    conn = await _admin_connection(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield _database_url(url, name)
    finally:
        conn = await _admin_connection(url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@asynccontextmanager
async def temporary_client(
    admin_url: str | None = None,
    *,
    timescaledb: bool | None = None,
    max_connections: int = 5,
) -> AsyncIterator[DatabaseClient]:
    """Yield a migrated :class:`DatabaseClient` on a fresh temporary database; close and drop it after.

    ``timescaledb=False`` builds plain PostgreSQL tables even when the extension is installed.
    """
    async with temporary_database(admin_url) as url:
        config = DatabaseConfig(url=url, min_connections=1, max_connections=max_connections)
        client = await DatabaseClient.connect(config, timescaledb=timescaledb)
        try:
            yield client
        finally:
            await client.close()


async def truncate_tables(client: DatabaseClient, tables: tuple[str, ...] = TABLES) -> None:
    """Empty the application tables (schema and ``schema_migrations`` stay), e.g. between tests."""
    async with client.pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
