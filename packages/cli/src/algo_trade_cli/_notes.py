"""Warnings printed under a backtest's figures: how much of its window is covered, and what span the
annualised ratios stand on (the same rules as the sweep, selection and results tables)."""

from __future__ import annotations

from algo_trade_backtest import BacktestResult
from algo_trade_backtest_scheduler import Window
from algo_trade_cli._format import fmt_num, fmt_time
from algo_trade_core import short_ratio_warning

__all__ = ["backtest_notes"]


def backtest_notes(result: BacktestResult, window: Window) -> list[str]:
    """Return the warning lines for a backtest over ``window`` (rich markup), possibly none."""
    m = result.metrics
    notes = []
    if m.window_coverage is not None and m.window_coverage < 0.999:
        notes.append(
            f"[yellow]warning:[/] the window is only {m.window_coverage:.1%} covered: {m.num_bars:,} bars of "
            f"the {window.expected_bars:,} that [{fmt_time(window.start)}, {fmt_time(window.end)}) holds at "
            f"{window.interval} (`algo-trade data status` shows the gaps; `data import` loads longer history)"
        )
    warning = short_ratio_warning(m.num_bars, result.interval, m.num_trades)
    if warning is not None:
        notes.append(
            f"[yellow]warning:[/] Sharpe {fmt_num(m.sharpe_ratio)} {warning}: too short for annualised "
            "ratios (Sharpe, Sortino, Calmar) to mean much"
        )
    return notes
