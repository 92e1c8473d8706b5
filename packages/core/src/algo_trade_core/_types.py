"""Domain value objects shared by every package.

Prices and quantities are ``Decimal`` where they are money (fills, trades, positions); bulk candle
work uses polars/numpy float64 and only single candles travel as :class:`Candle`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

__all__ = [
    "Candle",
    "Fill",
    "Order",
    "OrderSide",
    "Position",
    "PositionSide",
    "Signal",
    "Trade",
    "validate_candle_values",
]


class Signal(enum.IntEnum):
    """What a strategy step asks for at a bar close (values match the numba kernels)."""

    NONE = 0
    LONG = 1
    SHORT = -1


class OrderSide(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class PositionSide(enum.StrEnum):
    FLAT = "flat"
    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True, kw_only=True, slots=True)
class Candle:
    """One OHLCV bar. ``timestamp`` is the bar's open time (UTC); values are known only at its close."""

    symbol: str
    interval: str
    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int | None = None
    exchange: str = "hyperliquid"

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            raise ValueError(f"candle {self.symbol} {self.interval}: timestamp must be timezone-aware")
        problem = validate_candle_values(
            float(self.open), float(self.high), float(self.low), float(self.close), float(self.volume)
        )
        if problem is not None:
            raise ValueError(
                f"candle {self.symbol} {self.interval} at {self.timestamp.isoformat()}: {problem}"
            )


def validate_candle_values(o: float, h: float, lo: float, c: float, v: float) -> str | None:
    """Return what is wrong with one bar's values, or None when it is a valid OHLCV bar.

    Invariants: all prices finite and positive, ``low <= min(open, close)``,
    ``high >= max(open, close)``, volume finite and ``>= 0``.
    """
    for name, value in (("open", o), ("high", h), ("low", lo), ("close", c)):
        if not value == value or value in (float("inf"), float("-inf")):  # NaN or infinite
            return f"{name} is not a finite number ({value})"
        if value <= 0:
            return f"{name} must be positive, got {value}"
    if not v == v or v in (float("inf"), float("-inf")):
        return f"volume is not a finite number ({v})"
    if v < 0:
        return f"volume must be >= 0, got {v}"
    if lo > min(o, c):
        return f"low {lo} is above min(open, close) {min(o, c)}"
    if h < max(o, c):
        return f"high {h} is below max(open, close) {max(o, c)}"
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Order:
    """A market order a strategy wants placed at the next bar's open."""

    symbol: str
    side: OrderSide
    quantity: Decimal | None  # None: size from equity at fill time (position_fraction)
    reason: str  # "entry", "reversal", "take_profit", "stop_loss", "close"
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Fill:
    """An executed (or paper-executed) order."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    timestamp: datetime
    reason: str
    bot_id: str | None = None
    exchange: str = "hyperliquid"


@dataclass(frozen=True, kw_only=True, slots=True)
class Position:
    """An open position (quantity is positive; the side says the direction)."""

    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    entry_time: datetime
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Trade:
    """One closed round trip, net of both fees."""

    symbol: str
    side: PositionSide  # LONG or SHORT
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    quantity: Decimal
    fees: Decimal
    pnl: Decimal
    exit_reason: str  # take_profit, stop_loss, reversal, signal
