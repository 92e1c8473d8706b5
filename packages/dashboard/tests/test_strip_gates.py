"""The selection audit's criteria when the regime, PSR and DSR gates are on (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from algo_trade_dashboard._strip import AUDIT_COLUMNS, audit_cells, criterion_checks

AT = datetime(2026, 1, 2, tzinfo=UTC)
CRITERIA = {
    "max_result_age_hours": 48,
    "min_window_coverage": 0.9,
    "min_sharpe_ratio": 0.5,
    "min_win_rate": 0.3,
    "max_drawdown": 0.3,
    "min_num_trades": 5,
    "allowed_regimes": ["low", "normal"],
    "min_psr": 0.8,
    "min_dsr": 0.0,
}
TOKEN = {
    "window_end": "2026-01-01T12:00:00+00:00",
    "window_coverage": 1.0,
    "sharpe_ratio": 1.2,
    "win_rate": 0.4,
    "max_drawdown": 0.1,
    "num_trades": 12,
    "regime": "high",
    "psr": 0.93,
    "dsr": None,
    "failed": [
        {
            "criterion": "allowed_regimes",
            "text": "regime high not in allowed low, normal",
            "value": "high",
            "threshold": ["low", "normal"],
        }
    ],
}


def test_turned_on_gates_are_shown_failed_from_the_stored_reason_and_passed_with_their_value() -> None:
    checks = {c["criterion"]: c for c in criterion_checks(TOKEN, CRITERIA, AT)}
    assert "min_dsr" not in checks  # off (0): not a criterion of this selection
    regime = checks["allowed_regimes"]
    assert (regime["passed"], regime["text"]) == (False, "regime high not in allowed low, normal")
    psr = checks["min_psr"]
    assert (psr["passed"], psr["short"]) == (True, "0.93 ≥ 0.80")
    assert checks["max_result_age_hours"]["short"] == "12 h ≤ 48 h"


def test_a_gate_on_a_result_without_moments_is_left_out_rather_than_invented() -> None:
    token = {**TOKEN, "psr": None, "failed": []}
    checks = {c["criterion"] for c in criterion_checks(token, CRITERIA, AT)}
    assert "min_psr" not in checks
    assert "allowed_regimes" in checks


def test_the_audit_row_shows_regime_psr_and_dsr_as_criteria_when_on_and_as_values_when_off() -> None:
    token = {**TOKEN, "dsr": 0.4123, "trials": 40}
    cells = audit_cells(token, criterion_checks(token, CRITERIA, AT))
    assert [c["criterion"] for c in cells] == [c for c, _, _ in AUDIT_COLUMNS]
    regime, psr, dsr = cells[-3:]
    assert (regime["passed"], regime["short"]) == (False, "high")
    assert regime["text"] == "regime high not in allowed low, normal"  # the selector's reason
    assert (psr["passed"], psr["short"]) == (True, "0.93 ≥ 0.80")
    assert (dsr["passed"], dsr["short"]) == (None, "0.41")  # min_dsr = 0: shown, not a criterion
    assert "deflated by the sweep's 40 trials" in dsr["text"]
    unknown = audit_cells({**token, "psr": None, "dsr": None, "failed": []}, [])[-2:]
    assert [(c["passed"], c["short"]) for c in unknown] == [(None, "–"), (None, "–")]
