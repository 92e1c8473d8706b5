"""Why a token failed, in numbers: each failed criterion with its value, threshold and a sentence (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from algo_trade_core import REGIMES, SelectionCriteria
from algo_trade_data import BacktestResultRecord

__all__ = [
    "CRITERIA",
    "DATA_CRITERIA",
    "NO_FALLBACK_CRITERIA",
    "CriterionFailure",
    "check_criteria",
    "check_dsr",
    "criteria_text",
    "format_distinct",
]

# Criterion names (the [token_selection] keys), in the order explanations list them.
CRITERIA = (
    "max_result_age_hours",
    "min_window_coverage",
    "min_sharpe_ratio",
    "min_win_rate",
    "max_drawdown",
    "min_num_trades",
    "allowed_regimes",
    "min_psr",
    "min_dsr",  # [token_selection] min_dsr (the sweep's trials), or [optimisation] min_dsr (the token's)
)
# A token failing one of these is not eligible even for the fallback: its result says nothing current.
DATA_CRITERIA = frozenset({"max_result_age_hours", "min_window_coverage"})
# Nor one the user excluded by its market regime, nor one whose statistics fail a gate the user turned
# on (a chosen parameter set indistinguishable from the best of its trials by luck is no fallback
# either): the fallback relaxes the performance thresholds only.
NO_FALLBACK_CRITERIA = DATA_CRITERIA | {"allowed_regimes", "min_psr", "min_dsr"}


@dataclass(frozen=True, kw_only=True, slots=True)
class CriterionFailure:
    """One threshold a token's result did not meet.

    Attributes:
        criterion: the ``[token_selection]`` key, e.g. ``"min_win_rate"``.
        value: the result's value in the key's unit (a fraction for rates, hours for the age); for
            ``allowed_regimes`` the regime, and None where the value is unknown (a regime without
            enough history, a PSR or DSR that cannot be computed).
        threshold: the configured threshold, same unit; for ``allowed_regimes`` the allowed regimes
            joined by ", ".
        text: the sentence shown to users, e.g. ``"win rate 48.3 % < 50 %"``.
    """

    criterion: str
    value: float | str | None
    threshold: float | str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "value": self.value,
            "threshold": self.threshold,
            "text": self.text,
        }


def format_distinct(value: float, threshold: float, fmt: Callable[[float, int], str], decimals: int) -> str:
    """Format ``value`` with at least ``decimals`` decimals, and more until it reads differently from
    ``threshold`` (0.4999 against 0.5 is "49.99 %", not "50.0 %")."""
    for d in range(decimals, decimals + 7):
        shown = fmt(value, d)
        if shown != fmt(threshold, d):
            return shown
    return fmt(value, decimals + 6)


def _pct(value: float, decimals: int) -> str:
    return f"{value * 100:.{decimals}f} %"


def _pct_limit(value: float) -> str:
    return f"{round(value * 100, 6):g} %"


def _num(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _hours(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f} h"


def _age_hours(result: BacktestResultRecord, now: datetime) -> float:
    """Hours from the END of the result's backtest window to ``now``: a backfilled window is old."""
    return (now - result.backtest_window_end).total_seconds() / 3600


def check_criteria(
    result: BacktestResultRecord, criteria: SelectionCriteria, now: datetime, *, dsr: float | None = None
) -> tuple[CriterionFailure, ...]:
    """Return every threshold ``result`` fails (inclusive thresholds), in :data:`CRITERIA` order.

    ``dsr`` is the result's deflated Sharpe ratio among its sweep's trials
    (:func:`~algo_trade_token_selector._gates.result_dsr`), None when unknown.
    """
    c = criteria
    failures = []
    age = _age_hours(result, now)
    if age > c.max_result_age_hours:
        shown = format_distinct(age, c.max_result_age_hours, _hours, 0)
        failures.append(
            CriterionFailure(
                criterion="max_result_age_hours",
                value=age,
                threshold=c.max_result_age_hours,
                text=f"result {shown} old > {c.max_result_age_hours:g} h",
            )
        )
    coverage = result.window_coverage
    if coverage < c.min_window_coverage:
        shown = format_distinct(coverage, c.min_window_coverage, _pct, 1)
        failures.append(
            CriterionFailure(
                criterion="min_window_coverage",
                value=coverage,
                threshold=c.min_window_coverage,
                text=f"coverage {shown} < {_pct_limit(c.min_window_coverage)}",
            )
        )
    if result.sharpe_ratio < c.min_sharpe_ratio:
        shown = format_distinct(result.sharpe_ratio, c.min_sharpe_ratio, _num, 2)
        failures.append(
            CriterionFailure(
                criterion="min_sharpe_ratio",
                value=result.sharpe_ratio,
                threshold=c.min_sharpe_ratio,
                text=f"Sharpe {shown} < {c.min_sharpe_ratio:.2f}",
            )
        )
    if result.win_rate < c.min_win_rate:
        shown = format_distinct(result.win_rate, c.min_win_rate, _pct, 1)
        failures.append(
            CriterionFailure(
                criterion="min_win_rate",
                value=result.win_rate,
                threshold=c.min_win_rate,
                text=f"win rate {shown} < {_pct_limit(c.min_win_rate)}",
            )
        )
    drawdown = float(result.max_drawdown)
    if drawdown > c.max_drawdown:
        shown = format_distinct(drawdown, c.max_drawdown, _pct, 1)
        failures.append(
            CriterionFailure(
                criterion="max_drawdown",
                value=drawdown,
                threshold=c.max_drawdown,
                text=f"max drawdown {shown} > {_pct_limit(c.max_drawdown)}",
            )
        )
    if result.num_trades < c.min_num_trades:
        noun = "trade" if result.num_trades == 1 else "trades"
        failures.append(
            CriterionFailure(
                criterion="min_num_trades",
                value=float(result.num_trades),
                threshold=float(c.min_num_trades),
                text=f"{result.num_trades} {noun} < {c.min_num_trades}",
            )
        )
    failures.extend(_gate_failures(result, c, dsr))
    return tuple(failures)


def _gate_failures(
    result: BacktestResultRecord, c: SelectionCriteria, dsr: float | None
) -> list[CriterionFailure]:
    """The regime criterion and the statistical gates (issue 10), each off at its default."""
    failures = []
    if set(REGIMES) - set(c.allowed_regimes) and result.regime not in c.allowed_regimes:
        allowed = ", ".join(r for r in REGIMES if r in c.allowed_regimes)
        regime: str = result.regime or "unknown (too little history)"
        failures.append(
            CriterionFailure(
                criterion="allowed_regimes",
                value=result.regime,
                threshold=allowed,
                text=f"regime {regime} not in allowed {allowed}",
            )
        )
    for name, label, value, threshold, unknown in (
        ("min_psr", "PSR", result.psr, c.min_psr, "no return moments stored with the result"),
        ("min_dsr", "DSR", dsr, c.min_dsr, "no return moments or sweep trials known"),
    ):
        if threshold <= 0.0 or (value is not None and value >= threshold):
            continue
        shown = f"unknown ({unknown})" if value is None else format_distinct(value, threshold, _num, 2)
        failures.append(
            CriterionFailure(
                criterion=name, value=value, threshold=threshold, text=f"{label} {shown} < {threshold:.2f}"
            )
        )
    return failures


def check_dsr(dsr: float | None, min_dsr: float, n_trials: int) -> CriterionFailure | None:
    """The ``[optimisation] min_dsr`` gate of a per-token choice (inclusive); an undefined DSR (too few
    returns, or moments outside the estimator's domain) fails any gate above 0."""
    if dsr is None:
        if min_dsr <= 0.0:
            return None
        return CriterionFailure(
            criterion="min_dsr",
            value=float("nan"),
            threshold=min_dsr,
            text=f"DSR undefined over N = {n_trials} trials < {min_dsr:.2f}",
        )
    if dsr >= min_dsr:
        return None
    shown = format_distinct(dsr, min_dsr, _num, 2)
    text = f"DSR {shown} < {min_dsr:.2f} (N = {n_trials})"
    return CriterionFailure(criterion="min_dsr", value=dsr, threshold=min_dsr, text=text)


def criteria_text(criteria: SelectionCriteria, min_dsr: float | None = None) -> str:
    """Return the thresholds in one line, as shown above a selection table (with the DSR gate of
    per-token choices when ``min_dsr`` is given)."""
    c = criteria
    fallback = (
        f"fallback: the best {c.fallback_top_n} by Sharpe (≥ {c.fallback_min_sharpe:.2f}) when none passes"
        if c.fallback_top_n > 0
        else "no fallback"
    )
    gates = ""
    if set(REGIMES) - set(c.allowed_regimes):
        gates += f", regime in {', '.join(r for r in REGIMES if r in c.allowed_regimes)}"
    if c.min_psr > 0.0:
        gates += f", PSR ≥ {c.min_psr:.2f}"
    if c.min_dsr > 0.0:
        gates += f", DSR ≥ {c.min_dsr:.2f}"
    return (
        f"pass = Sharpe ≥ {c.min_sharpe_ratio:.2f}, win rate ≥ {_pct_limit(c.min_win_rate)}, "
        f"max drawdown ≤ {_pct_limit(c.max_drawdown)}, trades ≥ {c.min_num_trades}, "
        f"coverage ≥ {_pct_limit(c.min_window_coverage)}{gates}, result ≤ {c.max_result_age_hours:g} h old "
        f"(from its window's end){_dsr_text(min_dsr)}; "
        f"score = {c.weight_sharpe:g} × Sharpe + {c.weight_win_rate:g} × win rate "
        f"+ {c.weight_drawdown:g} × (1 − max drawdown); top_n = {c.top_n}; {fallback}"
    )


def _dsr_text(min_dsr: float | None) -> str:
    if min_dsr is None:
        return ""
    return f", DSR ≥ {min_dsr:.2f} over the token's N trials (not even a fallback below it)"
