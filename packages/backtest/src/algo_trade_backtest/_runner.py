"""Bar-by-bar use of the engine for live (paper) bots.

:class:`StrategyRunner` holds one strategy instance's kernel state and feeds it one closed bar at a
time through the same jitted step as the batch loop. It also paper-executes exactly like the engine:
a bar first fills the order decided at the previous close at its open, then checks the position's
take-profit/stop-loss within its range, then decides at its close. Feeding a series bar by bar
therefore gives exactly the trades and equity of :func:`~algo_trade_backtest.run_backtest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import _kernels as K
from algo_trade_backtest._engine import prepare_bars
from algo_trade_backtest._params import (
    StrategyName,
    StrategyParams,
    coerce_params,
    execution_to_array,
    params_from_mapping,
    params_to_array,
    strategy_kind,
    validate_execution,
)
from algo_trade_backtest._results import (
    EXIT_REASONS,
    BacktestTrade,
    OpenPosition,
    open_position_from_state,
    trades_from_arrays,
)
from algo_trade_core import (
    BacktestConfig,
    Fill,
    Order,
    OrderSide,
    Signal,
    datetime_to_ms,
    interval_to_ms,
    ms_to_datetime,
    to_decimal,
    validate_candle_values,
)

__all__ = ["STATE_FORMAT", "StrategyRunner"]

STATE_FORMAT = "algo_trade_backtest.StrategyRunner/1"
_FILL_REASONS = {K.REASON_ENTRY: "entry"} | {code: name for code, name in EXIT_REASONS.items()}


class StrategyRunner:
    """Run one strategy on closed bars as they arrive, with paper execution.

    Args:
        strategy: ``"quad_ma"`` or ``"ma_crossover"``.
        params: the strategy's dataclass, a mapping of overrides, or ``None`` for the defaults.
        execution: capital, fee, slippage and sizing (``None``: the defaults).
        interval: the bar interval; orders are stamped with the bar's close time.
        symbol: the symbol written into orders and fills.

    Raises:
        ValueError: impossible parameters or settings, or an unknown interval.
    """

    def __init__(
        self,
        strategy: StrategyName,
        params: StrategyParams | Mapping[str, Any] | None = None,
        execution: BacktestConfig | None = None,
        *,
        interval: str,
        symbol: str = "",
    ) -> None:
        self._strategy: StrategyName = strategy
        self._kind = strategy_kind(strategy)
        self._params = coerce_params(strategy, params)
        self._execution = execution if execution is not None else BacktestConfig()
        validate_execution(self._execution)
        self._interval_ms = interval_to_ms(interval)
        self._interval = interval
        self._symbol = symbol
        self._param_vector = params_to_array(self._params)
        self._exec_vector = execution_to_array(self._execution)
        self._fs, self._st, self._ring_close, self._ring_volume = K.allocate_state(
            self._kind, self._param_vector, self._execution.initial_capital
        )
        self._trade_i = np.zeros((K.MAX_TRADES_PER_BAR, K.NUM_TRADE_INTS), dtype=np.int64)
        self._trade_f = np.zeros((K.MAX_TRADES_PER_BAR, K.NUM_TRADE_FLOATS))
        self._fill_i = np.zeros((K.MAX_FILLS_PER_BAR, 3), dtype=np.int64)
        self._fill_f = np.zeros((K.MAX_FILLS_PER_BAR, 3))
        self._trades: list[BacktestTrade] = []
        self._last_fills: list[Fill] = []

    # ----------------------------------------------------------------------------------------------
    # Feeding bars

    def on_bar(
        self,
        timestamp: int | datetime,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
    ) -> list[Order]:
        """Process one closed bar and return the orders to place at the next bar's open.

        The bar first fills the orders returned for the previous bar at its open (paper execution,
        slippage and fee as in the backtest), then exits the position on take-profit/stop-loss within
        its range, then lets the strategy decide at its close. Fills of this bar are in
        :attr:`last_fills`, closed trades in :attr:`trades`.

        Args:
            timestamp: the bar's open time, epoch milliseconds or a timezone-aware datetime.
            open: the bar's open.
            high: the bar's high.
            low: the bar's low.
            close: the bar's close.
            volume: the bar's volume.

        Raises:
            ValueError: the bar is not after the previous one, or its values are not a valid bar.
        """
        t = datetime_to_ms(timestamp) if isinstance(timestamp, datetime) else int(timestamp)
        if self.bars_seen and t <= int(self._st[K.I_LAST_TIME]):
            raise ValueError(
                f"bar at {ms_to_datetime(t).isoformat()} is not after the previous bar at "
                f"{ms_to_datetime(int(self._st[K.I_LAST_TIME])).isoformat()}"
            )
        values = (float(open), float(high), float(low), float(close), float(volume))
        problem = validate_candle_values(*values)
        if problem is not None:
            raise ValueError(f"bar at {ms_to_datetime(t).isoformat()}: {problem}")
        closed = K.step_nb(
            self._kind,
            self._param_vector,
            self._exec_vector,
            self._fs,
            self._st,
            self._ring_close,
            self._ring_volume,
            t,
            *values,
            self._trade_i,
            self._trade_f,
            self._fill_i,
            self._fill_f,
        )
        self._trades.extend(trades_from_arrays(self._trade_i[:closed], self._trade_f[:closed]))
        self._last_fills = self._fills(int(self._st[K.I_NFILLS]))
        return self.pending_orders

    def warm_up(
        self,
        timestamps: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> None:
        """Feed history to fill the averages, then start flat with the initial capital.

        Paper trades the history would have made are discarded (a bot starts flat and acts on the next
        setup); use :meth:`on_bar` for every bar to keep them instead.

        Raises:
            ValueError: the arrays are not valid bars, or do not start after the last bar seen.
        """
        ts, o, h, lo, c, v = prepare_bars(timestamps, open, high, low, close, volume)
        if self.bars_seen and ts[0] <= int(self._st[K.I_LAST_TIME]):
            raise ValueError("warm-up bars must start after the last bar already seen")
        equity = np.empty(c.shape[0])
        K.run_bars_nb(
            self._kind,
            self._param_vector,
            self._exec_vector,
            self._fs,
            self._st,
            self._ring_close,
            self._ring_volume,
            ts,
            o,
            h,
            lo,
            c,
            v,
            0,
            equity,
            False,
            self._trade_i,
            self._trade_f,
            0,
            self._fill_i,
            self._fill_f,
        )
        self._reset_account()

    def cancel_pending(self) -> None:
        """Drop the orders the last close asked for, e.g. when a bot is paused or told to drain.

        The position (if any) keeps its take-profit/stop-loss; the strategy acts again on its next
        signal. Bar-by-bar equality with the batch engine no longer holds after this.
        """
        self._st[K.I_PENDING] = 0

    def _reset_account(self) -> None:
        fs, st = self._fs, self._st
        for slot in (
            K.F_QTY,
            K.F_ENTRY_PRICE,
            K.F_ENTRY_FEE,
            K.F_TP,
            K.F_SL,
            K.F_GROSS_PROFIT,
            K.F_GROSS_LOSS,
        ):
            fs[slot] = 0.0
        fs[K.F_CASH] = fs[K.F_EQUITY] = self._execution.initial_capital
        for slot in (
            K.I_POS,
            K.I_ENTRY_TIME,
            K.I_ENTRY_IDX,
            K.I_PENDING,
            K.I_EXPOSED,
            K.I_NTRADES,
            K.I_WINNERS,
            K.I_REV_COUNT,
            K.I_NFILLS,
        ):
            st[slot] = 0
        self._trades.clear()
        self._last_fills = []

    def _fills(self, count: int) -> list[Fill]:
        fills = []
        for row_i, row_f in zip(self._fill_i[:count].tolist(), self._fill_f[:count].tolist(), strict=True):
            fills.append(
                Fill(
                    symbol=self._symbol,
                    side=OrderSide.BUY if row_i[1] > 0 else OrderSide.SELL,
                    quantity=to_decimal(row_f[1]),
                    price=to_decimal(row_f[0]),
                    fee=to_decimal(row_f[2]),
                    timestamp=ms_to_datetime(row_i[0]),
                    reason=_FILL_REASONS[row_i[2]],
                )
            )
        return fills

    # ----------------------------------------------------------------------------------------------
    # What the runner holds

    @property
    def strategy(self) -> StrategyName:
        """The strategy name."""
        return self._strategy

    @property
    def params(self) -> StrategyParams:
        """The validated strategy parameters."""
        return self._params

    @property
    def execution(self) -> BacktestConfig:
        """The execution settings."""
        return self._execution

    @property
    def bars_seen(self) -> int:
        """How many bars have been processed."""
        return int(self._st[K.I_NBARS])

    @property
    def last_timestamp(self) -> datetime | None:
        """The open time of the last bar processed."""
        return ms_to_datetime(int(self._st[K.I_LAST_TIME])) if self.bars_seen else None

    @property
    def equity(self) -> float:
        """Mark-to-market equity at the last close (cash + signed quantity x close)."""
        return float(self._fs[K.F_EQUITY])

    @property
    def cash(self) -> float:
        """Cash after every fill and fee so far (a short's proceeds included)."""
        return float(self._fs[K.F_CASH])

    @property
    def position(self) -> OpenPosition | None:
        """The open position, marked at the last close, or ``None`` when flat."""
        return open_position_from_state(self._fs, self._st, has_exits=self._strategy == "quad_ma")

    @property
    def pending_signal(self) -> Signal:
        """The direction the last close asked for (filled at the next bar's open)."""
        return Signal(int(self._st[K.I_PENDING]))

    @property
    def pending_orders(self) -> list[Order]:
        """The market orders to place at the next open: an entry, or a reversal's close then entry."""
        pending = int(self._st[K.I_PENDING])
        if pending == 0:
            return []
        created = ms_to_datetime(int(self._st[K.I_LAST_TIME])) + timedelta(milliseconds=self._interval_ms)
        side = OrderSide.BUY if pending > 0 else OrderSide.SELL
        orders = []
        if int(self._st[K.I_POS]) == -pending:
            held = to_decimal(abs(float(self._fs[K.F_QTY])))
            orders.append(
                Order(symbol=self._symbol, side=side, quantity=held, reason="reversal", created_at=created)
            )
        orders.append(
            Order(symbol=self._symbol, side=side, quantity=None, reason="entry", created_at=created)
        )
        return orders

    @property
    def trades(self) -> list[BacktestTrade]:
        """The closed trades so far (a copy)."""
        return list(self._trades)

    @property
    def last_fills(self) -> list[Fill]:
        """The paper fills of the last bar (entry/reversal at its open, then any exit)."""
        return list(self._last_fills)

    # ----------------------------------------------------------------------------------------------
    # Persistence

    def state_dict(self) -> dict[str, Any]:
        """Return the full state as JSON-serialisable data (floats round-trip exactly through JSON)."""
        fs = self._fs.copy()
        fs[K.F_SCRATCH :] = 0.0  # scratch, not state
        return {
            "format": STATE_FORMAT,
            "strategy": self._strategy,
            "symbol": self._symbol,
            "interval": self._interval,
            "params": asdict(self._params),
            "execution": asdict(self._execution),
            "float_state": fs.tolist(),
            "int_state": self._st.tolist(),
            "ring_close": self._ring_close.tolist(),
            "ring_volume": self._ring_volume.tolist(),
            "trades": [trade.to_dict() for trade in self._trades],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> StrategyRunner:
        """Rebuild a runner from :meth:`state_dict` output (e.g. after a restart).

        Raises:
            ValueError: the data is not a runner state of this version or does not fit its parameters.
        """
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"runner state: expected format {STATE_FORMAT!r}, got {state.get('format')!r}")
        strategy = cast(StrategyName, state["strategy"])
        runner = cls(
            strategy,
            params_from_mapping(strategy, state["params"]),
            BacktestConfig(**state["execution"]),
            interval=state["interval"],
            symbol=state["symbol"],
        )
        arrays: tuple[tuple[str, npt.NDArray[Any]], ...] = (
            ("float_state", runner._fs),
            ("int_state", runner._st),
            ("ring_close", runner._ring_close),
            ("ring_volume", runner._ring_volume),
        )
        for name, target in arrays:
            values = np.asarray(state[name], dtype=target.dtype)
            if values.shape != target.shape:
                raise ValueError(f"runner state: {name} has {values.size} values, expected {target.shape[0]}")
            target[:] = values
        runner._trades = [BacktestTrade.from_dict(row) for row in state["trades"]]
        return runner
