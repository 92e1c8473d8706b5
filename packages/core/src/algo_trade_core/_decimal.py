"""Decimal helpers: float64 engine values become exact 8-place decimals where they are money."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["QUANTUM", "to_decimal", "to_decimal_or_none"]

QUANTUM = Decimal("0.00000001")  # NUMERIC(20, 8) in the seed's schema


def to_decimal(value: float | int | str | Decimal, quantum: Decimal = QUANTUM) -> Decimal:
    """Convert to a Decimal quantised to 8 places (round half to even).

    Floats go through ``repr`` so 0.1 becomes Decimal("0.1"), not its binary expansion.

    Raises:
        ValueError: the value is NaN or infinite (NUMERIC money columns cannot hold them).
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value}")
        value = repr(value)
    return Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN)


def to_decimal_or_none(value: float | None, quantum: Decimal = QUANTUM) -> Decimal | None:
    """Like :func:`to_decimal`, but None, NaN and infinities become None (stored as NULL)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return to_decimal(value, quantum)
