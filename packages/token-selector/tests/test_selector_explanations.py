"""Selections that explain themselves (DESIGN.md section 7): ages from the window's end, the fallback's
floor, every failed criterion with its value and threshold, top_n cuts, and short-window warnings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from algo_trade_core import SelectionCriteria
from algo_trade_token_selector import SelectionScope, criteria_text, evaluate

from .conftest import NOW, as_map, result


def test_age_is_measured_from_the_window_end_not_from_when_it_was_stored() -> None:
    # Backfilled today (`sweep --as-of 2025-06-01`): stored a minute ago, its window ended long ago.
    backfill = replace(
        result("BACK", sharpe=9.0),
        timestamp=NOW - timedelta(minutes=1),
        backtest_window_start=NOW - timedelta(days=200),
        backtest_window_end=NOW - timedelta(days=170),
    )
    sel = evaluate(as_map(backfill, result("NOW")), SelectionCriteria(), NOW)
    assert sel.approved == ["NOW"]
    old = next(t for t in sel.tokens if t.symbol == "BACK")
    assert old.failed_criteria == ("max_result_age_hours",)
    assert old.failed[0].text == "result 4,080 h old > 48 h"
    assert old.failed[0].value == 170 * 24


def test_the_fallback_never_approves_a_losing_backtest() -> None:
    losing = [
        result("ETH", sharpe=-5.01, win=0.0),
        result("SOL", sharpe=-0.5, win=0.2),
        result("BTC", sharpe=0.4, win=0.3),
    ]
    sel = evaluate(as_map(*losing), SelectionCriteria(fallback_top_n=3), NOW)
    assert sel.approved == ["BTC"]
    assert sel.fallback_used
    eth = next(t for t in sel.tokens if t.symbol == "ETH")
    assert not eth.approved
    assert eth.note == "not a fallback pick: Sharpe -5.01 < fallback_min_sharpe 0.00"
    all_losing = evaluate(as_map(*losing[:2]), SelectionCriteria(fallback_top_n=3), NOW)
    assert all_losing.approved == []
    assert not all_losing.fallback_used
    lenient = evaluate(as_map(*losing), SelectionCriteria(fallback_top_n=3, fallback_min_sharpe=-1.0), NOW)
    assert lenient.approved == ["BTC", "SOL"]


def test_failed_criteria_say_value_and_threshold_in_the_right_direction() -> None:
    c = SelectionCriteria(min_window_coverage=0.5)
    bad = result("BAD", sharpe=0.82, win=0.483, dd="0.231", trades=8, coverage=0.159, age_h=71)
    (token,) = evaluate(as_map(bad), replace(c, fallback_top_n=0), NOW).tokens
    assert [f.text for f in token.failed] == [
        "result 71 h old > 48 h",
        "coverage 15.9 % < 50 %",
        "Sharpe 0.82 < 1.00",
        "win rate 48.3 % < 50 %",
        "max drawdown 23.1 % > 20 %",
        "8 trades < 10",
    ]
    assert [(f.criterion, f.threshold) for f in token.failed] == [
        ("max_result_age_hours", 48.0),
        ("min_window_coverage", 0.5),
        ("min_sharpe_ratio", 1.0),
        ("min_win_rate", 0.5),
        ("max_drawdown", 0.2),
        ("min_num_trades", 10.0),
    ]
    assert token.failed[3].value == 0.483
    assert token.status == "failed"


def test_a_value_just_beside_its_threshold_is_shown_with_enough_digits() -> None:
    near = result("NEAR", sharpe=0.999999, win=0.4999, dd="0.2001")
    (token,) = evaluate(as_map(near), SelectionCriteria(fallback_top_n=0), NOW).tokens
    assert [f.text for f in token.failed] == [
        "Sharpe 0.999999 < 1.00",
        "win rate 49.99 % < 50 %",
        "max drawdown 20.01 % > 20 %",
    ]


def test_passing_tokens_cut_by_top_n_say_so() -> None:
    records = [result(f"T{i}", sharpe=1.0 + i) for i in range(4)]
    sel = evaluate(as_map(*records), SelectionCriteria(top_n=2), NOW)
    cut = [t for t in sel.tokens if not t.approved]
    assert [(t.symbol, t.rank, t.status, t.note) for t in cut] == [
        ("T1", 3, "beyond_top_n", "beyond top_n = 2"),
        ("T0", 4, "beyond_top_n", "beyond top_n = 2"),
    ]
    assert all(t.status == "approved" and t.note is None for t in sel.tokens if t.approved)


def test_short_windows_carry_a_warning_with_their_span() -> None:
    short = result("SHORT", bars=6624, trades=40)
    sel = evaluate(as_map(short, result("LONG", trades=40)), SelectionCriteria(), NOW)
    warnings = {t.symbol: t.ratio_warning for t in sel.tokens}
    assert warnings == {
        "SHORT": "annualised from 4.6 days of 1m bars and 40 trades (< 28 days)",
        "LONG": None,
    }
    assert next(t for t in sel.tokens if t.symbol == "SHORT").span_days == 4.6


def test_json_carries_structured_reasons_scope_and_result_identity() -> None:
    scope = SelectionScope(strategy="quad_ma", params_hash="p1", interval="1m", symbols=("BTC", "ETH"))
    data = evaluate(
        as_map(result("BTC"), result("ETH", win=0.4)), SelectionCriteria(), NOW, scope=scope
    ).to_json()
    eth = data["tokens"][1]
    assert eth["failed"] == [
        {"criterion": "min_win_rate", "value": 0.4, "threshold": 0.5, "text": "win rate 40.0 % < 50 %"}
    ]
    assert (eth["interval"], eth["run_id"], eth["params_hash"]) == ("1m", "run-1", "p1")
    assert eth["window_end"] == (NOW - timedelta(hours=1)).isoformat()
    assert data["scope"] == {
        "strategy": "quad_ma",
        "params_hash": "p1",
        "interval": "1m",
        "symbols": ["BTC", "ETH"],
    }
    assert data["criteria"]["fallback_min_sharpe"] == 0.0


def test_thresholds_line() -> None:
    line = criteria_text(SelectionCriteria())
    assert "Sharpe ≥ 1.00, win rate ≥ 50 %, max drawdown ≤ 20 %, trades ≥ 10" in line
    assert "result ≤ 48 h old (from its window's end)" in line
    assert "top_n = 10" in line
    assert "the best 3 by Sharpe (≥ 0.00)" in line


def test_scope_describes_itself_and_filters_records() -> None:
    scope = SelectionScope(strategy="quad_ma", params_hash="p1" * 8, interval="1m", symbols=("BTC",))
    assert scope.describe() == "quad_ma, parameter set p1p1p1p1, 1m bars, 1 token"
    assert SelectionScope(strategy="quad_ma").describe() == (
        "quad_ma, every parameter set, every interval, every stored token"
    )
    assert scope.contains(replace(result("BTC"), params_hash="p1" * 8))
    assert not scope.contains(replace(result("BTC"), params_hash="p1" * 8, interval="1h"))
    assert not scope.contains(replace(result("ETH"), params_hash="p1" * 8))
