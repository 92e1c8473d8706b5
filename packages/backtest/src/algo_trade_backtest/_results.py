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
    "side_name",
    "trades_from_records",
]

Side = Literal["long", "short"]
ExitReason = Literal["take_profit", "stop_loss", "reversal", "signal"]

EXIT_REASONS: dict[int, ExitReason] = {
    K.REASON_TAKE_PROFIT: "take_profit",
    K.REASON_STOP_LOSS: "stop_loss",
    K.REASON_REVERSAL: "reversal",
    K.REASON_SIGNAL: "signal",
}


def side_name(code: int) -> Side:
    """``"long"`` for a positive side code, ``"short"`` otherwise."""
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


def trades_from_records(records: npt.NDArray[np.void]) -> list[BacktestTrade]:
    """Convert the kernels' trade records (``TRADE_DTYPE``) to :class:`BacktestTrade` objects."""
    return [
        BacktestTrade(
            entry_time=ms_to_datetime(entry_time),
            exit_time=ms_to_datetime(exit_time),
            side=side_name(side),
            entry_price=entry_price,
            exit_price=exit_price,
            qty=qty,
            fees=fees,
            pnl=pnl,
            exit_reason=EXIT_REASONS[reason],
            entry_index=entry_index,
            exit_index=exit_index,
        )
        for (
            entry_time,
            exit_time,
            side,
            reason,
            entry_index,
            exit_index,
            entry_price,
            exit_price,
            qty,
            fees,
            pnl,
        ) in records.tolist()
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
