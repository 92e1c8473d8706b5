"""A bot's background writer: fills, events, then the latest bot row, in order, retried until stored.

Trading never waits for the database: the bot hands over what to write and moves on to the next bar.
A slow or unreachable store delays the writes only; they keep their order (the fills of a bar always
reach the store before a row whose ``last_candle_time`` covers that bar), so a crash at any moment
leaves a row from which a restarted bot replays bars and regenerates, under the same ids, exactly the
fills that are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from loguru import logger

from algo_trade_bot_orchestrator._ports import BotStore
from algo_trade_data import BotEventRecord, BotRecord, FillRecord, backoff_delay

__all__ = ["StoreWriter"]


class StoreWriter:
    """Write one bot's fills and its latest row in the background (see the module docstring).

    Only the newest row submitted is written (each row is a complete snapshot); every fill is written.
    Any failure is retried with exponential backoff: besides ``DatabaseError``, a connection killed
    mid-statement can surface as a raw driver error (asyncpg's ``InternalClientError``), and a writer that
    died on one would silently stop recording the bot.
    """

    def __init__(self, store: BotStore, bot_id: str, *, backoff_s: float = 0.2, max_backoff_s: float = 5.0):
        self._store = store
        self._bot_id = bot_id
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._fills: list[FillRecord] = []
        self._events: list[BotEventRecord] = []
        self._record: BotRecord | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.failures = 0  # consecutive failed attempts
        self.last_error: str | None = None

    @property
    def pending_fills(self) -> int:
        """Fills handed over and not yet accepted by the store."""
        return len(self._fills)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"bot {self._bot_id} writer")

    def submit(
        self, fills: Sequence[FillRecord], record: BotRecord | None, events: Sequence[BotEventRecord] = ()
    ) -> None:
        """Queue ``fills`` and ``events`` and (when given) replace the row to write by ``record``."""
        if not fills and record is None and not events:
            return
        self._fills.extend(fills)
        self._events.extend(events)
        if record is not None:
            self._record = record
        self._idle.clear()
        self._wake.set()

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        """Wait until everything submitted is written; False when ``timeout`` seconds passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        """Drain (at most ``timeout`` seconds), then stop; return whether everything was written."""
        drained = await self.drain(timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return drained

    def kill(self) -> None:
        """Stop at once, dropping what is not written (a crash)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._fills or self._events or self._record is not None:
                fills = list(self._fills)
                events = list(self._events)
                record = self._record
                try:
                    if fills:
                        await self._store.insert_fills(fills)
                        del self._fills[: len(fills)]
                    if events:
                        await self._store.insert_bot_events(events)
                        del self._events[: len(events)]
                    if record is not None:
                        await self._store.upsert_bot(record)
                        if self._record is record:  # a newer one may have arrived meanwhile
                            self._record = None
                except Exception as exc:  # any failure: see the class docstring
                    self.failures += 1
                    self.last_error = str(exc)
                    backoff = backoff_delay(
                        self.failures - 1, base_s=self._backoff_s, max_s=self._max_backoff_s, jitter="none"
                    )
                    if self.failures == 1 or self.failures % 10 == 0:
                        logger.warning(
                            "bot {}: store write failed ({} in a row, {} fills waiting), retry in {:.1f} s: "
                            "{}",
                            self._bot_id,
                            self.failures,
                            len(self._fills),
                            backoff,
                            exc,
                        )
                    await asyncio.sleep(backoff)
                    continue
                if self.failures:
                    logger.info("bot {}: store writes resumed after {} failures", self._bot_id, self.failures)
                self.failures = 0
                self.last_error = None
            self._idle.set()
