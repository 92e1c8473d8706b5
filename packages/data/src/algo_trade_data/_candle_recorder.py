"""Batched, failure-tolerant recording of closed candles into the candle store.

The live feed closes a bar per coin per interval; writing each one as it closes would make 100 coins
cost 100 store round trips per bar. :class:`CandleRecorder` buffers bars and writes them with one
``upsert_candles`` call per batch: ``flush_s`` seconds after the first bar of a batch arrived (the
bars of every coin close at the same boundary and arrive within milliseconds, so a short linger
catches them all), or as soon as ``batch_bars`` are pending. Nothing waits longer than ``flush_s``,
so a process killed without warning loses at most that much; :meth:`stop` writes the rest. A failing
store is logged and retried with exponential backoff; the bars stay pending (the newest
``max_pending`` of them, should the store stay down for days), and :meth:`add` never blocks or
raises, so recording can never delay or stop the feed.

The flush runs on the event loop that delivers the bars, so it builds the batch's frame in one go:
plain row tuples and ONE ``pl.DataFrame`` (about 1 ms for 100 coins x 5 bars). Building a frame per
series and concatenating them cost 40-60 ms per flush, a stall every bot waiting on a bar felt.
A worker thread would not help: polars holds the GIL while it reads Python objects.
"""

from __future__ import annotations

import asyncio
import contextlib

import polars as pl
from loguru import logger

from algo_trade_data._candles import CANDLE_FRAME_SCHEMA, EXCHANGE, HyperliquidCandle
from algo_trade_data._refresh import CandleStore
from algo_trade_data._retry import backoff_delay

__all__ = ["CandleRecorder"]

_MAX_BACKOFF_S = 30.0
# The rows carry epoch-ms integers; one cast turns the column into CANDLE_FRAME_SCHEMA's timestamp.
_ROW_SCHEMA = pl.Schema({**CANDLE_FRAME_SCHEMA, "timestamp": pl.Int64()})
_Batch = dict[tuple[str, str], dict[int, HyperliquidCandle]]


class CandleRecorder:
    """Buffer closed bars and upsert them into ``store`` in batches (see the module docstring).

    Counters: ``writes`` (successful upserts), ``bars_stored``, ``failures``; ``pending`` is the
    number of bars not yet written.
    """

    def __init__(
        self,
        store: CandleStore,
        *,
        flush_s: float = 0.25,
        batch_bars: int = 500,
        max_pending: int = 200_000,
    ) -> None:
        self.store = store
        self.flush_s = flush_s
        self.batch_bars = batch_bars
        self.max_pending = max_pending
        self.writes = 0
        self.bars_stored = 0
        self.failures = 0
        self._pending: _Batch = {}
        self._count = 0
        self._has_pending = asyncio.Event()  # a batch has started: write it within flush_s
        self._full = asyncio.Event()  # batch_bars reached: write it now
        # One write at a time: a flush() called while the writer task's batch is in flight waits for
        # it, so "flushed" means every bar added before the call is stored (or pending after a failure).
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return self._count

    def add(self, symbol: str, interval: str, candle: HyperliquidCandle) -> None:
        """Queue one closed bar for the next write (a later copy of the same bar replaces it)."""
        bucket = self._pending.setdefault((symbol, interval), {})
        if candle.t not in bucket:
            self._count += 1
        bucket[candle.t] = candle
        self._has_pending.set()
        if self._count >= self.batch_bars:
            self._full.set()

    def start(self) -> None:
        """Start the writer task (needs a running event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="candle-recorder")

    async def stop(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 - bounds the last write
        """Stop the writer and write what is pending; return whether everything was written."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            return await asyncio.wait_for(self.flush(), timeout=timeout)
        except TimeoutError:
            logger.error(
                "candle recorder: the store did not take the last {} bars in {} s", self._count, timeout
            )
            return False

    async def flush(self) -> bool:
        """Write every pending bar now (one upsert); return whether the store took them.

        A write already in flight (the writer task's) completes first: when this returns True, every
        bar added before the call is in the store.
        """
        async with self._writing:
            return await self._write_pending()

    async def _write_pending(self) -> bool:
        if not self._pending:
            return True
        batch, self._pending, self._count = self._pending, {}, 0
        frame = batch_frame(batch)
        try:
            await self.store.upsert_candles(frame)
        except asyncio.CancelledError:
            self._requeue(batch)
            raise
        except Exception as exc:  # a store outage must not stop the feed: keep the bars, retry later
            self.failures += 1
            self._requeue(batch)
            logger.warning("candle recorder: storing {} bars failed ({}); will retry", frame.height, exc)
            return False
        self.writes += 1
        self.bars_stored += frame.height
        return True

    async def _loop(self) -> None:
        failures = 0
        while True:
            if failures:
                await asyncio.sleep(
                    backoff_delay(failures, base_s=self.flush_s, max_s=_MAX_BACKOFF_S, jitter="none")
                )
            else:
                await self._has_pending.wait()  # idle until a bar arrives
                with contextlib.suppress(TimeoutError):  # linger: the rest of the burst joins the batch
                    await asyncio.wait_for(self._full.wait(), timeout=self.flush_s)
            self._full.clear()
            failures = 0 if await self.flush() else failures + 1
            if not self._pending:
                self._has_pending.clear()

    def _requeue(self, batch: _Batch) -> None:
        for key, bucket in batch.items():
            pending = self._pending.setdefault(key, {})
            for t, candle in bucket.items():
                pending.setdefault(t, candle)  # a copy added meanwhile is at least as fresh
        self._count = sum(len(b) for b in self._pending.values())
        if self._count > self.max_pending:  # the store has been down for very long: keep the newest
            keep = max(1, self.max_pending // len(self._pending))
            dropped = 0
            for key, bucket in self._pending.items():
                times = sorted(bucket)
                dropped += max(0, len(times) - keep)
                self._pending[key] = {t: bucket[t] for t in times[-keep:]}
            self._count = sum(len(b) for b in self._pending.values())
            logger.error("candle recorder: store unavailable; dropped the {} oldest unstored bars", dropped)


def batch_frame(batch: _Batch) -> pl.DataFrame:
    """Return the candle frame (``CANDLE_FRAME_SCHEMA``) of every bar of ``batch``, each series by time."""
    rows = [
        (
            t,
            symbol,
            EXCHANGE,
            interval,
            float(c.open),
            float(c.high),
            float(c.low),
            float(c.close),
            float(c.volume),
            c.trades,
        )
        for (symbol, interval), bucket in batch.items()
        for t, c in sorted(bucket.items())
    ]
    frame = pl.DataFrame(rows, schema=_ROW_SCHEMA, orient="row")
    return frame.with_columns(pl.col("timestamp").cast(CANDLE_FRAME_SCHEMA["timestamp"]))
