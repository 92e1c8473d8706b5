"""Numba kernels: the one bar loop of both strategies, the metrics, the parameter-grid loop.

Everything here is a plain loop over preallocated arrays: no validation, no Python objects. The typed
wrappers (``_engine``, ``_runner``, ``_grid``) validate and convert before calling in, and read the
state back through one typed view (``_state.StrategyState``).

Every jitted function of the engine lives in this one module on purpose: numba's on-disk cache
(``cache=True``) only watches the file that defines a function, so an entry point compiled with a
helper from another file would keep running the old helper after that file changed.

**Records.** Parameters, execution settings, the strategy state, trades and fills are numpy
structured records (:data:`PARAMS_DTYPE`, :data:`EXECUTION_DTYPE`, :data:`STATE_DTYPE`,
:data:`TRADE_DTYPE`, :data:`FILL_DTYPE`): fields by name on both sides, no slot numbers. A strategy
instance is a :class:`KernelState` bundle (its state record and two ring buffers of the last close and
volume units, length a power of two so indexing is a mask); the bars a loop runs over are a
:class:`KernelBars` bundle; what a loop writes besides the state is a :class:`KernelBuffers` bundle.

**One loop.** :func:`run_bars_nb` advances a strategy instance over bars ``start..stop-1``: the batch
engine calls it over the whole window, the grid once per parameter set, the live runner with one bar.
The loop keeps the hot state (sums, position, cash...) in local variables and writes it back to the
record when it returns, so the record is touched twice per call, not on every bar.

**Exact decisions on decimal values.** Every strategy decision compares moving averages
(``sma_a > sma_b``, ``close > trend``, ``volume > factor * avg_volume``). The exchange quotes decimal
prices, which binary floats only approximate: two averages equal in decimal (a 5-bar and a 10-bar mean
both exactly 5.172) differ in binary. The kernels therefore decide on *decimal units*: each series
arrives as int64 integers ``round(x * 10**d)`` at its decimal precision ``d`` (see ``_decimal``), the
window sums are exact int64 sums, and ``sma(X, p) > sma(Y, q)`` is the integer comparison
``q * sum_X > p * sum_Y``. ``_decimal`` chooses ``d`` so that no sum or product can overflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "EXECUTION_DTYPE",
    "FILL_DTYPE",
    "MAX_FILLS_PER_BAR",
    "MAX_TRADES_PER_BAR",
    "MA_CROSSOVER",
    "NUM_METRICS",
    "NUM_SWEEP_METRICS",
    "PARAMS_DTYPE",
    "QUAD_MA",
    "STATE_DTYPE",
    "TRADE_DTYPE",
    "KernelBars",
    "KernelBuffers",
    "KernelState",
    "SweepShared",
    "cross_signs_nb",
    "grid_nb",
    "metrics_nb",
    "run_bars_nb",
    "setups_nb",
    "sweep_nb",
    "window_sums_nb",
]

F = TypeVar("F", bound=Callable[..., Any])

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Records = npt.NDArray[np.void]


def _jit(fn: F) -> F:
    """Compile ``fn`` with numba, keeping its Python signature visible to the type checker.

    ``error_model="numpy"`` makes float division by zero give inf/nan instead of raising (kernels never
    raise); ``fastmath`` stays off: fills and metrics follow IEEE rounding like the reference.
    """
    return cast(F, njit(cache=True, nogil=True, error_model="numpy")(fn))


def _jit_inline(fn: F) -> F:
    """Like :func:`_jit`, inlined into the caller at numba IR level (the helpers of the bar loop).

    Inlined, the helpers' arguments and results stay in registers of the one flat loop.
    """
    return cast(F, njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn))


def _jit_loop(fn: F) -> F:
    """Like :func:`_jit`, without numba's reference-counted memory (``_nrt=False``).

    Arrays touched inside branches of the loop otherwise get an atomic incref/decref pair on every
    bar. Without NRT a kernel cannot allocate: every array (state, buffers, outputs) is preallocated
    by the caller, and the flag propagates to the callees.
    """
    # ``_nrt`` is a private numba option, absent from numba's type stubs, hence the Any-typed dict.
    options: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy", "_nrt": False}
    return cast(F, njit(**options)(fn))


# Strategy kinds.
QUAD_MA = 0
MA_CROSSOVER = 1

# Reason codes (trades and fills).
REASON_TAKE_PROFIT = 1
REASON_STOP_LOSS = 2
REASON_REVERSAL = 3
REASON_SIGNAL = 4
REASON_ENTRY = 5

MAX_FILLS_PER_BAR = 3  # a reversal (two fills) then a take-profit/stop-loss of the new position
MAX_TRADES_PER_BAR = 2

_f8 = np.float64
_i8 = np.int64

PARAMS_DTYPE = np.dtype(
    [
        ("kind", _i8),  # QUAD_MA or MA_CROSSOVER
        # Close windows: quad_ma uses all five; ma_crossover uses short_1 (fast) and short_2 (slow).
        ("short_1", _i8),
        ("short_2", _i8),
        ("long_1", _i8),
        ("long_2", _i8),
        ("trend", _i8),
        ("volume_filter", _i8),  # 0 or 1
        # volume_factor as the exact fraction factor_num / factor_den of its decimal value.
        ("factor_num", _i8),
        ("factor_den", _i8),
        ("take_profit", _f8),
        ("stop_loss", _f8),
        ("confirmation_bars", _i8),
    ],
    align=True,
)
"""One parameter set (a grid is an array of them)."""

EXECUTION_DTYPE = np.dtype(
    [("capital", _f8), ("fee_rate", _f8), ("slippage", _f8), ("fraction", _f8)],  # slippage = bps / 10^4
    align=True,
)
"""Execution settings."""

NUM_SUMS = 6  # window sums: short_1, short_2, long_1, long_2, trend (close units), long_2 (volume units)

STATE_DTYPE = np.dtype(
    [
        ("cash", _f8),
        ("qty", _f8),  # signed: > 0 long, < 0 short
        ("entry_price", _f8),
        ("entry_fee", _f8),
        ("take_profit", _f8),  # price levels of the open position
        ("stop_loss", _f8),
        ("gross_profit", _f8),
        ("gross_loss", _f8),
        ("equity", _f8),  # mark-to-market at the last close
        ("last_close", _f8),
        ("first_open", _f8),
        ("position", _i8),  # -1, 0, 1
        ("entry_time", _i8),
        ("entry_index", _i8),
        ("pending", _i8),  # order for the next open: 1 go long, -1 go short, 0 none
        ("bars", _i8),  # bars processed = index of the next bar
        ("exposed", _i8),  # bar closes with an open position
        ("num_trades", _i8),
        ("winners", _i8),
        ("prev_cross", _i8),  # sign(sma_short_1 - sma_short_2) at the previous close
        ("reversal_count", _i8),  # bars the opposite alignment has held during a pending reversal
        ("last_time", _i8),
        ("num_fills", _i8),  # fills written by the last bar
        ("close_decimals", _i8),  # the decimal precision of the units in the rings and sums
        ("volume_decimals", _i8),
        ("sums", _i8, (NUM_SUMS,)),  # exact window sums of the units (see NUM_SUMS)
    ],
    align=True,
)
"""A strategy instance's state besides its ring buffers."""

TRADE_DTYPE = np.dtype(
    [
        ("entry_time", _i8),
        ("exit_time", _i8),
        ("side", _i8),
        ("reason", _i8),
        ("entry_index", _i8),
        ("exit_index", _i8),
        ("entry_price", _f8),
        ("exit_price", _f8),
        ("qty", _f8),
        ("fees", _f8),
        ("pnl", _f8),
    ],
    align=True,
)
"""A closed round trip."""

FILL_DTYPE = np.dtype(
    [("time", _i8), ("side", _i8), ("reason", _i8), ("price", _f8), ("qty", _f8), ("fee", _f8)],
    align=True,
)
"""A fill: side +1 buy / -1 sell."""


class KernelState(NamedTuple):
    """One strategy instance: its state record (an array of one) and its ring buffers of units."""

    record: Records
    ring_close: IntArray
    ring_volume: IntArray


class KernelBars(NamedTuple):
    """Validated bars: open times (ms), prices (floats), close and volume as decimal units (integers
    ``round(x * 10**decimals)``)."""

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    close_units: IntArray
    volume_units: IntArray


class KernelBuffers(NamedTuple):
    """What a loop writes besides the state: equity per bar, closed trades, the last bar's fills."""

    equity: FloatArray
    trades: Records
    fills: Records


# --------------------------------------------------------------------------------------------------
# Exact comparisons on units


@_jit_inline
def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


@_jit_inline
def _cmp(a: int, x: int, b: int, y: int) -> int:
    """The exact sign of ``a * x - b * y`` (``_decimal`` bounds the units so nothing overflows)."""
    return _sign(a * x - b * y)


@_jit_inline
def _aligned(s_1: int, s_2: int, l_1: int, l_2: int, p: Any, direction: int) -> bool:
    """Both short averages strictly beyond both long averages in ``direction`` (+1 above, -1 below).

    ``sma(s_1, p1) - sma(l_1, q1)`` has the sign of ``q1 * s_1 - p1 * l_1``.
    """
    return (
        _cmp(p.long_1, s_1, p.short_1, l_1) == direction
        and _cmp(p.long_2, s_1, p.short_1, l_2) == direction
        and _cmp(p.long_1, s_2, p.short_2, l_1) == direction
        and _cmp(p.long_2, s_2, p.short_2, l_2) == direction
    )


@_jit_inline
def _volume_ok(p: Any, volume: int, volume_sum: int) -> bool:
    """``volume > factor * sum / long_2``, i.e. ``long_2 * den * volume > num * sum``, or no filter."""
    if p.volume_filter == 0:
        return True
    return bool(p.long_2 * p.factor_den * volume > p.factor_num * volume_sum)


# --------------------------------------------------------------------------------------------------
# Execution: fills at the open, intrabar exits (rare paths: they work on the record directly)


@_jit_inline
def _record_fill(
    fills: Records, k: int, t: int, side: int, reason: int, price: float, qty: float, fee: float
) -> int:
    fill = fills[k]
    fill.time = t
    fill.side = side
    fill.reason = reason
    fill.price = price
    fill.qty = qty
    fill.fee = fee
    return k + 1


@_jit_inline
def _open(
    s: Any,
    p: Any,
    x: Any,
    fills: Records,
    nfills: int,
    cash: float,
    side: int,
    t: int,
    idx: int,
    price: float,
) -> tuple[float, float, int, int]:
    """Open ``side`` at ``price`` sized on the equity at that price (the caller is flat).

    Returns ``(cash, qty, position, nfills)``; with nothing left to trade with it stays flat.
    """
    equity = cash  # flat: the mark-to-market equity is the cash
    if equity <= 0.0:
        return cash, 0.0, 0, nfills
    qty = x.fraction * equity / price
    notional = qty * price
    fee = x.fee_rate * notional
    if side > 0:
        cash -= notional
    else:
        cash += notional
    cash -= fee
    s.entry_price = price
    s.entry_fee = fee
    s.entry_time = t
    s.entry_index = idx
    if p.kind == QUAD_MA:
        if side > 0:
            s.take_profit = price * (1.0 + p.take_profit)
            s.stop_loss = price * (1.0 - p.stop_loss)
        else:
            s.take_profit = price * (1.0 - p.take_profit)
            s.stop_loss = price * (1.0 + p.stop_loss)
    nfills = _record_fill(fills, nfills, t, side, REASON_ENTRY, price, qty, fee)
    return cash, qty if side > 0 else -qty, side, nfills


@_jit_inline
def _close(
    s: Any,
    x: Any,
    buffers: KernelBuffers,
    row: int,
    nfills: int,
    cash: float,
    qty: float,
    side: int,
    t: int,
    idx: int,
    price: float,
    reason: int,
) -> tuple[float, int]:
    """Close the open position at ``price``, writing the trade to row ``row``; return ``(cash, nfills)``."""
    size = qty if side > 0 else -qty
    notional = size * price
    fee = x.fee_rate * notional
    if side > 0:
        cash += notional
        gross = size * (price - s.entry_price)
    else:
        cash -= notional
        gross = size * (s.entry_price - price)
    cash -= fee
    pnl = (gross - s.entry_fee) - fee
    trade = buffers.trades[row]
    trade.entry_time = s.entry_time
    trade.exit_time = t
    trade.side = side
    trade.reason = reason
    trade.entry_index = s.entry_index
    trade.exit_index = idx
    trade.entry_price = s.entry_price
    trade.exit_price = price
    trade.qty = size
    trade.fees = s.entry_fee + fee
    trade.pnl = pnl
    s.num_trades += 1
    if pnl > 0.0:
        s.winners += 1
        s.gross_profit += pnl
    elif pnl < 0.0:
        s.gross_loss -= pnl
    nfills = _record_fill(buffers.fills, nfills, t, -side, reason, price, size, fee)
    s.entry_price = 0.0
    s.entry_fee = 0.0
    s.take_profit = 0.0
    s.stop_loss = 0.0
    return cash, nfills


@_jit_inline
def _exit_level(side: int, o: float, h: float, lo: float, tp: float, sl: float) -> tuple[float, int]:
    """The take-profit/stop-loss hit within a bar, ``(level, reason)``, or ``(0, 0)``.

    An open beyond a level fills at the open; else a level inside the range fills at the level, the
    stop first when both are inside.
    """
    if side > 0:
        if o <= sl:
            return o, REASON_STOP_LOSS
        if o >= tp:
            return o, REASON_TAKE_PROFIT
        if lo <= sl:
            return sl, REASON_STOP_LOSS
        if h >= tp:
            return tp, REASON_TAKE_PROFIT
    else:
        if o >= sl:
            return o, REASON_STOP_LOSS
        if o <= tp:
            return o, REASON_TAKE_PROFIT
        if h >= sl:
            return sl, REASON_STOP_LOSS
        if lo <= tp:
            return tp, REASON_TAKE_PROFIT
    return 0.0, 0


# --------------------------------------------------------------------------------------------------
# The bar loop


@_jit_inline
def _loop(
    kind: int,
    p: Any,
    x: Any,
    state: KernelState,
    bars: KernelBars,
    start: int,
    stop: int,
    buffers: KernelBuffers,
    count: int,
    store_trades: bool,
) -> tuple[int, int]:
    """The bar loop of :func:`run_bars_nb` for one strategy ``kind`` (a constant after inlining)."""
    s = state.record[0]
    ring_c = state.ring_close
    ring_v = state.ring_volume
    mask = ring_c.shape[0] - 1
    cap = buffers.trades.shape[0]
    slip = x.slippage
    exits = kind == QUAD_MA
    p1 = p.short_1
    p2 = p.short_2
    q1 = p.long_1
    q2 = p.long_2
    pt = p.trend
    volume_filter = kind == QUAD_MA and p.volume_filter != 0
    confirm = p.confirmation_bars
    warm = max(max(p1, p2), max(max(q1, q2), pt)) if kind == QUAD_MA else p2 - 1
    # Hot state in locals (written back below).
    cash = s.cash
    qty = s.qty
    pos = s.position
    pending = s.pending
    g = s.bars
    exposed = s.exposed
    prev = s.prev_cross
    rev = s.reversal_count
    tp = s.take_profit
    sl = s.stop_loss
    sum_1 = s.sums[0]
    sum_2 = s.sums[1]
    sum_3 = s.sums[2]
    sum_4 = s.sums[3]
    sum_t = s.sums[4]
    sum_v = s.sums[5]
    nfills = s.num_fills
    if g == 0 and start < stop:
        s.first_open = bars.open[start]
    i = start
    while i < stop:
        row = count if store_trades else 0
        if row + MAX_TRADES_PER_BAR > cap:
            break
        t = bars.time[i]
        o = bars.open[i]
        nfills = 0
        # 1. At the open, the order decided at the previous close fills (a reversal is the close,
        #    then the open sized on the new equity, both at the same price).
        if pending != 0:
            price = o * (1.0 + slip) if pending > 0 else o * (1.0 - slip)
            if pos == -pending:
                cash, nfills = _close(
                    s, x, buffers, row, nfills, cash, qty, pos, t, g, price, REASON_REVERSAL
                )
                qty = 0.0
                pos = 0
                row += 1
            if pos == 0:
                cash, qty, pos, nfills = _open(s, p, x, buffers.fills, nfills, cash, pending, t, g, price)
                tp = s.take_profit
                sl = s.stop_loss
            pending = 0
        # 2. During the bar, the open position's take-profit/stop-loss.
        if exits and pos != 0:
            level, reason = _exit_level(pos, o, bars.high[i], bars.low[i], tp, sl)
            if reason != 0:
                price = level * (1.0 - slip) if pos > 0 else level * (1.0 + slip)
                cash, nfills = _close(s, x, buffers, row, nfills, cash, qty, pos, t, g, price, reason)
                qty = 0.0
                pos = 0
                row += 1
        if store_trades:
            count = row
        # 3. At the close, the averages take the bar and the strategy decides the next open's order.
        c = bars.close_units[i]
        leaving_trend = ring_c[(g - pt) & mask]  # zero before the window is full (never written)
        sum_1 += c - ring_c[(g - p1) & mask]
        sum_2 += c - ring_c[(g - p2) & mask]
        if kind == QUAD_MA:
            sum_3 += c - ring_c[(g - q1) & mask]
            sum_4 += c - ring_c[(g - q2) & mask]
            sum_t += c - leaving_trend
        ring_c[g & mask] = c
        volume = 0
        if volume_filter:
            volume = bars.volume_units[i]
            sum_v += volume - ring_v[(g - q2) & mask]
            ring_v[g & mask] = volume
        if pos == 0:
            rev = 0  # a take-profit/stop-loss drops any pending reversal
        if g + 1 >= p2:
            # sma(short_1) - sma(short_2) has the sign of short_2 * sum_1 - short_1 * sum_2.
            cross = _cmp(p2, sum_1, p1, sum_2)
            if kind == MA_CROSSOVER:
                # Long while sma(fast) > sma(slow), short while below; on an exact tie keep the side.
                if cross != 0 and cross != pos:
                    pending = cross
            else:
                before = prev
                prev = cross
                if g >= warm:  # every window full at g - 1 too: trend[g - 1], the previous shorts
                    bullish = before <= 0 and cross > 0
                    bearish = before > 0 and cross <= 0
                    if pos == 0:
                        if bullish:
                            if (
                                c > leaving_trend  # trend[g] > trend[g - 1]
                                and _aligned(sum_1, sum_2, sum_3, sum_4, p, 1)
                                and _cmp(pt, c, 1, sum_t) > 0
                                and _volume_ok(p, volume, sum_v)
                            ):
                                pending = 1
                        elif bearish:
                            if (
                                c < leaving_trend
                                and _aligned(sum_1, sum_2, sum_3, sum_4, p, -1)
                                and _cmp(pt, c, 1, sum_t) < 0
                                and _volume_ok(p, volume, sum_v)
                            ):
                                pending = -1
                    else:
                        if rev > 0:
                            # Pending reversal: the opposite alignment must keep holding.
                            if (
                                _aligned(sum_1, sum_2, sum_3, sum_4, p, -pos)
                                and _cmp(pt, c, 1, sum_t) == -pos
                            ):
                                rev += 1
                            else:
                                rev = 0
                        elif (pos > 0 and bearish) or (pos < 0 and bullish):
                            if (
                                (c < leaving_trend if pos > 0 else c > leaving_trend)
                                and _aligned(sum_1, sum_2, sum_3, sum_4, p, -pos)
                                and _cmp(pt, c, 1, sum_t) == -pos
                                and _volume_ok(p, volume, sum_v)
                            ):
                                rev = 1
                        if rev >= confirm:
                            rev = 0
                            pending = -pos
        close = bars.close[i]
        buffers.equity[i] = cash + qty * close
        if pos != 0:
            exposed += 1
        g += 1
        i += 1
    if i > start:
        s.last_close = bars.close[i - 1]
        s.last_time = bars.time[i - 1]
        s.equity = cash + qty * s.last_close
    s.cash = cash
    s.qty = qty
    s.position = pos
    s.pending = pending
    s.bars = g
    s.exposed = exposed
    s.prev_cross = prev
    s.reversal_count = rev
    s.num_fills = nfills
    s.sums[0] = sum_1
    s.sums[1] = sum_2
    s.sums[2] = sum_3
    s.sums[3] = sum_4
    s.sums[4] = sum_t
    s.sums[5] = sum_v
    return i, count


@_jit_loop
def run_bars_nb(
    params: Records,
    execution: Records,
    state: KernelState,
    bars: KernelBars,
    start: int,
    stop: int,
    buffers: KernelBuffers,
    count: int,
    store_trades: bool,
) -> tuple[int, int]:
    """Advance ``state`` over bars ``start..stop-1`` with the parameters ``params[0]``.

    Order of events within a bar (DESIGN.md section 6):

    1. at the open, the order decided at the previous close fills (a reversal is the close, then the
       open sized on the new equity, both at the same price);
    2. during the bar, the open position's take-profit/stop-loss: an open beyond a level fills at the
       open, else a level inside the range fills at the level, the stop first when both are inside;
    3. at the close, the strategy updates its averages and decides the order for the next open.

    ``buffers.equity[i]`` gets the mark-to-market equity at each close; the fills of the last bar go
    to ``buffers.fills`` (``num_fills`` of the record). With ``store_trades`` closed trades are
    appended to ``buffers.trades`` from row ``count``, and the loop stops early when fewer than two
    free rows remain, returning ``(next_bar, count)`` so the caller can grow the buffer and resume
    (the state carries everything); without it the first two rows are scratch. Returns
    ``(stop, count)`` when done.
    """
    p = params[0]
    if p.kind == QUAD_MA:
        return _loop(QUAD_MA, p, execution[0], state, bars, start, stop, buffers, count, store_trades)
    return _loop(MA_CROSSOVER, p, execution[0], state, bars, start, stop, buffers, count, store_trades)


# --------------------------------------------------------------------------------------------------
# Metrics and the parameter-grid loop (here, not in _metrics/_grid: see the module docstring)

NUM_METRICS = 15


@_jit_inline
def _finish_metrics(
    n: int,
    total: float,
    sq: float,
    cube: float,
    quad: float,
    down: float,
    zeros: int,
    max_dd: float,
    final: float,
    s: Any,
    exposed: float,
    first_open: float,
    last_close: float,
    capital: float,
    periods_per_year: float,
    out: FloatArray,
) -> None:
    """The metrics from a run's sums, shared by :func:`metrics_nb` and :func:`_sweep_metrics` so that a
    grid member and its single run get the same bits: ``sq``, ``cube``, ``quad`` are the centred powers
    of the non-zero returns only, summed in bar order; the ``zeros`` flat bars are added here, last."""
    m = n - 1
    sharpe = 0.0
    sortino = 0.0
    skew = 0.0
    kurt = 3.0
    if m >= 2:
        mean = total / m
        sq += zeros * (mean * mean)
        cube -= zeros * (mean * mean * mean)
        quad += zeros * (mean * mean * mean * mean)
        std = math.sqrt(sq / (m - 1))
        root = math.sqrt(periods_per_year)
        if std > 0.0:
            sharpe = mean / std * root
        downside = math.sqrt(down / m)
        if downside > 0.0:
            sortino = mean / downside * root
        m2 = sq / m
        if m2 > 0.0:
            skew = cube / m / m2**1.5
            kurt = quad / m / (m2 * m2)
    growth = final / capital
    calmar = 0.0
    if max_dd > 0.0 and m > 0:
        annual = growth ** (periods_per_year / m) - 1.0 if growth > 0.0 else -1.0
        calmar = annual / max_dd
    num_trades = s.num_trades
    out[0] = growth - 1.0
    out[1] = sharpe
    out[2] = sortino
    out[3] = max_dd
    out[4] = calmar
    out[5] = num_trades
    out[6] = s.winners / num_trades if num_trades > 0 else 0.0
    out[7] = s.gross_profit / s.gross_loss if s.gross_loss > 0.0 else np.inf
    out[8] = last_close / first_open - 1.0
    out[9] = exposed / n
    out[10] = n
    out[11] = capital
    out[12] = final
    out[13] = skew
    out[14] = kurt


@_jit
def metrics_nb(
    equity: FloatArray, state: Records, initial_capital: float, periods_per_year: float, out: FloatArray
) -> None:
    """Write the metrics of a finished run into ``out`` in ``METRIC_NAMES`` order.

    ``equity`` is the run's mark-to-market curve and ``state[0]`` its final state record (trade
    counts, gross profit and loss, exposure, first open, last close). Returns are ``r[i] = equity[i] /
    equity[i - 1] - 1``; Sharpe and Sortino are 0 with fewer than two returns or a zero denominator;
    Calmar is 0 without a drawdown; the profit factor is ``inf`` when nothing was lost. Skewness and
    kurtosis (not in excess) of the returns are the population moments ``m3 / m2^1.5`` and
    ``m4 / m2^2``, a normal distribution's 0 and 3 when the returns do not vary.
    """
    s = state[0]
    n = equity.shape[0]
    m = n - 1  # number of returns
    total = 0.0
    for i in range(1, n):
        total += equity[i] / equity[i - 1] - 1.0
    sq = 0.0
    cube = 0.0
    quad = 0.0
    down = 0.0
    zeros = 0
    if m >= 2:
        mean = total / m
        for i in range(1, n):
            r = equity[i] / equity[i - 1] - 1.0
            if r != 0.0:
                d = r - mean
                d2 = d * d
                sq += d2
                cube += d2 * d
                quad += d2 * d2
                if r < 0.0:
                    down += r * r
            else:
                zeros += 1
    peak = equity[0]
    max_dd = 0.0
    for i in range(n):
        if equity[i] > peak:
            peak = equity[i]
        dd = (peak - equity[i]) / peak
        if dd > max_dd:
            max_dd = dd
    _finish_metrics(
        n,
        total,
        sq,
        cube,
        quad,
        down,
        zeros,
        max_dd,
        equity[n - 1],
        s,
        s.exposed,
        s.first_open,
        s.last_close,
        initial_capital,
        periods_per_year,
        out,
    )


@_jit_loop
def reset_state_nb(state: KernelState, capital: float) -> None:
    """Reset a strategy instance in place to flat with ``capital`` in cash and no history.

    The decimal precisions of the record are kept (they describe the units the caller feeds in).
    """
    s = state.record[0]
    s.cash = capital
    s.qty = 0.0
    s.entry_price = 0.0
    s.entry_fee = 0.0
    s.take_profit = 0.0
    s.stop_loss = 0.0
    s.gross_profit = 0.0
    s.gross_loss = 0.0
    s.equity = capital
    s.last_close = 0.0
    s.first_open = 0.0
    s.position = 0
    s.entry_time = 0
    s.entry_index = 0
    s.pending = 0
    s.bars = 0
    s.exposed = 0
    s.num_trades = 0
    s.winners = 0
    s.prev_cross = 0
    s.reversal_count = 0
    s.last_time = 0
    s.num_fills = 0
    s.sums[:] = 0
    state.ring_close[:] = 0
    state.ring_volume[:] = 0


@_jit_loop
def grid_nb(
    param_rows: Records,
    execution: Records,
    bars: KernelBars,
    periods_per_year: float,
    state: KernelState,
    buffers: KernelBuffers,
    out: FloatArray,
) -> None:
    """Backtest each row of ``param_rows``; write its metrics to the same row of ``out``.

    ``state`` and ``buffers`` are per-thread scratch (rings sized for the longest window of all rows).
    """
    capital = execution[0].capital
    n = bars.close.shape[0]
    for r in range(param_rows.shape[0]):
        reset_state_nb(state, capital)
        run_bars_nb(param_rows[r : r + 1], execution, state, bars, 0, n, buffers, 0, False)
        metrics_nb(buffers.equity, state.record, capital, periods_per_year, out[r])


# --------------------------------------------------------------------------------------------------
# The sweep kernel: every parameter set of a grid over one token, the window sums computed once
#
# A grid's parameter sets share most of their moving-average windows. The sweep computes each distinct
# window's exact sums once (:func:`window_sums_nb`), the crossover sign of each distinct (short_1,
# short_2) pair once (:func:`cross_signs_nb`) and the bars where that sign flips; then each parameter
# set runs the same state machine as :func:`run_bars_nb`, reading the shared sums instead of keeping
# its own. A quad_ma setup depends on the windows, the volume filter and its factor only, not on
# take-profit, stop-loss or the confirmation: each distinct *signal* gets its setup bars once
# (:func:`setups_nb`), shared by its sets. A flat quad_ma position only changes at a setup, so the flat
# stretches are skipped from one setup to the next: the per-bar work is done only while a position is
# open, and it is branch-free where the branch would be a coin flip (:func:`_mark`). The fills go
# through the same ``_open``/``_close``/``_exit_level`` as the single run, so trades are identical, and
# the metrics follow :func:`metrics_nb` operation for operation (a flat bar's return is exactly 0: it
# only counts), so they are identical too.

NUM_SWEEP_METRICS = NUM_METRICS  # the same values; skewness and kurtosis (not in excess) last

Int8Array = npt.NDArray[np.int8]


class SweepShared(NamedTuple):
    """What every parameter set of one sweep group reads (one group: one decimal precision of the units).

    ``sums[k, g]``: the exact sum of the close units of bars ``g - w + 1 .. g`` for the group's k-th
    window ``w`` (bars before 0 count 0, as in a fresh ring); ``volume_sums`` the same over volume units
    (one row of zeros when no set filters on volume); ``signs[j, g]``: the sign of ``sma(short_1) -
    sma(short_2)`` of the j-th pair at the close of bar ``g``; ``events[event_start[j]:event_start[j +
    1]]``: the bars ``g >= 1`` where pair j's ``signs > 0`` differs from the bar before.

    ``setup_bars[setup_start[k]:setup_start[k + 1]]`` are the bars where the k-th quad_ma *signal*
    (the windows, volume filter and factor: every parameter but take-profit, stop-loss and the
    confirmation) has a setup, in the direction ``setup_dirs`` (+1 long, -1 short): the crossover
    events that pass :func:`_setup`, computed once for every set of that signal (:func:`setups_nb`).
    A flat set enters at its next setup; a set in a position starts a reversal at an opposite one.
    """

    sums: IntArray
    volume_sums: IntArray
    signs: Int8Array
    events: IntArray
    event_start: IntArray
    setup_bars: IntArray
    setup_dirs: Int8Array
    setup_start: IntArray


# Columns of a sweep's per-set index rows into :class:`SweepShared`.
IX_SHORT_1, IX_SHORT_2, IX_LONG_1, IX_LONG_2, IX_TREND, IX_VOLUME, IX_PAIR, IX_SIGNAL = range(8)


@_jit_loop
def window_sums_nb(units: IntArray, window: int, out: IntArray) -> None:
    """``out[g]`` = the sum of ``units[g - window + 1 .. g]`` (indices below 0 count 0), exactly."""
    total = 0
    for g in range(units.shape[0]):
        total += units[g]
        if g >= window:
            total -= units[g - window]
        out[g] = total


@_jit_loop
def cross_signs_nb(sum_1: IntArray, sum_2: IntArray, p1: int, p2: int, out: Int8Array) -> None:
    """``out[g]`` = the sign of ``sma(p1) - sma(p2)``, i.e. of ``p2 * sum_1 - p1 * sum_2`` (exact)."""
    for g in range(sum_1.shape[0]):
        out[g] = _cmp(p2, sum_1[g], p1, sum_2[g])


@_jit_inline
def _mark(
    eq: float, prev: float, total: float, down: float, nr: int, rbuf: FloatArray, peak: float, max_dd: float
) -> tuple[float, float, int, float, float]:
    """Account one bar close whose equity may differ from the previous one (see :func:`metrics_nb`).

    Branch-free: whether a return is negative, or a close a new peak, is a coin flip a branch predictor
    loses half the time (it doubled the cost of a bar in a position). Each select gives the bits of
    :func:`metrics_nb`'s branches: ``down + 0.0`` is ``down``, a zero return written past ``nr`` is
    overwritten by the next one, and ``(peak - eq) / peak`` is 0 at a new peak, which never raises
    ``max_dd``.
    """
    r = eq / prev - 1.0
    total += r
    rbuf[nr] = r
    nr += r != 0.0
    neg = min(r, 0.0)
    down += neg * neg
    peak = max(peak, eq)
    max_dd = max(max_dd, (peak - eq) / peak)
    return total, down, nr, peak, max_dd


@_jit_inline
def _sweep_metrics(
    n: int,
    total: float,
    down: float,
    nr: int,
    rbuf: FloatArray,
    max_dd: float,
    final: float,
    exposed: int,
    s: Any,
    first_open: float,
    last_close: float,
    capital: float,
    periods_per_year: float,
    out: FloatArray,
) -> None:
    """Write :func:`metrics_nb`'s values (same operations, same order) plus skewness and kurtosis."""
    m = n - 1
    sq = 0.0
    cube = 0.0
    quad = 0.0
    if m >= 2:
        mean = total / m
        for k in range(nr):
            d = rbuf[k] - mean
            d2 = d * d
            sq += d2
            cube += d2 * d
            quad += d2 * d2
    _finish_metrics(
        n,
        total,
        sq,
        cube,
        quad,
        down,
        m - nr,
        max_dd,
        final,
        s,
        exposed,
        first_open,
        last_close,
        capital,
        periods_per_year,
        out,
    )


@_jit_inline
def _setup(p: Any, sh: SweepShared, ix: IntArray, bars: KernelBars, e: int, d: int) -> bool:
    """Whether the crossover at bar ``e`` in direction ``d`` is a quad_ma setup (as in ``_loop``)."""
    c = bars.close_units[e]
    leaving_trend = bars.close_units[e - p.trend]
    if d > 0:
        if not c > leaving_trend:
            return False
    elif not c < leaving_trend:
        return False
    sums = sh.sums
    if not _aligned(
        sums[ix[IX_SHORT_1], e], sums[ix[IX_SHORT_2], e], sums[ix[IX_LONG_1], e], sums[ix[IX_LONG_2], e], p, d
    ):
        return False
    if _cmp(p.trend, c, 1, sums[ix[IX_TREND], e]) != d:
        return False
    return _volume_ok(p, bars.volume_units[e], sh.volume_sums[ix[IX_VOLUME], e])


@_jit_inline
def _holds(p: Any, sh: SweepShared, ix: IntArray, bars: KernelBars, g: int, d: int) -> bool:
    """The reversal's alignment in direction ``d`` at bar ``g`` (shorts vs longs, close vs trend)."""
    sums = sh.sums
    return _aligned(
        sums[ix[IX_SHORT_1], g], sums[ix[IX_SHORT_2], g], sums[ix[IX_LONG_1], g], sums[ix[IX_LONG_2], g], p, d
    ) and (_cmp(p.trend, bars.close_units[g], 1, sums[ix[IX_TREND], g]) == d)


@_jit_loop
def setups_nb(
    param_rows: Records,
    index: IntArray,
    bars: KernelBars,
    shared: SweepShared,
    out_bars: IntArray,
    out_dirs: Int8Array,
    out_start: IntArray,
) -> None:
    """For each quad_ma signal (one representative row each), write its setup bars and directions.

    Signal k's setups go to ``out_bars/out_dirs[out_start[k]:out_start[k + 1]]`` (``out_start[0]`` is
    0; the caller sizes the outputs for every crossover event of each signal's pair). Only events at or
    after the warm-up bar count, as in the bar loop.
    """
    w = 0
    out_start[0] = 0
    for k in range(param_rows.shape[0]):
        p = param_rows[k]
        ix = index[k]
        warm = max(max(p.short_1, p.short_2), max(max(p.long_1, p.long_2), p.trend))
        signs = shared.signs[ix[IX_PAIR]]
        for ep in range(shared.event_start[ix[IX_PAIR]], shared.event_start[ix[IX_PAIR] + 1]):
            e = shared.events[ep]
            if e < warm:
                continue
            d = 1 if signs[e] > 0 else -1
            if _setup(p, shared, ix, bars, e, d):
                out_bars[w] = e
                out_dirs[w] = d
                w += 1
        out_start[k + 1] = w


@_jit_loop
def sweep_nb(
    param_rows: Records,
    index: IntArray,
    execution: Records,
    bars: KernelBars,
    shared: SweepShared,
    periods_per_year: float,
    state: Records,
    buffers: KernelBuffers,
    rbuf: FloatArray,
    out: FloatArray,
    trade_counts: IntArray,
    store_trades: bool,
    curves: FloatArray,
) -> None:
    """Backtest each row of ``param_rows`` (with its ``index`` row into ``shared``); write its
    :data:`NUM_SWEEP_METRICS` metrics to the same row of ``out``.

    ``state`` (one :data:`STATE_DTYPE` record), ``buffers`` and ``rbuf`` (``n`` floats) are scratch. With
    ``store_trades`` each row's trades are appended to ``buffers.trades`` (room for all of them: the
    caller sizes it) and ``trade_counts[r]`` is the end of row r's trades. When ``curves`` has a row per
    parameter set, each set's equity curve is written there.
    """
    x = execution[0]
    capital = x.capital
    slip = x.slippage
    n = bars.close.shape[0]
    has_curves = curves.shape[0] == param_rows.shape[0]
    s = state[0]
    count = 0
    for r in range(param_rows.shape[0]):
        p = param_rows[r]
        ix = index[r]
        quad = p.kind == QUAD_MA
        signs = shared.signs[ix[IX_PAIR]]
        # quad_ma walks its signal's setups (``sp`` up to ``s1``), never the raw crossover events.
        sp = shared.setup_start[ix[IX_SIGNAL]] if quad else 0
        s1 = shared.setup_start[ix[IX_SIGNAL] + 1] if quad else 0
        if quad:
            warm = max(max(p.short_1, p.short_2), max(max(p.long_1, p.long_2), p.trend))
        else:
            warm = p.short_2 - 1
        confirm = p.confirmation_bars
        s.num_trades = 0
        s.winners = 0
        s.gross_profit = 0.0
        s.gross_loss = 0.0
        s.entry_price = 0.0
        s.entry_fee = 0.0
        s.take_profit = 0.0
        s.stop_loss = 0.0
        cash = capital
        qty = 0.0
        pos = 0
        pending = 0
        rev = 0
        tp = 0.0
        sl = 0.0
        total = 0.0
        down = 0.0
        nr = 0
        peak = capital
        max_dd = 0.0
        prev = capital
        exposed = 0
        i = 0
        while i < n:
            # Flat and nothing pending: nothing changes until a setup at a crossover bar (quad_ma) or
            # the first non-zero sign (ma_crossover); the equity stays the cash, every return is 0.
            lo = max(i, warm)
            found = -1
            if quad:
                while sp < s1 and shared.setup_bars[sp] < lo:
                    sp += 1
                if sp < s1:
                    found = shared.setup_bars[sp]
                    pending = shared.setup_dirs[sp]
            else:
                for e in range(lo, n):
                    if signs[e] != 0:
                        found = e
                        pending = signs[e]
                        break
            stop: int = n if found < 0 else found + 1
            if has_curves:
                for g in range(i, stop):
                    curves[r, g] = cash
            i = stop
            if found < 0:
                break
            # A position (or an order for the next open): every bar until flat with nothing pending.
            while i < n:
                t = bars.time[i]
                o = bars.open[i]
                nfills = 0
                row = count if store_trades else 0
                if pending != 0:
                    price = o * (1.0 + slip) if pending > 0 else o * (1.0 - slip)
                    if pos == -pending:
                        cash, nfills = _close(
                            s, x, buffers, row, nfills, cash, qty, pos, t, i, price, REASON_REVERSAL
                        )
                        qty = 0.0
                        pos = 0
                        row += 1
                    if pos == 0:
                        cash, qty, pos, nfills = _open(
                            s, p, x, buffers.fills, nfills, cash, pending, t, i, price
                        )
                        tp = s.take_profit
                        sl = s.stop_loss
                    pending = 0
                if quad and pos != 0:
                    level, reason = _exit_level(pos, o, bars.high[i], bars.low[i], tp, sl)
                    if reason != 0:
                        price = level * (1.0 - slip) if pos > 0 else level * (1.0 + slip)
                        cash, nfills = _close(s, x, buffers, row, nfills, cash, qty, pos, t, i, price, reason)
                        qty = 0.0
                        pos = 0
                        row += 1
                if store_trades:
                    count = row
                if pos == 0:
                    rev = 0
                if quad:
                    if i >= warm:
                        # A setup at this bar (0: none): an entry when flat; in a position, an
                        # opposite one is exactly the reversal start of ``_loop`` (opposite
                        # crossover, trend, alignment and volume in the new direction).
                        while sp < s1 and shared.setup_bars[sp] < i:
                            sp += 1
                        here = shared.setup_dirs[sp] if sp < s1 and shared.setup_bars[sp] == i else 0
                        if pos == 0:
                            if here != 0:
                                pending = here
                        else:
                            if rev > 0:
                                if _holds(p, shared, ix, bars, i, -pos):
                                    rev += 1
                                else:
                                    rev = 0
                            elif here == -pos:
                                rev = 1
                            if rev >= confirm:
                                rev = 0
                                pending = -pos
                elif i >= warm:
                    cross = signs[i]
                    if cross != 0 and cross != pos:
                        pending = cross
                eq = cash + qty * bars.close[i]
                if has_curves:
                    curves[r, i] = eq
                total, down, nr, peak, max_dd = _mark(eq, prev, total, down, nr, rbuf, peak, max_dd)
                prev = eq
                if pos != 0:
                    exposed += 1
                i += 1
                if pos == 0 and pending == 0:
                    break
        if store_trades:
            trade_counts[r] = count
        final = cash + qty * bars.close[n - 1]
        _sweep_metrics(
            n,
            total,
            down,
            nr,
            rbuf,
            max_dd,
            final,
            exposed,
            s,
            bars.open[0],
            bars.close[n - 1],
            capital,
            periods_per_year,
            out[r],
        )
