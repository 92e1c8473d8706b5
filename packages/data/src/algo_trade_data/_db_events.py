"""Bot events (``bot_events``): protection stops, alerts, shadow bots; idempotent on ``event_key``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any

from algo_trade_data._db_base import _DatabaseBase, command_count, require_aware
from algo_trade_data._records import BotEventRecord

__all__ = ["EventsMixin"]

_COLUMNS = tuple(f.name for f in fields(BotEventRecord))
_INSERT = (
    f"INSERT INTO bot_events ({', '.join(_COLUMNS)}) "  # noqa: S608 - identifiers are module constants; values are bound parameters
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))}) "
    "ON CONFLICT (event_key) DO NOTHING"
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM bot_events"  # noqa: S608 - identifiers are module constants; values are bound parameters


def _event(row: Any) -> BotEventRecord:
    return BotEventRecord(**dict(row))


class EventsMixin(_DatabaseBase):
    """Bot event methods of :class:`~algo_trade_data.DatabaseClient`."""

    async def insert_bot_events(self, events: Iterable[BotEventRecord]) -> int:
        """Store events in one transaction; return how many were new (known ``event_key`` are ignored)."""
        records = list(events)
        if not records:
            return 0
        for record in records:
            require_aware(record.time, f"bot event {record.event_key} time")
        new = 0
        async with self._transaction(f"insert_bot_events ({len(records)} events)") as conn:
            for record in records:
                status = await conn.execute(_INSERT, *(getattr(record, c) for c in _COLUMNS))
                new += command_count(status)
        return new

    async def list_bot_events(
        self,
        *,
        since: datetime | None = None,
        bot_id: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[BotEventRecord]:
        """Return events oldest first (with ``limit``: the newest ``limit`` ones, still oldest first)."""
        if since is not None:
            require_aware(since, "since")
        async with self._connection("list_bot_events") as conn:
            rows = await conn.fetch(
                f"SELECT * FROM ({_SELECT} WHERE ($1::timestamptz IS NULL OR time >= $1) "  # noqa: S608 - identifiers are module constants; values are bound parameters
                "AND ($2::text IS NULL OR bot_id = $2) AND ($3::text IS NULL OR kind = $3) "
                "ORDER BY time DESC, event_key DESC LIMIT $4) newest ORDER BY time, event_key",
                since,
                bot_id,
                kind,
                limit,
            )
        return [_event(r) for r in rows]

    async def latest_bot_events(self, kind: str, strategy_name: str) -> dict[str, BotEventRecord]:
        """Return the latest event of ``kind`` of each symbol of ``strategy_name`` (bot sync's cooldowns)."""
        async with self._connection("latest_bot_events") as conn:
            rows = await conn.fetch(
                f"SELECT DISTINCT ON (symbol) {', '.join(_COLUMNS)} FROM bot_events "  # noqa: S608 - identifiers are module constants; values are bound parameters
                "WHERE kind = $1 AND strategy_name = $2 ORDER BY symbol, time DESC",
                kind,
                strategy_name,
            )
        return {r["symbol"]: _event(r) for r in rows}
