"""What bots need from the outside world, as small protocols (the seams tests replace).

The real implementations live in ``algo_trade_data``: ``MarketDataHub`` (one WebSocket per process)
satisfies :class:`MarketFeed`, ``DatabaseClient`` satisfies :class:`BotStore` and
``HyperliquidClient`` satisfies :class:`CandleSource`. Tests use :class:`~algo_trade_bot_orchestrator.
MemoryFeed` for the feed and the real local PostgreSQL for the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import polars as pl

from algo_trade_data import BotEventRecord, BotRecord, FillRecord

__all__ = ["BarLike", "BotStore", "CandleSource", "MarketFeed", "SubscriptionLike"]


class BarLike(Protocol):
    """One closed bar as the hub delivers it (``t`` is the open time in epoch ms)."""

    @property
    def symbol(self) -> str: ...
    @property
    def interval(self) -> str: ...
    @property
    def t(self) -> int: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...


class SubscriptionLike(Protocol):
    """A subscription whose queue yields each closed bar once, in time order."""

    @property
    def queue(self) -> asyncio.Queue[Any]: ...


class MarketFeed(Protocol):
    """Closed candles of many (symbol, interval) pairs, multiplexed on one connection."""

    async def subscribe(self, symbol: str, interval: str) -> Any: ...

    async def unsubscribe(self, subscription: Any) -> None: ...


class BotStore(Protocol):
    """The slice of ``DatabaseClient`` bots use."""

    async def upsert_bot(self, record: BotRecord) -> None: ...

    async def get_bot(self, bot_id: str) -> BotRecord | None: ...

    async def list_bots(self) -> Sequence[BotRecord]: ...

    async def insert_fills(self, fills: Sequence[FillRecord]) -> int: ...

    async def query_candles(
        self, symbol: str, interval: str, start: datetime, end: datetime, exchange: str = ...
    ) -> pl.DataFrame: ...

    async def upsert_candles(self, frame: pl.DataFrame) -> int: ...

    async def insert_bot_events(self, events: Sequence[BotEventRecord]) -> int: ...

    async def latest_bot_events(self, kind: str, strategy_name: str) -> dict[str, BotEventRecord]: ...


class CandleSource(Protocol):
    """Recent closed candles over REST (``HyperliquidClient``): the warm-up's fallback."""

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int, *, now_ms: int | None = None
    ) -> pl.DataFrame: ...
