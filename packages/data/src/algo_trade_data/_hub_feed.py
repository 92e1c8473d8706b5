"""The market-data hub's state: one feed per exchange subscription, its counters, closed bars.

Kept apart from :mod:`algo_trade_data._market_hub` (the connection, messages, backfill and repair) so
each module stays readable on its own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from loguru import logger

from algo_trade_core import ExchangeError, ms_to_datetime
from algo_trade_data._candle_recorder import CandleRecorder
from algo_trade_data._candles import HyperliquidCandle
from algo_trade_data._closed_bar import CandleSubscription, ClosedBar
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._refresh import refresh_candles

__all__ = [
    "BACKFILL_ROUNDS",
    "LEGACY_GREETING",
    "MAX_NEW_CONNECTIONS_PER_MINUTE",
    "MAX_WS_SUBSCRIPTIONS",
    "Feed",
    "HubStats",
    "SubscriptionLimitError",
    "closed_bar",
    "repair_feeds",
]

MAX_WS_SUBSCRIPTIONS = 1000  # per IP (HYPERLIQUID-API.md section 7)
MAX_NEW_CONNECTIONS_PER_MINUTE = 30
LEGACY_GREETING = "Websocket connection established."
BACKFILL_ROUNDS = 3


class SubscriptionLimitError(ExchangeError):
    """More distinct (symbol, interval) candle subscriptions than the exchange allows per IP."""


@dataclass(slots=True)
class HubStats:
    """Counters of a :class:`MarketDataHub` (read them; the hub updates them)."""

    connections_opened: int = 0
    reconnects: int = 0
    messages_received: int = 0  # every text frame: candles, pongs, acks, errors
    candle_messages: int = 0
    closed_bars_delivered: int = 0  # distinct bars, not multiplied by consumers
    subscriptions: int = 0  # exchange subscriptions: distinct (symbol, interval)
    consumers: int = 0
    pings_sent: int = 0
    pongs_received: int = 0
    idle_timeouts: int = 0
    errors_received: int = 0
    stale_updates: int = 0  # pushes of bars already delivered (after a backfill)
    duplicates_dropped: int = 0  # closed bars not delivered because already delivered
    invalid_bars: int = 0
    backfills: int = 0  # REST requests made to fill holes
    backfilled_bars: int = 0
    backfill_failures: int = 0
    repairs: int = 0  # feeds whose store holes were looked for after a reconnect
    repaired_bars: int = 0
    repair_failures: int = 0


@dataclass(eq=False, slots=True)
class Feed:
    """The hub's state for one exchange subscription."""

    symbol: str
    interval: str
    step: int
    consumers: list[CandleSubscription] = field(default_factory=list)
    watermark: int | None = None  # t of the last delivered bar (or the bar before the first wanted)
    first_t: int | None = None  # t of the first bar delivered (the store's holes after it are ours)
    current: dict[str, Any] | None = None  # the latest push of the forming bar
    current_t: int = -1
    acked: bool = False
    held: list[ClosedBar] = field(default_factory=list)  # closed while a backfill runs
    backfill: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.symbol, self.interval

    def subscription(self) -> dict[str, str]:
        return {"type": "candle", "coin": self.symbol, "interval": self.interval}


def closed_bar(
    feed: Feed, candle: HyperliquidCandle, source: Literal["ws", "rest"], pushed_at: Any
) -> ClosedBar:
    return ClosedBar(
        symbol=feed.symbol,
        interval=feed.interval,
        t=candle.t,
        open=float(candle.open),
        high=float(candle.high),
        low=float(candle.low),
        close=float(candle.close),
        volume=float(candle.volume),
        trades=candle.trades,
        candle=candle,
        source=source,
        received_at=time.time(),
        pushed_at=float(pushed_at) if isinstance(pushed_at, int | float) else None,
    )


async def repair_feeds(
    rest: HyperliquidClient, recorder: CandleRecorder, feeds: list[Feed], stats: HubStats
) -> None:
    """Fill the store's holes of each feed since its first delivered bar (after a reconnect).

    Waits for the feeds' backfills (they deliver and record the bars missed while away) and flushes
    the recorder first, so only real holes are asked for; no request at all when there is none.
    """
    backfills = [f.backfill for f in feeds if f.backfill is not None]
    if backfills:
        await asyncio.wait(backfills)
    await recorder.flush()
    for feed in feeds:
        if feed.first_t is None or feed.watermark is None or feed.watermark <= feed.first_t:
            continue
        try:
            report = await refresh_candles(
                rest,
                recorder.store,
                feed.symbol,
                feed.interval,
                ms_to_datetime(feed.first_t),
                ms_to_datetime(feed.watermark),
                tail=False,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next reconnect or refresh tries again; the feed goes on
            stats.repair_failures += 1
            logger.warning("market-data hub: repair of {} {} failed: {}", feed.symbol, feed.interval, exc)
            continue
        stats.repairs += 1
        stats.repaired_bars += report.repaired
        if report.repaired or report.unfilled:
            logger.info("market-data hub: {}", report.message)
