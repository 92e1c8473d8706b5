"""Immutable snapshots of a bot, published after every bar and command (what status queries read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from algo_trade_bot_orchestrator._config import BotState

__all__ = ["BotStatus", "PaperPosition"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PaperPosition:
    """The open paper position. ``unrealized_pnl`` is at the last close, net of the entry fee."""

    side: Literal["long", "short"]
    quantity: float
    entry_price: float
    entry_time: datetime
    entry_fee: float
    mark_price: float
    unrealized_pnl: float
    take_profit: float | None = None
    stop_loss: float | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "quantity": self.quantity,
            "entry_price": self.entry_price,
            "entry_time": self.entry_time.isoformat(),
            "entry_fee": self.entry_fee,
            "mark_price": self.mark_price,
            "unrealized_pnl": self.unrealized_pnl,
            "take_profit": self.take_profit,
            "stop_loss": self.stop_loss,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class BotStatus:
    """A consistent view of one bot between two bars.

    ``equity`` is marked to market at the last close; ``realized_pnl`` sums the closed trades (net of
    fees); ``bars`` counts the live bars acted on (warm-up bars excluded); ``stop_mode`` is set while a
    stop waits for the next open (``close``) or the strategy's exit (``drain``); ``unsaved_fills`` counts
    fills the store has not accepted yet (they are retried after every bar); ``shadow`` marks a shadow
    bot (its token was deselected); ``stop_reason`` says which protection stopped the bot.
    """

    bot_id: str
    symbol: str
    strategy: str
    interval: str
    state: BotState
    error: str | None
    position: PaperPosition | None
    equity: float
    initial_capital: float
    realized_pnl: float
    num_trades: int
    num_fills: int
    bars: int
    last_candle_time: datetime | None
    stop_mode: str | None
    unsaved_fills: int
    updated_at: datetime
    shadow: bool = False
    stop_reason: str | None = None

    @property
    def unrealized_pnl(self) -> float:
        return self.position.unrealized_pnl if self.position is not None else 0.0

    def to_json_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (ISO-8601 times)."""
        return {
            "bot_id": self.bot_id,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "interval": self.interval,
            "state": self.state.value,
            "error": self.error,
            "position": self.position.to_json_dict() if self.position is not None else None,
            "equity": self.equity,
            "initial_capital": self.initial_capital,
            "realized_pnl": self.realized_pnl,
            "unrealized_pnl": self.unrealized_pnl,
            "num_trades": self.num_trades,
            "num_fills": self.num_fills,
            "bars": self.bars,
            "last_candle_time": self.last_candle_time.isoformat() if self.last_candle_time else None,
            "stop_mode": self.stop_mode,
            "unsaved_fills": self.unsaved_fills,
            "updated_at": self.updated_at.isoformat(),
            "shadow": self.shadow,
            "stop_reason": self.stop_reason,
        }
