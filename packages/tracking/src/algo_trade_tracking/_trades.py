"""Fills on both sides of a reconciliation: the bot's recorded fills and the fills the backtest implies,
in one shape, paired into round trips, and the equity curve a list of fills draws over bars.

A fill's ``t`` is the open time (epoch ms) of the bar it filled in: paper bots stamp fills that way,
and the engine fills orders at a bar's open and take-profit/stop-loss exits inside a bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import BacktestResult
from algo_trade_core import datetime_to_ms, to_decimal
from algo_trade_data import FillRecord

__all__ = [
    "OPEN_PRICED",
    "RoundTrip",
    "TrackedFill",
    "backtest_fills",
    "equity_from_fills",
    "recorded_fills",
    "round_trips",
]

# Fills priced at a bar's open (± slippage): their slippage can be measured against the open. Take-profit
# and stop-loss exits fill at their level inside the bar (or at a gapping open), so they are not.
OPEN_PRICED = frozenset({"entry", "reversal", "signal", "close"})
# Within one bar: a reversal's close, then the entry at the open, then a TP/SL exit inside the bar.
_RANK = {"reversal": 0, "close": 0, "signal": 0, "entry": 1}


@dataclass(frozen=True, slots=True)
class TrackedFill:
    """One fill: ``side`` +1 buys, -1 sells; ``price``/``qty``/``fee`` as stored (8 decimal places)."""

    t: int
    side: int
    price: Decimal
    qty: Decimal
    fee: Decimal
    reason: str

    @property
    def is_entry(self) -> bool:
        return self.reason == "entry"

    @property
    def notional(self) -> float:
        return float(self.price * self.qty)


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """An entry fill and its exit fill (``exit`` is None while the position is open)."""

    entry: TrackedFill
    exit: TrackedFill | None

    @property
    def side(self) -> str:
        return "long" if self.entry.side > 0 else "short"

    @property
    def fees(self) -> float:
        return float(self.entry.fee + (self.exit.fee if self.exit is not None else 0))

    @property
    def pnl(self) -> float:
        """Net PnL of a closed round trip (both fees paid); an open one counts its entry fee only."""
        if self.exit is None:
            return -float(self.entry.fee)
        move = float(self.exit.price - self.entry.price) * float(self.entry.qty)
        return move * self.entry.side - self.fees


def _sort(fills: Iterable[TrackedFill]) -> list[TrackedFill]:
    return sorted(fills, key=lambda f: (f.t, _RANK.get(f.reason, 2)))


def recorded_fills(records: Iterable[FillRecord]) -> list[TrackedFill]:
    """The bot's stored fills in trading order.

    Raises:
        ValueError: a fill of an unknown side (the message names the fill).
    """
    out = []
    for r in records:
        if r.side not in ("buy", "sell"):
            raise ValueError(f"fill {r.fill_id}: expected side 'buy' or 'sell', got {r.side!r}")
        out.append(
            TrackedFill(
                t=datetime_to_ms(r.timestamp),
                side=1 if r.side == "buy" else -1,
                price=Decimal(r.price),
                qty=Decimal(r.quantity),
                fee=Decimal(r.fee),
                reason=r.reason,
            )
        )
    return _sort(out)


def backtest_fills(result: BacktestResult, *, since_ms: int | None = None) -> list[TrackedFill]:
    """The fills of a backtest (its round trips and the position open at the end), as a bot stores them.

    Each fill's fee is the engine's ``fee_rate * qty * price``. ``since_ms`` drops fills before it.
    """
    rate = result.execution.fee_rate

    def fill(t: int, side: int, price: float, qty: float, reason: str) -> TrackedFill:
        return TrackedFill(
            t=t,
            side=side,
            price=to_decimal(price),
            qty=to_decimal(qty),
            fee=to_decimal(rate * qty * price),
            reason=reason,
        )

    out = []
    for trade in result.trades:
        sign = 1 if trade.side == "long" else -1
        out.append(fill(datetime_to_ms(trade.entry_time), sign, trade.entry_price, trade.qty, "entry"))
        out.append(
            fill(datetime_to_ms(trade.exit_time), -sign, trade.exit_price, trade.qty, trade.exit_reason)
        )
    pos = result.open_position
    if pos is not None:
        sign = 1 if pos.side == "long" else -1
        out.append(fill(datetime_to_ms(pos.entry_time), sign, pos.entry_price, pos.qty, "entry"))
    if since_ms is not None:
        out = [f for f in out if f.t >= since_ms]
    return _sort(out)


def round_trips(fills: Sequence[TrackedFill]) -> list[RoundTrip]:
    """Pair fills in trading order: each entry with the next exit (the last may stay open).

    Raises:
        ValueError: an exit without an open position, or an entry while one is open (the message names
            the fill's bar).
    """
    trips: list[RoundTrip] = []
    entry: TrackedFill | None = None
    for f in fills:
        if f.is_entry:
            if entry is not None:
                raise ValueError(
                    f"fill at bar {f.t}: an entry while a position is open (since bar {entry.t})"
                )
            entry = f
        else:
            if entry is None:
                raise ValueError(f"fill at bar {f.t}: a {f.reason} exit without an open position")
            trips.append(RoundTrip(entry, f))
            entry = None
    if entry is not None:
        trips.append(RoundTrip(entry, None))
    return trips


def equity_from_fills(
    t: npt.NDArray[np.int64],
    close: npt.NDArray[np.float64],
    fills: Sequence[TrackedFill],
    capital: float,
) -> npt.NDArray[np.float64]:
    """Mark-to-market equity at each bar close: ``cash + qty * close`` after the bar's fills.

    A fill applies at the bar with its open time (or, when that bar is missing, the next bar).
    """
    n = t.shape[0]
    cash = np.zeros(n + 1)
    qty = np.zeros(n + 1)
    if fills:
        at = np.searchsorted(t, np.array([f.t for f in fills], dtype=np.int64))
        side = np.array([f.side for f in fills], dtype=np.float64)
        amount = np.array([float(f.qty) for f in fills])
        price = np.array([float(f.price) for f in fills])
        fee = np.array([float(f.fee) for f in fills])
        np.add.at(cash, at, -side * amount * price - fee)
        np.add.at(qty, at, side * amount)
    held = np.cumsum(qty)[:n]
    return np.asarray(capital + np.cumsum(cash)[:n] + held * close, dtype=np.float64)
