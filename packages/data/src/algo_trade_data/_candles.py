"""Parse and validate Hyperliquid candle payloads; build the project's candle frame.

A ``candleSnapshot`` response is a JSON array of objects ``{t, T, s, i, o, c, h, l, v, n}`` where
``t``, ``T`` and ``n`` are ints and the prices and volume are decimal *strings* (HYPERLIQUID-API.md
section 2). Strings are parsed with :class:`~decimal.Decimal`, so :class:`HyperliquidCandle` keeps the
exact values; the polars frame carries them as float64 for the engine.

Errors: a payload that is not the API's shape (not an array, a missing key, a wrong JSON type, another
coin) raises :class:`~algo_trade_core.ExchangeError`; values that are not a valid bar (non-numeric,
non-positive price, high below low...) raise :class:`~algo_trade_core.CandleValidationError`. Both name
the coin, the interval and, where there is one, the bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from algo_trade_core import (
    Candle,
    CandleValidationError,
    ExchangeError,
    ms_to_datetime,
    validate_candle_values,
)
from algo_trade_data._candle_checks import magnitude_problem
from algo_trade_data._symbols import EXCHANGE

__all__ = [
    "CANDLE_FRAME_SCHEMA",
    "EXCHANGE",
    "HyperliquidCandle",
    "candles_to_frame",
    "empty_candle_frame",
    "parse_candle",
    "parse_candles",
]

CANDLE_FRAME_SCHEMA = pl.Schema(
    {
        "timestamp": pl.Datetime("ms", "UTC"),
        "symbol": pl.String(),
        "exchange": pl.String(),
        "interval": pl.String(),
        "open": pl.Float64(),
        "high": pl.Float64(),
        "low": pl.Float64(),
        "close": pl.Float64(),
        "volume": pl.Float64(),
        "trades": pl.Int64(),
    }
)

_PRICE_KEYS = (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close"), ("v", "volume"))
_INT_KEYS = ("t", "T", "n")


@dataclass(frozen=True, slots=True)
class HyperliquidCandle:
    """One bar exactly as the exchange sent it (``t``/``T`` epoch ms; values exact decimals)."""

    t: int
    T: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int

    def to_candle(self, symbol: str, interval: str, exchange: str = EXCHANGE) -> Candle:
        """Return the core :class:`~algo_trade_core.Candle` of this bar."""
        return Candle(
            symbol=symbol,
            interval=interval,
            timestamp=ms_to_datetime(self.t),
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            trades=self.trades,
            exchange=exchange,
        )


def _where(coin: str, interval: str, index: int, t: Any = None) -> str:
    at = f" at {ms_to_datetime(t).isoformat()}" if isinstance(t, int) and not isinstance(t, bool) else ""
    return f"{coin} {interval} candle #{index}{at}"


def _parse_decimal(raw: Any, *, key: str, where: str) -> Decimal:
    # Strings are the wire format; plain JSON numbers are accepted too (the docs type some pushes as
    # numbers) and go through repr so 0.1 stays 0.1.
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        text = repr(raw)
    else:
        raise ExchangeError(
            f"{where}: field {key!r} should be a decimal string, got {type(raw).__name__} {raw!r}"
        )
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CandleValidationError(f"{where}: field {key!r} is not a number: {raw!r}") from None
    if not value.is_finite():
        raise CandleValidationError(f"{where}: field {key!r} is not a finite number: {raw!r}")
    return value


def parse_candle(obj: Any, *, coin: str, interval: str, index: int = 0) -> HyperliquidCandle:
    """Parse and validate one candle object of a ``candleSnapshot`` response (or a WebSocket push).

    Raises:
        ExchangeError: the object is not a candle of ``coin``/``interval`` in the API's shape.
        CandleValidationError: its values are not a valid OHLCV bar.
    """
    if not isinstance(obj, dict):
        raise ExchangeError(
            f"{_where(coin, interval, index)}: expected a JSON object, got {type(obj).__name__}"
        )
    t_raw = obj.get("t")
    where = _where(coin, interval, index, t_raw)
    missing = [k for k in ("t", "T", "o", "h", "l", "c", "v", "n") if k not in obj]
    if missing:
        raise ExchangeError(
            f"{where}: missing field(s) {', '.join(missing)}; expected t, T, s, i, o, h, l, c, v, n"
        )
    ints: dict[str, int] = {}
    for key in _INT_KEYS:
        raw = obj[key]
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ExchangeError(f"{where}: field {key!r} should be an integer, got {raw!r}")
        ints[key] = raw
    for key, expected in (("s", coin), ("i", interval)):
        if key in obj and obj[key] != expected:
            raise ExchangeError(f"{where}: field {key!r} is {obj[key]!r}, expected {expected!r}")
    if ints["t"] < 0 or ints["T"] < ints["t"]:
        raise CandleValidationError(
            f"{where}: bar times are inconsistent (t={ints['t']}, T={ints['T']}); expected 0 <= t <= T"
        )
    if ints["n"] < 0:
        raise CandleValidationError(f"{where}: trade count must be >= 0, got {ints['n']}")
    values = {name: _parse_decimal(obj[key], key=key, where=where) for key, name in _PRICE_KEYS}
    floats = [float(values[name]) for name in ("open", "high", "low", "close", "volume")]
    problem = validate_candle_values(*floats) or magnitude_problem(*floats)
    if problem is not None:
        raise CandleValidationError(f"{where}: {problem}")
    return HyperliquidCandle(
        t=ints["t"],
        T=ints["T"],
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=values["volume"],
        trades=ints["n"],
    )


def parse_candles(payload: Any, *, coin: str, interval: str) -> list[HyperliquidCandle]:
    """Parse and validate a whole ``candleSnapshot`` response (a JSON array of candle objects).

    Raises:
        ExchangeError: the payload is not an array of candle objects of ``coin``/``interval``.
        CandleValidationError: a candle's values are not a valid OHLCV bar.
    """
    if not isinstance(payload, list):
        shown = repr(payload)
        shown = shown if len(shown) <= 200 else shown[:200] + "…"
        raise ExchangeError(
            f"candleSnapshot {coin} {interval}: expected a JSON array of candles, "
            f"got {type(payload).__name__}: {shown}"
        )
    return [parse_candle(obj, coin=coin, interval=interval, index=i) for i, obj in enumerate(payload)]


def empty_candle_frame() -> pl.DataFrame:
    """Return an empty frame with the candle columns and dtypes."""
    return pl.DataFrame(schema=CANDLE_FRAME_SCHEMA)


def candles_to_frame(
    candles: Sequence[HyperliquidCandle], *, symbol: str, interval: str, exchange: str = EXCHANGE
) -> pl.DataFrame:
    """Build the project's candle frame (see ``CANDLE_FRAME_SCHEMA``), sorted by ``timestamp``.

    Prices and volume become float64 here; keep the :class:`HyperliquidCandle` list for exact values.
    """
    if not candles:
        return empty_candle_frame()
    n = len(candles)
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series([c.t for c in candles], dtype=pl.Int64).cast(pl.Datetime("ms")),
            "symbol": [symbol] * n,
            "exchange": [exchange] * n,
            "interval": [interval] * n,
            "open": [float(c.open) for c in candles],
            "high": [float(c.high) for c in candles],
            "low": [float(c.low) for c in candles],
            "close": [float(c.close) for c in candles],
            "volume": [float(c.volume) for c in candles],
            "trades": pl.Series([c.trades for c in candles], dtype=pl.Int64),
        }
    )
    frame = frame.with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))
    return frame.cast(CANDLE_FRAME_SCHEMA).sort("timestamp")
