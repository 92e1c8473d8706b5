"""A fake Hyperliquid for tests: a real aiohttp server on 127.0.0.1 that speaks the ``/info`` API.

It is the network seam of the project's tests: clients talk HTTP to it exactly as to the exchange.

* ``candleSnapshot`` serves the candles given with :meth:`FakeHyperliquid.add_candles`, in the real
  wire format (``o h l c v s i`` strings, ``t T n`` ints): every bar overlapping
  ``[startTime, endTime]``, but only among the most recent 5000 bars relative to the server's clock
  ``now_ms`` (bars opening after ``now_ms`` do not exist yet; the bar containing ``now_ms`` is served
  as still forming, its ``T`` in the future), at most ``max_candles_per_response`` per call.
* ``meta``, ``metaAndAssetCtxs`` and ``allMids`` serve a universe (:class:`FakeMarket`) that includes
  delisted coins (MATIC, FTM, RNDR) flagged ``isDelisted`` like the real one.
* Weight is charged by the same rules as the real API (:mod:`algo_trade_data._ratelimit`) from a
  token bucket of ``weight_per_minute`` on an injectable clock; past the budget it answers 429 with
  ``Retry-After``. Bodies it cannot deserialize, unknown types and negative times get 422.
* Faults are injected with :meth:`FakeHyperliquid.inject`: HTTP statuses, hangs past the client's
  timeout, dropped connections and malformed payloads.
* Every request is logged (:attr:`FakeHyperliquid.requests`) with the weight it was charged.
* ``GET /ws`` is the WebSocket API, implemented in :mod:`algo_trade_data.testing._fake_ws` and reached as
  ``fake.ws`` (:class:`~algo_trade_data.testing._fake_ws.FakeWebSocketFeed`): pings, subscription acks,
  candle pushes, replays of the bars above (the same bars ``candleSnapshot`` serves), idle close,
  dropped connections.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self

import numpy as np
import polars as pl
from aiohttp import web

from algo_trade_core import INTERVALS, interval_to_ms
from algo_trade_data._ratelimit import CANDLE_HISTORY_LIMIT, candle_snapshot_weight, info_request_weight
from algo_trade_data.testing._fake_ws import FakeWebSocketFeed, _fmt, _to_ms

__all__ = [
    "DEFAULT_MARKETS",
    "FakeHyperliquid",
    "FakeMarket",
    "FaultKind",
    "LoggedRequest",
    "ManualClock",
    "fake_candles",
]

FaultKind = Literal[
    "status",  # answer with HTTP `status` (default 503) and `body`
    "hang",  # answer nothing for `hang_s` seconds (past the client's timeout)
    "disconnect",  # drop the connection without an answer
    "not_json",  # 200 with an HTML error page
    "wrong_shape",  # 200 with valid JSON of the wrong shape (an object instead of an array...)
    "bad_number",  # 200, first candle's open is not a number
    "high_below_low",  # 200, first candle's high is below its low
    "missing_field",  # 200, first candle lacks "o"
]

_UNPROCESSABLE = "Failed to deserialize the JSON body into the target type"


class ManualClock:
    """A monotonic clock that only moves when told to; :meth:`sleep` moves it instead of waiting.

    Give ``clock.monotonic`` and ``clock.sleep`` to the limiter, the client and the fake server so a
    test can run minutes of rate-limit budget in no real time. Each sleep advances the clock by its own
    length (sleeps are not merged), which over-estimates elapsed time when tasks sleep concurrently:
    harmless for rate limits, since client and server read the same clock.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.now += seconds
        await asyncio.sleep(0)  # still yield, like a real sleep


@dataclass(frozen=True, kw_only=True, slots=True)
class FakeMarket:
    """One perp of the fake universe; strings as the exchange sends them."""

    name: str
    sz_decimals: int = 2
    max_leverage: int = 20
    mark_px: str = "1.0"
    day_ntl_vlm: str = "1000000.0"
    is_delisted: bool = False


DEFAULT_MARKETS: tuple[FakeMarket, ...] = (
    FakeMarket(name="BTC", sz_decimals=5, max_leverage=40, mark_px="117524.0", day_ntl_vlm="2104518734.81"),
    FakeMarket(name="ETH", sz_decimals=4, max_leverage=25, mark_px="3745.2", day_ntl_vlm="1450223817.2"),
    FakeMarket(name="ATOM", sz_decimals=2, max_leverage=5, mark_px="4.8123", day_ntl_vlm="3120554.1"),
    FakeMarket(
        name="MATIC", sz_decimals=1, max_leverage=20, mark_px="0.37", day_ntl_vlm="0.0", is_delisted=True
    ),
    FakeMarket(name="SOL", sz_decimals=2, max_leverage=20, mark_px="186.41", day_ntl_vlm="412775019.6"),
    FakeMarket(name="AVAX", sz_decimals=2, max_leverage=10, mark_px="24.562", day_ntl_vlm="25801240.9"),
    FakeMarket(name="OP", sz_decimals=1, max_leverage=10, mark_px="0.7712", day_ntl_vlm="9850333.3"),
    FakeMarket(name="ARB", sz_decimals=1, max_leverage=10, mark_px="0.4521", day_ntl_vlm="15022001.2"),
    FakeMarket(name="DOGE", sz_decimals=0, max_leverage=10, mark_px="0.23817", day_ntl_vlm="98120442.7"),
    FakeMarket(name="INJ", sz_decimals=1, max_leverage=10, mark_px="14.201", day_ntl_vlm="4021876.5"),
    FakeMarket(name="SUI", sz_decimals=1, max_leverage=10, mark_px="3.9012", day_ntl_vlm="87654321.0"),
    FakeMarket(name="kPEPE", sz_decimals=0, max_leverage=10, mark_px="0.012601", day_ntl_vlm="61234567.8"),
    FakeMarket(
        name="RNDR", sz_decimals=1, max_leverage=20, mark_px="7.1", day_ntl_vlm="0.0", is_delisted=True
    ),
    FakeMarket(
        name="FTM", sz_decimals=0, max_leverage=20, mark_px="0.71", day_ntl_vlm="0.0", is_delisted=True
    ),
    FakeMarket(name="APT", sz_decimals=2, max_leverage=10, mark_px="4.662", day_ntl_vlm="6543210.9"),
    FakeMarket(name="SEI", sz_decimals=0, max_leverage=10, mark_px="0.33011", day_ntl_vlm="12876543.2"),
    FakeMarket(name="TIA", sz_decimals=1, max_leverage=10, mark_px="1.8321", day_ntl_vlm="5432109.8"),
    FakeMarket(name="NEAR", sz_decimals=1, max_leverage=10, mark_px="2.7415", day_ntl_vlm="7654321.0"),
    FakeMarket(name="WLD", sz_decimals=1, max_leverage=10, mark_px="1.1034", day_ntl_vlm="23456789.1"),
    FakeMarket(name="kSHIB", sz_decimals=0, max_leverage=10, mark_px="0.014233", day_ntl_vlm="3456789.0"),
    FakeMarket(name="kBONK", sz_decimals=0, max_leverage=10, mark_px="0.033512", day_ntl_vlm="8765432.1"),
    FakeMarket(name="POL", sz_decimals=0, max_leverage=10, mark_px="0.23561", day_ntl_vlm="2345678.9"),
    FakeMarket(name="S", sz_decimals=0, max_leverage=10, mark_px="0.33912", day_ntl_vlm="4567890.1"),
    FakeMarket(name="RENDER", sz_decimals=1, max_leverage=10, mark_px="3.9011", day_ntl_vlm="1987654.3"),
)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the fake answered: body (decoded JSON, or the raw text), weight charged, status."""

    body: Any
    weight: int
    status: int
    fault: str | None = None
    candles: int = 0  # candles in the answer (candleSnapshot)
    at: float = 0.0  # the server's rate-limit clock when it arrived

    @property
    def type(self) -> str | None:
        return self.body.get("type") if isinstance(self.body, dict) else None


@dataclass(slots=True)
class _Fault:
    kind: FaultKind
    remaining: int
    status: int
    body: str
    coin: str | None
    request_type: str | None
    hang_s: float
    when: Callable[[dict[str, Any]], bool] | None

    def matches(self, body: dict[str, Any]) -> bool:
        if self.request_type is not None and body.get("type") != self.request_type:
            return False
        if self.when is not None and not self.when(body):
            return False
        if self.coin is not None:
            req = body.get("req")
            return isinstance(req, dict) and req.get("coin") == self.coin
        return True


class _Unprocessable(Exception):
    pass


def fake_candles(
    start_ms: int, count: int, interval: str = "1m", *, price: float = 100.0, seed: int = 0
) -> pl.DataFrame:
    """Return ``count`` consecutive valid bars (random walk) from ``start_ms``.

    Columns: timestamp (Datetime ms UTC), open, high, low, close, volume, trades. Values are rounded
    to 6 decimals so they survive the string round trip exactly.
    """
    step = interval_to_ms(interval)
    rng = np.random.default_rng(seed)
    closes = price * np.exp(np.cumsum(rng.normal(0.0, 0.002, count)))
    opens = np.concatenate([[price], closes[:-1]])
    spread = np.abs(rng.normal(0.0, 0.001, count)) * closes
    highs = np.maximum(opens, closes) + spread
    lows = np.minimum(opens, closes) - spread
    volume = np.round(rng.exponential(10.0, count), 5)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(np.arange(count, dtype=np.int64) * step + start_ms).cast(
                pl.Datetime("ms")
            ),
            "open": np.round(opens, 6),
            "high": np.round(highs, 6),
            "low": np.round(lows, 6),
            "close": np.round(closes, 6),
            "volume": volume,
            "trades": rng.integers(1, 500, count),
        }
    ).with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))


class FakeHyperliquid:
    """A local, controllable Hyperliquid ``/info`` server (see the module docstring).

    Args:
        now_ms: the server's wall clock for candle availability (epoch ms; settable later through
            the ``now_ms`` attribute). None follows the real wall clock.
        weight_per_minute: the rate-limit budget (token bucket, refilled continuously).
        clock: monotonic seconds for the budget (``ManualClock.monotonic`` in tests).
        max_candles_per_response: page size of ``candleSnapshot``.
        history_limit: how many recent bars per coin and interval exist.
        overlap_bars: extra bars *before* the window put in each answer, to exercise deduplication.
        send_retry_after: whether 429 answers carry a ``Retry-After`` header.
        markets: the universe, in asset-id order.
        ws_idle_timeout_s: ``/ws`` closes a connection that sent nothing for this long.
        ws_max_subscriptions: candle subscriptions ``/ws`` accepts in total (1000 per IP).
        debug_timestamps: candle pushes carry a top-level ``"sent_at"`` (see ``fake.ws.sent_at``).

    A replay (``fake.ws.start_replay``) moves ``now_ms`` forward with every update it pushes, pinning
    the clock to the replayed bars even when it followed the wall clock.
    """

    def __init__(
        self,
        *,
        now_ms: int | None = None,
        weight_per_minute: int = 1200,
        clock: Callable[[], float] = time.monotonic,
        max_candles_per_response: int = CANDLE_HISTORY_LIMIT,
        history_limit: int = CANDLE_HISTORY_LIMIT,
        overlap_bars: int = 0,
        send_retry_after: bool = True,
        markets: Sequence[FakeMarket] = DEFAULT_MARKETS,
        ws_idle_timeout_s: float = 60.0,
        ws_max_subscriptions: int = 1000,
        debug_timestamps: bool = False,
    ) -> None:
        self._now_ms = now_ms
        self.capacity = float(weight_per_minute)
        self.rate_per_s = weight_per_minute / 60.0
        self._clock = clock
        self._level = self.capacity
        self._updated = clock()
        self.max_candles_per_response = max_candles_per_response
        self.history_limit = history_limit
        self.overlap_bars = overlap_bars
        self.send_retry_after = send_retry_after
        self.markets: list[FakeMarket] = list(markets)
        self.requests: list[LoggedRequest] = []
        self._candles: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._times: dict[tuple[str, str], list[int]] = {}
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = asyncio.Event()
        self.ws = FakeWebSocketFeed(
            self.bars,
            self._advance_now,
            idle_timeout_s=ws_idle_timeout_s,
            max_subscriptions=ws_max_subscriptions,
            debug_timestamps=debug_timestamps,
        )

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
        await self.close()

    async def start(self) -> None:
        """Start listening on 127.0.0.1 on a free port."""
        app = web.Application()
        app.router.add_post("/info", self._handle_info)
        app.router.add_get("/ws", self.ws.handle)
        # Not part of Hyperliquid's API: lets a process under test share the fake's clock.
        app.router.add_get("/_fake/now", self._handle_now)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Release hanging requests, close WebSockets and stop the server."""
        self._closing.set()
        await self.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (use as ``HyperliquidConfig.api_url``)."""
        if self._port is None:
            raise RuntimeError("FakeHyperliquid is not started: use `async with FakeHyperliquid() as fake`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws`` (use as ``HyperliquidConfig.ws_url``)."""
        return "ws" + self.url[len("http") :] + "/ws"

    @property
    def now_ms(self) -> int:
        return self._now_ms if self._now_ms is not None else int(time.time() * 1000)

    @now_ms.setter
    def now_ms(self, value: int | None) -> None:
        self._now_ms = value

    # -- data ------------------------------------------------------------------------------------

    def add_candles(
        self, coin: str, interval: str, candles: pl.DataFrame | Iterable[Mapping[str, Any]]
    ) -> int:
        """Add (or replace, by open time) bars of ``coin``/``interval``; return how many were given.

        ``candles`` is a polars frame with a time column (``timestamp``, ``date`` or ``t``: datetime or
        epoch ms) and ``open high low close volume`` (optional ``trades``) - a freqtrade Feather frame
        works as is - or rows in the API's own keys (``t o h l c v``, optional ``T n``). Values may be
        numbers or strings; they are served as strings.
        """
        step = interval_to_ms(interval)
        if isinstance(candles, pl.DataFrame):
            rows = list(self._frame_rows(candles))
        else:
            rows = [
                {
                    "t": _to_ms(r["t"]),
                    "o": r["o"],
                    "h": r["h"],
                    "l": r["l"],
                    "c": r["c"],
                    "v": r["v"],
                    "n": r.get("n", 0),
                    "T": r.get("T"),
                }
                for r in candles
            ]
        book = self._candles.setdefault((coin, interval), {})
        for r in rows:
            t = int(r["t"])
            book[t] = {
                "T": int(r["T"]) if r.get("T") is not None else t + step - 1,
                "c": _fmt(r["c"]),
                "h": _fmt(r["h"]),
                "i": interval,
                "l": _fmt(r["l"]),
                "n": int(r["n"]) if r.get("n") is not None else 0,
                "o": _fmt(r["o"]),
                "s": coin,
                "t": t,
                "v": _fmt(r["v"]),
            }
        self._times[(coin, interval)] = sorted(book)
        return len(rows)

    @staticmethod
    def _frame_rows(frame: pl.DataFrame) -> Iterable[dict[str, Any]]:
        time_col = next((c for c in ("timestamp", "date", "t") if c in frame.columns), None)
        if time_col is None:
            raise ValueError(f"expected a time column (timestamp, date or t), got {frame.columns}")
        ts = frame[time_col]
        ts_ms = ts.dt.epoch("ms") if ts.dtype.is_temporal() else ts.cast(pl.Int64)
        trades = frame["trades"].fill_null(0) if "trades" in frame.columns else pl.Series([0] * frame.height)
        for t, o, h, lo, c, v, n in zip(
            ts_ms,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            trades,
            strict=True,
        ):
            yield {"t": t, "o": o, "h": h, "l": lo, "c": c, "v": v, "n": n, "T": None}

    def candle_count(self, coin: str, interval: str) -> int:
        return len(self._times.get((coin, interval), ()))

    # -- budget and faults -----------------------------------------------------------------------

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._level = min(self.capacity, self._level + elapsed * self.rate_per_s)
        self._updated = now

    @property
    def budget_left(self) -> float:
        """Weight the server would accept right now."""
        self._refill()
        return self._level

    def consume_weight(self, weight: float) -> None:
        """Spend budget as another client on the same IP would (to provoke 429s)."""
        self._refill()
        self._level -= weight

    def inject(
        self,
        kind: FaultKind,
        times: int = 1,
        *,
        status: int = 503,
        body: str = "",
        coin: str | None = None,
        request_type: str | None = None,
        hang_s: float = 30.0,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` matching requests fail with ``kind`` (see :data:`FaultKind`).

        ``coin``, ``request_type`` and the predicate ``when`` (called with the decoded request body)
        restrict which requests match. Faults are used in the order
        they were injected. Requests rejected by the budget (429) or as unprocessable (422) do not
        consume a fault.
        """
        if times < 1:
            raise ValueError(f"expected times >= 1, got {times}")
        fault = _Fault(kind, times, status, body or f"fake {status}", coin, request_type, hang_s, when)
        self._faults.append(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, body: dict[str, Any]) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(body):
                fault.remaining -= 1
                return fault
        return None

    # -- request log helpers ---------------------------------------------------------------------

    @property
    def total_weight(self) -> int:
        return sum(r.weight for r in self.requests)

    def requests_of(self, request_type: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.type == request_type]

    # -- /info -----------------------------------------------------------------------------------

    async def _handle_now(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=str(self.now_ms))

    async def _handle_info(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        now = self._clock()
        try:
            body = json.loads(raw)
        except ValueError:
            self.requests.append(LoggedRequest(raw.decode("utf-8", "replace"), 0, 422, at=now))
            return web.Response(status=422, text=f"{_UNPROCESSABLE}: expected JSON")
        try:
            payload, weight, candles = self._answer(body)
        except _Unprocessable as exc:
            self.requests.append(LoggedRequest(body, 0, 422, at=now))
            return web.Response(status=422, text=f"{_UNPROCESSABLE}: {exc}")
        self._refill()
        if self._level < weight:
            self.requests.append(LoggedRequest(body, 0, 429, at=now))
            headers = {}
            if self.send_retry_after:
                headers["Retry-After"] = str(max(1, math.ceil((weight - self._level) / self.rate_per_s)))
            return web.Response(status=429, text="Too Many Requests", headers=headers)
        self._level -= weight
        fault = self._take_fault(body)
        if fault is None:
            self.requests.append(LoggedRequest(body, weight, 200, candles=candles, at=now))
            return web.json_response(payload)
        self.requests.append(LoggedRequest(body, weight, self._fault_status(fault), fault.kind, candles, now))
        return await self._faulty(request, fault, payload)

    @staticmethod
    def _fault_status(fault: _Fault) -> int:
        return fault.status if fault.kind == "status" else 0 if fault.kind in ("hang", "disconnect") else 200

    async def _faulty(self, request: web.Request, fault: _Fault, payload: Any) -> web.StreamResponse:
        if fault.kind == "status":
            return web.Response(status=fault.status, text=fault.body)
        if fault.kind == "hang":
            try:
                await asyncio.wait_for(self._closing.wait(), timeout=fault.hang_s)
            except TimeoutError:
                pass
            return web.json_response(payload)
        if fault.kind == "disconnect":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the client
        if fault.kind == "not_json":
            return web.Response(
                status=200, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
            )
        if fault.kind == "wrong_shape":
            shaped = {"error": "unexpected"} if isinstance(payload, list) else [payload]
            return web.json_response(shaped)
        if isinstance(payload, list) and payload and isinstance(payload[0], dict):
            first = dict(payload[0])
            if fault.kind == "bad_number":
                first["o"] = "not-a-number"
            elif fault.kind == "high_below_low":
                first["h"] = _fmt(float(first["l"]) * 0.5)
            elif fault.kind == "missing_field":
                first.pop("o", None)
            payload = [first, *payload[1:]]
        return web.json_response(payload)

    def _answer(self, body: Any) -> tuple[Any, int, int]:
        """Return (payload, weight, candles) for a request body; raise _Unprocessable like a 422."""
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise _Unprocessable("expected an object with a string 'type'")
        kind = body["type"]
        if kind == "candleSnapshot":
            candles = self._candle_snapshot(body.get("req"))
            return candles, candle_snapshot_weight(len(candles)), len(candles)
        if kind == "meta":
            return self._meta(), info_request_weight(kind), 0
        if kind == "metaAndAssetCtxs":
            return [self._meta(), [self._ctx(m) for m in self.markets]], info_request_weight(kind), 0
        if kind == "allMids":
            mids = {m.name: m.mark_px for m in self.markets if not m.is_delisted}
            return mids, info_request_weight(kind), 0
        raise _Unprocessable(f"unknown variant {kind!r}")

    def _candle_snapshot(self, req: Any) -> list[dict[str, Any]]:
        if not isinstance(req, dict):
            raise _Unprocessable("missing field `req`")
        coin, interval = req.get("coin"), req.get("interval")
        start, end = req.get("startTime"), req.get("endTime", self.now_ms)
        if not isinstance(coin, str):
            raise _Unprocessable("req.coin: expected a string")
        if interval not in INTERVALS:
            raise _Unprocessable(f"req.interval: unknown variant {interval!r}")
        for name, value in (("startTime", start), ("endTime", end)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _Unprocessable(f"req.{name}: invalid value {value!r}, expected u64")
        assert isinstance(start, int)  # checked just above
        assert isinstance(end, int)
        times = self._times.get((coin, interval), [])
        step = INTERVALS[interval]
        now = self.now_ms
        current_open = now - now % step
        oldest = current_open - (self.history_limit - 1) * step
        hi = min(bisect.bisect_right(times, now), bisect.bisect_right(times, end))
        lo = max(
            bisect.bisect_left(times, oldest), bisect.bisect_left(times, start - step + 1) - self.overlap_bars
        )
        book = self._candles.get((coin, interval), {})
        return [dict(book[t]) for t in times[max(lo, 0) : hi][: self.max_candles_per_response]]

    def _meta(self) -> dict[str, Any]:
        universe: list[dict[str, Any]] = []
        for m in self.markets:
            entry: dict[str, Any] = {
                "szDecimals": m.sz_decimals,
                "name": m.name,
                "maxLeverage": m.max_leverage,
                "marginTableId": m.max_leverage,
            }
            if m.is_delisted:
                entry |= {"onlyIsolated": True, "isDelisted": True, "marginMode": "strictIsolated"}
            universe.append(entry)
        tables = sorted({m.max_leverage for m in self.markets})
        return {
            "universe": universe,
            "marginTables": [
                [lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}]
                for lev in tables
            ],
            "collateralToken": 0,
        }

    @staticmethod
    def _ctx(m: FakeMarket) -> dict[str, Any]:
        px = Decimal(m.mark_px)
        base_volume = Decimal(m.day_ntl_vlm) / px
        live = not m.is_delisted
        return {
            "funding": "0.0000125" if live else "0.0",
            "openInterest": "688.11" if live else "0.0",
            "prevDayPx": _fmt(float(px * Decimal("1.01"))),
            "dayNtlVlm": m.day_ntl_vlm,
            "premium": "0.00031774" if live else None,
            "oraclePx": m.mark_px,
            "markPx": m.mark_px,
            "midPx": m.mark_px if live else None,
            "impactPxs": [m.mark_px, m.mark_px] if live else None,
            "dayBaseVlm": _fmt(float(round(base_volume, 2))),
        }

    # -- /ws (see _fake_ws) -----------------------------------------------------------------------

    def bars(self, coin: str, interval: str) -> list[dict[str, Any]]:
        """The bars the server holds for ``coin``/``interval`` in wire format, ascending (final values)."""
        book = self._candles.get((coin, interval), {})
        return [book[t] for t in self._times.get((coin, interval), ())]

    def _advance_now(self, ms: int) -> None:
        if self._now_ms is None or ms > self._now_ms:
            self._now_ms = ms

    @property
    def ws_connections(self) -> int:
        """WebSocket connections open now (``fake.ws.connections_opened`` counts all ever opened)."""
        return self.ws.open_connections

    async def push_candle(self, coin: str, interval: str, row: Mapping[str, Any]) -> int:
        """Send a candle push (API keys ``t o h l c v n``) to subscribers; return how many got it."""
        return await self.ws.push_candle(coin, interval, row)

    async def close_ws_connections(self) -> None:
        """Close every WebSocket connection cleanly (to test reconnects)."""
        await self.ws.close_connections()
