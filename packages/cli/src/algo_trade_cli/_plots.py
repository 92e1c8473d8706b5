"""The `backtest --plot` chart: price with the strategy's averages and its trades, equity, drawdown.

Two halves: :func:`backtest_chart` turns a result into what is drawn (pure numpy; long series are
reduced to the minimum and maximum of each bucket, so spikes and the deepest drawdown stay visible,
while every trade keeps its marker; the averages, drawdown and reduction are the backtest package's,
shared with the dashboard), and :func:`plot_backtest` draws it with matplotlib (Agg, no
display needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import (
    BacktestReport,
    BacktestResult,
    Side,
    drawdown_curve,
    minmax_indices,
    sma,
    strategy_averages,
)
from algo_trade_cli._format import fmt_duration, fmt_num, fmt_pct

__all__ = ["BacktestChart", "TradeMarker", "backtest_chart", "plot_backtest", "pyplot"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MAX_POINTS = 4000  # per line: a 13-inch chart at 110 dpi is ~1400 pixels wide

WIN, LOSS, OPEN = "#2ca02c", "#d62728", "#1f77b4"
_AVERAGE_COLOURS = ("#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported on first use: it costs ~0.3 s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True, slots=True)
class TradeMarker:
    """One fill drawn on the price panel; ``outcome`` is the trade's (open: still running at the end)."""

    time_ms: int
    price: float
    side: Side
    kind: Literal["entry", "exit"]
    outcome: Literal["win", "loss", "open"]


@dataclass(frozen=True, slots=True)
class BacktestChart:
    """What the backtest chart draws: downsampled lines (times in epoch ms) and every trade marker."""

    title: str
    price: tuple[IntArray, FloatArray]
    averages: list[tuple[str, IntArray, FloatArray]]
    equity: tuple[IntArray, FloatArray]
    buy_hold: tuple[IntArray, FloatArray]
    drawdown: tuple[IntArray, FloatArray]  # a positive fraction below the running peak
    markers: list[TradeMarker]
    initial_capital: float
    points: int  # bars in the backtest
    note: str = field(default="")


def trade_markers(result: BacktestResult) -> list[TradeMarker]:
    """An entry and an exit marker per closed trade, plus the open position's entry."""
    out: list[TradeMarker] = []
    for t in result.trades:
        outcome: Literal["win", "loss"] = "win" if t.pnl > 0 else "loss"
        out.append(TradeMarker(_ms(t.entry_time), t.entry_price, t.side, "entry", outcome))
        out.append(TradeMarker(_ms(t.exit_time), t.exit_price, t.side, "exit", outcome))
    p = result.open_position
    if p is not None:
        out.append(TradeMarker(_ms(p.entry_time), p.entry_price, p.side, "entry", "open"))
    return out


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def _title(result: BacktestResult, report: BacktestReport, symbol: str) -> str:
    m = result.metrics
    cagr = (
        "n/a"
        if report.cagr is None
        else f"{report.cagr * 100:,.0f}%"
        if abs(report.cagr) >= 10
        else fmt_pct(report.cagr, 1)
    )
    return (
        f"{result.strategy} on {symbol} {result.interval}: {report.start:%Y-%m-%d %H:%M} → "
        f"{report.end:%Y-%m-%d %H:%M} UTC ({report.days:,.1f} days, {report.num_bars:,} bars)\n"
        f"return {fmt_pct(m.total_return, 1)} (buy & hold {fmt_pct(m.buy_hold_return, 1)}) · "
        f"CAGR {cagr} · Sharpe {fmt_num(m.sharpe_ratio)} · max drawdown {fmt_pct(m.max_drawdown, 1)} · "
        f"{m.num_trades} trades, win rate {fmt_pct(m.win_rate, 0)} · "
        f"avg duration {fmt_duration(report.avg_duration)}"
    )


def backtest_chart(
    result: BacktestResult,
    report: BacktestReport,
    *,
    symbol: str,
    timestamps_ms: IntArray,
    first_open: float,
    close: FloatArray,
    max_points: int = MAX_POINTS,
) -> BacktestChart:
    """Build the chart of one backtest; lines keep at most ``max_points`` points each."""
    equity = result.equity
    capital = float(result.execution.initial_capital)
    buy_hold = capital * close / first_open
    drawdown = drawdown_curve(equity)

    price_at = minmax_indices(close, max_points)
    equity_at = minmax_indices(equity, max_points)
    drawdown_at = minmax_indices(drawdown, max_points)
    averages = []
    for name, period in strategy_averages(result.params):
        values = sma(close, period)
        averages.append((f"SMA {period} ({name})", timestamps_ms[price_at], values[price_at]))
    n = close.shape[0]
    note = ""
    if price_at.shape[0] < n:
        note = (
            f"lines drawn from the min and max of {price_at.shape[0] // 2:,} buckets of {n:,} bars; "
            "every trade has its marker"
        )
    return BacktestChart(
        title=_title(result, report, symbol),
        price=(timestamps_ms[price_at], close[price_at]),
        averages=averages,
        equity=(timestamps_ms[equity_at], equity[equity_at]),
        buy_hold=(timestamps_ms[price_at], buy_hold[price_at]),
        drawdown=(timestamps_ms[drawdown_at], drawdown[drawdown_at]),
        markers=trade_markers(result),
        initial_capital=capital,
        points=n,
        note=note,
    )


def _dates(ms: IntArray | list[int]) -> Any:
    import matplotlib.dates as mdates

    times = np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")
    return mdates.date2num(times)  # type: ignore[no-untyped-call]  # matplotlib.dates has no annotations


def _draw_trades(ax: Any, markers: list[TradeMarker]) -> list[Any]:
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    colour = {"win": WIN, "loss": LOSS, "open": OPEN}
    size = 40 if len(markers) < 200 else 18 if len(markers) < 2000 else 8
    entries = [m for m in markers if m.kind == "entry"]
    exits = [m for m in markers if m.kind == "exit"]
    closed_entries = [m for m in entries if m.outcome != "open"]
    segments = [
        [(x0, a.price), (x1, b.price)]
        for a, b, x0, x1 in zip(
            closed_entries,
            exits,
            _dates([m.time_ms for m in closed_entries]),
            _dates([m.time_ms for m in exits]),
            strict=True,
        )
    ]
    if segments:
        ax.add_collection(
            LineCollection(
                segments, colors=[colour[m.outcome] for m in exits], linewidths=0.8, alpha=0.55, zorder=3
            )
        )
    for side, glyph in (("long", "^"), ("short", "v")):
        mine = [m for m in entries if m.side == side]
        if mine:
            ax.scatter(
                _dates([m.time_ms for m in mine]),
                [m.price for m in mine],
                marker=glyph,
                s=size,
                c=[colour[m.outcome] for m in mine],
                edgecolors="black",
                linewidths=0.4,
                zorder=5,
            )
    if exits:
        ax.scatter(
            _dates([m.time_ms for m in exits]),
            [m.price for m in exits],
            marker="o",
            s=size * 1.1,
            facecolors="none",  # hollow: a reversal's entry triangle at the same point shows through
            edgecolors=[colour[m.outcome] for m in exits],
            linewidths=1.1,
            zorder=4,
        )
    handles = [
        Line2D([], [], ls="", marker="^", color="grey", mec="black", mew=0.4, label="long entry"),
        Line2D([], [], ls="", marker="v", color="grey", mec="black", mew=0.4, label="short entry"),
        Line2D([], [], ls="", marker="o", mfc="none", mec="grey", label="exit"),
        Line2D([], [], color=WIN, label="winning trade"),
        Line2D([], [], color=LOSS, label="losing trade"),
    ]
    if any(m.outcome == "open" for m in entries):
        handles.append(Line2D([], [], ls="", marker="^", color=OPEN, label="open at the end"))
    return handles


def plot_backtest(path: Path, chart: BacktestChart) -> None:
    """Write the three-panel chart (price and trades, equity vs buy & hold, drawdown) as a PNG."""
    import matplotlib.dates as mdates

    plt = pyplot()
    fig, (ax_p, ax_e, ax_d) = plt.subplots(
        3, 1, figsize=(13, 9), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    ax_p.plot(_dates(chart.price[0]), chart.price[1], color="#333333", linewidth=0.8, label="close")
    for (label, times, values), colour in zip(chart.averages, _AVERAGE_COLOURS, strict=False):
        ax_p.plot(_dates(times), values, color=colour, linewidth=0.9, alpha=0.9, label=label)
    handles = _draw_trades(ax_p, chart.markers)
    line_handles, _ = ax_p.get_legend_handles_labels()
    ax_p.legend(handles=line_handles + handles, loc="upper left", fontsize=7, ncol=2, framealpha=0.85)
    ax_p.set_ylabel("price")
    ax_p.set_title(chart.title, fontsize=9.5, loc="left")

    ax_e.plot(_dates(chart.equity[0]), chart.equity[1], color=OPEN, linewidth=1.1, label="strategy equity")
    ax_e.plot(
        _dates(chart.buy_hold[0]), chart.buy_hold[1], color="#7f7f7f", linewidth=0.9, label="buy & hold"
    )
    ax_e.axhline(chart.initial_capital, color="black", linewidth=0.6, linestyle=":", label="initial capital")
    ax_e.set_ylabel("equity (USDC)")
    ax_e.legend(loc="upper left", fontsize=7)

    dd_times, dd = _dates(chart.drawdown[0]), -100 * chart.drawdown[1]
    ax_d.fill_between(dd_times, dd, 0, color=LOSS, alpha=0.35, linewidth=0)
    ax_d.plot(dd_times, dd, color=LOSS, linewidth=0.7)
    if dd.size:
        worst = int(np.argmin(dd))
        right = worst > 0.8 * dd.size  # near the right edge the label goes to the left of the point
        ax_d.annotate(
            f"max {dd[worst]:.1f}%",
            (dd_times[worst], dd[worst]),
            textcoords="offset points",
            xytext=(-6 if right else 6, 4),
            ha="right" if right else "left",
            fontsize=7,
        )
    ax_d.set_ylabel("drawdown (%)")
    for ax in (ax_p, ax_e, ax_d):
        ax.grid(alpha=0.25)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]  # matplotlib.dates has no annotations
    ax_d.xaxis.set_major_locator(locator)
    ax_d.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    if chart.note:
        fig.text(0.01, 0.005, chart.note, fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.015, 1, 1))
    fig.savefig(path)
    plt.close(fig)
