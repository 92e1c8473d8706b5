"""Is a daemon running the bots? A shared advisory lock that lives exactly as long as the daemon.

Bot rows say ``running`` from the moment a daemon starts them until something stops them, so a row
alone cannot tell a trading bot from one whose daemon died. Each daemon therefore holds a session-level
shared advisory lock (key :data:`DAEMON_LOCK`) on one of its database connections, and names that
connection ``algo-trade daemon pid=<pid> host=<host>``. PostgreSQL releases the lock when the
connection closes, whether the daemon stopped cleanly, crashed or was killed with SIGKILL (the kernel
closes its socket), so there is no stale pid file or heartbeat row to clean up, and it works from any
machine that reaches the database. ``algo-trade bots list`` and ``bots stop`` read ``pg_locks`` to see
which daemons hold it. The lock is shared, so it never blocks a second daemon; ``bots list`` says when
two run at once (they would both trade the same bots).

The daemon's lock costs it one pooled connection for its lifetime.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient

__all__ = ["DAEMON_LOCK", "DaemonPresence", "announce_daemon", "live_daemons"]

# Two int4 keys ("algo", "daem" in ASCII): pg_locks shows them as classid, objid with objsubid 2.
DAEMON_LOCK = (0x616C676F, 0x6461656D)
_APP_PREFIX = "algo-trade daemon"
_NAME = re.compile(r"pid=(?P<pid>\d+) host=(?P<host>\S+)")

_LIVE_QUERY = """
SELECT a.pid AS backend_pid, a.application_name, a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.classid = $1::int8::oid AND l.objid = $2::int8::oid AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY a.backend_start
"""


@dataclass(frozen=True, slots=True)
class DaemonPresence:
    """One live daemon, as PostgreSQL sees its connection."""

    backend_pid: int
    application_name: str
    since: datetime | None

    @property
    def pid(self) -> int | None:
        """The daemon's process id on its host (None when the connection name is hidden)."""
        match = _NAME.search(self.application_name)
        return int(match["pid"]) if match else None

    @property
    def host(self) -> str | None:
        match = _NAME.search(self.application_name)
        return match["host"] if match else None

    def describe(self) -> str:
        where = f"pid {self.pid} on {self.host}" if self.pid is not None else "details hidden"
        since = f", since {self.since:%Y-%m-%d %H:%M} UTC" if self.since is not None else ""
        return f"{where}{since}"


@asynccontextmanager
async def announce_daemon(db: DatabaseClient) -> AsyncIterator[None]:
    """Hold the daemons' shared lock on a dedicated connection until the block exits."""
    name = f"{_APP_PREFIX} pid={os.getpid()} host={socket.gethostname()}"[:63]  # NAMEDATALEN - 1
    async with db.pool.acquire() as conn:
        await conn.execute("SELECT set_config('application_name', $1, false)", name)
        await conn.execute("SELECT pg_advisory_lock_shared($1, $2)", *DAEMON_LOCK)
        try:
            yield
        finally:
            # Releasing the connection to the pool resets it too (pg_advisory_unlock_all, RESET ALL);
            # a connection that died has lost the lock already.
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock_shared($1, $2)", *DAEMON_LOCK)


async def live_daemons(db: DatabaseClient) -> list[DaemonPresence]:
    """Return the daemons whose lock is held on this database, oldest first.

    Raises:
        DatabaseError: the database cannot be read (like every other read of the store).
    """
    async with db._connection("reading the live daemons") as conn:  # the data package's own helper
        rows = await conn.fetch(_LIVE_QUERY, *DAEMON_LOCK)
    return [
        DaemonPresence(
            backend_pid=int(r["backend_pid"]),
            application_name=r["application_name"] or "",
            since=r["backend_start"],
        )
        for r in rows
    ]
