"""The dashboard's database: opened on first use, opened again after the server was away.

A dashboard must outlive its database: it starts while PostgreSQL is down and recovers when it returns,
without a restart. The asyncpg pool replaces a dead connection on the next acquire, so once a client is
open, an outage only fails the reads made during it; before that, every request tries to open the
client again (at most once per ``retry_s``, so a page reload does not hammer a server that is down).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from algo_trade_core import DatabaseConfig, DatabaseError
from algo_trade_data import DatabaseClient

__all__ = ["Store"]


class Store:
    """Hands out the one :class:`DatabaseClient` of the dashboard.

    Args:
        config: how to connect (ignored when ``client`` is given).
        client: an open client to share (the daemon's); the store does not close it.
        timeout_s: the longest one page may wait for the database before saying it is unreachable.
        retry_s: the shortest time between two attempts to open the client.
    """

    def __init__(
        self,
        config: DatabaseConfig | None = None,
        *,
        client: DatabaseClient | None = None,
        timeout_s: float = 10.0,
        retry_s: float = 1.0,
    ) -> None:
        if config is None and client is None:
            raise ValueError("Store needs a DatabaseConfig or an open DatabaseClient")
        self._config = config
        self._client = client
        self._owned = client is None
        self._lock = asyncio.Lock()
        self._last_attempt = -float("inf")
        self._last_error: DatabaseError | None = None
        self.timeout_s = timeout_s
        self.retry_s = retry_s

    async def client(self) -> DatabaseClient:
        """Return the open client, opening it when needed.

        Raises:
            DatabaseError: the database cannot be reached (the message names it, password removed).
        """
        if self._client is not None:
            return self._client
        async with self._lock:
            opened = self._opened()  # by another request while this one waited for the lock
            if opened is not None:
                return opened
            if time.monotonic() - self._last_attempt < self.retry_s and self._last_error is not None:
                raise self._last_error
            self._last_attempt = time.monotonic()
            assert self._config is not None
            try:
                # No migrations: a dashboard reads, it never changes the schema of the store it shows.
                async with asyncio.timeout(self.timeout_s):
                    self._client = await DatabaseClient.connect(self._config, migrate=False)
            except TimeoutError:
                self._last_error = DatabaseError(f"the database did not answer within {self.timeout_s:g} s")
                raise self._last_error from None
            except DatabaseError as exc:
                self._last_error = exc
                raise
            self._last_error = None
            return self._client

    def _opened(self) -> DatabaseClient | None:
        return self._client

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[DatabaseClient]:
        """Yield the client for one page's reads, all of them within ``timeout_s``.

        Raises:
            DatabaseError: the database is unreachable or did not answer in time.
        """
        try:
            async with asyncio.timeout(self.timeout_s):
                yield await self.client()
        except TimeoutError:
            raise DatabaseError(f"the database did not answer within {self.timeout_s:g} s") from None

    async def close(self) -> None:
        """Close the client when the store opened it."""
        if self._owned and self._client is not None:
            client, self._client = self._client, None
            await client.close()
