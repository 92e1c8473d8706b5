"""Missing bars: which bars of a span the store lacks, as runs (first missing bar, how many)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from algo_trade_core import ms_to_datetime

__all__ = ["Gap", "find_gaps"]


@dataclass(frozen=True, slots=True)
class Gap:
    """``count`` consecutive missing bars, the first opening at ``first_ms`` (epoch ms)."""

    first_ms: int
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"first_missing": ms_to_datetime(self.first_ms).isoformat(), "count": self.count}


def find_gaps(t: npt.NDArray[np.int64], step_ms: int, start_ms: int, end_ms: int) -> list[Gap]:
    """The runs of bars missing from ``t`` among the bars opening every ``step_ms`` in ``[start_ms, end_ms]``.

    ``t`` is sorted ascending; its values outside the span are ignored.

    Raises:
        ValueError: ``step_ms`` is not positive.
    """
    if step_ms <= 0:
        raise ValueError(f"expected a positive bar step, got {step_ms}")
    if end_ms < start_ms:
        return []
    inside = t[(t >= start_ms) & (t <= end_ms)]
    # Sentinels one step outside the span turn leading and trailing holes into inner ones.
    edges = np.concatenate(([start_ms - step_ms], inside, [end_ms + step_ms])).astype(np.int64)
    jumps = np.diff(edges)
    holes = np.flatnonzero(jumps > step_ms)
    return [Gap(int(edges[i] + step_ms), int(jumps[i] // step_ms - 1)) for i in holes]
