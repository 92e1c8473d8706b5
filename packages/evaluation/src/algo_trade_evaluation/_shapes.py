"""The JSON shapes and text of a walk-forward study, defined once for the CLI and the dashboard.

- :func:`study_json`: ``algo-trade walkforward --json`` (a fresh study);
- :func:`stored_json`: ``walkforward show --json`` (a stored study and its periods);
- :func:`list_json`: ``walkforward list --json``;
- :func:`period_json`: one stored period as both print it;
- :func:`study_header`, :func:`statistics_lines`: the title and the statistics, each ratio labelled with
  what it was computed on (with ``--optimise``, :func:`optimisation_lines` among them);
  :func:`verdict_line`: a study in one line (the lists of studies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from algo_trade_evaluation._finite import finite

if TYPE_CHECKING:
    from algo_trade_data import WalkForwardPeriodRecord, WalkForwardRunRecord
    from algo_trade_evaluation._search import RuleSearch
    from algo_trade_evaluation._walkforward import WalkForwardResult

__all__ = [
    "list_json",
    "optimisation_lines",
    "period_json",
    "regime_line",
    "statistics_lines",
    "stored_json",
    "study_header",
    "study_json",
    "verdict_line",
]


def study_json(result: WalkForwardResult, run_id: str | None, search: RuleSearch | None) -> dict[str, Any]:
    """A fresh study (and the rule search that chose it, if any) as ``walkforward --json`` prints it."""
    out: dict[str, Any] = finite(result.to_json())
    out["run_id"] = run_id
    if search is not None:
        out["grid"] = finite(search.to_json())
    return out


def period_json(p: WalkForwardPeriodRecord) -> dict[str, Any]:
    """A stored period: its list, turnover, IC, returns and details (skipped, scores, missing, ...)."""
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
    """A stored study as ``walkforward show --json`` prints it."""
    return {
        "run_id": run.run_id,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "settings": run.settings,
        "summary": run.summary,
        "statistics": run.statistics,
        "verdict": run.verdict,
        "periods": [period_json(p) for p in periods],
    }


def list_json(runs: list[WalkForwardRunRecord]) -> list[dict[str, Any]]:
    """Stored studies as ``walkforward list --json`` prints them."""
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


def study_header(settings: dict[str, Any], summary: dict[str, Any] | None = None) -> str:
    """``walk-forward quad_ma 1h: 2025-03-01 → 2025-05-01, re-selected every 7 days on ...``
    (``walk-forward optimised per token 1h: ...`` for a study with ``--optimise``)."""
    step_days = settings["step_seconds"] / 86_400
    what = "optimised per token" if (summary or {}).get("optimisation") else settings["strategy"]
    return (
        f"walk-forward {what} {settings['interval']}: {settings['from'][:10]} → "
        f"{settings['to'][:10]}, re-selected every {step_days:g} days on {settings['window_days']}-day "
        f"windows, {len(settings['symbols'])} tokens, top {settings['criteria']['top_n']}"
    )


def statistics_lines(summary: dict[str, Any], statistics: dict[str, Any], interval: str) -> list[str]:
    """The study's statistics in sentences, each saying what it was computed on."""
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


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value:+.2%}"


def _num(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _share(value: Any) -> str:
    return "–" if value is None else f"{value:.0%}"


def optimisation_lines(opt: dict[str, Any] | None) -> list[str]:
    """With ``--optimise``: the space, the fixed parameter set on the same periods, in-sample vs
    out-of-sample Sharpe of the chosen sets, the PBO of the per-token choices."""
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


def verdict_line(summary: dict[str, Any], statistics: dict[str, Any]) -> str:
    """A study in one line: selection vs universe, its rank among random picks, its PSR (and DSR).

    ``selection +3.10 % vs universe +1.20 % · 71 % percentile of random picks (p = 0.290) · PSR 0.81``
    """
    sel = summary.get("selection") or {}
    uni = summary.get("universe") or {}
    parts = [f"selection {_pct(sel.get('total_return'))} vs universe {_pct(uni.get('total_return'))}"]
    pct, p = statistics.get("random_percentile"), statistics.get("random_p_value")
    if pct is not None and p is not None:
        parts.append(f"{pct:.0%} percentile of random picks (p = {p:.3f})")
    psr = statistics.get("psr")
    parts.append("PSR –" if psr is None else f"PSR {psr:.2f}")
    if statistics.get("dsr") is not None:
        parts.append(f"DSR {statistics['dsr']:.2f}")
    return " · ".join(parts)
