"""Charts of stored history: `results history --plot` and `selection history --plot`.

:func:`history_lines` is the pure half of the results chart: one line per interval, strategy and
parameter set, one point per backtest window end (the newest run of that window wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from algo_trade_cli._format import fmt_params
from algo_trade_cli._plots import pyplot
from algo_trade_data import BacktestResultRecord

if TYPE_CHECKING:
    from algo_trade_cli.cmd_selection import SelectionGrid

__all__ = ["STATUS_COLOURS", "HistoryLine", "history_lines", "plot_history", "plot_selection_strip"]


@dataclass(slots=True)
class HistoryLine:
    """One interval x strategy x parameter set, by backtest window end."""

    label: str
    interval: str
    strategy: str
    params_hash: str
    window_end: list[datetime] = field(default_factory=list)
    sharpe: list[float] = field(default_factory=list)
    total_return: list[float] = field(default_factory=list)
    run_time: list[datetime] = field(default_factory=list)


def history_lines(records: Sequence[BacktestResultRecord]) -> list[HistoryLine]:
    """Group results into lines by (interval, strategy, params_hash), points by window end."""
    newest: dict[tuple[str, str, str], dict[datetime, BacktestResultRecord]] = {}
    for r in records:
        points = newest.setdefault((r.interval, r.strategy_name, r.params_hash), {})
        seen = points.get(r.backtest_window_end)
        if seen is None or r.timestamp > seen.timestamp:
            points[r.backtest_window_end] = r
    lines = []
    for (interval, strategy, params_hash), points in sorted(newest.items()):
        first = next(iter(points.values()))
        line = HistoryLine(
            label=f"{interval} {strategy} {fmt_params(strategy, first.parameters)}",
            interval=interval,
            strategy=strategy,
            params_hash=params_hash,
        )
        for end in sorted(points):
            r = points[end]
            line.window_end.append(end)
            line.sharpe.append(r.sharpe_ratio)
            line.total_return.append(float(r.total_return))
            line.run_time.append(r.timestamp)
        lines.append(line)
    labels = [line.label for line in lines]
    for line in lines:
        if labels.count(line.label) > 1:  # same summary, different sets: the hash tells them apart
            line.label += f" #{line.params_hash[:6]}"
    return lines


def plot_history(path: Path, *, title: str, lines: Sequence[HistoryLine]) -> None:
    """Sharpe and total return by backtest window end, one line per interval and parameter set."""
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5), dpi=110, sharex=True)
    for line in lines:
        ax1.plot(line.window_end, line.sharpe, marker="o", markersize=3, linewidth=1.1, label=line.label)
        ax2.plot(
            line.window_end,
            [100 * r for r in line.total_return],
            marker="o",
            markersize=3,
            linewidth=1.1,
            label=line.label,
        )
    for ax, label in ((ax1, "Sharpe (annualised)"), (ax2, "total return over the window (%)")):
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax1.set_title(title, fontsize=10, loc="left")
    ax1.legend(loc="best", fontsize=7)
    ax2.set_xlabel("backtest window end (UTC)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# Cell colours of the selection strip, by status (failed cells by their first failed criterion).
STATUS_COLOURS: dict[str, str] = {
    "approved": "#2ca02c",
    "fallback": "#f2c12e",
    "beyond top_n": "#b5dfb0",
    "stale": "#9e9e9e",
    "coverage": "#c8b49a",
    "Sharpe": "#d62728",
    "win rate": "#ff7f50",
    "drawdown": "#9467bd",
    "trades": "#e7a1c7",
    "regime": "#17becf",
    "PSR": "#bcbd22",
    "DSR": "#8c564b",
    "failed": "#8c1c13",
    "absent": "#ffffff",
}


def plot_selection_strip(path: Path, *, title: str, grid: SelectionGrid) -> None:
    """Tokens (rows) x selections in time order (columns), each cell coloured by what it was."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    plt = pyplot()
    names = list(STATUS_COLOURS)
    codes = [[names.index(cell.colour_key) for cell in row] for row in grid.cells]
    n_rows, n_cols = len(grid.symbols), len(grid.times)
    fig, ax = plt.subplots(figsize=(min(4 + 0.35 * n_cols, 20), 1.6 + 0.32 * n_rows), dpi=110)
    ax.pcolormesh(
        codes,
        cmap=ListedColormap(list(STATUS_COLOURS.values())),
        vmin=-0.5,
        vmax=len(names) - 0.5,
        edgecolors="#dddddd",
        linewidth=0.5,
    )
    if n_cols <= 40:
        for i, row in enumerate(grid.cells):
            for j, cell in enumerate(row):
                if cell.rank is not None and cell.status in ("approved", "fallback"):
                    ax.text(j + 0.5, i + 0.5, str(cell.rank), ha="center", va="center", fontsize=7)
    ax.set_yticks([i + 0.5 for i in range(n_rows)], grid.symbols, fontsize=8)
    step = max(1, n_cols // 16)
    ticks = list(range(0, n_cols, step))
    ax.set_xticks(
        [j + 0.5 for j in ticks],
        [grid.times[j].strftime("%m-%d %H:%M") + (" FB" if grid.fallback[j] else "") for j in ticks],
        rotation=45,
        ha="right",
        fontsize=7,
    )
    ax.invert_yaxis()
    ax.set_xlabel("selection (UTC), oldest left; FB = fallback selection")
    ax.set_title(title, fontsize=10, loc="left")
    used = sorted({cell.colour_key for row in grid.cells for cell in row}, key=names.index)
    legend = [
        Patch(facecolor=STATUS_COLOURS[k], edgecolor="#999999", label=k if k in _PLAIN else f"failed: {k}")
        for k in used
    ]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


_PLAIN = frozenset({"approved", "fallback", "beyond top_n", "absent", "failed"})
