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
    "PARAMS_DTYPE",
    "QUAD_MA",
    "STATE_DTYPE",
    "TRADE_DTYPE",
    "KernelBars",
    "KernelBuffers",
    "KernelState",
    "grid_nb",
    "metrics_nb",
    "run_bars_nb",
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
    final = equity[n - 1]
    m = n - 1  # number of returns
    total = 0.0
    for i in range(1, n):
        total += equity[i] / equity[i - 1] - 1.0
    sharpe = 0.0
    sortino = 0.0
    skewness = 0.0
    kurtosis = 3.0
    if m >= 2:
        mean = total / m
        sq = 0.0
        cube = 0.0
        fourth = 0.0
        down = 0.0
        for i in range(1, n):
            r = equity[i] / equity[i - 1] - 1.0
            d2 = (r - mean) * (r - mean)
            sq += d2
            cube += d2 * (r - mean)
            fourth += d2 * d2
            if r < 0.0:
                down += r * r
        m2 = sq / m
        if m2 > 0.0:
            skewness = (cube / m) / (m2 * math.sqrt(m2))
            kurtosis = (fourth / m) / (m2 * m2)
        std = math.sqrt(sq / (m - 1))
        root = math.sqrt(periods_per_year)
        if std > 0.0:
            sharpe = mean / std * root
        downside = math.sqrt(down / m)
        if downside > 0.0:
            sortino = mean / downside * root
    peak = equity[0]
    max_dd = 0.0
    for i in range(n):
        if equity[i] > peak:
            peak = equity[i]
        dd = (peak - equity[i]) / peak
        if dd > max_dd:
            max_dd = dd
    growth = final / initial_capital
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
    out[8] = s.last_close / s.first_open - 1.0
    out[9] = s.exposed / n
    out[10] = n
    out[11] = initial_capital
    out[12] = final
    out[13] = skewness
    out[14] = kurtosis


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
