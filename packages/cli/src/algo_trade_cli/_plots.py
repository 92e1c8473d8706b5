"""PNG charts for `backtest --plot` and `results history --plot` (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["plot_equity", "plot_history"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_equity(
    path: Path,
    *,
    title: str,
    times: Sequence[datetime],
    equity: npt.NDArray[np.float64],
    buy_hold: npt.NDArray[np.float64],
    entries: Sequence[tuple[datetime, float, str]],
    exits: Sequence[tuple[datetime, float, str]],
) -> None:
    """Draw equity against buy & hold with entries (triangles) and exits (crosses) marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(12, 5), dpi=110)
    ax.plot(times, equity, label="strategy equity", color="#1f77b4", linewidth=1.2)
    ax.plot(times, buy_hold, label="buy & hold", color="#7f7f7f", linewidth=1.0, alpha=0.8)
    for side, marker, color in (("long", "^", "#2ca02c"), ("short", "v", "#d62728")):
        pts = [(t, e) for t, e, s in entries if s == side]
        if pts:
            ax.scatter(
                *zip(*pts, strict=True), marker=marker, color=color, s=28, zorder=3, label=f"{side} entry"
            )
    if exits:
        ax.scatter(
            [t for t, _, _ in exits],
            [e for _, e, _ in exits],
            marker="x",
            color="black",
            s=22,
            zorder=3,
            label="exit",
        )
    ax.set_title(title)
    ax.set_ylabel("equity (USDC)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_history(
    path: Path,
    *,
    title: str,
    times: Sequence[datetime],
    sharpe: Sequence[float],
    total_return: Sequence[float],
) -> None:
    """Draw Sharpe ratio and total return of each run over time."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6), dpi=110, sharex=True)
    ax1.plot(times, sharpe, marker="o", markersize=3, color="#1f77b4")
    ax1.axhline(0, color="grey", linewidth=0.8)
    ax1.set_ylabel("Sharpe (annualised)")
    ax1.set_title(title)
    ax1.grid(alpha=0.3)
    ax2.plot(times, [100 * r for r in total_return], marker="o", markersize=3, color="#2ca02c")
    ax2.axhline(0, color="grey", linewidth=0.8)
    ax2.set_ylabel("total return (%)")
    ax2.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
