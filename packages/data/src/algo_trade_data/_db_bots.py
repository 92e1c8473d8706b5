"""Bots (what a restarted daemon brings back) and fills (idempotent on ``fill_id``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from algo_trade_core import Fill
from algo_trade_data._db_base import _DatabaseBase, command_count, require_aware
from algo_trade_data._records import BotRecord, FillRecord

if TYPE_CHECKING:
    from algo_trade_data._binary_rows import FillColumns

__all__ = ["BotsMixin"]

_BOT_COLUMNS = tuple(f.name for f in fields(BotRecord))
_UPSERT_BOT = (
    f"INSERT INTO bots ({', '.join(_BOT_COLUMNS)}) "  # noqa: S608 - identifiers are module constants; values are bound parameters
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_BOT_COLUMNS) + 1))}) "
    "ON CONFLICT (bot_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _BOT_COLUMNS if c not in ("bot_id", "created_at"))
)
_SELECT_BOTS = f"SELECT {', '.join(_BOT_COLUMNS)} FROM bots"  # noqa: S608 - identifiers are module constants; values are bound parameters

_FILL_COLUMNS = tuple(f.name for f in fields(FillRecord))
_FILL_TYPES = {
    "fill_id": "text",
    "symbol": "text",
    "side": "text",
    "quantity": "numeric",
    "price": "numeric",
    "fee": "numeric",
    "timestamp": "timestamptz",
    "reason": "text",
    "bot_id": "text",
    "exchange": "text",
    "order_id": "text",
}
# One statement for the whole batch: each column travels as one array parameter and unnest() turns
# them back into rows; ON CONFLICT (fill_id) DO NOTHING makes a replayed fill a no-op.
_INSERT_FILLS = (
    f"INSERT INTO fills ({', '.join(_FILL_COLUMNS)}) "  # noqa: S608 - identifiers are module constants; values are bound parameters
    f"SELECT * FROM unnest({', '.join(f'${i}::{_FILL_TYPES[c]}[]' for i, c in enumerate(_FILL_COLUMNS, 1))}) "
    "ON CONFLICT (fill_id) DO NOTHING"
)
_SELECT_FILLS = f"SELECT {', '.join(_FILL_COLUMNS)} FROM fills"  # noqa: S608 - identifiers are module constants; values are bound parameters


# A bot's fills for reconciliation as ONE binary value (decoded by ``_numeric_wire``): per fill, oldest
# first, the time (timestamptz_send), price, quantity and fee (numeric_send), side (1 buy, 0 sell: the
# column's CHECK allows no other) and the reason's 1-based position in the first column, the fills'
# distinct reasons. COLLATE "C": byte order is all the sort needs, and locale collation costs the
# server more than the rest of the query. No per-row objects and no text parsing on the client.
_FILL_COLUMNS_QUERY = """
WITH f AS MATERIALIZED (
    SELECT timestamp, fill_id, side, price, quantity, fee, reason
    FROM fills
    WHERE bot_id = $1 AND ($2::timestamptz IS NULL OR timestamp >= $2)
), names AS (
    SELECT coalesce(array_agg(DISTINCT reason COLLATE "C"), '{}') AS reasons FROM f
)
SELECT names.reasons,
       (SELECT string_agg(timestamptz_send(f.timestamp) || numeric_send(f.price)
                          || numeric_send(f.quantity) || numeric_send(f.fee)
                          || int4send((f.side = 'buy')::int4)
                          || int4send(array_position(names.reasons, f.reason)),
                          ''::bytea ORDER BY f.timestamp, f.fill_id COLLATE "C")
        FROM f) AS rows
FROM names
"""


def _bot(row: Any) -> BotRecord:
    return BotRecord(**dict(row))


def _fill(row: Any) -> FillRecord:
    return FillRecord(**dict(row))


class BotsMixin(_DatabaseBase):
    """Bot and fill methods of :class:`~algo_trade_data.DatabaseClient`."""

    async def upsert_bot(self, record: BotRecord) -> None:
        """Insert a bot or update every column but ``created_at``."""
        require_aware(record.created_at, "created_at")
        require_aware(record.updated_at, "updated_at")
        async with self._connection("upsert_bot") as conn:
            await conn.execute(_UPSERT_BOT, *(getattr(record, c) for c in _BOT_COLUMNS))

    async def get_bot(self, bot_id: str) -> BotRecord | None:
        """Return one bot, or None."""
        async with self._connection("get_bot") as conn:
            row = await conn.fetchrow(f"{_SELECT_BOTS} WHERE bot_id = $1", bot_id)
        return _bot(row) if row is not None else None

    async def list_bots(self, *, state: str | None = None, symbol: str | None = None) -> list[BotRecord]:
        """Return the bots ordered by id (optionally only one state or symbol)."""
        async with self._connection("list_bots") as conn:
            rows = await conn.fetch(
                f"{_SELECT_BOTS} WHERE ($1::text IS NULL OR state = $1) "
                "AND ($2::text IS NULL OR symbol = $2) "
                "ORDER BY bot_id",
                state,
                symbol,
            )
        return [_bot(r) for r in rows]

    async def set_bot_state(self, bot_id: str, state: str, *, error: str | None = None) -> bool:
        """Set a bot's state (and error text, cleared when None); False when there is no such bot."""
        async with self._connection("set_bot_state") as conn:
            status = await conn.execute(
                "UPDATE bots SET state = $2, error = $3, updated_at = $4 WHERE bot_id = $1",
                bot_id,
                state,
                error,
                datetime.now(UTC),
            )
        return command_count(status) == 1

    async def set_bots_state(self, bot_ids: Sequence[str], state: str) -> int:
        """Set the state of several bots in one statement (errors cleared); return how many exist."""
        async with self._connection("set_bots_state") as conn:
            status = await conn.execute(
                "UPDATE bots SET state = $2, error = NULL, updated_at = $3 WHERE bot_id = ANY($1::text[])",
                list(bot_ids),
                state,
                datetime.now(UTC),
            )
        return command_count(status)

    async def delete_bots(self, bot_ids: Sequence[str]) -> int:
        """Delete several bots' rows in one statement (their fills stay); return how many were deleted."""
        async with self._connection("delete_bots") as conn:
            status = await conn.execute("DELETE FROM bots WHERE bot_id = ANY($1::text[])", list(bot_ids))
        return command_count(status)

    async def delete_bot(self, bot_id: str) -> bool:
        """Delete a bot's row (its fills stay); False when there was none."""
        async with self._connection("delete_bot") as conn:
            status = await conn.execute("DELETE FROM bots WHERE bot_id = $1", bot_id)
        return command_count(status) == 1

    async def insert_fills(self, fills: Iterable[FillRecord | Fill]) -> int:
        """Store fills in one statement; return how many were new (known ``fill_id`` are ignored).

        A core :class:`~algo_trade_core.Fill` gets the id :meth:`FillRecord.key_of` derives from its
        fields; pass a :class:`FillRecord` to choose the id.
        """
        records = [f if isinstance(f, FillRecord) else FillRecord.from_fill(f) for f in fills]
        if not records:
            return 0
        for record in records:
            require_aware(record.timestamp, f"fill {record.fill_id} timestamp")
        columns = [[getattr(r, c) for r in records] for c in _FILL_COLUMNS]
        async with self._connection(f"insert_fills ({len(records)} fills)") as conn:
            status = await conn.execute(_INSERT_FILLS, *columns)
        return command_count(status)

    async def list_fills(
        self,
        bot_id: str | None = None,
        symbol: str | None = None,
        *,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[FillRecord]:
        """Return fills oldest first, optionally of one bot and/or symbol, from ``since`` on."""
        if since is not None:
            require_aware(since, "since")
        async with self._connection("list_fills") as conn:
            rows = await conn.fetch(
                f"{_SELECT_FILLS} WHERE ($1::text IS NULL OR bot_id = $1) "
                "AND ($2::text IS NULL OR symbol = $2) "
                "AND ($3::timestamptz IS NULL OR timestamp >= $3) ORDER BY timestamp, fill_id LIMIT $4",
                bot_id,
                symbol,
                since,
                limit,
            )
        return [_fill(r) for r in rows]

    async def query_fill_columns(self, bot_id: str, *, since: datetime | None = None) -> FillColumns:
        """Return a bot's fills from ``since`` on as numpy columns, oldest first (reconciling thousands of
        fills): see :class:`FillColumns`. The server sends the rows as one binary value: no per-row
        objects on the client, no text to parse.
        """
        from algo_trade_data._binary_rows import fill_columns

        if since is not None:
            require_aware(since, "since")
        async with self._connection("query_fill_columns") as conn:
            row = await conn.fetchrow(_FILL_COLUMNS_QUERY, bot_id, since)
        if row is None:  # an aggregate without GROUP BY returns one row; this only guards the type
            return fill_columns([], None)
        return fill_columns(list(row["reasons"]), row["rows"])
