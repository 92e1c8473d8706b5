"""One shared Hyperliquid WebSocket feed of closed candles for every consumer in a process.

:class:`MarketDataHub` keeps **one** aiohttp WebSocket connection to ``HyperliquidConfig.ws_url``
(the exchange allows 10 connections and 1000 subscriptions per IP) and multiplexes the candle
subscriptions of every consumer: consumers of the same (symbol, interval) share one exchange
subscription, which is dropped when the last of them leaves.

Closed candles: the exchange re-sends the forming bar as it updates, always the whole bar so far; a
push with a newer ``t`` means the previous bar closed, and the last update seen for it holds its
final values. That bar is delivered once, as a :class:`ClosedBar`, to the queue of every
subscriber, in ascending ``t`` per (symbol, interval) and never twice (only ``t`` above the last
delivered one goes out).

Reconnects: a server close, a network error or silence for ``idle_timeout_s`` (the exchange pings
back within a ping interval, so silence means a dead link) reconnect with exponential backoff and
jitter, at most 30 new connections a minute. The hub re-sends every subscription and backfills over
REST (``HyperliquidClient.fetch_candles`` from the bar after the last delivered one) the bars that
closed meanwhile; the bar that was forming at the drop is never taken from the stream, because its
last update may have been lost. A push-detected bar that leaves a hole after the last delivered one
is held back until the hole is backfilled, so delivery stays in order.

Recording: every delivered bar is also upserted into the candle store (the exchange keeps only 5000
bars) through a :class:`~algo_trade_data._candle_recorder.CandleRecorder`: batched writes, a failing
store logged and retried, never delaying or stopping delivery.

Repair after a reconnect: the backfill keeps *delivery* gapless, but the store can still miss bars (a
backfill that failed, bars the recorder dropped while the store was down for long, an invalid bar).
After every reconnect, once the backfills are done and the recorder flushed, the hub asks the store's
gap finder for the holes of each feed since its first delivered bar and fills them over REST
(:func:`~algo_trade_data._refresh.refresh_candles` without the tail: nothing is asked when there is no
hole).

Consumers should subscribe first, then warm up from the store or REST, then skip bars whose ``t`` is
not newer than their warm-up data: the hub delivers bars closing after the subscription, not
before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import deque
from types import TracebackType
from typing import Any, Self

import aiohttp
from loguru import logger

from algo_trade_core import INTERVALS, AlgoTradeError, ExchangeError, HyperliquidConfig, ms_to_datetime
from algo_trade_data._candle_recorder import CandleRecorder
from algo_trade_data._candles import parse_candle
from algo_trade_data._closed_bar import CandleSubscription, ClosedBar
from algo_trade_data._hub_feed import (
    BACKFILL_ROUNDS,
    LEGACY_GREETING,
    MAX_NEW_CONNECTIONS_PER_MINUTE,
    MAX_WS_SUBSCRIPTIONS,
    Feed,
    HubStats,
    SubscriptionLimitError,
    closed_bar,
    repair_feeds,
)
from algo_trade_data._hyperliquid import HyperliquidClient
from algo_trade_data._refresh import CandleStore
from algo_trade_data._retry import backoff_delay

__all__ = [
    "MAX_WS_SUBSCRIPTIONS",
    "CandleSubscription",
    "ClosedBar",
    "HubStats",
    "MarketDataHub",
    "SubscriptionLimitError",
]


class MarketDataHub:
    """The process's single Hyperliquid candle feed (see the module docstring).

    Args:
        config: ``ws_url``, ``ping_interval_s`` (50 s) and the backoff settings are used.
        rest: REST client for backfills; without one, bars missed while disconnected stay missed.
        store: where every closed bar is upserted (see :attr:`recorder`); None records nothing.
        session: the aiohttp session to connect with (left open); default: the hub's own.
        idle_timeout_s: reconnect when nothing arrived for this long.
        close_margin_ms: a backfill takes only bars that closed at least this long before the REST
            client's clock, in case that clock runs ahead of the exchange's.
        store_flush_s: a closed bar waits at most this long before it is written to the store.
        store_batch_bars: write as soon as this many bars are pending.
        max_subscriptions: distinct (symbol, interval) subscriptions allowed.
        max_connections_per_minute: connection attempts allowed in any 60 s (the exchange: 30).
        rng: jitter source for reconnect backoff (a seam for tests).
    """

    def __init__(
        self,
        config: HyperliquidConfig,
        *,
        rest: HyperliquidClient | None = None,
        store: CandleStore | None = None,
        session: aiohttp.ClientSession | None = None,
        idle_timeout_s: float = 60.0,
        close_margin_ms: int = 2_000,
        store_flush_s: float = 0.25,
        store_batch_bars: int = 500,
        max_subscriptions: int = MAX_WS_SUBSCRIPTIONS,
        max_connections_per_minute: int = MAX_NEW_CONNECTIONS_PER_MINUTE,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.stats = HubStats()
        self.idle_timeout_s = idle_timeout_s
        self.close_margin_ms = close_margin_ms
        self.max_subscriptions = max_subscriptions
        self.max_connections_per_minute = max_connections_per_minute
        self._rest = rest
        self.recorder = (
            None
            if store is None
            else CandleRecorder(store, flush_s=store_flush_s, batch_bars=store_batch_bars)
        )
        self._session = session
        self._owns_session = session is None
        # Jitter only spreads reconnects; it is not security-relevant.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._feeds: dict[tuple[str, str], Feed] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._running = False
        self._run_task: asyncio.Task[None] | None = None
        self._repair_task: asyncio.Task[None] | None = None
        self._connect_times: deque[float] = deque()

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see :meth:`wait_connected`)."""
        if self._running:
            return
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise ExchangeError("the aiohttp session passed to MarketDataHub is closed")
            self._session = aiohttp.ClientSession()
        self._running = True
        self._run_task = asyncio.create_task(self._run(), name="market-data-hub")
        if self.recorder is not None:
            self.recorder.start()

    async def stop(self) -> None:
        """Close the connection, cancel the hub's tasks and write the bars still pending."""
        if not self._running:
            return
        self._running = False
        tasks = [t for t in (self._run_task, self._repair_task) if t is not None]
        tasks += [f.backfill for f in self._feeds.values() if f.backfill is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._run_task = None
        self._repair_task = None
        if self.recorder is not None:
            await self.recorder.stop()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def wait_connected(self) -> None:
        """Wait until the WebSocket is open (bound it with ``asyncio.timeout``)."""
        await self._connected.wait()

    def is_subscribed(self, symbol: str, interval: str) -> bool:
        """Whether the exchange acknowledged ``symbol``/``interval`` on the current connection."""
        feed = self._feeds.get((symbol, interval))
        return feed is not None and feed.acked and self.connected

    async def flush(self) -> bool:
        """Write the bars waiting for the store now; return whether it took them (True without one)."""
        return True if self.recorder is None else await self.recorder.flush()

    # -- subscriptions ---------------------------------------------------------------------------

    async def subscribe(self, symbol: str, interval: str) -> CandleSubscription:
        """Return a new subscription to the closed bars of ``symbol``/``interval``.

        Raises:
            ValueError: unknown interval.
            RuntimeError: the hub is not started.
            SubscriptionLimitError: a new (symbol, interval) past ``max_subscriptions``.
        """
        if interval not in INTERVALS:
            raise ValueError(
                f"expected one of Hyperliquid's intervals {', '.join(INTERVALS)}, got {interval!r}"
            )
        if not self._running:
            raise RuntimeError("MarketDataHub is not started: use `async with MarketDataHub(...) as hub`")
        sub = CandleSubscription(symbol, interval)
        feed = self._feeds.get((symbol, interval))
        if feed is None:
            if len(self._feeds) >= self.max_subscriptions:
                raise SubscriptionLimitError(
                    f"cannot subscribe to {symbol} {interval}: already {len(self._feeds)} candle "
                    f"subscriptions, the most one IP may hold ({self.max_subscriptions}); unsubscribe some"
                )
            feed = Feed(symbol, interval, INTERVALS[interval])
            self._feeds[feed.key] = feed
            feed.consumers.append(sub)
            self._count_subscriptions()
            if self._ws is not None:
                await self._send(self._ws, {"method": "subscribe", "subscription": feed.subscription()})
        else:
            feed.consumers.append(sub)
            self._count_subscriptions()
        return sub

    async def unsubscribe(self, sub: CandleSubscription) -> None:
        """Stop ``sub`` (bars already queued stay there); idempotent."""
        if not sub.active:
            return
        sub.active = False
        feed = self._feeds.get((sub.symbol, sub.interval))
        if feed is None or sub not in feed.consumers:
            return
        feed.consumers.remove(sub)
        if not feed.consumers:
            del self._feeds[feed.key]
            if feed.backfill is not None:
                feed.backfill.cancel()
            if self._ws is not None:
                await self._send(self._ws, {"method": "unsubscribe", "subscription": feed.subscription()})
        self._count_subscriptions()

    def _count_subscriptions(self) -> None:
        self.stats.subscriptions = len(self._feeds)
        self.stats.consumers = sum(len(f.consumers) for f in self._feeds.values())

    # -- connection ------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(
            attempt,
            base_s=self.config.backoff_base_s,
            max_s=self.config.backoff_max_s,
            jitter="equal",
            rng=self._rng,
        )

    async def _respect_connection_rate(self) -> None:
        loop = asyncio.get_running_loop()
        while self._connect_times and loop.time() - self._connect_times[0] > 60.0:
            self._connect_times.popleft()
        if len(self._connect_times) >= self.max_connections_per_minute:
            wait = 60.0 - (loop.time() - self._connect_times[0])
            logger.warning(
                "market-data hub: {} connections in a minute; waiting {:.1f} s",
                len(self._connect_times),
                wait,
            )
            await asyncio.sleep(wait)
        self._connect_times.append(loop.time())

    async def _run(self) -> None:
        attempt = 0
        while self._running:
            await self._respect_connection_rate()
            assert self._session is not None
            try:
                async with asyncio.timeout(self.config.request_timeout_s):  # a hanging handshake
                    ws = await self._session.ws_connect(
                        self.config.ws_url,
                        autoping=True,
                        heartbeat=None,  # the exchange wants JSON pings, sent by _ping_loop
                        timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                    )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                logger.warning(
                    "market-data hub: cannot connect to {} ({}); retry in {:.2f} s",
                    self.config.ws_url,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self.stats.connections_opened += 1
            if self.stats.connections_opened > 1:
                self.stats.reconnects += 1
            self._ws = ws
            self._connected.set()
            healthy = False
            try:
                healthy = await self._serve(ws)
            except (aiohttp.ClientError, ConnectionError) as exc:
                logger.warning("market-data hub: connection failed: {}", exc)
            except Exception:  # a bug must not end the feed of every bot: log it and reconnect
                logger.exception("market-data hub: unexpected error; reconnecting")
            finally:
                self._ws = None
                self._connected.clear()
                self._on_disconnect()
                with contextlib.suppress(Exception):
                    await ws.close()
            attempt = 0 if healthy else attempt + 1
            if self._running:
                delay = self._backoff(attempt)
                logger.info("market-data hub: disconnected; reconnecting in {:.2f} s", delay)
                await asyncio.sleep(delay)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        feeds = list(self._feeds.values())  # taken before any await: later subscribes send their own
        for feed in feeds:
            if self._feeds.get(feed.key) is feed:
                await self._send(ws, {"method": "subscribe", "subscription": feed.subscription()})
        for feed in feeds:
            if feed.watermark is not None:
                self._start_backfill(feed)
        if self.stats.connections_opened > 1:
            self._start_repair()
        pinger = asyncio.create_task(self._ping_loop(ws), name="market-data-hub-ping")
        try:
            return await self._read_loop(ws)
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.config.ping_interval_s)
            if await self._send(ws, {"method": "ping"}):
                self.stats.pings_sent += 1

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, payload: dict[str, Any]) -> bool:
        if ws.closed:
            return False
        try:
            await ws.send_str(json.dumps(payload, separators=(",", ":")))
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            # The read loop sees the broken connection too and reconnects; subscriptions are re-sent.
            logger.debug("market-data hub: send failed: {}", exc)
            return False
        return True

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        got_any = False
        while True:
            try:
                msg = await ws.receive(timeout=self.idle_timeout_s)
            except TimeoutError:
                self.stats.idle_timeouts += 1
                logger.warning(
                    "market-data hub: nothing received for {} s; reconnecting", self.idle_timeout_s
                )
                return got_any
            if msg.type == aiohttp.WSMsgType.TEXT:
                got_any = True
                self.stats.messages_received += 1
                try:
                    self._on_text(msg.data)
                except Exception:  # one bad message must not end the feed
                    logger.exception("market-data hub: cannot handle message {!r}", msg.data[:300])
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                logger.info("market-data hub: server closed the connection ({})", ws.close_code)
                return got_any
            elif msg.type == aiohttp.WSMsgType.ERROR:
                logger.warning("market-data hub: connection error: {}", ws.exception())
                return got_any

    def _on_disconnect(self) -> None:
        for feed in self._feeds.values():
            feed.acked = False
            if feed.current is not None:
                # Its last update may have been lost with the connection: take it from REST instead.
                if feed.watermark is None:
                    feed.watermark = feed.current_t - feed.step
                feed.current = None
                feed.current_t = -1

    # -- messages --------------------------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        if text.startswith(LEGACY_GREETING):
            return
        try:
            msg = json.loads(text)
        except ValueError:
            logger.warning("market-data hub: not JSON: {!r}", text[:300])
            return
        if not isinstance(msg, dict):
            return
        channel = msg.get("channel")
        if channel == "candle":
            self.stats.candle_messages += 1
            data = msg.get("data")
            for item in data if isinstance(data, list) else [data]:
                self._on_candle(item, msg.get("sent_at"))
        elif channel == "pong":
            self.stats.pongs_received += 1
        elif channel == "subscriptionResponse":
            self._on_ack(msg.get("data"))
        elif channel == "error":
            self.stats.errors_received += 1
            logger.warning("market-data hub: exchange error: {}", msg.get("data"))

    def _on_ack(self, data: Any) -> None:
        sub = data.get("subscription") if isinstance(data, dict) else None
        if not isinstance(sub, dict) or sub.get("type") != "candle":
            return
        feed = self._feeds.get((str(sub.get("coin")), str(sub.get("interval"))))
        if feed is not None:
            feed.acked = data.get("method") == "subscribe"

    def _on_candle(self, data: Any, pushed_at: Any) -> None:
        if not isinstance(data, dict):
            return
        symbol, interval, t = data.get("s"), data.get("i"), data.get("t")
        if not isinstance(symbol, str) or not isinstance(interval, str) or not isinstance(t, int):
            return  # garbage: parse_candle would name the problem, but this bar cannot be placed
        feed = self._feeds.get((symbol, interval))
        if feed is None:
            return  # a late push after an unsubscribe
        if feed.current is None:
            if feed.watermark is not None and t <= feed.watermark:
                self.stats.stale_updates += 1
                return
        elif t < feed.current_t:
            self.stats.stale_updates += 1
            return
        elif t > feed.current_t:
            self._close(feed, feed.current, pushed_at)
        feed.current = data
        feed.current_t = t

    def _close(self, feed: Feed, raw: dict[str, Any], pushed_at: Any) -> None:
        try:
            candle = parse_candle(raw, coin=feed.symbol, interval=feed.interval)
        except AlgoTradeError as exc:
            # Not delivered; the hole it leaves is backfilled when the next bar closes.
            self.stats.invalid_bars += 1
            logger.error("market-data hub: invalid closed bar dropped: {}", exc)
            return
        bar = closed_bar(feed, candle, "ws", pushed_at)
        if feed.backfill is not None:
            feed.held.append(bar)
        elif feed.watermark is not None and bar.t > feed.watermark + feed.step and self._rest is not None:
            feed.held.append(bar)
            self._start_backfill(feed)
        else:
            self._deliver(feed, bar)

    def _deliver(self, feed: Feed, bar: ClosedBar) -> None:
        if feed.watermark is not None and bar.t <= feed.watermark:
            self.stats.duplicates_dropped += 1
            return
        if feed.watermark is not None and bar.t > feed.watermark + feed.step:
            logger.warning(
                "market-data hub: {} {} bars {} .. {} are missing (not on the exchange or no REST client)",
                feed.symbol,
                feed.interval,
                ms_to_datetime(feed.watermark + feed.step).isoformat(),
                ms_to_datetime(bar.t - feed.step).isoformat(),
            )
        feed.watermark = bar.t
        if feed.first_t is None:
            feed.first_t = bar.t
        for sub in feed.consumers:
            sub.queue.put_nowait(bar)
        self.stats.closed_bars_delivered += 1
        if self.recorder is not None:
            self.recorder.add(feed.symbol, feed.interval, bar.candle)

    # -- backfill --------------------------------------------------------------------------------

    def _start_backfill(self, feed: Feed) -> None:
        if self._rest is None:
            logger.warning(
                "market-data hub: no REST client; {} {} bars missed while away stay missed", *feed.key
            )
            return
        if feed.backfill is None and feed.watermark is not None:
            feed.backfill = asyncio.create_task(
                self._backfill(feed), name=f"backfill {feed.symbol} {feed.interval}"
            )

    async def _backfill(self, feed: Feed) -> None:
        assert self._rest is not None
        try:
            for _ in range(BACKFILL_ROUNDS):
                assert feed.watermark is not None
                start = feed.watermark + feed.step
                first_held = min((b.t for b in feed.held), default=None)
                now = self._rest.now_ms() - self.close_margin_ms
                if (first_held is not None and start >= first_held) or start + feed.step > now:
                    break  # no hole before the held bars, or no bar after the watermark has closed yet
                self.stats.backfills += 1
                candles = await self._rest.fetch_candles(feed.symbol, feed.interval, start, now, now_ms=now)
                for candle in candles:
                    if candle.t > feed.watermark:
                        self.stats.backfilled_bars += 1
                        self._deliver(feed, closed_bar(feed, candle, "rest", None))
                if not feed.held or min(b.t for b in feed.held) <= feed.watermark + feed.step:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the REST client already retried; deliver what we have
            self.stats.backfill_failures += 1
            logger.warning("market-data hub: backfill of {} {} failed: {}", feed.symbol, feed.interval, exc)
        finally:
            feed.backfill = None
            held = sorted(feed.held, key=lambda b: b.t)
            feed.held.clear()
            for bar in held:
                self._deliver(feed, bar)

    # -- repair of the store after a reconnect -----------------------------------------------------

    def _start_repair(self) -> None:
        if self._rest is None or self.recorder is None:
            return
        if self._repair_task is None or self._repair_task.done():
            self._repair_task = asyncio.create_task(self._repair_store(), name="market-data hub repair")

    async def _repair_store(self) -> None:
        assert self._rest is not None
        assert self.recorder is not None
        await repair_feeds(self._rest, self.recorder, list(self._feeds.values()), self.stats)
