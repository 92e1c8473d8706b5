"""Numba kernels: exact rolling sums, the per-bar step of both strategies, the loops, the metrics.

Everything here is a plain loop over preallocated arrays: no validation, no Python objects. The typed
wrappers (``_engine``, ``_runner``, ``_grid``, ``_metrics``) validate and convert before calling in.

Every jitted function lives in this one module on purpose, although it is longer than the others:
numba's on-disk cache (``cache=True``) only watches the file that defines a function, so an entry point
compiled with a helper from another file would keep running the old helper after that file changed.

**State.** A strategy instance is four arrays: ``fs`` (float64, ``F_*`` slots), ``st`` (int64, ``I_*``
slots) and two ring buffers of the last closes and volumes (length a power of two so indexing is a mask).
:func:`bar_step_nb` advances that state by one closed bar; the batch loop :func:`run_bars_nb`, the
grid and the live :class:`~algo_trade_backtest.StrategyRunner` (through :func:`step_nb`) all run it, so
they cannot disagree. Entry points are compiled without numba's reference counting (see
:func:`_jit_loop`), so callers preallocate every array.

**Exact comparisons.** Every strategy decision compares moving averages (``sma_a > sma_b``, ``close >
trend``, ``volume > factor * avg_volume``). Real candles contain exact ties (flat stretches, decimal
prices whose averages coincide), and a rolling float sum drifts by a few ulps over 10^6 bars, so a float
``<=`` can flip either way. The kernels therefore decide every comparison *as if computed with exact
rational arithmetic on the input floats*:

- each window sum is kept as a double-double ``hi + lo`` (``hi`` the running rounded sum, ``lo`` the
  exact rounding errors, folded back every 1024 bars) updated with error-free transformations (TwoSum).
  ``hi + lo`` is the exact sum of the window as long as that sum is below 2^96 times the smallest ulp
  of the inputs, which holds for any real price or volume series (with 1000-bar windows it takes
  non-zero values more than ~10^10 apart in one series to break it), whatever the series length: no
  drift;
- ``a * X - b * Y`` is evaluated in floating point with a rigorous error bound, and only when the result
  lies inside the bound is its sign computed exactly (Dekker products and a Shewchuk expansion).

The pure-Python reference (``_reference``) makes the same decisions with ``fractions.Fraction``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "allocate_state",
    "bar_step_nb",
    "cmp_scaled_sums_nb",
    "grid_nb",
    "ma_crossover_signal_nb",
    "metrics_nb",
    "quad_ma_signal_nb",
    "reset_state_nb",
    "ring_size",
    "run_bars_nb",
    "step_nb",
    "window_sums_nb",
]

F = TypeVar("F", bound=Callable[..., Any])

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _jit(fn: F) -> F:
    """Compile ``fn`` with numba, keeping its Python signature visible to the type checker.

    ``error_model="numpy"`` makes float division by zero give inf/nan instead of raising (kernels never
    raise); ``fastmath`` stays off because the exact comparisons rely on IEEE rounding.
    """
    return cast(F, njit(cache=True, nogil=True, error_model="numpy")(fn))


def _jit_inline(fn: F) -> F:
    """Like :func:`_jit`, inlined into the caller at numba IR level (the per-bar helpers).

    LLVM does not reliably inline numba callees that take arrays, and each such call unpacks every
    array argument; inlining the helpers makes the batch loop one flat function (about 2x faster).
    """
    return cast(F, njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn))


def _jit_loop(fn: F) -> F:
    """Like :func:`_jit`, without numba's reference-counted memory (``_nrt=False``).

    Arrays touched inside branches of the per-bar step otherwise get an atomic incref/decref pair on
    every bar, which made the loop about 4x slower. Without NRT a kernel cannot allocate: every array
    (state, scratch, outputs) is preallocated by the caller, and the flag propagates to the callees.
    """
    # ``_nrt`` is a private numba option, absent from numba's type stubs, hence the Any-typed dict.
    options: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy", "_nrt": False}
    return cast(F, njit(**options)(fn))


# Strategy kinds.
QUAD_MA = 0
MA_CROSSOVER = 1

# Parameter vector (float64). quad_ma uses all slots; ma_crossover uses P_FAST/P_SLOW only.
P_SHORT_1, P_SHORT_2, P_LONG_1, P_LONG_2, P_TREND = 0, 1, 2, 3, 4
P_VOLUME_FILTER, P_VOLUME_FACTOR, P_TAKE_PROFIT, P_STOP_LOSS, P_CONFIRM = 5, 6, 7, 8, 9
P_FAST, P_SLOW = 0, 1
NUM_PARAMS = 10

# Execution vector (float64).
X_CAPITAL, X_FEE_RATE, X_SLIPPAGE, X_FRACTION = 0, 1, 2, 3  # X_SLIPPAGE is a fraction (bps / 10^4)

# Float state slots.
F_CASH = 0
F_QTY = 1  # signed: > 0 long, < 0 short
F_ENTRY_PRICE = 2
F_ENTRY_FEE = 3
F_TP = 4
F_SL = 5
F_GROSS_PROFIT = 6
F_GROSS_LOSS = 7
F_EQUITY = 8  # mark-to-market at the last close
F_LAST_CLOSE = 9
F_FIRST_OPEN = 10
F_WIN = 16  # window k: hi at F_WIN + 2k, lo at F_WIN + 2k + 1
NUM_WINDOWS = 6
F_SCRATCH = 32  # 17 slots of scratch for the exact comparisons (not state: never read before written)
NUM_FLOAT_STATE = 50

# Int state slots.
I_POS = 0  # -1, 0, 1
I_ENTRY_TIME = 1
I_ENTRY_IDX = 2
I_PENDING = 3  # order for the next open: 1 go long, -1 go short, 0 none
I_NBARS = 4  # bars processed = index of the next bar
I_EXPOSED = 5  # bar closes with an open position
I_NTRADES = 6
I_WINNERS = 7
I_PREV_CROSS = 8  # sign(sma_a - sma_b) at the previous close
I_REV_COUNT = 9  # bars the opposite alignment has held during a pending reversal
I_LAST_TIME = 10
I_NFILLS = 11  # fills written by the last step
NUM_INT_STATE = 16

# Reason codes (trades and fills).
REASON_TAKE_PROFIT = 1
REASON_STOP_LOSS = 2
REASON_REVERSAL = 3
REASON_SIGNAL = 4
REASON_ENTRY = 5

# Trade record columns: int64 and float64 halves.
T_ENTRY_TIME, T_EXIT_TIME, T_SIDE, T_REASON, T_ENTRY_IDX, T_EXIT_IDX = 0, 1, 2, 3, 4, 5
NUM_TRADE_INTS = 6
T_ENTRY_PRICE, T_EXIT_PRICE, T_QTY, T_FEES, T_PNL = 0, 1, 2, 3, 4
NUM_TRADE_FLOATS = 5
# Fill record columns: (time, side +1 buy / -1 sell, reason) and (price, qty, fee).
MAX_FILLS_PER_BAR = 3  # a reversal (two fills) then a take-profit/stop-loss of the new position
MAX_TRADES_PER_BAR = 2

_SPLITTER = 134217729.0  # 2^27 + 1, Dekker's split constant
_TOLERANCE = 2.0**-49  # >= 16 units in the last place: a safe bound on the fast path's rounding error


# --------------------------------------------------------------------------------------------------
# Error-free arithmetic


@_jit
def _two_sum_nb(a: float, b: float) -> tuple[float, float]:
    """Return ``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (Knuth)."""
    s = a + b
    bp = s - a
    e = (a - (s - bp)) + (b - bp)
    return s, e


@_jit
def _two_prod_nb(a: float, b: float) -> tuple[float, float]:
    """Return ``(p, e)`` with ``p = fl(a * b)`` and ``a * b = p + e`` exactly (Dekker, no FMA)."""
    p = a * b
    t = _SPLITTER * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLITTER * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@_jit
def _expansion_sign_nb(work: FloatArray, start: int, count: int) -> int:
    """Return the sign of the exact sum of ``work[start : start + count]`` (Shewchuk's partials, as in
    ``math.fsum``); the partials overwrite ``work[start + count :]`` (``count + 1`` slots)."""
    base = start + count
    m = 0
    for k in range(start, start + count):
        x = work[k]
        j2 = 0
        for j in range(m):
            hi, lo = _two_sum_nb(x, work[base + j])
            if lo != 0.0:
                work[base + j2] = lo
                j2 += 1
            x = hi
        work[base + j2] = x
        m = j2 + 1
    # The partials are non-overlapping and increase in magnitude: the largest non-zero one has the
    # sign of the whole sum.
    for j in range(m - 1, -1, -1):
        if work[base + j] > 0.0:
            return 1
        if work[base + j] < 0.0:
            return -1
    return 0


@_jit
def _exact_sign_nb(a: float, xh: float, xl: float, b: float, yh: float, yl: float, work: FloatArray) -> int:
    j = F_SCRATCH
    work[j], work[j + 1] = _two_prod_nb(a, xh)
    work[j + 2], work[j + 3] = _two_prod_nb(a, xl)
    p, e = _two_prod_nb(b, yh)
    work[j + 4] = -p
    work[j + 5] = -e
    p, e = _two_prod_nb(b, yl)
    work[j + 6] = -p
    work[j + 7] = -e
    return _expansion_sign_nb(work, j, 8)


@_jit
def cmp_scaled_sums_nb(
    a: float, xh: float, xl: float, b: float, yh: float, yl: float, work: FloatArray
) -> int:
    """Return the exact sign of ``a * (xh + xl) - b * (yh + yl)``.

    Preconditions: ``a, b >= 0`` and ``xh + xl``, ``yh + yl`` >= 0 (sums of non-negative values).
    ``sma(X, p) > sma(Y, q)`` is ``cmp_scaled_sums_nb(q, X, p, Y) > 0``. ``work`` is a state vector
    whose ``F_SCRATCH`` slots the exact path may overwrite.

    Fast path: ``d = fl(a * fl(xh + xl)) - fl(b * fl(yh + yl))`` is within ``3u (pa + pb)`` of the
    exact value (u = 2^-53: one rounding for each sum, each product and the difference), so its sign
    is the exact sign whenever ``|d|`` exceeds ``2^-49 (pa + pb)``; otherwise decide exactly.
    """
    pa = a * (xh + xl)
    pb = b * (yh + yl)
    d = pa - pb
    tol = _TOLERANCE * (pa + pb)
    if d > tol:
        return 1
    if d < -tol:
        return -1
    return _exact_sign_nb(a, xh, xl, b, yh, yl, work)


@_jit_inline
def _roll_nb(fs: FloatArray, k: int, x: float, y: float) -> None:
    """Add ``x`` to and remove ``y`` from window sum ``k``; ``hi + lo`` stays the exact sum.

    ``hi`` takes the rounded sum and ``lo`` collects the exact rounding errors, so the loop-carried
    dependency is one addition; :func:`_renormalize_nb` folds ``lo`` back every 1024 bars so it never
    grows past a few ulps of ``hi`` times 2^11 (the exactness budget stays ~96 bits).
    """
    j = F_WIN + 2 * k
    dh, dl = _two_sum_nb(x, -y)
    s, e = _two_sum_nb(fs[j], dh)
    fs[j] = s
    fs[j + 1] += dl + e


@_jit_inline
def _renormalize_nb(fs: FloatArray, count: int) -> None:
    for k in range(count):
        j = F_WIN + 2 * k
        fs[j], fs[j + 1] = _two_sum_nb(fs[j], fs[j + 1])


@_jit
def window_sums_nb(values: FloatArray, period: int) -> tuple[FloatArray, FloatArray]:
    """Return the rolling sums of ``values`` over ``period`` as double-doubles (test and tool helper).

    Uses the same updates as the strategies; ``hi[i] + lo[i]`` is the exact sum of
    ``values[i - period + 1 : i + 1]`` and ``hi[i]`` its correctly rounded value (NaN before the window
    is full).
    """
    n = values.shape[0]
    size = 1
    while size < period:
        size *= 2
    ring = np.zeros(size)
    fs = np.zeros(NUM_FLOAT_STATE)
    hi = np.full(n, np.nan)
    lo = np.full(n, np.nan)
    for i in range(n):
        y = ring[(i - period) & (size - 1)] if i >= period else 0.0
        _roll_nb(fs, 0, values[i], y)
        ring[i & (size - 1)] = values[i]
        if (i & 1023) == 1023:
            _renormalize_nb(fs, 1)
        if i >= period - 1:
            hi[i], lo[i] = _two_sum_nb(fs[F_WIN], fs[F_WIN + 1])
    return hi, lo


# --------------------------------------------------------------------------------------------------
# State


def ring_size(kind: int, params: FloatArray) -> int:
    """Return the ring-buffer length for a strategy: the next power of two >= its longest window."""
    longest = max(int(params[k]) for k in range(5 if kind == QUAD_MA else 2))
    return 1 << max(0, (longest - 1).bit_length())


def allocate_state(
    kind: int, params: FloatArray, capital: float, ring: int | None = None
) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
    """Return fresh ``(fs, st, ring_close, ring_volume)`` for a strategy instance (plain Python).

    ``ring`` overrides the ring length (a power of two at least :func:`ring_size`), e.g. to share
    buffers across a parameter grid.
    """
    size = ring_size(kind, params) if ring is None else ring
    fs = np.zeros(NUM_FLOAT_STATE)
    st = np.zeros(NUM_INT_STATE, dtype=np.int64)
    ring_close = np.zeros(size)
    ring_volume = np.zeros(size)
    reset_state_nb(fs, st, ring_close, ring_volume, capital)
    return fs, st, ring_close, ring_volume


@_jit
def reset_state_nb(
    fs: FloatArray, st: IntArray, ring_close: FloatArray, ring_volume: FloatArray, capital: float
) -> None:
    """Reset a strategy instance in place to flat with ``capital`` in cash and no history."""
    fs[:] = 0.0
    st[:] = 0
    ring_close[:] = 0.0
    ring_volume[:] = 0.0
    fs[F_CASH] = capital
    fs[F_EQUITY] = capital


# --------------------------------------------------------------------------------------------------
# Strategies: the decision at a bar's close


@_jit_inline
def _aligned_nb(fs: FloatArray, p: FloatArray, direction: int) -> bool:
    """Both short averages strictly beyond both long averages in ``direction`` (+1 above, -1 below)."""
    p1 = p[P_SHORT_1]
    p2 = p[P_SHORT_2]
    q1 = p[P_LONG_1]
    q2 = p[P_LONG_2]
    for a in range(2):
        pa = p1 if a == 0 else p2
        ja = F_WIN + 2 * a
        for b in range(2):
            pb = q1 if b == 0 else q2
            jb = F_WIN + 2 * (2 + b)
            # sma_a - sma_b has the sign of pb * sum_a - pa * sum_b.
            sign = cmp_scaled_sums_nb(pb, fs[ja], fs[ja + 1], pa, fs[jb], fs[jb + 1], fs)
            if sign != direction:
                return False
    return True


@_jit_inline
def _close_vs_trend_nb(fs: FloatArray, p: FloatArray, close: float) -> int:
    j = F_WIN + 8
    return cmp_scaled_sums_nb(p[P_TREND], close, 0.0, 1.0, fs[j], fs[j + 1], fs)


@_jit_inline
def _volume_ok_nb(fs: FloatArray, p: FloatArray, volume: float) -> bool:
    if p[P_VOLUME_FILTER] == 0.0:
        return True
    j = F_WIN + 10
    # volume > factor * sum / long_2  <=>  long_2 * volume - factor * sum > 0
    return cmp_scaled_sums_nb(p[P_LONG_2], volume, 0.0, p[P_VOLUME_FACTOR], fs[j], fs[j + 1], fs) > 0


@_jit_inline
def quad_ma_signal_nb(
    params: FloatArray,
    fs: FloatArray,
    st: IntArray,
    ring_close: FloatArray,
    ring_volume: FloatArray,
    close: float,
    volume: float,
) -> int:
    """Update the quad_ma averages with one close and return the order for the next open.

    Returns 1 (go long), -1 (go short) or 0. ``st[I_NBARS]`` is this bar's index and ``st[I_POS]`` the
    position after this bar's fills and exits; neither is advanced here.
    """
    i = st[I_NBARS]
    pos = st[I_POS]
    mask = ring_close.shape[0] - 1
    # Values leaving each window (the ring still holds them until this bar is written).
    for k in range(5):
        period = int(params[k])
        y = ring_close[(i - period) & mask] if i >= period else 0.0
        _roll_nb(fs, k, close, y)
    trend = int(params[P_TREND])
    leaving_trend = ring_close[(i - trend) & mask] if i >= trend else 0.0
    if params[P_VOLUME_FILTER] != 0.0:
        long_2 = int(params[P_LONG_2])
        y = ring_volume[(i - long_2) & mask] if i >= long_2 else 0.0
        _roll_nb(fs, 5, volume, y)
        ring_volume[i & mask] = volume
    ring_close[i & mask] = close
    if (i & 1023) == 1023:
        _renormalize_nb(fs, NUM_WINDOWS)

    if pos == 0:
        st[I_REV_COUNT] = 0  # a take-profit/stop-loss drops any pending reversal
    p1 = params[P_SHORT_1]
    p2 = params[P_SHORT_2]
    if i + 1 < int(p2):
        return 0
    cross = cmp_scaled_sums_nb(p2, fs[F_WIN], fs[F_WIN + 1], p1, fs[F_WIN + 2], fs[F_WIN + 3], fs)
    prev = st[I_PREV_CROSS]
    st[I_PREV_CROSS] = cross
    warm = trend
    for k in range(4):
        warm = max(warm, int(params[k]))
    if i < warm:  # need every window full at i - 1 as well: trend[i - 1] and the previous shorts
        return 0

    bullish = prev <= 0 and cross > 0
    bearish = prev > 0 and cross <= 0
    if pos == 0:
        if bullish:
            if (
                close > leaving_trend  # trend[i] > trend[i - 1]
                and _aligned_nb(fs, params, 1)
                and _close_vs_trend_nb(fs, params, close) > 0
                and _volume_ok_nb(fs, params, volume)
            ):
                return 1
        elif bearish:
            if (
                close < leaving_trend
                and _aligned_nb(fs, params, -1)
                and _close_vs_trend_nb(fs, params, close) < 0
                and _volume_ok_nb(fs, params, volume)
            ):
                return -1
        return 0

    count = st[I_REV_COUNT]
    if count > 0:
        # Pending reversal: the opposite alignment must keep holding, else it is abandoned.
        if _aligned_nb(fs, params, -pos) and _close_vs_trend_nb(fs, params, close) == -pos:
            count += 1
        else:
            count = 0
    elif (pos > 0 and bearish) or (pos < 0 and bullish):
        if (
            (close < leaving_trend if pos > 0 else close > leaving_trend)
            and _aligned_nb(fs, params, -pos)
            and _close_vs_trend_nb(fs, params, close) == -pos
            and _volume_ok_nb(fs, params, volume)
        ):
            count = 1
    if count >= int(params[P_CONFIRM]):
        st[I_REV_COUNT] = 0
        return int(-pos)
    st[I_REV_COUNT] = count
    return 0


@_jit_inline
def ma_crossover_signal_nb(
    params: FloatArray, fs: FloatArray, st: IntArray, ring_close: FloatArray, close: float
) -> int:
    """Update the two averages with one close and return the order for the next open (1, -1 or 0).

    Long while sma(fast) > sma(slow), short while below; on an exact tie the position is kept.
    """
    i = st[I_NBARS]
    mask = ring_close.shape[0] - 1
    fast = params[P_FAST]
    slow = params[P_SLOW]
    y = ring_close[(i - int(fast)) & mask] if i >= int(fast) else 0.0
    _roll_nb(fs, 0, close, y)
    y = ring_close[(i - int(slow)) & mask] if i >= int(slow) else 0.0
    _roll_nb(fs, 1, close, y)
    ring_close[i & mask] = close
    if (i & 1023) == 1023:
        _renormalize_nb(fs, 2)
    if i + 1 < int(slow):
        return 0
    want = cmp_scaled_sums_nb(slow, fs[F_WIN], fs[F_WIN + 1], fast, fs[F_WIN + 2], fs[F_WIN + 3], fs)
    if want != 0 and want != st[I_POS]:
        return want
    return 0


# --------------------------------------------------------------------------------------------------
# Execution: fills at the open, intrabar exits


@_jit_inline
def _record_fill_nb(
    st: IntArray,
    fill_i: IntArray,
    fill_f: FloatArray,
    t: int,
    side: int,
    reason: int,
    price: float,
    qty: float,
    fee: float,
) -> None:
    k = st[I_NFILLS]
    fill_i[k, 0] = t
    fill_i[k, 1] = side
    fill_i[k, 2] = reason
    fill_f[k, 0] = price
    fill_f[k, 1] = qty
    fill_f[k, 2] = fee
    st[I_NFILLS] = k + 1


@_jit_inline
def _open_nb(
    fs: FloatArray,
    st: IntArray,
    params: FloatArray,
    execution: FloatArray,
    use_exits: bool,
    side: int,
    t: int,
    idx: int,
    price: float,
    fill_i: IntArray,
    fill_f: FloatArray,
) -> None:
    """Open a position of ``side`` at ``price`` sized on the mark-to-market equity at that price."""
    equity = fs[F_CASH] + fs[F_QTY] * price
    if equity <= 0.0:
        return  # nothing left to trade with
    qty = execution[X_FRACTION] * equity / price
    notional = qty * price
    fee = execution[X_FEE_RATE] * notional
    if side > 0:
        fs[F_CASH] -= notional
        fs[F_QTY] = qty
    else:
        fs[F_CASH] += notional
        fs[F_QTY] = -qty
    fs[F_CASH] -= fee
    fs[F_ENTRY_PRICE] = price
    fs[F_ENTRY_FEE] = fee
    if use_exits:
        if side > 0:
            fs[F_TP] = price * (1.0 + params[P_TAKE_PROFIT])
            fs[F_SL] = price * (1.0 - params[P_STOP_LOSS])
        else:
            fs[F_TP] = price * (1.0 - params[P_TAKE_PROFIT])
            fs[F_SL] = price * (1.0 + params[P_STOP_LOSS])
    st[I_POS] = side
    st[I_ENTRY_TIME] = t
    st[I_ENTRY_IDX] = idx
    _record_fill_nb(st, fill_i, fill_f, t, side, REASON_ENTRY, price, qty, fee)


@_jit_inline
def _close_nb(
    fs: FloatArray,
    st: IntArray,
    execution: FloatArray,
    t: int,
    idx: int,
    price: float,
    reason: int,
    trade_i: IntArray,
    trade_f: FloatArray,
    k: int,
    fill_i: IntArray,
    fill_f: FloatArray,
) -> int:
    """Close the open position at ``price``; write the trade to row ``k`` and return ``k + 1``."""
    side = st[I_POS]
    qty = fs[F_QTY] if side > 0 else -fs[F_QTY]
    notional = qty * price
    fee = execution[X_FEE_RATE] * notional
    if side > 0:
        fs[F_CASH] += notional
        gross = qty * (price - fs[F_ENTRY_PRICE])
    else:
        fs[F_CASH] -= notional
        gross = qty * (fs[F_ENTRY_PRICE] - price)
    fs[F_CASH] -= fee
    pnl = (gross - fs[F_ENTRY_FEE]) - fee
    trade_i[k, T_ENTRY_TIME] = st[I_ENTRY_TIME]
    trade_i[k, T_EXIT_TIME] = t
    trade_i[k, T_SIDE] = side
    trade_i[k, T_REASON] = reason
    trade_i[k, T_ENTRY_IDX] = st[I_ENTRY_IDX]
    trade_i[k, T_EXIT_IDX] = idx
    trade_f[k, T_ENTRY_PRICE] = fs[F_ENTRY_PRICE]
    trade_f[k, T_EXIT_PRICE] = price
    trade_f[k, T_QTY] = qty
    trade_f[k, T_FEES] = fs[F_ENTRY_FEE] + fee
    trade_f[k, T_PNL] = pnl
    st[I_NTRADES] += 1
    if pnl > 0.0:
        st[I_WINNERS] += 1
        fs[F_GROSS_PROFIT] += pnl
    elif pnl < 0.0:
        fs[F_GROSS_LOSS] -= pnl
    _record_fill_nb(st, fill_i, fill_f, t, -side, reason, price, qty, fee)
    fs[F_QTY] = 0.0
    fs[F_ENTRY_PRICE] = 0.0
    fs[F_ENTRY_FEE] = 0.0
    fs[F_TP] = 0.0
    fs[F_SL] = 0.0
    st[I_POS] = 0
    return k + 1


@_jit_inline
def bar_step_nb(
    kind: int,
    params: FloatArray,
    execution: FloatArray,
    fs: FloatArray,
    st: IntArray,
    ring_close: FloatArray,
    ring_volume: FloatArray,
    t: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float,
    trade_i: IntArray,
    trade_f: FloatArray,
    row: int,
    fill_i: IntArray,
    fill_f: FloatArray,
) -> int:
    """Advance a strategy instance by one closed bar; return ``row`` plus the trades it closed (0-2).

    Order of events within the bar (DESIGN.md section 6):

    1. at the open, the order decided at the previous close fills (a reversal is the close, then the
       open sized on the new equity, both at the same price);
    2. during the bar, the open position's take-profit/stop-loss: an open beyond a level fills at the
       open, else a level inside the range fills at the level, the stop first when both are inside;
    3. at the close, the strategy updates its averages and decides the order for the next open.

    Closed trades go to ``trade_i``/``trade_f`` from ``row`` on, fills to ``fill_i``/``fill_f``
    (``st[I_NFILLS]`` rows).
    """
    idx = st[I_NBARS]
    st[I_NFILLS] = 0
    slip = execution[X_SLIPPAGE]
    use_exits = kind == QUAD_MA
    k = row
    if idx == 0:
        fs[F_FIRST_OPEN] = o

    pending = st[I_PENDING]
    if pending != 0:
        st[I_PENDING] = 0
        price = o * (1.0 + slip) if pending > 0 else o * (1.0 - slip)
        if st[I_POS] == -pending:
            k = _close_nb(
                fs, st, execution, t, idx, price, REASON_REVERSAL, trade_i, trade_f, k, fill_i, fill_f
            )
        if st[I_POS] == 0:
            _open_nb(fs, st, params, execution, use_exits, pending, t, idx, price, fill_i, fill_f)

    pos = st[I_POS]
    if use_exits and pos != 0:
        tp = fs[F_TP]
        sl = fs[F_SL]
        level = 0.0
        reason = 0
        if pos > 0:
            if o <= sl:
                level, reason = o, REASON_STOP_LOSS
            elif o >= tp:
                level, reason = o, REASON_TAKE_PROFIT
            elif lo <= sl:
                level, reason = sl, REASON_STOP_LOSS
            elif h >= tp:
                level, reason = tp, REASON_TAKE_PROFIT
            price = level * (1.0 - slip)
        else:
            if o >= sl:
                level, reason = o, REASON_STOP_LOSS
            elif o <= tp:
                level, reason = o, REASON_TAKE_PROFIT
            elif h >= sl:
                level, reason = sl, REASON_STOP_LOSS
            elif lo <= tp:
                level, reason = tp, REASON_TAKE_PROFIT
            price = level * (1.0 + slip)
        if reason != 0:
            k = _close_nb(fs, st, execution, t, idx, price, reason, trade_i, trade_f, k, fill_i, fill_f)

    if kind == QUAD_MA:
        signal = quad_ma_signal_nb(params, fs, st, ring_close, ring_volume, c, v)
    else:
        signal = ma_crossover_signal_nb(params, fs, st, ring_close, c)
    st[I_PENDING] = signal

    fs[F_EQUITY] = fs[F_CASH] + fs[F_QTY] * c
    fs[F_LAST_CLOSE] = c
    if st[I_POS] != 0:
        st[I_EXPOSED] += 1
    st[I_NBARS] = idx + 1
    st[I_LAST_TIME] = t
    return k


# --------------------------------------------------------------------------------------------------
# Entry points (no NRT: callers preallocate everything)


@_jit_loop
def step_nb(
    kind: int,
    params: FloatArray,
    execution: FloatArray,
    fs: FloatArray,
    st: IntArray,
    ring_close: FloatArray,
    ring_volume: FloatArray,
    t: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float,
    trade_i: IntArray,
    trade_f: FloatArray,
    fill_i: IntArray,
    fill_f: FloatArray,
) -> int:
    """One bar for a live runner: :func:`bar_step_nb` writing trades from row 0 (2 rows needed)."""
    return bar_step_nb(
        kind,
        params,
        execution,
        fs,
        st,
        ring_close,
        ring_volume,
        t,
        o,
        h,
        lo,
        c,
        v,
        trade_i,
        trade_f,
        0,
        fill_i,
        fill_f,
    )


@_jit_loop
def run_bars_nb(
    kind: int,
    params: FloatArray,
    execution: FloatArray,
    fs: FloatArray,
    st: IntArray,
    ring_close: FloatArray,
    ring_volume: FloatArray,
    timestamps: IntArray,
    o: FloatArray,
    h: FloatArray,
    lo: FloatArray,
    c: FloatArray,
    v: FloatArray,
    start: int,
    equity: FloatArray,
    store_trades: bool,
    trade_i: IntArray,
    trade_f: FloatArray,
    count: int,
    fill_i: IntArray,
    fill_f: FloatArray,
) -> tuple[int, int]:
    """Run bars ``start..n-1`` through :func:`bar_step_nb`, writing ``equity[i]`` at each close.

    With ``store_trades`` closed trades are appended to ``trade_i``/``trade_f`` from row ``count``; the
    loop stops early, returning ``(next_bar, count)``, when fewer than two free rows remain, so the
    caller can grow the buffers and resume (the state arrays carry everything). Without it the two
    first rows are scratch. Returns ``(n, count)`` when done.
    """
    n = c.shape[0]
    cap = trade_i.shape[0]
    for i in range(start, n):
        row = count if store_trades else 0
        if row + MAX_TRADES_PER_BAR > cap:
            return i, count
        k = bar_step_nb(
            kind,
            params,
            execution,
            fs,
            st,
            ring_close,
            ring_volume,
            timestamps[i],
            o[i],
            h[i],
            lo[i],
            c[i],
            v[i],
            trade_i,
            trade_f,
            row,
            fill_i,
            fill_f,
        )
        if store_trades:
            count = k
        equity[i] = fs[F_EQUITY]
    return n, count


# --------------------------------------------------------------------------------------------------
# Metrics and the parameter-grid loop (here, not in _metrics/_grid: see the module docstring)

NUM_METRICS = 13


@_jit
def metrics_nb(
    equity: FloatArray,
    initial_capital: float,
    first_open: float,
    last_close: float,
    num_trades: int,
    winners: int,
    gross_profit: float,
    gross_loss: float,
    exposed_bars: int,
    periods_per_year: float,
    out: FloatArray,
) -> None:
    """Write the metrics into ``out`` in :data:`METRIC_NAMES` order (profit factor ``inf`` when nothing
    was lost).

    Returns are ``r[i] = equity[i] / equity[i - 1] - 1``; Sharpe and Sortino are 0 with fewer than two
    returns or a zero denominator; Calmar is 0 without a drawdown.
    """
    n = equity.shape[0]
    final = equity[n - 1]
    m = n - 1  # number of returns
    total = 0.0
    for i in range(1, n):
        total += equity[i] / equity[i - 1] - 1.0
    sharpe = 0.0
    sortino = 0.0
    if m >= 2:
        mean = total / m
        sq = 0.0
        down = 0.0
        for i in range(1, n):
            r = equity[i] / equity[i - 1] - 1.0
            sq += (r - mean) * (r - mean)
            if r < 0.0:
                down += r * r
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
    out[0] = growth - 1.0
    out[1] = sharpe
    out[2] = sortino
    out[3] = max_dd
    out[4] = calmar
    out[5] = num_trades
    out[6] = winners / num_trades if num_trades > 0 else 0.0
    out[7] = gross_profit / gross_loss if gross_loss > 0.0 else np.inf
    out[8] = last_close / first_open - 1.0
    out[9] = exposed_bars / n
    out[10] = n
    out[11] = initial_capital
    out[12] = final


@_jit_loop
def grid_nb(
    kind: int,
    param_rows: FloatArray,
    execution: FloatArray,
    timestamps: IntArray,
    o: FloatArray,
    h: FloatArray,
    lo: FloatArray,
    c: FloatArray,
    v: FloatArray,
    periods_per_year: float,
    fs: FloatArray,
    st: IntArray,
    ring_close: FloatArray,
    ring_volume: FloatArray,
    equity: FloatArray,
    trade_i: IntArray,
    trade_f: FloatArray,
    fill_i: IntArray,
    fill_f: FloatArray,
    out: FloatArray,
) -> None:
    """Backtest each row of ``param_rows``; write its metrics to the same row of ``out``.

    Every other array is per-thread scratch (state sized for the longest window of all rows).
    """
    capital = execution[X_CAPITAL]
    for r in range(param_rows.shape[0]):
        reset_state_nb(fs, st, ring_close, ring_volume, capital)
        run_bars_nb(
            kind,
            param_rows[r],
            execution,
            fs,
            st,
            ring_close,
            ring_volume,
            timestamps,
            o,
            h,
            lo,
            c,
            v,
            0,
            equity,
            False,
            trade_i,
            trade_f,
            0,
            fill_i,
            fill_f,
        )
        metrics_nb(
            equity,
            capital,
            fs[F_FIRST_OPEN],
            fs[F_LAST_CLOSE],
            st[I_NTRADES],
            st[I_WINNERS],
            fs[F_GROSS_PROFIT],
            fs[F_GROSS_LOSS],
            st[I_EXPOSED],
            periods_per_year,
            out[r],
        )
