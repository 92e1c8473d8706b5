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


def statistics_lines(summary: dict[str, Any], statistics: dict[str, Any], interval: str) -> list[str]:
    lines = []
    sel = summary.get("selection", {})
    if summary.get("mean_ic") is not None:
        t = summary.get("ic_t_stat")
        lines.append(
            f"mean IC {summary['mean_ic']:+.3f}"
            + (f" (t {t:+.2f}" if t is not None else " (")
            + f", {summary.get('ic_periods', 0)} periods): score at selection vs the period's return"
        )
    if statistics.get("hit_rate") is not None:
        lines.append(
            f"hit rate {statistics['hit_rate']:.0%}: periods in which the selection beat the universe"
        )
    if statistics.get("random_percentile") is not None:
        lines.append(
            f"random baseline: the selection ranks at the {statistics['random_percentile']:.0%} percentile "
            f"(one-sided p = {statistics['random_p_value']:.3f})"
        )
    if statistics.get("psr") is not None:
        lines.append(
            f"PSR {statistics['psr']:.3f} that the true Sharpe > 0, {statistics['psr_vs_universe']:.3f} that "
            f"it beats the universe's, on {statistics.get('returns_on', '')} "
            f"(skew {sel.get('skewness', 0):.2f}, kurtosis {sel.get('kurtosis', 3):.1f})"
        )
        if statistics.get("min_track_record_days") is not None:
            lines.append(
                f"minimum track record for 95 % confidence of a Sharpe > 0: "
                f"{statistics['min_track_record_bars']:,.0f} {interval} bars "
                f"({statistics['min_track_record_days']:,.0f} days)"
            )
    elif statistics.get("psr_error"):
        lines.append(f"PSR not available: {statistics['psr_error']}")
    if statistics.get("dsr") is not None:
        lines.append(
            f"deflated Sharpe ratio {statistics['dsr']:.3f} of the best of {statistics['variants']} "
            f"variants; probability of backtest overfitting {statistics['pbo']:.2f}"
            f" (CSCV, {statistics.get('pbo_blocks', 16)} blocks)"
        )
    if summary.get("mean_turnover") is not None:
        lines.append(
            f"turnover {summary['mean_turnover']:.2f}: mean Jaccard distance between consecutive lists"
        )
    regimes = regime_line(summary.get("by_regime"))
    if regimes:
        lines.append(regimes)
    lines.extend(optimisation_lines(summary.get("optimisation")))
    return lines


def optimisation_lines(opt: dict[str, Any] | None) -> list[str]:
    """With --optimise: the fixed parameter set on the same periods, in-sample vs out-of-sample Sharpe
    of the chosen sets, the PBO of the per-token choices."""
    if not opt:
        return []
    spec, fixed = opt.get("spec", {}), opt.get("fixed", {})
    lines = [
        f"per-token choice among {spec.get('sets')} parameter sets ({', '.join(spec.get('strategies', []))}) "
        f"on each training window, prefer {spec.get('prefer')}, min DSR {_num(spec.get('min_dsr'))}"
    ]
    fs = fixed.get("selection") or {}
    if fs:
        pct = fixed.get("random_percentile")
        lines.append(
            f"fixed {fixed.get('strategy')} parameter set on the same periods: "
            f"{_pct(fs.get('total_return'))}, Sharpe {_num(fs.get('sharpe'))}, max drawdown "
            + ("–" if fs.get("max_drawdown") is None else f"{fs['max_drawdown']:.2%}")
            + f", PSR {_num(fixed.get('psr'), 3)}, random percentile "
            + ("–" if pct is None else f"{pct:.0%}")
            + f" (optimised − fixed return {_pct(opt.get('return_vs_fixed'))})"
        )
    for what, figures in (("approved", opt), ("every", opt.get("every_choice") or {})):
        if figures.get("in_sample_sharpe") is None:
            continue
        lines.append(
            f"in sample → out of sample ({what} token's chosen set): Sharpe "
            f"{_num(figures['in_sample_sharpe'])} on the training windows, "
            f"{_num(figures.get('out_of_sample_sharpe'))} traded in the next period"
            f" (degradation {figures['degradation']:+.2f}, {figures.get('pairs')} token-periods)"
        )
    pbo = opt.get("pbo") or {}
    if pbo.get("mean") is not None:
        lines.append(
            f"PBO of the per-token choice {pbo['mean']:.2f} on average, {pbo['min']:.2f}–{pbo['max']:.2f} "
            f"over {pbo['count']} token-periods ({_share(pbo.get('over_half'))} above 0.5; CSCV, "
            f"{pbo.get('blocks')} blocks of the training window's per-bar returns)"
        )
    return lines


def _share(value: Any) -> str:
    return "–" if value is None else f"{value:.0%}"


def regime_line(by_regime: dict[str, Any] | None) -> str | None:
    """One line: per volatility regime at selection, the approved (token, period) pairs and their mean
    out-of-sample return against every eligible pair of that regime."""
    if not by_regime:
        return None
    parts = [
        f"{key} {s['approved']} approved {_pct(s['approved_mean_return'])} vs {s['eligible']} eligible "
        f"{_pct(s['eligible_mean_return'])}"
        for key, s in by_regime.items()
        if s.get("eligible")
    ]
    if not parts:
        return None
    return "by regime at selection (token-periods, mean out-of-sample return): " + "; ".join(parts)


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


def _header(settings: dict[str, Any], summary: dict[str, Any] | None = None) -> str:
    step_days = settings["step_seconds"] / 86_400
    opt = (summary or {}).get("optimisation")
    what = settings["strategy"] if not opt else "optimised per token"
    return (
        f"walk-forward {what} {settings['interval']}: {settings['from'][:10]} → "
        f"{settings['to'][:10]}, re-selected every {step_days:g} days on {settings['window_days']}-day "
        f"windows, {len(settings['symbols'])} tokens, top {settings['criteria']['top_n']}"
    )


def study_json(result: WalkForwardResult, run_id: str | None, search: RuleSearch | None) -> dict[str, Any]:
    from algo_trade_evaluation._store import finite

    out: dict[str, Any] = finite(result.to_json())
    out["run_id"] = run_id
    if search is not None:
        out["grid"] = finite(search.to_json())
    return out


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
        _header(data["settings"], data["summary"]),
        run_id=run_id,
        interval=result.settings.interval,
        show_periods=show_periods,
    )


def _period_json(p: WalkForwardPeriodRecord) -> dict[str, Any]:
    return {
        "start": p.period_start.isoformat(),
        "end": p.period_end.isoformat(),
        "approved": list(p.approved),
        "fallback": p.fallback,
        "turnover": p.turnover,
        "ic": p.ic,
        "selection_return": p.selection_return,
        "universe_return": p.universe_return,
        "random_median_return": p.random_median_return,
        "token_returns": p.token_returns,
        **p.details,
    }


def stored_json(run: WalkForwardRunRecord, periods: list[WalkForwardPeriodRecord]) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "settings": run.settings,
        "summary": run.summary,
        "statistics": run.statistics,
        "verdict": run.verdict,
        "periods": [_period_json(p) for p in periods],
    }


def print_stored(run: WalkForwardRunRecord, periods: list[WalkForwardPeriodRecord]) -> None:
    data = stored_json(run, periods)
    _print(
        data["summary"],
        data["statistics"],
        data["periods"],
        run.verdict,
        _header(run.settings, run.summary),
        run_id=None,
        interval=run.interval,
        show_periods=True,
    )


def list_json(runs: list[WalkForwardRunRecord]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": r.run_id,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "from": r.range_start.isoformat(),
            "to": r.range_end.isoformat(),
            "interval": r.interval,
            "strategy": r.strategy_name,
            "summary": r.summary,
            "statistics": r.statistics,
            "verdict": r.verdict,
        }
        for r in runs
    ]


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
    header = _header(data["settings"], data["summary"])
    plot_walkforward(path, curves_of(result), data["periods"], header, result.verdict)


def write_stored_plot(path: Path, run: WalkForwardRunRecord, periods: list[WalkForwardPeriodRecord]) -> None:
    from algo_trade_cli._plots_walkforward import plot_walkforward

    header = _header(run.settings, run.summary)
    plot_walkforward(path, run.curves, [_period_json(p) for p in periods], header, run.verdict)
