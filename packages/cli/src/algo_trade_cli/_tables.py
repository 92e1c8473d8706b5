"""Rich tables shared by sweep, token-selection, results and demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from algo_trade_cli._format import fmt_num, fmt_pct, fmt_time

if TYPE_CHECKING:  # annotations only: the sweep module imports the engine (numba)
    from algo_trade_backtest_scheduler import RunSummary
    from algo_trade_data import BacktestResultRecord
    from algo_trade_token_selector import Selection

__all__ = ["results_table", "selection_table", "sweep_table"]


def sweep_table(summary: RunSummary) -> Table:
    """One row per token and result of a sweep."""
    table = Table(
        title=f"sweep {summary.run_id[:8]}  window {fmt_time(summary.window.start)} → "
        f"{fmt_time(summary.window.end)} ({summary.window.interval})"
    )
    for col in (
        "symbol",
        "strategy",
        "bars",
        "coverage",
        "return",
        "buy&hold",
        "max dd",
        "Sharpe",
        "trades",
        "win rate",
        "status",
    ):
        table.add_column(col, justify="left" if col in ("symbol", "strategy", "status") else "right")
    for token in summary.tokens:
        if not token.ok:
            table.add_row(
                token.symbol,
                "",
                str(token.num_bars or ""),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                f"[red]{token.error}[/]",
            )
            continue
        notes = "; ".join(token.notes)
        for r in token.results:
            table.add_row(
                r.symbol,
                r.strategy_name,
                f"{r.num_bars:,}",
                fmt_pct(r.window_coverage, 1),
                fmt_pct(r.total_return),
                fmt_pct(r.buy_hold_return),
                fmt_pct(r.max_drawdown),
                fmt_num(r.sharpe_ratio),
                str(r.num_trades),
                fmt_pct(r.win_rate, 1),
                f"[yellow]{notes}[/]" if notes else "[green]ok[/]",
            )
    return table


def selection_table(selection: Selection) -> Table:
    """The explanation table: approved tokens first, each criterion that failed named."""
    title = f"token selection ({selection.strategy_name}): {len(selection.approved)} approved"
    if selection.fallback_used:
        title += "  [bold yellow]FALLBACK: nothing passed, best by Sharpe[/]"
    table = Table(title=title)
    for col in (
        "rank",
        "symbol",
        "approved",
        "score",
        "Sharpe",
        "win rate",
        "max dd",
        "trades",
        "coverage",
        "failed",
    ):
        table.add_column(col, justify="left" if col in ("symbol", "approved", "failed") else "right")
    for t in selection.tokens:
        mark = "[bold green]yes[/]" if t.approved else "no"
        if t.approved and t.fallback:
            mark = "[bold yellow]fallback[/]"
        table.add_row(
            str(t.rank or ""),
            t.symbol,
            mark,
            f"{t.score:.3f}",
            fmt_num(t.sharpe_ratio),
            fmt_pct(t.win_rate, 1),
            fmt_pct(t.max_drawdown),
            str(t.num_trades),
            fmt_pct(t.window_coverage, 1),
            ", ".join(t.failed) or "[green]passed[/]",
        )
    return table


def results_table(records: Sequence[BacktestResultRecord], title: str, *, by_time: bool = False) -> Table:
    """Stored results: latest per token, or one token's history."""
    table = Table(title=title)
    for col in (
        "time",
        "symbol",
        "strategy",
        "params",
        "window end",
        "bars",
        "coverage",
        "return",
        "max dd",
        "Sharpe",
        "Sortino",
        "trades",
        "win rate",
        "PF",
    ):
        table.add_column(
            col, justify="left" if col in ("time", "symbol", "strategy", "params", "window end") else "right"
        )
    for r in records:
        table.add_row(
            fmt_time(r.timestamp),
            r.symbol,
            r.strategy_name,
            r.params_hash[:8],
            fmt_time(r.backtest_window_end),
            f"{r.num_bars:,}",
            fmt_pct(r.window_coverage, 1),
            fmt_pct(r.total_return),
            fmt_pct(r.max_drawdown),
            fmt_num(r.sharpe_ratio),
            fmt_num(r.sortino_ratio),
            str(r.num_trades),
            fmt_pct(r.win_rate, 1),
            fmt_num(r.profit_factor),
        )
    return table
