"""Fills on both sides of a reconciliation: the bot's recorded fills and the fills the backtest implies,
in one shape, paired into round trips, and the equity curve a list of fills draws over bars.

A fill's ``t`` is the open time (epoch ms) of the bar it filled in: paper bots stamp fills that way,
and the engine fills orders at a bar's open and take-profit/stop-loss exits inside a bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import EXIT_REASONS, BacktestArrays, BacktestResult
from algo_trade_core import datetime_to_ms
from algo_trade_data import FillColumns, FillRecord

__all__ = [
    "OPEN_PRICED",
    "FillArrays",
    "RoundTrip",
    "TrackedFill",
    "backtest_fills",
    "equity_from_fills",
    "recorded_fills",
    "round_trips",
    "same_value",
]

# Fills priced at a bar's open (± slippage): their slippage can be measured against the open. Take-profit
# and stop-loss exits fill at their level inside the bar (or at a gapping open), so they are not.
OPEN_PRICED = frozenset({"entry", "reversal", "signal", "close"})
# Within one bar: a reversal's close, then the entry at the open, then a TP/SL exit inside the bar.
_RANK = {"reversal": 0, "close": 0, "signal": 0, "entry": 1}


# Stored fills keep 8 decimal places: two values this close are the same fill value.
STORED_DECIMALS = 8
ABS_TOLERANCE = 1e-8
REL_TOLERANCE = 1e-12


def same_value(a: float, b: float) -> bool:
    """Whether ``a`` and ``b`` are equal up to the store's 8-decimal rounding."""
    return abs(a - b) <= ABS_TOLERANCE + REL_TOLERANCE * abs(b)


@dataclass(frozen=True, slots=True)
class TrackedFill:
    """One fill: ``side`` +1 buys, -1 sells. Floats: a stored fill's decimals (8 places) converted, a
    backtest's fill as the engine computed it (compare them with :func:`same_value`)."""

    t: int
    side: int
    price: float
    qty: float
    fee: float
    reason: str

    @property
    def is_entry(self) -> bool:
        return self.reason == "entry"

    @property
    def notional(self) -> float:
        return self.price * self.qty


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
        return self.entry.fee + (self.exit.fee if self.exit is not None else 0.0)

    @property
    def pnl(self) -> float:
        """Net PnL of a closed round trip (both fees paid); an open one counts its entry fee only."""
        if self.exit is None:
            return -self.entry.fee
        move = (self.exit.price - self.entry.price) * self.entry.qty
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
                price=float(r.price),
                qty=float(r.quantity),
                fee=float(r.fee),
                reason=r.reason,
            )
        )
    return _sort(out)


def backtest_fills(result: BacktestResult, *, since_ms: int | None = None) -> list[TrackedFill]:
    """The fills of a backtest (its round trips and the position open at the end), as a bot stores them.

    Each fill's fee is the engine's ``fee_rate * qty * price``. ``since_ms`` drops fills before it.
    """
    return FillArrays.of_backtest(result, since_ms=since_ms).to_list()


def round_trips(fills: Sequence[TrackedFill]) -> list[RoundTrip]:
    """Pair fills in trading order: each entry with the next exit (the last may stay open).

    Raises:
        ValueError: an exit without an open position, or an entry while one is open (the message names
            the fill's bar).
    """
    arrays = FillArrays.of(fills)
    entries, exits = arrays.trips()
    return [
        RoundTrip(arrays.fill(int(i)), None if j < 0 else arrays.fill(int(j)))
        for i, j in zip(entries.tolist(), exits.tolist(), strict=True)
    ]


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
REASONS = ("entry", "take_profit", "stop_loss", "reversal", "signal", "close")
_CODE = {name: code for code, name in enumerate(REASONS)}
_RANK_OF = np.array([_RANK.get(name, 2) for name in REASONS], dtype=np.int64)
# The engine's exit reason codes (keys of EXIT_REASONS) as indices into REASONS.
_EXIT_CODE_OF = np.full(max(EXIT_REASONS) + 1, -1, dtype=np.int64)
for _kernel_code, _name in EXIT_REASONS.items():
    _EXIT_CODE_OF[_kernel_code] = _CODE[_name]


@dataclass(frozen=True, slots=True)
class FillArrays:
    """Fills as columns (the fast path of reconciliation), sorted in trading order. ``reason`` holds
    indices into :data:`REASONS`."""

    t: IntArray
    side: FloatArray
    price: FloatArray
    qty: FloatArray
    fee: FloatArray
    reason: IntArray

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def _sorted(cls, t: IntArray, side: FloatArray, price: FloatArray, qty: FloatArray, fee: FloatArray,
                reason: IntArray) -> FillArrays:  # fmt: skip
        order = np.lexsort((_RANK_OF[reason], t))
        return cls(t[order], side[order], price[order], qty[order], fee[order], reason[order])

    @classmethod
    def of(cls, fills: Sequence[TrackedFill]) -> FillArrays:
        """Columns of ``fills``.

        Raises:
            ValueError: a fill with a reason other than those of :data:`REASONS` (names the bar).
        """
        codes = []
        for f in fills:
            code = _CODE.get(f.reason)
            if code is None:
                raise ValueError(f"fill at bar {f.t}: unknown reason {f.reason!r}, expected one of {REASONS}")
            codes.append(code)
        return cls._sorted(
            np.array([f.t for f in fills], dtype=np.int64),
            np.array([f.side for f in fills], dtype=np.float64),
            np.array([f.price for f in fills], dtype=np.float64),
            np.array([f.qty for f in fills], dtype=np.float64),
            np.array([f.fee for f in fills], dtype=np.float64),
            np.array(codes, dtype=np.int64),
        )

    @classmethod
    def of_records(cls, records: Sequence[FillRecord]) -> FillArrays:
        """Columns of a bot's stored fills (what :func:`recorded_fills` gives, without the objects).

        Raises:
            ValueError: a fill of an unknown side or reason (names the fill).
        """
        for r in records:
            if r.side not in ("buy", "sell"):
                raise ValueError(f"fill {r.fill_id}: expected side 'buy' or 'sell', got {r.side!r}")
            if r.reason not in _CODE:
                raise ValueError(f"fill {r.fill_id}: unknown reason {r.reason!r}, expected one of {REASONS}")
        return cls._sorted(
            np.array([datetime_to_ms(r.timestamp) for r in records], dtype=np.int64),
            np.array([1.0 if r.side == "buy" else -1.0 for r in records]),
            np.array([float(r.price) for r in records]),
            np.array([float(r.quantity) for r in records]),
            np.array([float(r.fee) for r in records]),
            np.array([_CODE[r.reason] for r in records], dtype=np.int64),
        )

    @classmethod
    def of_columns(cls, columns: FillColumns) -> FillArrays:
        """Columns of the store's fills (``DatabaseClient.query_fill_columns``).

        Raises:
            ValueError: a fill of an unknown reason (names its bar).
        """
        lookup = np.array([_CODE.get(name, -1) for name in columns.reasons], dtype=np.int64)
        codes = lookup[columns.reason] if len(columns) else np.zeros(0, dtype=np.int64)
        if (codes < 0).any():
            i = int(np.flatnonzero(codes < 0)[0])
            name = columns.reasons[int(columns.reason[i])]
            raise ValueError(
                f"fill at bar {int(columns.t[i])}: unknown reason {name!r}, expected one of {REASONS}"
            )
        return cls._sorted(
            np.ascontiguousarray(columns.t, dtype=np.int64),
            np.where(columns.buy, 1.0, -1.0),
            np.ascontiguousarray(columns.price, dtype=np.float64),
            np.ascontiguousarray(columns.quantity, dtype=np.float64),
            np.ascontiguousarray(columns.fee, dtype=np.float64),
            codes,
        )

    @classmethod
    def of_backtest(
        cls, result: BacktestResult | BacktestArrays, *, since_ms: int | None = None
    ) -> FillArrays:
        """The backtest's fills (see :func:`backtest_fills`), from fills at or after ``since_ms``."""
        pos = result.open_position
        if isinstance(result, BacktestArrays):
            records = result.trades
            n = int(records.shape[0])
            entry_t, exit_t = records["entry_time"], records["exit_time"]
            sign = np.where(records["side"] > 0, 1.0, -1.0)
            entry_price, exit_price, trade_qty = records["entry_price"], records["exit_price"], records["qty"]
            exit_code = _EXIT_CODE_OF[records["reason"]] if n else np.zeros(0, dtype=np.int64)
        else:
            trades = result.trades
            n = len(trades)
            entry_t = np.array([datetime_to_ms(tr.entry_time) for tr in trades], dtype=np.int64)
            exit_t = np.array([datetime_to_ms(tr.exit_time) for tr in trades], dtype=np.int64)
            sign = np.array([1.0 if tr.side == "long" else -1.0 for tr in trades])
            entry_price = np.array([tr.entry_price for tr in trades])
            exit_price = np.array([tr.exit_price for tr in trades])
            trade_qty = np.array([tr.qty for tr in trades])
            exit_code = np.array([_CODE[tr.exit_reason] for tr in trades], dtype=np.int64)
        m = 2 * n + (pos is not None)
        t = np.empty(m, dtype=np.int64)
        side = np.empty(m)
        price = np.empty(m)
        qty = np.empty(m)
        reason = np.zeros(m, dtype=np.int64)
        if n:
            t[0 : 2 * n : 2], t[1 : 2 * n : 2] = entry_t, exit_t
            side[0 : 2 * n : 2], side[1 : 2 * n : 2] = sign, -sign
            price[0 : 2 * n : 2], price[1 : 2 * n : 2] = entry_price, exit_price
            qty[0 : 2 * n : 2] = qty[1 : 2 * n : 2] = trade_qty
            reason[1 : 2 * n : 2] = exit_code
        if pos is not None:
            t[-1] = datetime_to_ms(pos.entry_time)
            side[-1] = 1.0 if pos.side == "long" else -1.0
            price[-1], qty[-1] = pos.entry_price, pos.qty
        fee = result.execution.fee_rate * qty * price
        # Quantised like the store keeps a bot's fills (8 decimal places), so sums compare like for like.
        price, qty, fee = (np.round(x, STORED_DECIMALS) for x in (price, qty, fee))
        arrays = cls._sorted(t, side, price, qty, fee, reason)
        return arrays if since_ms is None else arrays.where(arrays.t >= since_ms)

    def where(self, mask: npt.NDArray[np.bool_]) -> FillArrays:
        return FillArrays(
            self.t[mask], self.side[mask], self.price[mask], self.qty[mask], self.fee[mask], self.reason[mask]
        )

    def fill(self, i: int) -> TrackedFill:
        return TrackedFill(
            t=int(self.t[i]),
            side=int(self.side[i]),
            price=float(self.price[i]),
            qty=float(self.qty[i]),
            fee=float(self.fee[i]),
            reason=REASONS[int(self.reason[i])],
        )

    def to_list(self) -> list[TrackedFill]:
        return [self.fill(i) for i in range(len(self))]

    def trips(self) -> tuple[IntArray, IntArray]:
        """Round trips as (entry fill index, exit fill index or -1 while open): fills alternate
        entry, exit, entry, exit...

        Raises:
            ValueError: an exit without an open position, or an entry while one is open (names the bar).
        """
        n = len(self)
        is_entry = self.reason == 0
        bad = np.flatnonzero(is_entry != (np.arange(n) % 2 == 0))
        if bad.size:
            i = int(bad[0])
            if is_entry[i]:
                raise ValueError(
                    f"fill at bar {self.t[i]}: an entry while a position is open (since bar {self.t[i - 1]})"
                )
            raise ValueError(
                f"fill at bar {self.t[i]}: a {REASONS[self.reason[i]]} exit without an open position"
            )
        entries = np.arange(0, n, 2, dtype=np.int64)
        exits = entries + 1
        exits[exits >= n] = -1
        return entries, exits


def equity_from_fills(
    t: npt.NDArray[np.int64],
    close: npt.NDArray[np.float64],
    fills: Sequence[TrackedFill] | FillArrays,
    capital: float,
) -> npt.NDArray[np.float64]:
    """Mark-to-market equity at each bar close: ``cash + qty * close`` after the bar's fills.

    A fill applies at the bar with its open time (or, when that bar is missing, the next bar).
    """
    f = fills if isinstance(fills, FillArrays) else FillArrays.of(fills)
    n = t.shape[0]
    cash = np.zeros(n + 1)
    qty = np.zeros(n + 1)
    if len(f):
        at = np.searchsorted(t, f.t)
        np.add.at(cash, at, -f.side * f.qty * f.price - f.fee)
        np.add.at(qty, at, f.side * f.qty)
    held = np.cumsum(qty)[:n]
    return np.asarray(capital + np.cumsum(cash)[:n] + held * close, dtype=np.float64)
