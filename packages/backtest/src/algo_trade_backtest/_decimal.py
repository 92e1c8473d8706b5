"""Decimal precision: the integer units in which the kernels decide every comparison exactly.

The exchange quotes decimal prices and volumes (``"118700.5"``, ``"0.0012345"``); float64 only
approximates them, so two averages that are equal in decimal can differ in binary. The kernels
therefore decide on **units**: each series is scaled to integers at its decimal precision and every
comparison of averages becomes an exact int64 comparison.

**Decimal precision** of a value: the number of digits after the decimal point of its shortest
round-trip representation (Python's ``repr``): 118700.5 has 1, 0.0012345 has 7, 100.0 has 0. A
series' precision ``d`` is the largest precision among its values, bounded:

- by :data:`MAX_DECIMALS` (12) digits, and
- by magnitude: the largest unit ``max|x| * 10**d`` must stay within a *budget* such that no window
  sum or product of the kernels overflows int64 (:func:`close_budget`, :func:`volume_budget`: about
  ``2**62 / longest_window**2`` for closes, ``2**62 / (long_2 * factor terms)`` for volumes), and
  within :data:`MAX_UNIT` (``2**50``, where float64 arithmetic still gets every unit exactly). For
  real prices this leaves more digits than they have (BTC at 120,000 with a 1,000-bar window: 7
  decimals); with huge values ``d`` may even be negative (units of 10, 100...).

A value is represented by ``round(x * 10**d)``, rounding half to even on its exact binary value. For
a value with at most ``d`` decimals that integer *is* its decimal value times ``10**d`` (so ties in
decimal are ties in units); a value **with more digits than the bound** is rounded to ``d`` decimals:
the decisions then hold for the rounded series (``0.30000000000000004`` counts as ``0.3``, a value
with 13 significant decimals is rounded to 12). Decisions do not depend on ``d`` as long as every
value fits: scaling all units by ``10**k`` changes no comparison.

``volume_factor`` is taken at its decimal value too, as an exact fraction (rounded to 6 decimals if
it has more, and capped at ``long_2``: a volume can never exceed ``long_2`` times an average that
includes it, so every larger factor makes the same decision).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "MAX_DECIMALS",
    "MAX_UNIT",
    "MIN_DECIMALS",
    "choose_decimals",
    "close_budget",
    "factor_fraction",
    "needed_decimals",
    "scan",
    "to_units",
    "unit_limit",
    "volume_budget",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_DECIMALS = 12
MIN_DECIMALS = -300  # float64 values reach 1.8e308
FACTOR_DECIMALS = 6
# The largest unit: below it ``round(x * 10**d)`` computed in floats is the exact unit of a value with at
# most d decimals (the value's own rounding error and the product's stay below 1/8 each), and the test
# ``round(x * 10**d) / 10**d == x`` tells exactly whether x has at most d decimals.
MAX_UNIT = 2**50
_BUDGET = 2**62  # every sum, product and difference of units stays below int64's 2**63 - 1
_SPLITTER = 134217729.0  # 2^27 + 1, Dekker's split constant
_POWERS = np.array([10.0**k for k in range(MAX_DECIMALS + 1)])  # exact: 10**k < 2**53 for k <= 15


@njit(cache=True, nogil=True)
def _scan_nb(values: FloatArray, powers: FloatArray) -> tuple[int, float]:
    """Return the decimal precision of the series (``len(powers)`` when it exceeds the last power)
    and its largest value, in one pass.

    ``x`` has at most ``d`` decimals when it is the float nearest to ``round(x * 10**d) / 10**d``.
    """
    d = 0
    top = powers.shape[0]
    largest = 0.0
    for x in values:
        largest = max(largest, x)
        while d < top and np.rint(x * powers[d]) / powers[d] != x:
            d += 1
    return d, largest


@njit(cache=True, nogil=True)
def _to_units_nb(values: FloatArray, scale: float, out: IntArray) -> None:
    """``out[i] = round(values[i] * scale)`` half to even on the exact product (``scale`` = 10^d)."""
    for i in range(values.shape[0]):
        x = values[i]
        prod = x * scale
        n = np.rint(prod)
        if abs(prod - n) == 0.5:
            # The rounded product sits on a half: the exact product's rounding error decides (Dekker).
            t = _SPLITTER * x
            xh = t - (t - x)
            xl = x - xh
            t = _SPLITTER * scale
            sh = t - (t - scale)
            sl = scale - sh
            err = ((xh * sh - prod) + xh * sl + xl * sh) + xl * sl
            if err > 0.0:
                n = np.floor(prod) + 1.0
            elif err < 0.0:
                n = np.floor(prod)
        out[i] = np.int64(n)


def needed_decimals(values: FloatArray) -> int:
    """Return the largest decimal precision among ``values``, at most ``MAX_DECIMALS + 1``
    (``MAX_DECIMALS + 1`` meaning "more than the bound")."""
    return scan(values)[0]


def scan(values: FloatArray) -> tuple[int, float]:
    """Return :func:`needed_decimals` and the largest value (at least 0) of ``values`` in one pass."""
    d, largest = _scan_nb(np.ascontiguousarray(values, dtype=np.float64), _POWERS)
    return int(d), float(largest)


def choose_decimals(needed: int, max_abs: float | Fraction, budget: int) -> int:
    """Return ``d``: ``needed`` bounded by ``MAX_DECIMALS`` and by ``round(max_abs * 10**d) <= budget``
    (and :data:`MAX_UNIT`)."""
    d = min(needed, MAX_DECIMALS)
    top = Fraction(max_abs)
    limit = min(budget, MAX_UNIT)
    while d > MIN_DECIMALS and round(top * Fraction(10) ** d) > limit:
        d -= 1
    return d


def unit_limit(budget: int) -> int:
    """The largest unit :func:`choose_decimals` allows under ``budget``."""
    return min(budget, MAX_UNIT)


def to_units(values: FloatArray, decimals: int) -> IntArray:
    """Return ``round(values * 10**decimals)`` as int64, half to even on the exact binary values."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty(values.shape[0], dtype=np.int64)
    if decimals >= 0:
        _to_units_nb(values, float(10**decimals), out)
    else:  # huge values (only with absurd magnitudes): exact, slowly
        divisor = 10**-decimals
        out[:] = [round(Fraction(x) / divisor) for x in values.tolist()]
    return out


def close_budget(longest_window: int) -> int:
    """The largest close unit allowed for windows of at most ``longest_window`` bars.

    The kernels compare ``q * sum_p`` with ``p * sum_q`` (sums of at most ``q`` units): every such
    product stays below ``2**62`` when a unit is at most ``2**62 / longest_window**2``.
    """
    return _BUDGET // (longest_window * longest_window)


def volume_budget(long_2: int, factor: Fraction) -> int:
    """The largest volume unit allowed for the filter ``long_2 * den * volume > num * sum``."""
    return _BUDGET // (long_2 * max(factor.numerator, factor.denominator, 1))


def factor_fraction(factor: float, long_2: int) -> Fraction:
    """Return ``volume_factor`` as the exact fraction of its decimal value (see the module docstring)."""
    value = Decimal(repr(float(factor)))
    exact = Fraction(value)
    if exact.denominator > 10**FACTOR_DECIMALS:
        exact = Fraction(round(value, FACTOR_DECIMALS))
    return min(exact, Fraction(long_2))
