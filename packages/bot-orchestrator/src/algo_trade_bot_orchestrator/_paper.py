"""A bot's paper account: the engine's :class:`~algo_trade_backtest.StrategyRunner` plus what a bot adds.

The runner does all strategy work and all normal execution (fills at the next open with slippage and
fee, TP/SL inside the bar), so a bot trades exactly like the backtest. The book adds:

- order gating by mode: ``all`` (running), ``none`` (paused: the order decided at the previous close is
  discarded, TP/SL still exit), ``exits`` (draining: an entry is discarded, a reversal becomes a plain
  exit at this open and ends the book);
- a forced close at a bar's open (removing a bot), priced like every engine fill;
- fill ids that depend only on what is filled (``{bot_id}:{bar open ms}:{n}``), the bot id and the
  exchange on each fill, and trade/fill counters that survive restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from algo_trade_backtest import BacktestTrade, DecimalBars, StrategyRunner
from algo_trade_bot_orchestrator._config import BotConfig
from algo_trade_bot_orchestrator._ports import BarLike
from algo_trade_bot_orchestrator._status import PaperPosition
from algo_trade_core import Fill, MaCrossoverConfig, OrderSide, QuadMaConfig, ms_to_datetime, to_decimal

__all__ = ["OrderMode", "PaperBook", "PaperFill", "fill_id", "strategy_warmup_bars"]

OrderMode = Literal["all", "none", "exits"]
BOOK_FORMAT = "algo_trade_bot_orchestrator.PaperBook/1"


def strategy_warmup_bars(strategy: str, parameters: Mapping[str, Any]) -> int:
    """Return how many bars a strategy must see before its first possible signal.

    With that many bars of history, the next closed bar can already produce an order, and a batch
    backtest over the same bars cannot trade during them (so a bot warmed up on them and a backtest
    agree from the first live bar on).
    """
    if strategy == "quad_ma":
        quad = QuadMaConfig(**dict(parameters))
        return max(quad.short_1, quad.short_2, quad.long_1, quad.long_2, quad.trend)
    cross = MaCrossoverConfig(**dict(parameters))
    return cross.slow - 1


def fill_id(bot_id: str, bar_t: int, seq: int) -> str:
    """The idempotency key of the ``seq``-th fill a bot made on the bar opening at ``bar_t``."""
    return f"{bot_id}:{bar_t}:{seq}"


@dataclass(frozen=True, slots=True)
class PaperFill:
    """A paper fill and its idempotency key."""

    fill_id: str
    fill: Fill

    @property
    def is_exit(self) -> bool:
        return self.fill.reason != "entry"


class PaperBook:
    """A bot's runner, order gating and counters (see the module docstring)."""

    def __init__(self, config: BotConfig, runner: StrategyRunner | None = None) -> None:
        self._config = config
        self._runner = (
            runner
            if runner is not None
            else StrategyRunner(
                config.strategy,  # type: ignore[arg-type]  # validated by BotConfig
                dict(config.parameters),
                config.execution,
                interval=config.interval,
                symbol=config.symbol,
            )
        )
        self.min_warmup_bars = strategy_warmup_bars(config.strategy, config.parameters)
        self.num_trades = 0
        self.num_fills = 0
        self._closed_cash: float | None = None  # set by a forced close: the book is finished

    # -- what it holds ----------------------------------------------------------------------------

    @property
    def is_flat(self) -> bool:
        return self._closed_cash is not None or self._runner.position is None

    @property
    def finished(self) -> bool:
        """Whether a forced close ended this book (it takes no more bars)."""
        return self._closed_cash is not None

    @property
    def equity(self) -> float:
        """Mark-to-market equity at the last close (cash after a forced close)."""
        return self._closed_cash if self._closed_cash is not None else self._runner.equity

    @property
    def position(self) -> PaperPosition | None:
        if self._closed_cash is not None:
            return None
        pos = self._runner.position
        if pos is None:
            return None
        return PaperPosition(
            side=pos.side,
            quantity=pos.qty,
            entry_price=pos.entry_price,
            entry_time=pos.entry_time,
            entry_fee=pos.entry_fee,
            mark_price=pos.mark_price,
            unrealized_pnl=pos.unrealized_pnl,
            take_profit=pos.take_profit,
            stop_loss=pos.stop_loss,
        )

    @property
    def pending_signal(self) -> int:
        """The order the last close decided for the next open: 1 go long, -1 go short, 0 none."""
        return int(self._runner.pending_signal)

    @property
    def trades(self) -> list[BacktestTrade]:
        """The round trips the strategy closed (a forced close is a fill, not one of these)."""
        return self._runner.trades

    @property
    def realized_pnl(self) -> float:
        """Net PnL of the closed trades: equity minus capital minus the open position's PnL."""
        position = self.position
        unrealized = position.unrealized_pnl if position is not None else 0.0
        return self.equity - self._config.execution.initial_capital - unrealized

    # -- bars -------------------------------------------------------------------------------------

    def warm_up(self, bars: pl.DataFrame) -> int:
        """Prime the strategy with ``bars`` (``t`` ms and OHLCV columns); the book stays flat.

        Returns the number of bars used.
        """
        if bars.is_empty():
            return 0
        self._runner.warm_up(
            *(bars[name].to_numpy() for name in ("t", "open", "high", "low", "close", "volume"))
        )
        return bars.height

    def on_bar(self, bar: BarLike, *, orders: OrderMode = "all") -> list[PaperFill]:
        """Apply the order mode to the pending order, then step the strategy through ``bar``.

        Raises:
            ValueError: the bar is invalid or not after the previous one (from the runner).
            RuntimeError: the book was finished by a forced close.
        """
        if self._closed_cash is not None:
            raise RuntimeError(f"bot {self._config.bot_id}: the paper book is closed")
        if orders != "all" and self._runner.pending_signal != 0:
            if orders == "exits" and self._runner.position is not None:
                return self.close_at_open(bar, reason="signal")
            self._runner.cancel_pending()
        self._runner.on_bar(bar.t, bar.open, bar.high, bar.low, bar.close, bar.volume)
        return self._stamp(self._runner.last_fills, bar.t)

    def run_bars(
        self,
        timestamps: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> npt.NDArray[np.float64]:
        """Trade many closed bars in ``all`` mode at once, exactly as :meth:`on_bar` would one by one.

        A walk-forward runs a bot's live period this way (the engine's batch loop). Fills are not
        stamped (nothing is stored); the trade and fill counters move as if they were.

        Returns:
            The mark-to-market equity at each bar's close.

        Raises:
            ValueError: the bars are invalid or not after the previous one (from the runner).
            RuntimeError: the book was finished by a forced close.
        """
        if self._closed_cash is not None:
            raise RuntimeError(f"bot {self._config.bot_id}: the paper book is closed")
        first = np.asarray(timestamps)[:1]
        equity, closed = self._runner.run_bars(timestamps, open, high, low, close, volume)
        self._count(closed, int(first[0]) if first.shape[0] else None)
        return equity

    def _count(self, closed: list[BacktestTrade], start_ms: int | None) -> None:
        """Move the counters for bars run in a batch from ``start_ms`` (fills are not stamped)."""
        if start_ms is None:
            return
        start = ms_to_datetime(start_ms)
        entries = sum(1 for t in closed if t.entry_time >= start)
        position = self._runner.position
        if position is not None and position.entry_time >= start:
            entries += 1
        self.num_trades += len(closed)
        self.num_fills += len(closed) + entries

    def prepare(
        self,
        timestamps: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> DecimalBars:
        """A whole series validated and converted once, for :meth:`warm_up_prepared` and
        :meth:`run_prepared` of any book of this strategy and parameters (see the runner's ``prepare``)."""
        return self._runner.prepare(timestamps, open, high, low, close, volume)

    def warm_up_prepared(self, prepared: DecimalBars, lo: int, hi: int) -> int:
        """:meth:`warm_up` on bars ``lo..hi-1`` of a prepared series; returns the bars used."""
        self._runner.warm_up_prepared(prepared, lo, hi)
        return max(hi - lo, 0)

    def run_prepared(self, prepared: DecimalBars, lo: int, hi: int) -> npt.NDArray[np.float64]:
        """:meth:`run_bars` on bars ``lo..hi-1`` of a prepared series."""
        if self._closed_cash is not None:
            raise RuntimeError(f"bot {self._config.bot_id}: the paper book is closed")
        start = int(prepared.kernel.time[lo]) if hi > lo else None
        equity, closed = self._runner.run_prepared(prepared, lo, hi)
        self._count(closed, start)
        return equity

    @property
    def holds_position(self) -> bool:
        """Whether a position is open (cheaper than :attr:`position`)."""
        return self._closed_cash is None and self._runner.holds_position

    def close_value(self, open_price: float) -> float:
        """The cash a forced close at ``open_price`` would leave (:meth:`close_at_open` without doing it)."""
        return self._close_leg(open_price)[0]

    def _close_leg(self, open_price: float) -> tuple[float, float, float, float]:
        """``(cash after, fill price, qty, fee)`` of closing the open position at ``open_price``.

        The arithmetic is the engine's close leg, in the same order of operations, so a forced close at
        an open costs exactly what a reversal's close would.
        """
        pos = self._runner.position
        cash = self._runner.cash
        if pos is None:
            return cash, 0.0, 0.0, 0.0
        execution = self._config.execution
        slip = execution.slippage_bps / 10_000.0
        long = pos.side == "long"
        price = open_price * (1.0 - slip) if long else open_price * (1.0 + slip)
        qty = pos.qty
        notional = qty * price
        fee = execution.fee_rate * notional
        cash = cash + notional if long else cash - notional
        return cash - fee, price, qty, fee

    def close_at_open(self, bar: BarLike, *, reason: str = "close") -> list[PaperFill]:
        """Close the open position at ``bar``'s open with the engine's slippage and fee; finish the book."""
        if self._closed_cash is not None:
            raise RuntimeError(f"bot {self._config.bot_id}: the paper book is closed")
        pos = self._runner.position
        cash, price, qty, fee = self._close_leg(bar.open)
        self._closed_cash = cash
        if pos is None:
            return []
        long = pos.side == "long"
        fill = Fill(
            symbol=self._config.symbol,
            side=OrderSide.SELL if long else OrderSide.BUY,
            quantity=to_decimal(qty),
            price=to_decimal(price),
            fee=to_decimal(fee),
            timestamp=ms_to_datetime(bar.t),
            reason=reason,
        )
        return self._stamp([fill], bar.t)

    def _stamp(self, fills: list[Fill], bar_t: int) -> list[PaperFill]:
        out = [
            PaperFill(
                fill_id(self._config.bot_id, bar_t, seq),
                replace(fill, bot_id=self._config.bot_id, exchange=self._config.exchange),
            )
            for seq, fill in enumerate(fills)
        ]
        self.num_fills += len(out)
        self.num_trades += sum(1 for f in out if f.is_exit)
        return out

    # -- persistence ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return JSON-ready state: the runner's (without its trade list: fills are in the store)."""
        runner = self._runner.state_dict()
        runner["trades"] = []  # unbounded history; the fills table and the counters below keep it
        return {
            "format": BOOK_FORMAT,
            "runner": runner,
            "num_trades": self.num_trades,
            "num_fills": self.num_fills,
        }

    @classmethod
    def from_state(cls, config: BotConfig, state: Mapping[str, Any]) -> PaperBook:
        """Rebuild a book saved by :meth:`state_dict` for ``config``.

        Raises:
            ValueError: not a book state, or one of another strategy, symbol or interval.
        """
        if state.get("format") != BOOK_FORMAT:
            got = state.get("format")
            raise ValueError(f"paper book state: expected format {BOOK_FORMAT!r}, got {got!r}")
        runner = StrategyRunner.from_state(state["runner"])
        mismatched = [
            name
            for name, mine, theirs in (
                ("strategy", config.strategy, runner.strategy),
                ("interval", config.interval, state["runner"].get("interval")),
                ("symbol", config.symbol, state["runner"].get("symbol")),
            )
            if mine != theirs
        ]
        if mismatched:
            raise ValueError(f"bot {config.bot_id}: stored runner state differs in {', '.join(mismatched)}")
        book = cls(config, runner)
        book.num_trades = int(state.get("num_trades", 0))
        book.num_fills = int(state.get("num_fills", 0))
        return book
