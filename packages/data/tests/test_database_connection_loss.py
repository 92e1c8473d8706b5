"""A connection the server kills (``pg_terminate_backend``) fails the operation as a DatabaseError.

Whatever asyncpg raises for it (a PostgresError, an InterfaceError, or its InternalClientError when a
statement starts on a connection whose termination it has half read), the caller sees
``algo_trade_core.DatabaseError`` naming the operation, and the pool serves the next operation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import asyncpg
import polars as pl
import pytest

from algo_trade_core import DatabaseError
from algo_trade_data._database import DatabaseClient
from algo_trade_data.testing import resolve_admin_url, temporary_client, truncate_tables

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def victim() -> AsyncIterator[DatabaseClient]:
    """A client of its own: these tests kill its connections, which the session ``db`` need not see."""
    async with temporary_client(max_connections=2) as client:
        yield client


async def database_name(db: DatabaseClient) -> str:
    async with db.pool.acquire() as conn:
        name: str = await conn.fetchval("SELECT current_database()")
    return name


def terminate_backends_while_the_loop_waits(database: str) -> int:
    """Terminate the pool's backends of ``database`` from another thread; return when they are gone.

    Called from a coroutine it blocks the event loop on purpose: asyncpg reads nothing meanwhile, so
    the server's FATAL message and the closed socket both wait in the socket when the loop resumes,
    and the caller decides how many loop iterations asyncpg gets to take them in.
    """

    async def terminate() -> int:
        conn = await asyncpg.connect(resolve_admin_url(), timeout=10)
        try:
            pids = [
                r["pid"]
                for r in await conn.fetch(
                    "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND application_name = 'algo-trade' AND pid <> pg_backend_pid()",
                    database,
                )
            ]
            async with asyncio.timeout(10):
                while True:
                    alive = await conn.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
                    )
                    if not alive:
                        return len(pids)
                    await asyncio.sleep(0.005)
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, terminate()).result(timeout=30)


async def test_an_operation_on_a_connection_the_server_just_killed_is_a_database_error(
    victim: DatabaseClient,
) -> None:
    database = await database_name(victim)
    failures: list[str] = []
    # After the kill, let asyncpg run 0..5 loop iterations before the operation starts: the
    # operation then meets the connection before asyncpg saw anything (a PostgresError), after it
    # read the FATAL message but not the closed socket (asyncpg's InternalClientError: "cannot switch
    # to state 11; another operation (2) is in progress"), or after it noticed the loss (the pool
    # connects again and the operation succeeds). Each way the caller sees a DatabaseError or a result.
    for yields in range(6):
        await victim.list_bots()  # a pooled connection, idle
        assert terminate_backends_while_the_loop_waits(database) >= 1
        for _ in range(yields):
            await asyncio.sleep(0)
        try:
            await victim.list_bots()
        except DatabaseError as exc:  # any other exception fails the test
            failures.append(str(exc))
        assert await victim.list_bots() == []  # the pool replaced the dead connection
    assert failures, "no operation met a killed connection: the test did not test anything"
    assert all(message.startswith("list_bots failed:") for message in failures), failures


async def wait_until_blocked(conn: Any) -> int:
    """Return the pid of the session that waits for a lock ``conn`` holds (polling, 5 s at most)."""
    async with asyncio.timeout(5):
        while True:
            # Inside a transaction pg_stat_activity is a snapshot taken at its first read: clear it.
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            pid = await conn.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.01)


def candles(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "timestamp": pl.datetime_range(
                START, START.replace(minute=n - 1), "1m", time_zone="UTC", eager=True
            ).dt.cast_time_unit("ms"),
            "symbol": "KILL",
            "interval": "1m",
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.5,
            "volume": 10.0,
        }
    )


@pytest.mark.parametrize(
    ("operation", "table", "call"),
    [
        ("list_bots", "bots", lambda db: db.list_bots()),
        ("upsert_candles (5 rows)", "ohlcv", lambda db: db.upsert_candles(candles(5))),
    ],
    ids=["read", "write-transaction"],
)
async def test_an_operation_killed_mid_statement_is_a_database_error(
    victim: DatabaseClient,
    operation: str,
    table: str,
    call: Callable[[DatabaseClient], Awaitable[Any]],
) -> None:
    await truncate_tables(victim)
    async with victim.pool.acquire() as blocker:
        async with blocker.transaction():
            # Hold the table so the operation is caught waiting inside its statement.
            await blocker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            task = asyncio.ensure_future(call(victim))
            waiting = await wait_until_blocked(blocker)
            assert await blocker.fetchval("SELECT pg_terminate_backend($1)", waiting)
            with pytest.raises(DatabaseError) as caught:
                await task
        assert str(caught.value).startswith(f"{operation} failed:")
    # The pool serves the next operation; the killed write left nothing behind.
    assert (await victim.query_candles("KILL", "1m", START, END)).height == 0
    assert await victim.upsert_candles(candles(5)) == 5
    assert await victim.list_bots() == []
