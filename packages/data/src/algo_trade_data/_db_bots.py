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
    import polars as pl

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


# Side and reason are short words without commas or quotes (written by the bots), so plain CSV holds.
_FILL_COLUMNS_QUERY = """
SELECT string_agg(concat_ws(',', (date_part('epoch', timestamp) * 1000)::int8, side, price, quantity, fee,
                            reason), E'\\n' ORDER BY timestamp, fill_id)
FROM fills
WHERE bot_id = $1 AND ($2::timestamptz IS NULL OR timestamp >= $2)
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

    async def query_fill_columns(self, bot_id: str, *, since: datetime | None = None) -> pl.DataFrame:
        """Return a bot's fills from ``since`` on as columns, oldest first (reconciling thousands of fills).

        Columns: ``t`` (epoch ms, Int64), ``side`` ("buy" | "sell"), ``price``, ``quantity``, ``fee``
        (Float64: the stored decimals parsed to the nearest float), ``reason``. Like the candle read,
        the server renders the rows as one CSV text value: no per-row objects on the client.
        """
        import io

        import polars as pl

        if since is not None:
            require_aware(since, "since")
        async with self._connection("query_fill_columns") as conn:
            text = await conn.fetchval(_FILL_COLUMNS_QUERY, bot_id, since)
        schema = {
            "t": pl.Int64(),
            "side": pl.String(),
            "price": pl.Float64(),
            "quantity": pl.Float64(),
            "fee": pl.Float64(),
            "reason": pl.String(),
        }
        if not text:
            return pl.DataFrame(schema=schema)
        return pl.read_csv(
            io.BytesIO(text.encode()), has_header=False, new_columns=list(schema), schema=schema
        )
