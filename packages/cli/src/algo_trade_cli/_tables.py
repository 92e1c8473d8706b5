"""Rich tables shared by sweep, token-selection, results and demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from algo_trade_cli._format import fmt_num, fmt_params, fmt_pct, fmt_time
from algo_trade_core import MIN_RATIO_DAYS, MIN_RATIO_TRADES, bars_span_days, short_ratio_warning

if TYPE_CHECKING:  # annotations only: the sweep module imports the engine (numba)
    from algo_trade_backtest_scheduler import RunSummary
    from algo_trade_data import BacktestResultRecord
    from algo_trade_token_selector import Selection

__all__ = [
    "COVERAGE_NOTE",
    "GATES_NOTE",
    "REGIME_NOTE",
    "fmt_probability",
    "fmt_regime",
    "results_table",
    "selection_footnotes",
    "selection_table",
    "sweep_table",
]


COVERAGE_NOTE = (
    "coverage = bars present / bars the backtest window [start, end) holds at its interval; "
    "span = bars present × interval, what Sharpe, Sortino and Calmar are annualised from"
)
REGIME_NOTE = (
    "regime = the window's hourly realised volatility against the token's own windows over "
    "regime_lookback_days (low < 1/3 quantile < normal < 2/3 quantile < high; – too little history); "
    "PSR = probability that the window's true Sharpe > 0"
)
GATES_NOTE = f"{REGIME_NOTE}; DSR = the same against the best Sharpe luck reaches in the sweep's trials"
_REGIME_STYLE = {"low": "cyan", "normal": "", "high": "magenta"}


def fmt_regime(regime: str | None) -> str:
    """``low`` / ``normal`` / ``high`` (coloured), ``–`` when unknown."""
    if regime is None:
        return "–"
    style = _REGIME_STYLE.get(regime, "")
    return f"[{style}]{regime}[/]" if style else regime


def fmt_probability(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def sweep_table(summary: RunSummary) -> Table:
    """One row per token and result of a sweep."""
    table = Table(
        title=f"sweep {summary.run_id[:8]}  window {fmt_time(summary.window.start)} → "
        f"{fmt_time(summary.window.end)} ({summary.window.interval})",
        caption=COVERAGE_NOTE,
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
            warning = short_ratio_warning(r.num_bars, r.interval, r.num_trades)
            table.add_row(
                r.symbol,
                r.strategy_name,
                f"{r.num_bars:,}",
                fmt_pct(r.window_coverage, 1),
                fmt_pct(r.total_return),
                fmt_pct(r.buy_hold_return),
                fmt_pct(r.max_drawdown),
                fmt_num(r.sharpe_ratio) + ("[yellow]*[/]" if warning else ""),
                str(r.num_trades),
                fmt_pct(r.win_rate, 1),
                f"[yellow]{notes}[/]" if notes else "[green]ok[/]",
            )
    note = _ratio_note(summary.results)
    if note:
        table.caption = f"{COVERAGE_NOTE}\n{note}"
    return table


def _short(text: str | None) -> str:
    return "–" if not text else text[:8]


def selection_table(selection: Selection) -> Table:
    """The explanation table: approved tokens first; each failed criterion with value and threshold.

    Among per-token choices (``[optimisation] enabled``) each row also shows the chosen strategy and
    parameters, N (the token's trials) and the DSR of the chosen set over them.
    """
    title = f"token selection ({selection.strategy_name}): {len(selection.approved)} approved"
    if selection.fallback_used:
        title += "  [bold yellow]FALLBACK: nothing passed, best by Sharpe[/]"
    choices = any(t.choice is not None for t in selection.tokens)
    caption = f"{COVERAGE_NOTE}\n{GATES_NOTE}"
    if choices:
        caption += (
            "\nN = parameter sets tried on the token; choice DSR = probability that the chosen set's "
            "Sharpe ratio beats the best of N by luck (E[max SR], annualised, in brackets)"
        )
    table = Table(title=title, caption=caption)
    choice_columns = ("strategy", "parameters", "N", "choice DSR") if choices else ()
    for col in (
        "rank",
        "symbol",
        "approved",
        *choice_columns,
        "score",
        "Sharpe",
        "win rate",
        "max dd",
        "trades",
        "coverage",
        "span",
        "regime",
        "PSR",
        "DSR",
        "interval",
        "window end",
        "run",
        "why",
    ):
        left = col in (
            "symbol",
            "approved",
            "strategy",
            "parameters",
            "regime",
            "interval",
            "window end",
            "run",
            "why",
        )
        table.add_column(col, justify="left" if left else "right")
    for t in selection.tokens:
        mark = {
            "approved": "[bold green]yes[/]",
            "fallback": "[bold yellow]fallback[/]",
            "beyond_top_n": "no",
            "failed": "no",
        }[t.status]
        if t.status == "approved":
            why = "[green]passed[/]"
        elif t.status == "beyond_top_n":
            why = f"[yellow]passed, {t.note}[/]"
        else:
            why = "; ".join(f.text for f in t.failed)
            if t.note:
                why = f"{why}; {t.note}" if why else t.note
        warn = t.ratio_warning is not None
        chosen: tuple[str, ...] = ()
        if choices:
            c = t.choice
            chosen = (
                ("", "", "", "")
                if c is None
                else (
                    c.strategy,
                    fmt_params(c.strategy, c.parameters),
                    str(c.n_trials),
                    ("–" if c.dsr is None else f"{c.dsr:.2f}") + f" ({c.expected_max_sharpe:.1f})",
                )
            )
        table.add_row(
            str(t.rank or ""),
            t.symbol,
            mark,
            *chosen,
            f"{t.score:.3f}",
            fmt_num(t.sharpe_ratio) + ("[yellow]*[/]" if warn else ""),
            fmt_pct(t.win_rate, 1),
            fmt_pct(t.max_drawdown),
            str(t.num_trades),
            fmt_pct(t.window_coverage, 1),
            f"[yellow]{_span(t.span_days)}[/]" if warn else _span(t.span_days),
            fmt_regime(t.regime),
            fmt_probability(t.psr),
            fmt_probability(t.dsr),
            t.interval,
            fmt_time(t.window_end),
            _short(t.run_id),
            why,
        )
    return table


def _span(days: float) -> str:
    return f"{days:.1f} d" if days < 100 else f"{days:,.0f} d"


def _ratio_footnote(flagged: int, total: int, symbol: str, sharpe: float, warning: str) -> str:
    return (
        f"[yellow]*[/] {flagged} of {total} Sharpe ratio(s) annualised from fewer than {MIN_RATIO_DAYS:g} "
        f"days of bars or fewer than {MIN_RATIO_TRADES} trades, too short for an annual figure to mean "
        f"much (e.g. {symbol}: Sharpe {fmt_num(sharpe)} {warning})"
    )


def _ratio_note(records: Sequence[BacktestResultRecord]) -> str | None:
    """The footnote of the rows whose Sharpe is marked ``*``, with the first of them as the example."""
    flagged = [
        (r, w)
        for r in records
        if (w := short_ratio_warning(r.num_bars, r.interval, r.num_trades)) is not None
    ]
    if not flagged:
        return None
    r, warning = flagged[0]
    return _ratio_footnote(len(flagged), len(records), r.symbol, r.sharpe_ratio, warning)


def selection_footnotes(selection: Selection) -> list[str]:
    """Lines under the selection table: which Sharpe ratios stand on too short a span."""
    flagged = [(t, t.ratio_warning) for t in selection.tokens if t.ratio_warning is not None]
    if not flagged:
        return []
    t, warning = flagged[0]  # the first in table order: approved tokens come first
    return [_ratio_footnote(len(flagged), len(selection.tokens), t.symbol, t.sharpe_ratio, warning)]


def results_table(records: Sequence[BacktestResultRecord], title: str, *, by_time: bool = False) -> Table:
    """Stored results: latest per token, or one token's history."""
    table = Table(title=title, caption=f"{COVERAGE_NOTE}\n{REGIME_NOTE}")
    for col in (
        "time",
        "symbol",
        "strategy",
        "params",
        "interval",
        "window end",
        "run",
        "bars",
        "span",
        "coverage",
        "return",
        "max dd",
        "Sharpe",
        "Sortino",
        "trades",
        "win rate",
        "PF",
        "regime",
        "PSR",
    ):
        left = col in ("time", "symbol", "strategy", "params", "interval", "window end", "run", "regime")
        table.add_column(col, justify="left" if left else "right")
    for r in records:
        warn = short_ratio_warning(r.num_bars, r.interval, r.num_trades) is not None
        span = _span(bars_span_days(r.num_bars, r.interval))
        table.add_row(
            fmt_time(r.timestamp),
            r.symbol,
            r.strategy_name,
            r.params_hash[:8],
            r.interval,
            fmt_time(r.backtest_window_end),
            _short(r.run_id),
            f"{r.num_bars:,}",
            f"[yellow]{span}[/]" if warn else span,
            fmt_pct(r.window_coverage, 1),
            fmt_pct(r.total_return),
            fmt_pct(r.max_drawdown),
            fmt_num(r.sharpe_ratio) + ("[yellow]*[/]" if warn else ""),
            fmt_num(r.sortino_ratio),
            str(r.num_trades),
            fmt_pct(r.win_rate, 1),
            fmt_num(r.profit_factor),
            fmt_regime(r.regime),
            fmt_probability(r.psr),
        )
    note = _ratio_note(records)
    if note:
        table.caption = f"{table.caption}\n{note}"
    return table
