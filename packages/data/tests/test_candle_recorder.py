"""CandleRecorder's batch: one frame per flush, equal to the per-series frames, cheap on the event loop."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

import polars as pl

from algo_trade_data._candle_recorder import CandleRecorder, batch_frame
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA, HyperliquidCandle, candles_to_frame

MINUTE = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000


class FrameStore:
    """A CandleStore that keeps the frames it is given."""

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    async def latest_candle_time(
        self, symbol: str, interval: str, exchange: str = "hyperliquid"
    ) -> datetime | None:
        return None

    async def upsert_candles(self, frame: pl.DataFrame) -> int:
        self.frames.append(frame)
        return frame.height


def bar(t: int, price: str = "1.2345", trades: int = 7) -> HyperliquidCandle:
    p = Decimal(price)
    return HyperliquidCandle(
        t=t,
        T=t + MINUTE - 1,
        open=p,
        high=p * Decimal("1.01"),
        low=p * Decimal("0.99"),
        close=p + Decimal("0.00001"),
        volume=Decimal("123.456"),
        trades=trades,
    )


async def test_a_flush_writes_one_frame_equal_to_the_per_series_frames() -> None:
    store = FrameStore()
    recorder = CandleRecorder(store, flush_s=3600.0)
    recorder.add("BTC", "1m", bar(T0 + 2 * MINUTE, "97000.5"))
    recorder.add("BTC", "1m", bar(T0, "96999"))  # out of order: the frame is still sorted per series
    recorder.add("BTC", "1m", bar(T0 + MINUTE, "1"))
    recorder.add("BTC", "1m", bar(T0 + MINUTE, "96998.25", trades=9))  # replaces the copy before it
    recorder.add("ETH", "1m", bar(T0, "0.000012345"))
    recorder.add("ETH", "5m", bar(T0, "3456.7"))
    assert recorder.pending == 5

    assert await recorder.flush()

    assert len(store.frames) == 1  # one store round trip for every series
    [frame] = store.frames
    assert frame.schema == CANDLE_FRAME_SCHEMA
    expected = pl.concat(
        [
            candles_to_frame(
                [bar(T0, "96999"), bar(T0 + MINUTE, "96998.25", trades=9), bar(T0 + 2 * MINUTE, "97000.5")],
                symbol="BTC",
                interval="1m",
            ),
            candles_to_frame([bar(T0, "0.000012345")], symbol="ETH", interval="1m"),
            candles_to_frame([bar(T0, "3456.7")], symbol="ETH", interval="5m"),
        ]
    )
    assert frame.equals(expected)
    assert (recorder.pending, recorder.writes, recorder.bars_stored) == (0, 1, 5)


def test_batch_frame_of_nothing_is_an_empty_candle_frame() -> None:
    frame = batch_frame({})
    assert (frame.height, frame.schema) == (0, CANDLE_FRAME_SCHEMA)


class GatedStore(FrameStore):
    """A FrameStore whose first write waits until the test opens the gate (a slow database)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = asyncio.Event()
        self.gate = asyncio.Event()

    async def upsert_candles(self, frame: pl.DataFrame) -> int:
        self.writing.set()
        await self.gate.wait()
        return await super().upsert_candles(frame)


async def test_a_flush_returns_only_once_the_write_in_flight_is_stored_too() -> None:
    store = GatedStore()
    recorder = CandleRecorder(store, flush_s=0.0)
    recorder.start()
    try:
        recorder.add("BTC", "1m", bar(T0))
        recorder.add("BTC", "1m", bar(T0 + MINUTE))
        await asyncio.wait_for(store.writing.wait(), 10)  # the writer task took both bars
        assert recorder.pending == 0
        flush = asyncio.create_task(recorder.flush())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not flush.done()  # "flushed" means stored: it waits for the batch being written
        store.gate.set()
        assert await asyncio.wait_for(flush, 10)
        [frame] = store.frames
        assert frame["timestamp"].dt.epoch("ms").to_list() == [T0, T0 + MINUTE]
    finally:
        store.gate.set()
        await recorder.stop()
