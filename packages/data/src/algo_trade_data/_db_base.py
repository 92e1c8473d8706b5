"""What every part of the database client shares: the pool, codecs, and error wrapping.

Every public operation acquires a connection through :meth:`_DatabaseBase._connection` or
:meth:`_DatabaseBase._transaction`, which turn asyncpg's errors (a refused statement, a lost
connection, a timeout) into :class:`~algo_trade_core.DatabaseError` naming the operation. A failure
inside ``_transaction`` rolls the whole transaction back, so a failed batch leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import asyncpg

from algo_trade_core import DatabaseError

__all__ = ["json_dumps", "require_aware"]

# Errors that mean "the database refused or went away". PostgresError covers refused statements and a
# connection that died mid-statement (ConnectionDoesNotExistError); InterfaceError a closed pool or
# connection; OSError refused and reset sockets; TimeoutError the command timeout. InternalClientError
# is what asyncpg raises when a statement starts on a connection the server has just terminated (the
# FATAL message read, the closed socket not yet): "cannot switch to state 11; another operation (2)
# is in progress". It derives from neither PostgresError nor InterfaceError.
_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    asyncio.TimeoutError,
)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact; a float would round it
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a JSON column: {value!r}")


def json_dumps(value: Any) -> str:
    """Serialise for a JSON/JSONB column: Decimals as exact strings; NaN and infinities refused."""
    return json.dumps(value, default=_json_default, allow_nan=False, separators=(",", ":"))


def _jsonb_encode(value: Any) -> bytes:
    # JSONB's binary wire format is a version byte (1) followed by the JSON text. Binary (rather than
    # text) lets the codec serve COPY ... (FORMAT binary) and jsonb[] arrays too.
    return b"\x01" + json_dumps(value).encode()


def _jsonb_decode(data: bytes) -> Any:
    return json.loads(data[1:])


async def init_connection(conn: Any) -> None:
    """Pool ``init``: JSON codecs so JSONB columns take and give Python objects."""
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=json_dumps, decoder=json.loads, schema="pg_catalog")


def require_aware(value: datetime, name: str) -> datetime:
    """Reject naive datetimes: every time in this project is timezone-aware UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return value


def finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def command_count(status: str) -> int:
    """Rows affected, from a command tag such as ``INSERT 0 42`` or ``UPDATE 3``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


class _DatabaseBase:
    """The pool and the error-wrapping acquire helpers the mixins build on."""

    _pool: Any
    _timescaledb: bool
    # asyncpg 0.32's COPY waits for the socket to drain with no timeout of its own: if the server dies
    # mid-COPY the wait never ends, so every COPY runs under this deadline (DatabaseConfig.command_timeout_s).
    _copy_timeout_s: float = 60.0

    @asynccontextmanager
    async def _connection(self, operation: str) -> AsyncIterator[Any]:
        """Acquire a pooled connection; asyncpg failures become ``DatabaseError`` naming ``operation``."""
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except _DB_ERRORS as exc:
            raise _wrap(operation, exc) from exc

    @asynccontextmanager
    async def _transaction(self, operation: str) -> AsyncIterator[Any]:
        """Like :meth:`_connection`, inside one transaction (rolled back on any error)."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield conn
        except _DB_ERRORS as exc:
            raise _wrap(operation, exc) from exc


def _wrap(operation: str, exc: BaseException) -> DatabaseError:
    if isinstance(exc, asyncpg.PostgresError):
        detail = getattr(exc, "detail", None)
        reason = f"{type(exc).__name__}: {exc}" + (f" ({detail})" if detail else "")
        return DatabaseError(f"{operation} failed: {reason}")
    if isinstance(exc, asyncio.TimeoutError):
        return DatabaseError(f"{operation} timed out (command_timeout); nothing of it was committed")
    return DatabaseError(
        f"{operation} failed: the database connection was lost or refused ({type(exc).__name__}: {exc}); "
        "nothing of it was committed"
    )
