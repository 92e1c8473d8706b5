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
    params_from_mapping,
    strategy_kind,
    validate_execution,
)
from algo_trade_backtest._results import EXIT_REASONS, BacktestTrade, OpenPosition, trades_from_records
from algo_trade_backtest._state import (
    DecimalBars,
    StrategyState,
    execution_record,
    kernel_bars,
    params_record,
    series_decimals,
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

STATE_FORMAT = "algo_trade_backtest.StrategyRunner/2"
_STATE_FORMAT_V1 = "algo_trade_backtest.StrategyRunner/1"  # slot lists and float rings: still loaded
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
        self._param_record = params_record(self._params)
        self._exec_record = execution_record(self._execution)
        self._state = StrategyState.new(self._param_record, self._execution.initial_capital)
        # One bar's arrays and the buffers, reused by every on_bar (the kernel only reads and writes).
        self._bar = K.KernelBars(
            np.zeros(1, dtype=np.int64),
            np.zeros(1),
            np.zeros(1),
            np.zeros(1),
            np.zeros(1),
            np.zeros(1, dtype=np.int64),
            np.zeros(1, dtype=np.int64),
        )
        self._buffers = K.KernelBuffers(
            np.zeros(1),
            np.zeros(K.MAX_TRADES_PER_BAR, dtype=K.TRADE_DTYPE),
            np.zeros(K.MAX_FILLS_PER_BAR, dtype=K.FILL_DTYPE),
        )
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
        if self.bars_seen and t <= self._state.last_time:
            raise ValueError(
                f"bar at {ms_to_datetime(t).isoformat()} is not after the previous bar at "
                f"{ms_to_datetime(self._state.last_time).isoformat()}"
            )
        values = (float(open), float(high), float(low), float(close), float(volume))
        problem = validate_candle_values(*values)
        if problem is not None:
            raise ValueError(f"bar at {ms_to_datetime(t).isoformat()}: {problem}")
        bar = self._bar
        bar.time[0] = t
        bar.open[0], bar.high[0], bar.low[0], bar.close[0], volume_value = values
        units = self._state.bar_units(values[3], volume_value)
        if units is None:  # more decimals than held, or a much larger value: rescale first
            cu, vu = self._state.units_for(bar.close, np.array([volume_value]))
            units = int(cu[0]), int(vu[0])
        bar.close_units[0], bar.volume_units[0] = units
        _, closed = K.run_bars_nb(
            self._param_record, self._exec_record, self._state.kernel, bar, 0, 1, self._buffers, 0, True
        )
        self._trades.extend(trades_from_records(self._buffers.trades[:closed]))
        self._last_fills = self._fills(self._state.num_fills)
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
        if self.bars_seen and ts[0] <= self._state.last_time:
            raise ValueError("warm-up bars must start after the last bar already seen")
        close_units, volume_units = self._state.units_for(c, v)
        bars = K.KernelBars(ts, o, h, lo, c, close_units, volume_units)
        buffers = self._buffers._replace(equity=np.empty(c.shape[0]))
        K.run_bars_nb(
            self._param_record, self._exec_record, self._state.kernel, bars, 0, c.shape[0], buffers, 0, False
        )
        self._state.reset_account(self._execution.initial_capital)
        self._trades.clear()
        self._last_fills = []

    def run_bars(
        self,
        timestamps: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> tuple[npt.NDArray[np.float64], list[BacktestTrade]]:
        """Feed many closed bars at once, trading on them exactly as :meth:`on_bar` would one by one.

        The batch loop runs over the bars from the runner's current state, so ``on_bar`` and
        ``run_bars`` may be mixed (a walk-forward runs a bot's live period in one call). Fills of the
        last bar are in :attr:`last_fills`; the trades closed on these bars are appended to
        :attr:`trades` and returned.

        Returns:
            The mark-to-market equity at each bar's close, and the trades closed on these bars.

        Raises:
            ValueError: the arrays are not valid bars, or do not start after the last bar seen.
        """
        ts, o, h, lo, c, v = prepare_bars(timestamps, open, high, low, close, volume)
        if self.bars_seen and ts[0] <= self._state.last_time:
            raise ValueError(
                f"bar at {ms_to_datetime(int(ts[0])).isoformat()} is not after the previous bar at "
                f"{ms_to_datetime(self._state.last_time).isoformat()}"
            )
        close_units, volume_units = self._state.units_for(c, v)
        return self._run_kernel_bars(K.KernelBars(ts, o, h, lo, c, close_units, volume_units))

    def _run_kernel_bars(self, bars: K.KernelBars) -> tuple[npt.NDArray[np.float64], list[BacktestTrade]]:
        n = bars.close.shape[0]
        buffers = self._buffers._replace(
            equity=np.empty(n), trades=np.empty(K.MAX_TRADES_PER_BAR + n // 64, dtype=K.TRADE_DTYPE)
        )
        start, count = 0, 0
        while True:
            start, count = K.run_bars_nb(
                self._param_record,
                self._exec_record,
                self._state.kernel,
                bars,
                start,
                n,
                buffers,
                count,
                True,
            )
            if start >= n:
                break
            grown = np.empty(2 * buffers.trades.shape[0], dtype=K.TRADE_DTYPE)
            grown[:count] = buffers.trades[:count]
            buffers = buffers._replace(trades=grown)
        closed = trades_from_records(buffers.trades[:count])
        self._trades.extend(closed)
        self._last_fills = self._fills(self._state.num_fills)
        return buffers.equity, closed

    # ----------------------------------------------------------------------------------------------
    # A whole series prepared once (a walk-forward runs many bots over slices of one token's bars)

    def prepare(
        self,
        timestamps: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> DecimalBars:
        """Validate a whole series and convert it to this strategy's decimal units, once.

        Runners of the same strategy and parameters then trade any slices of it with
        :meth:`warm_up_prepared` and :meth:`run_prepared`, exactly as :meth:`warm_up` and
        :meth:`run_bars` would on those slices, without validating and converting each slice again.

        Raises:
            ValueError: the arrays are not valid bars.
        """
        bars = prepare_bars(timestamps, open, high, low, close, volume)
        return kernel_bars(bars, *series_decimals(bars[4], bars[5], self._param_record))

    def _adopt(self, prepared: DecimalBars) -> None:
        state = self._state
        wanted = (prepared.close_decimals, prepared.volume_decimals)
        if (state.close_decimals, state.volume_decimals) == wanted:
            return
        if state.close_decimals > wanted[0] or state.volume_decimals > wanted[1]:
            raise ValueError(
                "prepared bars hold fewer decimals than this runner has seen: prepare the whole series once"
            )
        state._rescale(*wanted)  # more decimals: the held units are scaled up exactly

    def _slice(self, prepared: DecimalBars, lo: int, hi: int) -> K.KernelBars:
        self._adopt(prepared)
        k = prepared.kernel
        bars = K.KernelBars(
            k.time[lo:hi],
            k.open[lo:hi],
            k.high[lo:hi],
            k.low[lo:hi],
            k.close[lo:hi],
            k.close_units[lo:hi],
            k.volume_units[lo:hi],
        )
        if bars.time.shape[0] and self.bars_seen and bars.time[0] <= self._state.last_time:
            raise ValueError(
                f"bar at {ms_to_datetime(int(bars.time[0])).isoformat()} is not after the previous bar at "
                f"{ms_to_datetime(self._state.last_time).isoformat()}"
            )
        return bars

    def warm_up_prepared(self, prepared: DecimalBars, lo: int, hi: int) -> None:
        """:meth:`warm_up` on bars ``lo..hi-1`` of a :meth:`prepare`-d series."""
        bars = self._slice(prepared, lo, hi)
        n = bars.close.shape[0]
        if n:
            buffers = self._buffers._replace(equity=np.empty(n))
            K.run_bars_nb(
                self._param_record, self._exec_record, self._state.kernel, bars, 0, n, buffers, 0, False
            )
        self._state.reset_account(self._execution.initial_capital)
        self._trades.clear()
        self._last_fills = []

    def run_prepared(
        self, prepared: DecimalBars, lo: int, hi: int
    ) -> tuple[npt.NDArray[np.float64], list[BacktestTrade]]:
        """:meth:`run_bars` on bars ``lo..hi-1`` of a :meth:`prepare`-d series."""
        return self._run_kernel_bars(self._slice(prepared, lo, hi))

    @property
    def holds_position(self) -> bool:
        """Whether a position is open (cheaper than :attr:`position`, which builds its description)."""
        return bool(self._state.position != 0)

    def cancel_pending(self) -> None:
        """Drop the orders the last close asked for, e.g. when a bot is paused or told to drain.

        The position (if any) keeps its take-profit/stop-loss; the strategy acts again on its next
        signal. Bar-by-bar equality with the batch engine no longer holds after this.
        """
        self._state.pending = 0

    def _fills(self, count: int) -> list[Fill]:
        return [
            Fill(
                symbol=self._symbol,
                side=OrderSide.BUY if side > 0 else OrderSide.SELL,
                quantity=to_decimal(qty),
                price=to_decimal(price),
                fee=to_decimal(fee),
                timestamp=ms_to_datetime(t),
                reason=_FILL_REASONS[reason],
            )
            for t, side, reason, price, qty, fee in self._buffers.fills[:count].tolist()
        ]

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
        return self._state.bars

    @property
    def last_timestamp(self) -> datetime | None:
        """The open time of the last bar processed."""
        return ms_to_datetime(self._state.last_time) if self.bars_seen else None

    @property
    def equity(self) -> float:
        """Mark-to-market equity at the last close (cash + signed quantity x close)."""
        return self._state.equity

    @property
    def cash(self) -> float:
        """Cash after every fill and fee so far (a short's proceeds included)."""
        return self._state.cash

    @property
    def position(self) -> OpenPosition | None:
        """The open position, marked at the last close, or ``None`` when flat."""
        return self._state.open_position(has_exits=self._strategy == "quad_ma")

    @property
    def pending_signal(self) -> Signal:
        """The direction the last close asked for (filled at the next bar's open)."""
        return Signal(self._state.pending)

    @property
    def pending_orders(self) -> list[Order]:
        """The market orders to place at the next open: an entry, or a reversal's close then entry."""
        pending = self._state.pending
        if pending == 0:
            return []
        created = ms_to_datetime(self._state.last_time) + timedelta(milliseconds=self._interval_ms)
        side = OrderSide.BUY if pending > 0 else OrderSide.SELL
        orders = []
        if self._state.position == -pending:
            held = to_decimal(abs(self._state.qty))
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
        return {
            "format": STATE_FORMAT,
            "strategy": self._strategy,
            "symbol": self._symbol,
            "interval": self._interval,
            "params": asdict(self._params),
            "execution": asdict(self._execution),
            **self._state.to_json(),
            "trades": [trade.to_dict() for trade in self._trades],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> StrategyRunner:
        """Rebuild a runner from :meth:`state_dict` output (e.g. after a restart).

        States saved in format 1 (before decimal units) load too: their averages are rebuilt from the
        saved closes and volumes, everything else carries over.

        Raises:
            ValueError: the data is not a runner state of a known format or does not fit its parameters.
        """
        version = state.get("format")
        if version not in (STATE_FORMAT, _STATE_FORMAT_V1):
            raise ValueError(
                f"runner state: expected format {STATE_FORMAT!r} (or {_STATE_FORMAT_V1!r}), got {version!r}"
            )
        strategy = cast(StrategyName, state["strategy"])
        runner = cls(
            strategy,
            params_from_mapping(strategy, state["params"]),
            BacktestConfig(**state["execution"]),
            interval=state["interval"],
            symbol=state["symbol"],
        )
        if version == STATE_FORMAT:
            runner._state.load_json(state)
        else:
            runner._state.load_v1(state)
        runner._trades = [BacktestTrade.from_dict(row) for row in state["trades"]]
        return runner
