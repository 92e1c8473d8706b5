"""What the market-data hub hands to consumers: closed bars and the subscriptions they arrive on."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from algo_trade_core import ms_to_datetime
from algo_trade_data._candles import HyperliquidCandle

__all__ = ["CandleSubscription", "ClosedBar"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ClosedBar:
    """A closed candle as delivered to consumers (floats for strategies, ``candle`` exact).

    ``source`` says how the hub learned that it closed: ``"ws"`` (a push of the next bar) or
    ``"rest"`` (backfill after a reconnect or a hole). ``received_at`` is ``time.time()`` when the
    hub got the message that closed it; ``pushed_at`` the server's send time of that message when
    the server stamps one (the fake's ``debug_timestamps``), for latency measurements.
    """

    symbol: str
    interval: str
    t: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    candle: HyperliquidCandle
    source: Literal["ws", "rest"] = "ws"
    received_at: float = 0.0
    pushed_at: float | None = None

    @property
    def timestamp(self) -> datetime:
        """The bar's open time (UTC)."""
        return ms_to_datetime(self.t)


class CandleSubscription:
    """One consumer's subscription: closed bars of ``symbol``/``interval`` arrive in :attr:`queue`.

    The queue is unbounded (a slow consumer costs memory, never a lost bar). Leave with
    :meth:`~algo_trade_data._market_hub.MarketDataHub.unsubscribe`.
    """

    _ids = itertools.count(1)

    def __init__(self, symbol: str, interval: str) -> None:
        self.id = next(self._ids)
        self.symbol = symbol
        self.interval = interval
        self.queue: asyncio.Queue[ClosedBar] = asyncio.Queue()
        self.active = True

    async def get(self) -> ClosedBar:
        """Wait for the next closed bar."""
        return await self.queue.get()

    def __repr__(self) -> str:
        state = "active" if self.active else "closed"
        queued = self.queue.qsize()
        return f"CandleSubscription(#{self.id} {self.symbol} {self.interval}, {state}, {queued} queued)"
