"""The selection audit's two views, from the selector's structured explanations (pure).

- :func:`criterion_checks`: every criterion of one token, passed or failed, with value and threshold.
  Failed ones are the selector's own stored :class:`~algo_trade_token_selector.CriterionFailure`
  (never re-decided here); passed ones show the value the selector passed.
- :func:`selection_history_json`: tokens x stored selections, the shape of ``selection history --json``
  (approved with rank, fallback, beyond top_n, failed with its reasons, absent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from algo_trade_data import SelectionRecord
from algo_trade_token_selector import CRITERIA

__all__ = [
    "AUDIT_COLUMNS",
    "CRITERION_LABELS",
    "audit_cells",
    "cell_of",
    "criterion_checks",
    "selection_history_json",
]

CRITERION_LABELS = {
    "max_result_age_hours": "age",
    "min_window_coverage": "coverage",
    "min_sharpe_ratio": "Sharpe",
    "min_win_rate": "win rate",
    "max_drawdown": "drawdown",
    "min_num_trades": "trades",
    "allowed_regimes": "regime",
    "min_psr": "PSR",
    "min_dsr": "DSR",
}

# Gates that are off by default: shown only when the user turned them on (or a token failed them).
_GATE_OFF: dict[str, Callable[[Any], bool]] = {
    "allowed_regimes": lambda t: t is None or set(t) >= {"low", "normal", "high"},
    "min_psr": lambda t: not t,
    "min_dsr": lambda t: not t,
}


# The selection audit's columns: (criterion, header, the token's field shown when it is no criterion here).
# Regime, PSR and DSR are always shown (blank when unknown); they are criteria only when turned on.
AUDIT_COLUMNS = (
    ("max_result_age_hours", "age", None),
    ("min_window_coverage", "coverage", None),
    ("min_sharpe_ratio", "Sharpe", None),
    ("min_win_rate", "win rate", None),
    ("max_drawdown", "max drawdown", None),
    ("min_num_trades", "trades", None),
    ("allowed_regimes", "regime", "regime"),
    ("min_psr", "PSR", "psr"),
    ("min_dsr", "DSR", "dsr"),
)


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def _count(value: float) -> str:
    return f"{value:g}"


# criterion -> (token field, comparison shown when it passes, formatter)
_PASSED: dict[str, tuple[str, str, Callable[[float], str]]] = {
    "min_window_coverage": ("window_coverage", "≥", _pct),
    "min_sharpe_ratio": ("sharpe_ratio", "≥", _ratio),
    "min_win_rate": ("win_rate", "≥", _pct),
    "max_drawdown": ("max_drawdown", "≤", _pct),
    "min_num_trades": ("num_trades", "≥", _count),
    "min_psr": ("psr", "≥", _ratio),
    "min_dsr": ("dsr", "≥", _ratio),
}


def criterion_checks(
    token: Mapping[str, Any], criteria: Mapping[str, Any], selected_at: datetime
) -> list[dict[str, Any]]:
    """Return one ``{"criterion", "label", "passed", "value", "threshold", "text", "short"}`` per criterion.

    ``token`` is one entry of ``Selection.to_json()["tokens"]``; ``criteria`` its ``"criteria"``.
    """
    failed = {f["criterion"]: f for f in token.get("failed") or [] if isinstance(f, Mapping)}
    checks = []
    for name in CRITERIA:
        threshold = criteria.get(name)
        if name in failed:
            f = failed[name]
            text = str(f.get("text", name))
            checks.append(
                {
                    "criterion": name,
                    "label": CRITERION_LABELS[name],
                    "passed": False,
                    "value": f.get("value"),
                    "threshold": f.get("threshold", threshold),
                    "text": text,
                    "short": _without_label(text),
                }
            )
            continue
        if name in _GATE_OFF and _GATE_OFF[name](threshold):
            continue
        if name == "allowed_regimes":
            regime = token.get("regime")
            allowed = ", ".join(str(r) for r in threshold or ())
            short = f"{regime} in {allowed}"
            value = regime
            text = f"regime {short}"
        elif name == "max_result_age_hours":
            end = datetime.fromisoformat(str(token["window_end"]))
            value = (selected_at - end).total_seconds() / 3600
            short = f"{value:,.0f} h ≤ {threshold:g} h"
            text = f"result {value:,.0f} h old ≤ {threshold:g} h"
        else:
            field, sign, fmt = _PASSED[name]
            if token.get(field) is None:  # older rows: no return moments stored
                continue
            value = float(token[field])
            short = f"{fmt(value)} {sign} {fmt(float(threshold or 0))}"
            text = f"{CRITERION_LABELS[name]} {short}"
        checks.append(
            {
                "criterion": name,
                "label": CRITERION_LABELS[name],
                "passed": True,
                "value": value,
                "threshold": threshold,
                "text": text,
                "short": short,
            }
        )
    return checks


def _plain(token: Mapping[str, Any], criterion: str, label: str, field: str) -> dict[str, Any]:
    value = token.get(field)
    if value is None:
        shown = "–"
        why = "unknown (a result stored before it was computed, or too little history)"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        shown = why = f"{value:.2f}"
    else:
        shown = why = str(value)
    if field == "dsr" and token.get("trials"):
        why += f", deflated by the sweep's {token['trials']} trials"
    return {
        "criterion": criterion,
        "label": label,
        "passed": None,
        "short": shown,
        "text": f"{label} {why} ({criterion} is off: shown, not a criterion of this selection)",
    }


def audit_cells(token: Mapping[str, Any], checks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One cell per :data:`AUDIT_COLUMNS` column: the token's check of that criterion (``passed`` true or
    false, failed ones the selector's stored reason), or, for a gate that is not a criterion here, its
    plain value (``passed`` None; "–" when unknown)."""
    by_criterion = {c["criterion"]: c for c in checks}
    cells = []
    for criterion, label, field in AUDIT_COLUMNS:
        check = by_criterion.get(criterion)
        if check is not None:
            cell = {**check, "label": label}
            if criterion == "allowed_regimes":  # dense: the regime; the allowed ones are in the header
                cell["short"] = token.get("regime") or "unknown"
            cells.append(cell)
        elif field is not None:
            cells.append(_plain(token, criterion, label, field))
        else:  # a base criterion the selector did not check (cannot happen today): say so, not pass
            cells.append(
                {"criterion": criterion, "label": label, "passed": None, "short": "–", "text": "not checked"}
            )
    return cells


_LABEL_WORDS = ("max drawdown ", "win rate ", "coverage ", "Sharpe ", "result ", "regime ", "PSR ", "DSR ")


def _without_label(text: str) -> str:
    """``"win rate 48.3 % < 50 %"`` -> ``"48.3 % < 50 %"`` (the column says which criterion)."""
    for word in _LABEL_WORDS:
        if text.startswith(word):
            return text[len(word) :].replace(" old", "")
    return text


def _failure_text(item: Any) -> str:
    if isinstance(item, Mapping):
        name = item.get("criterion") or item.get("name")
        return str(item.get("message") or item.get("text") or name or item)
    return str(item)


def cell_of(detail: Mapping[str, Any], *, fallback_selection: bool) -> dict[str, Any]:
    """One token in one stored selection: ``{"status", "rank", "failed"}`` as the CLI reads it."""
    rank = detail.get("rank")
    rank = rank if isinstance(rank, int) and not isinstance(rank, bool) else None
    if detail.get("approved"):
        fallback = bool(detail.get("fallback", fallback_selection))
        return {"status": "fallback" if fallback else "approved", "rank": rank, "failed": []}
    failures = [_failure_text(item) for item in detail.get("failed") or []]
    if not failures:
        return {"status": "beyond top_n", "rank": rank, "failed": []}
    return {"status": "failed", "rank": None, "failed": failures}


_ABSENT: dict[str, Any] = {"status": "absent", "rank": None, "failed": []}


def selection_history_json(records: Sequence[SelectionRecord], strategy: str | None) -> dict[str, Any]:
    """Tokens x selections (oldest first), tokens most often approved first: ``selection history --json``."""
    columns = [
        {
            str(d.get("symbol")): cell_of(d, fallback_selection=r.fallback_used)
            for d in r.details
            if isinstance(d, Mapping)
        }
        for r in records
    ]
    symbols = sorted(
        {s for column in columns for s in column},
        key=lambda s: (
            -sum(c[s]["status"] in ("approved", "fallback") for c in columns if s in c),
            s.lower(),
        ),
    )
    return {
        "strategy": strategy,
        "symbols": symbols,
        "selections": [
            {
                "selected_at": r.selected_at.isoformat(),
                "run_id": r.run_id,
                "fallback": r.fallback_used,
                "approved": list(r.approved),
                "tokens": {s: column.get(s, _ABSENT) for s in symbols},
            }
            for r, column in zip(records, columns, strict=True)
        ],
    }
