"""Bot events (protection stops, alerts, shadow bots started and ended) as ``bots events --json`` shows them.

One read, :meth:`algo_trade_data.DatabaseClient.list_bot_events` (the call ``algo-trade bots events``
makes); each row is :meth:`algo_trade_data.BotEventRecord.to_json_dict`, oldest first.
"""

from __future__ import annotations

from typing import Any

from algo_trade_dashboard._context import Context

__all__ = ["EVENT_KINDS", "OVERVIEW_EVENTS", "bot_events", "events_view"]

EVENT_KINDS = ("stop", "alert", "shadow_started", "shadow_ended")  # what `bots events --kind` takes
OVERVIEW_EVENTS = 10  # the overview's alerts card: the newest ten


async def bot_events(
    ctx: Context, *, limit: int, bot_id: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` events (of one bot, of one kind), oldest first: ``bots events --json`` rows."""
    rows = await ctx.db.list_bot_events(bot_id=bot_id, kind=kind, limit=limit)
    return [e.to_json_dict() for e in rows]


async def events_view(
    ctx: Context, *, limit: int = 50, bot_id: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    """``/api/events``: ``{"events": bots events --json}``."""
    return {"events": await bot_events(ctx, limit=limit, bot_id=bot_id, kind=kind)}
