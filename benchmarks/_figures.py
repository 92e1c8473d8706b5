"""One line format for the figures of issue 9 section 4, shared by the benchmark scripts.

Every figure with a goal is printed as ``FIGURE | verdict | figure | measured | goal`` so that
``make bench | grep '^FIGURE'`` assembles the table. Timings on a shared machine are noisy: a figure
is the median of several runs, and the line shows their spread.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["figure", "rate_summary", "time_summary"]


def figure(name: str, measured: str, goal: str, ok: bool) -> None:
    """Print one figure line: ``FIGURE | OK/MISS | name | measured | goal``."""
    print(f"FIGURE | {'OK  ' if ok else 'MISS'} | {name:<62} | {measured:<44} | goal {goal}")


def time_summary(seconds: Sequence[float], unit: str = "s") -> tuple[float, str]:
    """Median of ``seconds`` and a text ``median 0.123 s (n runs: 0.100-0.150)`` in ``unit`` (s or ms)."""
    scale = 1000.0 if unit == "ms" else 1.0
    digits = 1 if unit == "ms" else 3
    median = statistics.median(seconds)
    text = (
        f"median {median * scale:.{digits}f} {unit} ({len(seconds)} runs: "
        f"{min(seconds) * scale:.{digits}f}-{max(seconds) * scale:.{digits}f})"
    )
    return median, text


def rate_summary(rows: int, seconds: Sequence[float]) -> tuple[float, str]:
    """Median rows/s over runs of ``rows`` rows each, and a text with the spread."""
    rates = sorted(rows / s for s in seconds)
    median = statistics.median(rates)
    spread = f"{rates[0] / 1000:,.0f}-{rates[-1] / 1000:,.0f} k"
    text = f"median {median / 1000:,.0f} k rows/s ({len(rates)} runs: {spread})"
    return median, text
