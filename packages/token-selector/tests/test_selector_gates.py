"""The regime criterion and the statistical gates (issue 10 items 3 and 4): off by default, explained in
numbers when on, the DSR deflated by the sweep's trials exactly as the papers say."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

import pytest

from algo_trade_core import SelectionCriteria, bars_per_year, deflated_sharpe_ratio
from algo_trade_data import BacktestResultRecord, DatabaseClient, RunTrials
from algo_trade_token_selector import (
    SelectionScope,
    TokenSelector,
    criteria_text,
    evaluate,
    result_dsr,
    run_trials,
    trials_by_key,
)

from .conftest import NOW, as_map, result


def gated(
    symbol: str, *, regime: str | None = "normal", psr: float | None = 0.99, **kw: object
) -> BacktestResultRecord:
    return replace(
        result(symbol, **kw),  # type: ignore[arg-type]
        regime=regime,  # type: ignore[arg-type]
        psr=psr,
        returns_skewness=-0.4,
        returns_kurtosis=12.0,
    )


def test_by_default_neither_regime_nor_gates_change_a_selection() -> None:
    tokens = as_map(
        gated("BTC", regime="high", psr=0.2),
        gated("ETH", regime=None, psr=None),
        replace(result("SOL", sharpe=1.5)),  # stored before migration 015: no regime, no moments
    )
    sel = evaluate(tokens, SelectionCriteria(), NOW)
    assert sel.approved == ["BTC", "ETH", "SOL"]
    assert all(not t.failed for t in sel.tokens)
    assert "regime" not in criteria_text(SelectionCriteria())
    assert "PSR" not in criteria_text(SelectionCriteria())


def test_allowed_regimes_fail_the_others_and_the_unknown_with_a_reason() -> None:
    c = SelectionCriteria(allowed_regimes=("low", "normal"), fallback_top_n=0)
    sel = evaluate(
        as_map(gated("BTC", regime="high"), gated("ETH", regime=None), gated("SOL", regime="low")), c, NOW
    )
    assert sel.approved == ["SOL"]
    why = {t.symbol: t.failed for t in sel.tokens}
    (btc,) = why["BTC"]
    assert (btc.criterion, btc.value, btc.threshold) == ("allowed_regimes", "high", "low, normal")
    assert btc.text == "regime high not in allowed low, normal"
    assert why["ETH"][0].text == "regime unknown (too little history) not in allowed low, normal"
    assert why["ETH"][0].value is None
    assert {t.symbol: t.regime for t in sel.tokens} == {"SOL": "low", "BTC": "high", "ETH": None}
    assert "regime in low, normal" in criteria_text(c)
    # The order of the configured list does not matter for the sentence.
    flipped = evaluate(
        as_map(gated("BTC", regime="high")), replace(c, allowed_regimes=("normal", "low")), NOW
    )
    assert flipped.tokens[0].failed[0].text == "regime high not in allowed low, normal"


def test_a_token_in_an_excluded_regime_is_no_fallback_pick() -> None:
    c = SelectionCriteria(allowed_regimes=("low",), min_sharpe_ratio=5.0, fallback_top_n=2)
    sel = evaluate(
        as_map(gated("BTC", regime="high", sharpe=4.0), gated("ETH", regime="low", sharpe=1.0)), c, NOW
    )
    assert sel.fallback_used
    assert sel.approved == ["ETH"]  # BTC has the better Sharpe, but the user excluded its regime


def test_a_token_below_a_statistical_gate_is_no_fallback_pick() -> None:
    # The fallback relaxes the performance thresholds only: a gate the user turned on still binds.
    c = SelectionCriteria(min_psr=0.9, min_sharpe_ratio=5.0, fallback_top_n=2)
    sel = evaluate(as_map(gated("BTC", psr=0.5, sharpe=4.0), gated("ETH", psr=0.97, sharpe=1.0)), c, NOW)
    assert sel.fallback_used
    assert sel.approved == ["ETH"]  # BTC has the better Sharpe, but its PSR is below the gate
    none = evaluate(as_map(gated("BTC", psr=0.5, sharpe=4.0)), c, NOW)
    assert (none.approved, none.fallback_used) == ([], False)


def test_min_psr_fails_below_it_and_says_the_value() -> None:
    c = SelectionCriteria(min_psr=0.95, fallback_top_n=0)
    sel = evaluate(as_map(gated("BTC", psr=0.81), gated("ETH", psr=0.95), gated("SOL", psr=None)), c, NOW)
    assert sel.approved == ["ETH"]  # inclusive, like every threshold
    why = {t.symbol: t.failed for t in sel.tokens}
    assert [(f.criterion, f.value, f.threshold, f.text) for f in why["BTC"]] == [
        ("min_psr", 0.81, 0.95, "PSR 0.81 < 0.95")
    ]
    assert why["SOL"][0].text == "PSR unknown (no return moments stored with the result) < 0.95"
    near = evaluate(as_map(gated("BTC", psr=0.9499)), c, NOW).tokens[0]
    assert near.failed[0].text == "PSR 0.9499 < 0.95"  # never "0.95 < 0.95"
    assert next(t for t in sel.tokens if t.symbol == "BTC").to_json()["psr"] == 0.81
    assert "PSR ≥ 0.95" in criteria_text(c)


def test_the_dsr_deflates_each_sharpe_by_its_sweeps_trials() -> None:
    # 20 tokens of one sweep, 1m bars, 30 days: the best of them is what luck could have produced.
    sharpes = [0.5 * k - 3.0 for k in range(20)]
    records = [gated(f"T{k:02d}", sharpe=s) for k, s in enumerate(sharpes)]
    trials = run_trials(records)
    assert trials == {
        ("run-1", "1m"): RunTrials(
            run_id="run-1", interval="1m", trials=20, sharpe_variance=statistics.variance(sharpes)
        )
    }
    best = records[-1]
    periods = bars_per_year("1m")
    expected = deflated_sharpe_ratio(
        best.sharpe_ratio / math.sqrt(periods),
        20,
        statistics.variance(sharpes) / periods,
        best.num_bars - 1,
        skewness=-0.4,
        kurtosis=12.0,
    )
    assert result_dsr(best, trials["run-1", "1m"]) == pytest.approx(expected, rel=1e-12)
    c = SelectionCriteria(min_dsr=0.5, fallback_top_n=0, min_sharpe_ratio=0.0)
    sel = evaluate(as_map(*records), c, NOW, trials=trials)
    dsr = {t.symbol: t.dsr for t in sel.tokens}
    assert dsr["T19"] == pytest.approx(expected, rel=1e-12)
    assert all(t.trials == 20 for t in sel.tokens)
    # Annualised Sharpe 6.5 over 30 days of 1m bars is barely above what the best of 20 lucky trials
    # reaches: its DSR is about 0.6. The gate approves exactly the tokens at or above the threshold.
    assert 0.55 < expected < 0.65
    passing = {s for s, v in dsr.items() if v is not None and v >= 0.5}
    assert set(sel.approved) == passing
    assert 0 < len(passing) < 20
    failed = next(t for t in sel.tokens if t.symbol == "T17")
    assert failed.failed[-1].criterion == "min_dsr"
    assert failed.failed[-1].value == dsr["T17"]
    assert failed.failed[-1].text == f"DSR {dsr['T17']:.2f} < 0.50"
    # One trial has nothing to deflate: the DSR is the PSR against 0.
    alone = RunTrials(run_id="run-1", interval="1m", trials=1, sharpe_variance=0.0)
    assert result_dsr(best, alone) == pytest.approx(
        deflated_sharpe_ratio(best.sharpe_ratio / math.sqrt(periods), 1, 0.0, best.num_bars - 1, -0.4, 12.0)
    )


def test_min_dsr_without_known_trials_or_moments_fails_as_unknown() -> None:
    c = SelectionCriteria(min_dsr=0.5, fallback_top_n=0)
    sel = evaluate(as_map(gated("BTC"), result("ETH")), c, NOW)  # no trials given; ETH has no moments
    assert sel.approved == []
    for t in sel.tokens:
        assert t.dsr is None
        assert t.failed[-1].text == "DSR unknown (no return moments or sweep trials known) < 0.50"
    assert "DSR ≥ 0.50" in criteria_text(c)


async def test_the_live_selection_reads_the_sweeps_trials_from_the_store(db: DatabaseClient) -> None:
    records = [gated(f"T{k}", sharpe=0.7 * k - 1.0, regime=("low", "high")[k % 2]) for k in range(8)]
    other = [replace(r, params_hash="p2", sharpe_ratio=r.sharpe_ratio / 2) for r in records]  # more trials
    await db.insert_backtest_results_batch([*records, *other])
    stored = trials_by_key(await db.query_run_trials(["run-1"]))
    computed = run_trials([*records, *other])
    assert stored.keys() == computed.keys()
    assert stored["run-1", "1m"].trials == 16
    assert stored["run-1", "1m"].sharpe_variance == pytest.approx(computed["run-1", "1m"].sharpe_variance)
    criteria = SelectionCriteria(
        min_dsr=0.4, allowed_regimes=("low",), fallback_top_n=0, min_sharpe_ratio=0.0
    )
    selection = await TokenSelector(db, criteria).select(now=NOW, run_id="run-1")
    offline = evaluate(as_map(*records), criteria, NOW, trials=computed)
    scoped = await TokenSelector(db, criteria).select(
        SelectionScope(strategy="quad_ma", params_hash="p1"), now=NOW, record=False
    )
    assert [(t.symbol, t.dsr, t.regime) for t in scoped.tokens] == [
        (t.symbol, pytest.approx(t.dsr), t.regime) for t in offline.tokens
    ]
    assert scoped.approved == offline.approved == ["T6", "T4"]  # low regime and DSR >= 0.4 (T7: high)
    assert selection.tokens  # the widened default scope ranks each token's latest of either set
    latest = await db.latest_selection("quad_ma")
    assert latest is not None
    detail = latest.details[0]
    assert {"regime", "psr", "dsr", "trials"} <= set(detail)
    assert detail["trials"] == 16
