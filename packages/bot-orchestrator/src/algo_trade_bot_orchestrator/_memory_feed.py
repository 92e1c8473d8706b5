"""An in-process market feed: the :class:`MarketFeed` of tests, replays and demos without a network."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

__all__ = ["FeedBar", "MemoryFeed", "MemorySubscription", "bars_from_frame"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedBar:
    """One closed bar, shaped like the hub's ``ClosedBar`` (``t``: open time, epoch ms)."""

    symbol: str
    interval: str
    t: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int = 0


@dataclass(eq=False, slots=True)
class MemorySubscription:
    """One subscriber's queue of closed bars."""

    symbol: str
    interval: str
    queue: asyncio.Queue[FeedBar] = field(default_factory=asyncio.Queue)


class MemoryFeed:
    """Closed bars published by the caller, fanned out to every subscriber of the (symbol, interval).

    Like the hub, it delivers what is published after a subscription exists, in publication order.
    """

    def __init__(self) -> None:
        self._subs: dict[tuple[str, str], list[MemorySubscription]] = {}
        self.subscribe_calls = 0

    async def subscribe(self, symbol: str, interval: str) -> MemorySubscription:
        """Return a new subscription to the closed bars of ``symbol``/``interval``."""
        sub = MemorySubscription(symbol, interval)
        self._subs.setdefault((symbol, interval), []).append(sub)
        self.subscribe_calls += 1
        return sub

    async def unsubscribe(self, subscription: MemorySubscription) -> None:
        """Stop delivering to ``subscription`` (unknown subscriptions are ignored)."""
        subs = self._subs.get((subscription.symbol, subscription.interval), [])
        if subscription in subs:
            subs.remove(subscription)

    def publish(self, bar: FeedBar) -> int:
        """Deliver ``bar`` to its subscribers; return how many got it."""
        subs = self._subs.get((bar.symbol, bar.interval), [])
        for sub in subs:
            sub.queue.put_nowait(bar)
        return len(subs)

    def subscribers(self, symbol: str, interval: str) -> int:
        """Return how many subscriptions ``symbol``/``interval`` has."""
        return len(self._subs.get((symbol, interval), []))

    @property
    def active_subscriptions(self) -> int:
        return sum(len(subs) for subs in self._subs.values())


def bars_from_frame(frame: pl.DataFrame, *, symbol: str, interval: str) -> Iterator[FeedBar]:
    """Yield the rows of a candle frame (``timestamp`` or freqtrade ``date`` column) as bars."""
    time_col = "timestamp" if "timestamp" in frame.columns else "date"
    times = frame[time_col]
    ms = times.dt.epoch("ms") if times.dtype.is_temporal() else times.cast(pl.Int64)
    for t, o, h, lo, c, v in zip(
        ms.to_list(),
        frame["open"].cast(pl.Float64).to_list(),
        frame["high"].cast(pl.Float64).to_list(),
        frame["low"].cast(pl.Float64).to_list(),
        frame["close"].cast(pl.Float64).to_list(),
        frame["volume"].cast(pl.Float64).to_list(),
        strict=True,
    ):
        yield FeedBar(symbol=symbol, interval=interval, t=int(t), open=o, high=h, low=lo, close=c, volume=v)
