"""How a walk-forward study is shown: summary table, statistics, verdict, periods, JSON and the plot.

A fresh study and a stored one are shown by the same functions: both are turned into the stored shape
(the summary and statistics dictionaries, the curves, one dictionary per period) first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from algo_trade_cli._common import console
from algo_trade_cli._format import fmt_params, fmt_time
from algo_trade_evaluation._shapes import (
    list_json,
    period_json,
    statistics_lines,
    stored_json,
    study_header,
    study_json,
)

if TYPE_CHECKING:
    from algo_trade_data import WalkForwardPeriodRecord, WalkForwardRunRecord
    from algo_trade_evaluation import WalkForwardResult
    from algo_trade_evaluation._search import RuleSearch

__all__ = [
    "list_json",
    "print_list",
    "print_stored",
    "print_study",
    "stored_json",
    "study_json",
    "write_plot",
    "write_stored_plot",
]

_ROWS = (
    ("selection", "selection"),
    ("universe", "universe (every token)"),
    ("buy_hold", "buy & hold"),
    ("cash", "cash"),
)


def _pct(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:+.{digits}%}"


def _num(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def summary_table(summary: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    for col in ("", "total return", "Sharpe", "Sortino", "max drawdown", "trades", "fees"):
        table.add_column(col, justify="left" if not col else "right")
    for key, label in _ROWS:
        s = summary.get(key)
        if not s:
            continue
        table.add_row(
            label,
            _pct(s["total_return"]),
            _num(s["sharpe"]),
            _num(s["sortino"]),
            "–" if s["max_drawdown"] is None else f"{s['max_drawdown']:.2%}",
            "–" if s.get("trades") is None else str(s["trades"]),
            _num(s.get("fees")),
        )
        if key == "universe" and summary.get("random", {}).get("draws"):
            r = summary["random"]
            table.add_row(
                f"random ({r['draws']} draws, median)",
                _pct(r["total_return_median"]),
                "",
                "",
                "",
                "",
                f"5–95 %: {_pct(r['total_return_p05'])} … {_pct(r['total_return_p95'])}",
            )
    return table


def _chosen(p: dict[str, Any]) -> str:
    """Each approved token's choice at the period's start: strategy, parameters, N and DSR."""
    choices = p.get("choices") or {}
    parts = []
    for symbol in p["approved"]:
        c = choices.get(symbol)
        if c is None:
            continue
        dsr = "–" if c.get("dsr") is None else f"{c['dsr']:.2f}"
        parts.append(
            f"{symbol}: {fmt_params(c['strategy'], c.get('parameters'))} (N {c['n_trials']}, DSR {dsr})"
        )
    return "\n".join(parts)


def periods_table(periods: list[dict[str, Any]]) -> Table:
    table = Table(title=f"periods ({len(periods)})")
    optimised = any(p.get("choices") for p in periods)
    columns = ["start", "approved", "turnover", "IC", "selection", "universe", "random median", "missing"]
    if optimised:
        columns.insert(2, "chosen set")
    for col in columns:
        left = col in ("start", "approved", "missing", "chosen set")
        table.add_column(col, justify="left" if left else "right")
    for p in periods:
        approved = ", ".join(p["approved"]) or "none"
        if p.get("fallback"):
            approved += " [yellow](fallback)[/]"
        if p.get("skipped"):
            approved += " [dim](kept: no fresh result)[/]"
        missing = p.get("missing") or {}
        chosen = [_chosen(p)] if optimised else []
        table.add_row(
            p["start"][:16].replace("T", " "),
            approved,
            *chosen,
            _num(p["turnover"]),
            _num(p.get("ic"), 3),
            _pct(p["selection_return"]),
            _pct(p["universe_return"]),
            _pct(p.get("random_median_return")),
            ", ".join(sorted(missing)) if missing else "",
        )
    return table


def _print(
    summary: dict[str, Any],
    statistics: dict[str, Any],
    periods: list[dict[str, Any]],
    verdict: str,
    header: str,
    *,
    run_id: str | None,
    interval: str,
    show_periods: bool,
) -> None:
    console.print(summary_table(summary, header))
    for line in statistics_lines(summary, statistics, interval):
        console.print(f"  {line}", highlight=False)
    if show_periods:
        console.print(periods_table(periods))
    console.print(f"[bold]verdict:[/] {verdict}", highlight=False)
    if run_id is not None:
        console.print(
            f"[dim]stored as {run_id[:12]}: `algo-trade walkforward show {run_id[:12]}`[/]", highlight=False
        )


def print_study(
    result: WalkForwardResult, run_id: str | None, search: RuleSearch | None, *, show_periods: bool
) -> None:
    data = study_json(result, run_id, search)
    if search is not None:
        from algo_trade_cli._walkforward_grid import grid_table

        console.print(grid_table(search))
    _print(
        data["summary"],
        data["statistics"],
        data["periods"],
        result.verdict if search is None else search.verdict,
        study_header(data["settings"], data["summary"]),
        run_id=run_id,
        interval=result.settings.interval,
        show_periods=show_periods,
    )


def print_stored(run: WalkForwardRunRecord, periods: list[WalkForwardPeriodRecord]) -> None:
    data = stored_json(run, periods)
    _print(
        data["summary"],
        data["statistics"],
        data["periods"],
        run.verdict,
        study_header(run.settings, run.summary),
        run_id=None,
        interval=run.interval,
        show_periods=True,
    )


def print_list(runs: list[WalkForwardRunRecord]) -> None:
    if not runs:
        console.print("no walk-forward study stored: run `algo-trade walkforward`")
        return
    table = Table(title=f"walk-forward studies ({len(runs)}, newest first)")
    for col in ("study", "created (UTC)", "range", "interval", "selection", "universe", "percentile", "PSR"):
        table.add_column(
            col, justify="right" if col in ("selection", "universe", "percentile", "PSR") else "left"
        )
    for r in runs:
        sel = r.summary.get("selection", {})
        uni = r.summary.get("universe", {})
        pct = r.statistics.get("random_percentile")
        psr = r.statistics.get("psr")
        table.add_row(
            r.run_id[:12],
            fmt_time(r.created_at) if r.created_at else "",
            f"{fmt_time(r.range_start)} → {fmt_time(r.range_end)}",
            r.interval,
            _pct(sel.get("total_return")),
            _pct(uni.get("total_return")),
            "–" if pct is None else f"{pct:.0%}",
            "–" if psr is None else f"{psr:.2f}",
        )
    console.print(table)


def write_plot(path: Path, result: WalkForwardResult) -> None:
    from algo_trade_cli._plots_walkforward import plot_walkforward
    from algo_trade_evaluation import curves_of

    data = study_json(result, None, None)
    plot_walkforward(
        path,
        curves_of(result),
        data["periods"],
        study_header(data["settings"], data["summary"]),
        result.verdict,
    )


def write_stored_plot(path: Path, run: WalkForwardRunRecord, periods: list[WalkForwardPeriodRecord]) -> None:
    from algo_trade_cli._plots_walkforward import plot_walkforward

    plot_walkforward(
        path,
        run.curves,
        [period_json(p) for p in periods],
        study_header(run.settings, run.summary),
        run.verdict,
    )
