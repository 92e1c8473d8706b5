"""The divergence protection with the real envelope: EnvelopeJudge plugged into a bot's protection
monitor stops an underperforming bot after the configured consecutive failed evaluations, not before,
and leaves a bot that trades like its backtest running."""

from __future__ import annotations

import numpy as np
import pytest

from algo_trade_bot_orchestrator import LiveStats, ProtectionMonitor
from algo_trade_core import ProtectionConfig, TrackingConfig
from algo_trade_tracking import EnvelopeJudge, build_envelope, judge_stats

from .test_tracking_envelope import CAPITAL, strategy_returns

SETTINGS = TrackingConfig(bootstrap_samples=500, block_bars=30, min_trades_for_psr=20)
RULES = ProtectionConfig(divergence_evaluations=3, divergence_every_bars=50)


def drive(judge: EnvelopeJudge, returns: np.ndarray, trades: np.ndarray) -> list[tuple[int, str]]:
    """Feed a bot's bars to a monitor with ``judge``; return (bar, trip kind) of every trip."""
    monitor = ProtectionMonitor(RULES, interval="1m", initial_capital=CAPITAL, judge=judge)
    equity, closed, trips = CAPITAL, 0, []
    for i, (r, t) in enumerate(zip(returns, trades, strict=True)):
        equity *= 1 + r
        closed += int(t)

        def stats(bars: int = i + 1, e: float = equity, n: int = closed, at: int = i) -> LiveStats:
            return LiveStats(
                bot_id="quad_ma:X",
                symbol="X",
                strategy="quad_ma",
                interval="1m",
                bar_t=at,
                bars=bars,
                num_trades=n,
                equity=e,
                initial_capital=CAPITAL,
                peak_equity=monitor.peak,
                drawdown=monitor.drawdown,
                sharpe=monitor.sharpe,
                mean_return=monitor.mean_return,
                std_return=monitor.std_return,
            )

        trips += [(i + 1, trip.kind) for trip in monitor.on_bar(equity, closed, stats)]
        if any(kind == "stop" for _, kind in trips):
            break
    return trips


@pytest.fixture(scope="module")
def judge() -> EnvelopeJudge:
    returns, trades = strategy_returns(30_000, seed=1, edge=5e-5)
    j = EnvelopeJudge(SETTINGS, horizon_bars=5_000)
    j.envelopes["quad_ma:X"] = build_envelope(
        returns, trades, SETTINGS, horizon_bars=5_000, basis="synthetic"
    )
    return j


def test_a_bot_trading_like_its_backtest_is_never_stopped(judge: EnvelopeJudge) -> None:
    trips = drive(judge, *strategy_returns(4_000, seed=2, edge=5e-5))
    assert [kind for _, kind in trips if kind == "stop"] == []
    # A 5-95 % band is crossed by chance now and then (an alert), never three evaluations in a row here.
    assert len(trips) <= 80 // 10


def test_an_underperforming_bot_is_stopped_on_the_third_failed_evaluation_in_a_row(
    judge: EnvelopeJudge,
) -> None:
    returns, trades = strategy_returns(4_000, seed=2, edge=-3e-4)
    trips = drive(judge, returns, trades)
    alerts = [bar for bar, kind in trips if kind == "alert"]
    stops = [bar for bar, kind in trips if kind == "stop"]
    assert len(stops) == 1
    # Evaluations happen every 50 bars; the stop comes with the third consecutive failure.
    assert all(bar % 50 == 0 for bar in alerts)
    first = alerts[0]
    assert alerts[:3] == [first, first + 50, first + 100]
    assert stops == [first + 100]
    # ... and not before: the evaluation just before the first alert passed.
    assert first > 50
    equity = CAPITAL * np.cumprod(1 + returns[: first - 50])
    peak = max(CAPITAL, float(equity.max()))
    passed = LiveStats(
        bot_id="quad_ma:X",
        symbol="X",
        strategy="quad_ma",
        interval="1m",
        bar_t=0,
        bars=first - 50,
        num_trades=int(trades[: first - 50].sum()),
        equity=float(equity[-1]),
        initial_capital=CAPITAL,
        peak_equity=peak,
        drawdown=1 - float(equity[-1]) / peak,
        sharpe=None,
        mean_return=float(returns[: first - 50].mean()),
        std_return=float(returns[: first - 50].std(ddof=1)),
    )
    assert judge_stats(judge.envelopes["quad_ma:X"], passed).ok  # type: ignore[arg-type]


def test_a_bot_without_an_envelope_or_past_it_passes_and_says_why(judge: EnvelopeJudge) -> None:
    fresh = EnvelopeJudge(SETTINGS)
    stats = LiveStats(
        bot_id="quad_ma:Y",
        symbol="Y",
        strategy="quad_ma",
        interval="1m",
        bar_t=0,
        bars=10,
        num_trades=0,
        equity=CAPITAL * 0.5,
        initial_capital=CAPITAL,
        peak_equity=CAPITAL,
        drawdown=0.5,
        sharpe=None,
    )
    verdict = fresh(stats)
    assert verdict.ok
    assert verdict.details["skipped"] == "no envelope: not built yet"
    assert fresh.needs_envelope("quad_ma:Y")
    beyond = judge(LiveStats(**{**stats.to_json_dict(), **_ids("quad_ma:X"), "bars": 6_000}))
    assert beyond.ok
    assert "beyond the envelope's 5000 bars" in beyond.details["skipped"]
    assert judge.needs_envelope("quad_ma:X")  # 6,000 bars seen: the next refresh builds a longer one


def _ids(bot_id: str) -> dict[str, object]:
    return {
        "bot_id": bot_id,
        "symbol": "X",
        "strategy": "quad_ma",
        "interval": "1m",
        "bar_t": 0,
        "initial_capital": CAPITAL,
    }
