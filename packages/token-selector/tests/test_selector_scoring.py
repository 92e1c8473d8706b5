"""Selection rules (DESIGN.md section 7) on hand-made results: no database needed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from algo_trade_core import SelectionCriteria
from algo_trade_token_selector import composite_score, evaluate

from .conftest import NOW, as_map, result


def test_thresholds_are_inclusive() -> None:
    c = SelectionCriteria()
    edge = result("EDGE", sharpe=1.0, win=0.5, dd="0.2", trades=10)
    below = [
        result("S", sharpe=0.999999),
        result("W", win=0.4999),
        result("D", dd="0.20000001"),
        result("N", trades=9),
    ]
    sel = evaluate(as_map(edge, *below), c, NOW)
    assert sel.approved == ["EDGE"]
    failed = {t.symbol: t.failed_criteria for t in sel.tokens}
    assert failed == {
        "EDGE": (),
        "S": ("min_sharpe_ratio",),
        "W": ("min_win_rate",),
        "D": ("max_drawdown",),
        "N": ("min_num_trades",),
    }


def test_score_formula_and_rank_order() -> None:
    c = SelectionCriteria()
    a, b = result("AAA", sharpe=2.0, win=0.6, dd="0.1"), result("BBB", sharpe=3.0, win=0.5, dd="0.15")
    assert composite_score(a, c) == pytest.approx(0.4 * 2.0 + 0.3 * 0.6 + 0.3 * 0.9)
    weighted = replace(c, weight_sharpe=0.0, weight_win_rate=1.0, weight_drawdown=0.0)
    assert evaluate(as_map(a, b), c, NOW).approved == ["BBB", "AAA"]
    assert evaluate(as_map(a, b), weighted, NOW).approved == ["AAA", "BBB"]
    sel = evaluate(as_map(a, b), c, NOW)
    assert [(t.symbol, t.rank) for t in sel.tokens] == [("BBB", 1), ("AAA", 2)]


def test_ties_are_broken_by_symbol() -> None:
    sel = evaluate(as_map(result("ZED"), result("ALPHA"), result("MID")), SelectionCriteria(), NOW)
    assert sel.approved == ["ALPHA", "MID", "ZED"]


def test_top_n_keeps_the_best() -> None:
    records = [result(f"T{i:02d}", sharpe=1.0 + i / 10) for i in range(15)]
    sel = evaluate(as_map(*records), SelectionCriteria(top_n=4), NOW)
    assert sel.approved == ["T14", "T13", "T12", "T11"]
    assert sum(t.approved for t in sel.tokens) == 4
    assert next(t for t in sel.tokens if t.symbol == "T10").rank == 5  # passed, ranked, not approved


def test_fallback_on_marks_the_selection() -> None:
    bad = [
        result("A", sharpe=0.5, trades=2),
        result("B", sharpe=0.9, trades=2),
        result("C", sharpe=-1.0),
        result("D", sharpe=0.7, trades=1),
        result("E", sharpe=5.0, age_h=100),
    ]
    sel = evaluate(as_map(*bad), SelectionCriteria(fallback_top_n=2), NOW)
    assert sel.fallback_used is True
    assert sel.approved == ["B", "D"]  # best by Sharpe among fresh results; the stale E is never picked
    assert all(t.fallback for t in sel.tokens if t.approved)
    assert sel.to_json()["fallback"] is True


def test_fallback_off() -> None:
    sel = evaluate(as_map(result("A", sharpe=0.1)), SelectionCriteria(fallback_top_n=0), NOW)
    assert sel.approved == []
    assert sel.fallback_used is False


def test_stale_results_are_ignored() -> None:
    c = SelectionCriteria(max_result_age_hours=48)
    sel = evaluate(as_map(result("OLD", sharpe=9, age_h=48.01), result("NEW", age_h=47.9)), c, NOW)
    assert sel.approved == ["NEW"]
    assert next(t for t in sel.tokens if t.symbol == "OLD").failed_criteria == ("max_result_age_hours",)


def test_coverage_limit_applies_to_selection_and_fallback() -> None:
    c = SelectionCriteria(min_window_coverage=0.9)
    sel = evaluate(as_map(result("THIN", sharpe=9, coverage=0.5), result("FULL", coverage=0.95)), c, NOW)
    assert sel.approved == ["FULL"]
    fallback = evaluate(
        as_map(result("THIN", sharpe=0.1, coverage=0.5), result("OK", sharpe=0.0, coverage=1.0)), c, NOW
    )
    assert fallback.approved == ["OK"]


def test_json_shape() -> None:
    data = evaluate(as_map(result("BTC"), result("ETH", sharpe=0.1)), SelectionCriteria(), NOW).to_json()
    assert data["approved"] == ["BTC"]
    assert {
        "symbol",
        "approved",
        "rank",
        "score",
        "sharpe_ratio",
        "win_rate",
        "max_drawdown",
        "num_trades",
        "failed",
    } <= set(data["tokens"][0])
    assert [f["criterion"] for f in data["tokens"][1]["failed"]] == ["min_sharpe_ratio"]
