"""JSON has no NaN or infinity: :func:`finite` replaces them by None, deep (no heavy import)."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["finite"]


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (JSON has neither); numpy scalars become
    Python numbers."""
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return value
