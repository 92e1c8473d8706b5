"""Result value objects: closed trades, the open position at the end, and the backtest result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import _kernels as K
from algo_trade_backtest._metrics import PerformanceMetrics, RawMetrics
from algo_trade_backtest._params import StrategyName
from algo_trade_core import (
    BacktestConfig,
    MaCrossoverConfig,
    PositionSide,
    QuadMaConfig,
    Trade,
    ms_to_datetime,
    to_decimal,
)

__all__ = [
    "EXIT_REASONS",
    "BacktestResult",
    "BacktestTrade",
    "ExitReason",
    "OpenPosition",
    "Side",
    "trades_from_arrays",
]

Side = Literal["long", "short"]
ExitReason = Literal["take_profit", "stop_loss", "reversal", "signal"]

EXIT_REASONS: dict[int, ExitReason] = {
    K.REASON_TAKE_PROFIT: "take_profit",
    K.REASON_STOP_LOSS: "stop_loss",
    K.REASON_REVERSAL: "reversal",
    K.REASON_SIGNAL: "signal",
}


def _side(code: int) -> Side:
    return "long" if code > 0 else "short"


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestTrade:
    """One closed round trip. Prices are fill prices (slippage included); ``pnl`` is net of both fees.

    ``entry_index``/``exit_index`` are the bar indices of the entry and exit fills.
    """

    entry_time: datetime
    exit_time: datetime
    side: Side
    entry_price: float
    exit_price: float
    qty: float
    fees: float
    pnl: float
    exit_reason: ExitReason
    entry_index: int
    exit_index: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: ISO-8601 UTC times, numbers as floats."""
        return {
            "entry_time": self.entry_time.isoformat(),
            "exit_time": self.exit_time.isoformat(),
            "side": self.side,
            "entry_price": self.entry_price,
            "exit_price": self.exit_price,
            "qty": self.qty,
            "fees": self.fees,
            "pnl": self.pnl,
            "exit_reason": self.exit_reason,
            "entry_index": self.entry_index,
            "exit_index": self.exit_index,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BacktestTrade:
        """Inverse of :meth:`to_dict`."""
        return cls(
            entry_time=datetime.fromisoformat(data["entry_time"]),
            exit_time=datetime.fromisoformat(data["exit_time"]),
            side=data["side"],
            entry_price=float(data["entry_price"]),
            exit_price=float(data["exit_price"]),
            qty=float(data["qty"]),
            fees=float(data["fees"]),
            pnl=float(data["pnl"]),
            exit_reason=data["exit_reason"],
            entry_index=int(data["entry_index"]),
            exit_index=int(data["exit_index"]),
        )

    def to_core(self, symbol: str) -> Trade:
        """Return the core :class:`~algo_trade_core.Trade` (Decimal money) for ``symbol``."""
        return Trade(
            symbol=symbol,
            side=PositionSide(self.side),
            entry_time=self.entry_time,
            exit_time=self.exit_time,
            entry_price=to_decimal(self.entry_price),
            exit_price=to_decimal(self.exit_price),
            quantity=to_decimal(self.qty),
            fees=to_decimal(self.fees),
            pnl=to_decimal(self.pnl),
            exit_reason=self.exit_reason,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class OpenPosition:
    """A position still open after the last bar: valued at the mark price, not counted as a trade.

    ``unrealized_pnl`` is ``qty * (mark - entry)`` (mirrored for shorts) minus the entry fee.
    ``take_profit``/``stop_loss`` are the price levels, ``None`` for strategies without them.
    """

    side: Side
    entry_time: datetime
    entry_index: int
    entry_price: float
    qty: float
    entry_fee: float
    mark_price: float
    unrealized_pnl: float
    take_profit: float | None
    stop_loss: float | None


def open_position_from_state(
    fs: npt.NDArray[np.float64], st: npt.NDArray[np.int64], *, has_exits: bool
) -> OpenPosition | None:
    """Read the open position (if any) out of kernel state."""
    side = int(st[K.I_POS])
    if side == 0:
        return None
    qty = abs(float(fs[K.F_QTY]))
    entry = float(fs[K.F_ENTRY_PRICE])
    mark = float(fs[K.F_LAST_CLOSE])
    gross = qty * (mark - entry) if side > 0 else qty * (entry - mark)
    return OpenPosition(
        side=_side(side),
        entry_time=ms_to_datetime(int(st[K.I_ENTRY_TIME])),
        entry_index=int(st[K.I_ENTRY_IDX]),
        entry_price=entry,
        qty=qty,
        entry_fee=float(fs[K.F_ENTRY_FEE]),
        mark_price=mark,
        unrealized_pnl=gross - float(fs[K.F_ENTRY_FEE]),
        take_profit=float(fs[K.F_TP]) if has_exits else None,
        stop_loss=float(fs[K.F_SL]) if has_exits else None,
    )


def trades_from_arrays(
    trade_i: npt.NDArray[np.int64], trade_f: npt.NDArray[np.float64]
) -> list[BacktestTrade]:
    """Convert the kernels' trade records to :class:`BacktestTrade` objects."""
    ints = trade_i.tolist()
    floats = trade_f.tolist()
    return [
        BacktestTrade(
            entry_time=ms_to_datetime(row_i[K.T_ENTRY_TIME]),
            exit_time=ms_to_datetime(row_i[K.T_EXIT_TIME]),
            side=_side(row_i[K.T_SIDE]),
            entry_price=row_f[K.T_ENTRY_PRICE],
            exit_price=row_f[K.T_EXIT_PRICE],
            qty=row_f[K.T_QTY],
            fees=row_f[K.T_FEES],
            pnl=row_f[K.T_PNL],
            exit_reason=EXIT_REASONS[row_i[K.T_REASON]],
            entry_index=row_i[K.T_ENTRY_IDX],
            exit_index=row_i[K.T_EXIT_IDX],
        )
        for row_i, row_f in zip(ints, floats, strict=True)
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestResult:
    """Everything one backtest produced.

    ``equity`` has one mark-to-market point per bar close; ``pending_signal`` is the order the last
    close asked for (it would fill at the next bar's open, which is outside the window).
    """

    strategy: StrategyName
    params: QuadMaConfig | MaCrossoverConfig
    execution: BacktestConfig
    interval: str
    params_hash: str
    equity: npt.NDArray[np.float64]
    trades: list[BacktestTrade]
    metrics: PerformanceMetrics
    raw_metrics: RawMetrics
    open_position: OpenPosition | None
    pending_signal: int = 0

    def to_json_dict(self) -> dict[str, Any]:
        """Return ``{"metrics": {...}, "trades": [...]}`` with ISO times and JSON numbers."""
        return {
            "metrics": self.metrics.to_json_dict(),
            "trades": [trade.to_dict() for trade in self.trades],
        }
