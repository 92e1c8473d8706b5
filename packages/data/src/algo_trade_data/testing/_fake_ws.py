"""The WebSocket half of the fake Hyperliquid (``GET /ws``): candle streaming for the market-data hub.

:class:`FakeWebSocketFeed` is owned by :class:`~algo_trade_data.testing._fake_exchange.FakeHyperliquid` (as
``fake.ws``) and speaks the exchange's protocol (HYPERLIQUID-API.md section 7):

* ``{"method":"ping"}`` is answered ``{"channel":"pong"}``; ``subscribe``/``unsubscribe`` are
  acknowledged ``{"channel":"subscriptionResponse","data":{"method":…,"subscription":…}}``; a duplicate
  subscribe, an unsubscribe of something not subscribed, an invalid subscription and going past
  ``max_subscriptions`` (1000 per IP on the exchange) get ``{"channel":"error","data":"…"}``. The error
  texts are approximations: only the channel is relied on.
* Candle pushes ``{"channel":"candle","data":{"t","T","s","i","o","c","h","l","v","n"}}`` (prices and
  volume as strings) go only to connections subscribed to that coin and interval.
* **Replays** stream the bars the server holds for ``/info`` (``add_candles``), so a client that
  backfills over REST after a reconnect gets exactly the bars it missed. Each bar is pushed
  ``updates_per_bar`` times as it forms (running high/low/close, growing volume and trade count),
  the last update carrying the bar's exact final strings. Every update moves the server clock
  (``now_ms``, which decides what ``candleSnapshot`` serves as closed) to a time inside that bar, so
  a bar counts as closed over REST exactly when the first update of the next bar has been pushed.
  Replays run on a timer (``bar_period_s``: one pusher task for every timed replay, sending each
  message once to every subscriber) or only when a test calls :meth:`FakeWebSocketFeed.step`.
* A connection that sent nothing for ``idle_timeout_s`` (60 s on the exchange) is closed by the
  server. :meth:`FakeWebSocketFeed.drop_connections` aborts connections without a close handshake
  (a network failure); :meth:`FakeWebSocketFeed.close_connections` closes them cleanly;
  ``refuse_connections = True`` answers new connections 503 until reset (an outage).
* ``debug_timestamps=True`` adds a top-level ``"sent_at"`` (``time.time()``) to each candle push
  and records it in :attr:`FakeWebSocketFeed.sent_at` by (coin, interval, t, update number), for
  latency measurements; ``data`` stays exactly the exchange's.

Snapshots on subscribe (``isSnapshot``) and the trades channel are not emitted: other subscription
types are acknowledged and then stay silent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from algo_trade_core import INTERVALS, interval_to_ms

__all__ = ["LEGACY_GREETING", "FakeWebSocketFeed", "WsConnection", "partial_bar"]

LEGACY_GREETING = "Websocket connection established."

# Pushes sooner than this before their due time go out in the same batch (one wake-up per tick).
_BATCH_TOLERANCE_S = 0.005


def _fmt(value: Any) -> str:
    """Format a number the way Hyperliquid does ("71400.0", "0.001604", never exponent notation)."""
    if isinstance(value, str):
        return value
    text = format(Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def _to_ms(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected epoch ms (int) or a datetime, got {value!r}")


def partial_bar(bar: Mapping[str, Any], update: int, updates_per_bar: int) -> dict[str, Any]:
    """Return push number ``update`` (0-based) of ``updates_per_bar`` for the final wire ``bar``.

    The price walks open → low → high → close (open → high → low → close for a down bar); high and
    low are the extremes visited so far, volume and trades grow in proportion. The last update is
    the bar itself, with its exact strings.
    """
    if update >= updates_per_bar - 1:
        return dict(bar)
    frac = (update + 1) / updates_per_bar
    o, h, lo, c = (float(bar[k]) for k in ("o", "h", "l", "c"))
    path = (o, lo, h, c) if c >= o else (o, h, lo, c)
    pos = frac * 3
    seg = min(int(pos), 2)
    price = path[seg] + (path[seg + 1] - path[seg]) * (pos - seg)
    visited = (*path[: seg + 1], price)
    return {
        "t": bar["t"],
        "T": bar["T"],
        "s": bar["s"],
        "i": bar["i"],
        "o": bar["o"],
        "c": _fmt(round(price, 8)),
        "h": _fmt(round(max(visited), 8)),
        "l": _fmt(round(min(visited), 8)),
        "v": _fmt(round(float(bar["v"]) * frac, 8)),
        "n": int(int(bar["n"]) * frac),
    }


@dataclass(eq=False, slots=True)
class WsConnection:
    """One client connection as the fake sees it (for assertions; do not mutate)."""

    id: int
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    subscriptions: set[tuple[str, str]] = field(default_factory=set)  # candle (coin, interval)
    other_subscriptions: list[dict[str, Any]] = field(default_factory=list)
    messages_received: int = 0
    candle_messages_sent: int = 0
    pings: int = 0
    closed_by: str | None = None  # "idle", "drop", "server", or "client"


@dataclass(eq=False, slots=True)
class _Replay:
    coin: str
    interval: str
    bars: list[dict[str, Any]]
    updates_per_bar: int
    period_s: float | None  # seconds between two updates; None: only step() advances it
    index: int = 0
    update: int = 0
    next_due: float = 0.0

    @property
    def done(self) -> bool:
        return self.index >= len(self.bars)


class FakeWebSocketFeed:
    """The fake exchange's WebSocket endpoint (see the module docstring).

    Args:
        source: returns the server's bars of (coin, interval) in wire format, ascending by ``t``.
        advance_now: moves the server clock forward to at least the given epoch ms.
        idle_timeout_s: close a connection that sent nothing for this long.
        max_subscriptions: total candle subscriptions accepted across connections (per IP).
        debug_timestamps: add ``"sent_at"`` to candle pushes and record them in :attr:`sent_at`.
        send_greeting: send the legacy text frame ``"Websocket connection established."`` first.
    """

    def __init__(
        self,
        source: Callable[[str, str], Sequence[dict[str, Any]]],
        advance_now: Callable[[int], None],
        *,
        idle_timeout_s: float = 60.0,
        max_subscriptions: int = 1000,
        debug_timestamps: bool = False,
        send_greeting: bool = False,
    ) -> None:
        self._source = source
        self._advance_now = advance_now
        self.idle_timeout_s = idle_timeout_s
        self.max_subscriptions = max_subscriptions
        self.debug_timestamps = debug_timestamps
        self.send_greeting = send_greeting
        self.answer_pings = True  # set False to test the client's own silence detection
        self.refuse_connections = False  # set True to answer new connections 503 (an outage)
        self.connections_opened = 0
        self.idle_closes = 0
        self.pings_received = 0
        self.candle_messages_sent = 0  # candle pushes written, counted once per receiving connection
        self.max_push_lag_s = 0.0  # how late the timed pusher ran behind schedule, at worst
        self.history: list[WsConnection] = []
        self.subscription_log: list[tuple[int, str, tuple[str, str]]] = []  # (connection, method, key)
        self.sent_at: dict[tuple[str, str, int, int], float] = {}
        self._conns: dict[int, WsConnection] = {}
        self._subscribers: dict[tuple[str, str], set[WsConnection]] = {}
        self._ids = itertools.count(1)
        self._replays: dict[tuple[str, str], _Replay] = {}
        self._pusher: asyncio.Task[None] | None = None
        self._push_counts: dict[tuple[str, str, int], int] = {}

    # -- inspection ------------------------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def connections(self) -> list[WsConnection]:
        """The connections open now, oldest first."""
        return list(self._conns.values())

    def subscriber_count(self, coin: str, interval: str) -> int:
        """How many open connections are subscribed to ``coin``/``interval``."""
        return len(self._subscribers.get((coin, interval), ()))

    @property
    def total_subscriptions(self) -> int:
        return sum(len(c.subscriptions) for c in self._conns.values())

    # -- connections -----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``GET /ws`` handler."""
        if self.refuse_connections:
            return web.Response(status=503, text="fake outage")
        ws = web.WebSocketResponse(timeout=2.0)  # close handshake wait, kept short for tests
        await ws.prepare(request)
        conn = WsConnection(id=next(self._ids), ws=ws, transport=request.transport)
        self._conns[conn.id] = conn
        self.history.append(conn)
        self.connections_opened += 1
        try:
            if self.send_greeting:
                await ws.send_str(LEGACY_GREETING)
            while True:
                try:
                    msg = await ws.receive(timeout=self.idle_timeout_s)
                except TimeoutError:
                    conn.closed_by = conn.closed_by or "idle"
                    self.idle_closes += 1
                    self._forget(conn)
                    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"idle timeout")
                    break
                if msg.type == WSMsgType.TEXT:
                    conn.messages_received += 1
                    await self._on_text(conn, msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        except (ConnectionError, RuntimeError):  # the transport went away under a send
            pass
        finally:
            conn.closed_by = conn.closed_by or "client"
            self._forget(conn)
        return ws

    def _forget(self, conn: WsConnection) -> None:
        self._conns.pop(conn.id, None)
        for key in conn.subscriptions:
            subscribers = self._subscribers.get(key)
            if subscribers is not None:
                subscribers.discard(conn)
                if not subscribers:
                    del self._subscribers[key]

    async def _send(self, conn: WsConnection, payload: Any) -> None:
        if not conn.ws.closed:
            await conn.ws.send_str(json.dumps(payload, separators=(",", ":")))

    async def _on_text(self, conn: WsConnection, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            await self._send(conn, {"channel": "error", "data": f"Error parsing JSON: {text!r}"})
            return
        method = data.get("method") if isinstance(data, dict) else None
        if method == "ping":
            conn.pings += 1
            self.pings_received += 1
            if self.answer_pings:
                await self._send(conn, {"channel": "pong"})
        elif method in ("subscribe", "unsubscribe"):
            await self._on_subscription(conn, method, data.get("subscription"))
        else:
            await self._send(conn, {"channel": "error", "data": f"unsupported message: {text}"})

    async def _on_subscription(self, conn: WsConnection, method: str, sub: Any) -> None:
        shown = json.dumps({"method": method, "subscription": sub})
        if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
            await self._send(conn, {"channel": "error", "data": f"Invalid subscription: {shown}"})
            return
        if sub["type"] != "candle":
            others = conn.other_subscriptions
            if method == "subscribe" and sub not in others:
                others.append(sub)
            elif method == "unsubscribe" and sub in others:
                others.remove(sub)
            await self._ack(conn, method, sub)
            return
        coin, interval = sub.get("coin"), sub.get("interval")
        if not isinstance(coin, str) or interval not in INTERVALS:
            await self._send(conn, {"channel": "error", "data": f"Invalid subscription: {shown}"})
            return
        key = (coin, str(interval))
        if method == "subscribe":
            if key in conn.subscriptions:
                await self._send(conn, {"channel": "error", "data": f"Already subscribed: {shown}"})
                return
            if self.total_subscriptions >= self.max_subscriptions:
                error = f"Cannot track more than {self.max_subscriptions} total subscriptions: {shown}"
                await self._send(conn, {"channel": "error", "data": error})
                return
            conn.subscriptions.add(key)
            self._subscribers.setdefault(key, set()).add(conn)
        else:
            if key not in conn.subscriptions:
                await self._send(conn, {"channel": "error", "data": f"Already unsubscribed: {shown}"})
                return
            conn.subscriptions.discard(key)
            subscribers = self._subscribers.get(key, set())
            subscribers.discard(conn)
            if not subscribers:
                self._subscribers.pop(key, None)
        self.subscription_log.append((conn.id, method, key))
        await self._ack(conn, method, sub)

    async def _ack(self, conn: WsConnection, method: str, sub: dict[str, Any]) -> None:
        await self._send(
            conn, {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}
        )

    async def drop_connections(self) -> int:
        """Abort every connection without a close handshake (a network failure); return how many."""
        conns = list(self._conns.values())
        for conn in conns:
            conn.closed_by = "drop"
            self._forget(conn)
            if isinstance(conn.transport, asyncio.Transport):
                conn.transport.abort()
        await asyncio.sleep(0)
        return len(conns)

    async def close_connections(self) -> int:
        """Close every connection cleanly (close frame, code 1001); return how many."""
        conns = list(self._conns.values())
        for conn in conns:
            conn.closed_by = "server"
            self._forget(conn)
        await asyncio.gather(
            *(c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server closing") for c in conns),
            return_exceptions=True,
        )
        return len(conns)

    async def close(self) -> None:
        """Stop the pusher and close every connection (server shutdown)."""
        if self._pusher is not None:
            self._pusher.cancel()
            await asyncio.gather(self._pusher, return_exceptions=True)
            self._pusher = None
        await self.close_connections()

    # -- pushes ----------------------------------------------------------------------------------

    async def push_candle(self, coin: str, interval: str, row: Mapping[str, Any]) -> int:
        """Send one candle push (API keys ``t o h l c v``, optional ``T n``) to subscribers.

        The bar is not added to the server's bars (``add_candles`` does that). Return how many
        connections got it.
        """
        t = _to_ms(row["t"])
        data = {
            "t": t,
            "T": int(row.get("T") or t + interval_to_ms(interval) - 1),
            "s": coin,
            "i": interval,
            "o": _fmt(row["o"]),
            "c": _fmt(row["c"]),
            "h": _fmt(row["h"]),
            "l": _fmt(row["l"]),
            "v": _fmt(row["v"]),
            "n": int(row.get("n", 0)),
        }
        count_key = (coin, interval, t)
        update = self._push_counts.get(count_key, 0)
        self._push_counts[count_key] = update + 1
        return await self._send_candle(coin, interval, data, update)

    async def _send_candle(self, coin: str, interval: str, data: dict[str, Any], update: int) -> int:
        message: dict[str, Any] = {"channel": "candle", "data": data}
        if self.debug_timestamps:
            sent_at = time.time()
            message["sent_at"] = sent_at
            self.sent_at[(coin, interval, int(data["t"]), update)] = sent_at
        subscribers = self._subscribers.get((coin, interval))
        if not subscribers:
            return 0
        text = json.dumps(message, separators=(",", ":"))
        sent = 0
        for conn in list(subscribers):
            if conn.ws.closed:
                continue
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):  # closing under us: the client will reconnect
                continue
            conn.candle_messages_sent += 1
            sent += 1
        self.candle_messages_sent += sent
        return sent

    # -- replays ---------------------------------------------------------------------------------

    def start_replay(
        self,
        coin: str,
        interval: str,
        *,
        start_index: int = 0,
        count: int | None = None,
        updates_per_bar: int = 4,
        bar_period_s: float | None = None,
    ) -> int:
        """Stream the server's bars of ``coin``/``interval`` from ``start_index``; return the bar count.

        With ``bar_period_s`` the shared pusher task sends an update every
        ``bar_period_s / updates_per_bar`` seconds; without it nothing moves until :meth:`step`.
        A replay already running for the same coin and interval is replaced.
        """
        if updates_per_bar < 1:
            raise ValueError(f"expected updates_per_bar >= 1, got {updates_per_bar}")
        if bar_period_s is not None and bar_period_s <= 0:
            raise ValueError(f"expected bar_period_s > 0, got {bar_period_s}")
        bars = list(self._source(coin, interval))
        end = None if count is None else start_index + count
        bars = bars[start_index:end]
        if not bars:
            raise ValueError(
                f"no {coin} {interval} bars to replay from index {start_index}: add them with add_candles"
            )
        period = None if bar_period_s is None else bar_period_s / updates_per_bar
        replay = _Replay(coin, interval, bars, updates_per_bar, period)
        if period is not None:
            replay.next_due = asyncio.get_running_loop().time()
            if self._pusher is None or self._pusher.done():
                self._pusher = asyncio.get_running_loop().create_task(self._push_timed())
        self._replays[(coin, interval)] = replay
        return len(bars)

    def stop_replay(self, coin: str, interval: str) -> None:
        self._replays.pop((coin, interval), None)

    def replay_position(self, coin: str, interval: str) -> tuple[int, int]:
        """Return (bars fully pushed, updates pushed of the next bar)."""
        replay = self._replays[(coin, interval)]
        return replay.index, replay.update

    def replay_done(self, coin: str, interval: str) -> bool:
        replay = self._replays.get((coin, interval))
        return replay is None or replay.done

    @property
    def replays_done(self) -> bool:
        return all(r.done for r in self._replays.values())

    async def step(self, coin: str | None = None, interval: str | None = None, *, updates: int = 1) -> int:
        """Push the next ``updates`` updates of every manual replay (or only ``coin``/``interval``).

        Replays advance in lockstep, one update each per round. Return the messages delivered.
        """
        chosen = [
            r
            for r in self._replays.values()
            if r.period_s is None
            and (coin is None or r.coin == coin)
            and (interval is None or r.interval == interval)
        ]
        if not chosen:
            raise ValueError(f"no manual replay matches coin={coin!r} interval={interval!r}")
        sent = 0
        for _ in range(updates):
            for replay in chosen:
                if not replay.done:
                    sent += await self._emit(replay)
        return sent

    async def _emit(self, replay: _Replay) -> int:
        bar = replay.bars[replay.index]
        update = replay.update
        replay.update += 1
        if replay.update >= replay.updates_per_bar:
            replay.update = 0
            replay.index += 1
        step = interval_to_ms(replay.interval)
        # A moment inside the bar: the previous bar is closed over REST, this one still forming.
        self._advance_now(int(bar["t"]) + (update + 1) * step // (replay.updates_per_bar + 1))
        data = partial_bar(bar, update, replay.updates_per_bar)
        return await self._send_candle(replay.coin, replay.interval, data, update)

    async def _push_timed(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            timed = [r for r in self._replays.values() if r.period_s is not None and not r.done]
            if not timed:
                return
            now = loop.time()
            earliest = min(r.next_due for r in timed)
            if earliest > now + _BATCH_TOLERANCE_S:
                await asyncio.sleep(earliest - now)
                continue
            for replay in timed:
                assert replay.period_s is not None
                while not replay.done and replay.next_due <= now + _BATCH_TOLERANCE_S:
                    self.max_push_lag_s = max(self.max_push_lag_s, now - replay.next_due)
                    await self._emit(replay)
                    replay.next_due += replay.period_s
