"""Live bot state for open pages, as server-sent events.

The bots may run in another process (the daemon), so the dashboard watches the store: ONE poller per
server reads the bots every ``poll_interval_s`` while at least one page listens, and pushes a ``bots``
event (the ``bots list --json`` rows) to every stream when they changed. A ``database`` event says when
the store became unreachable and when it is back; a comment line every 15 s keeps proxies from closing
an idle stream. A new stream gets the current state at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web
from loguru import logger

from algo_trade_core import AlgoTradeError
from algo_trade_dashboard._shapes import bots_json
from algo_trade_dashboard._store import Store

__all__ = ["BotEvents"]

HEARTBEAT_S = 15.0


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _changed(before: list[dict[str, Any]] | None, after: list[dict[str, Any]]) -> bool:
    """Whether a bot changed between two reads (``last_seen_seconds`` grows by itself: not a change)."""
    if before is None:
        return True
    return [_settled(b) for b in before] != [_settled(b) for b in after]


def _settled(bot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bot.items() if k != "last_seen_seconds"}


class BotEvents:
    """The bot-state poller and the streams it feeds."""

    def __init__(self, store: Store, poll_interval_s: float) -> None:
        self._store = store
        self._interval = poll_interval_s
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._bots: list[dict[str, Any]] | None = None
        self._database: dict[str, Any] = {"ok": True, "message": None}
        self.polls = 0

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def _read(self) -> None:
        try:
            async with self._store.reading() as db:
                bots = await bots_json(db, await db.list_bots())
        except AlgoTradeError as exc:
            if self._database["ok"]:
                self._database = {"ok": False, "message": f"{type(exc).__name__}: {exc}"}
                self._broadcast(_event("database", self._database))
            return
        finally:
            self.polls += 1
        if not self._database["ok"]:
            self._database = {"ok": True, "message": None}
            self._broadcast(_event("database", self._database))
        if _changed(self._bots, bots):  # a bot changed, not only the time since its last write
            self._bots = bots
            self._broadcast(_event("bots", bots))

    def _broadcast(self, message: bytes) -> None:
        for queue in self._queues:
            queue.put_nowait(message)

    async def _poll(self) -> None:
        try:
            while self._queues:
                try:
                    await self._read()
                except Exception:  # a bug in one read must not end live updates for good
                    logger.exception("dashboard: reading the bots for live updates failed")
                await asyncio.sleep(self._interval)  # the poll period itself, not a wait for work
        finally:
            self._task = None

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """The ``/api/stream`` handler: an event stream until the page goes away."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queues.add(queue)
        if self._bots is not None:
            queue.put_nowait(_event("bots", self._bots))
        if not self._database["ok"]:
            queue.put_nowait(_event("database", self._database))
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="dashboard bot events")
        try:
            await response.write(b"retry: 3000\n\n")
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT_S):
                        message = await queue.get()
                except TimeoutError:
                    message = b": heartbeat\n\n"
                if message is None:  # the server stops: end the stream (the page reconnects)
                    break
                await response.write(message)
        except ConnectionResetError:
            pass  # the page went away
        finally:
            self._queues.discard(queue)
        return response

    async def close(self) -> None:
        """End every stream and stop the poller (server shutdown: streams would hold it up)."""
        for queue in self._queues:
            queue.put_nowait(None)
        self._queues.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
