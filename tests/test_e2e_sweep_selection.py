"""Sweep over real candles served by the fake exchange, then selection on the stored results."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from algo_trade_backtest_scheduler import BacktestScheduler
from algo_trade_core import SchedulerConfig, SelectionCriteria
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import FakeHyperliquid, real_candles
from algo_trade_token_selector import TokenSelector

from .conftest import MINUTE, TOKENS, client_for


async def test_selection_returns_the_expected_tokens_for_chosen_thresholds(db: DatabaseClient) -> None:
    frames = {s: real_candles(s) for s in TOKENS}
    now = min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values()) - 60 * MINUTE
    fake = FakeHyperliquid(now_ms=now)
    for symbol, frame in frames.items():
        fake.add_candles(symbol, "1m", frame)
    async with fake, client_for(fake) as hl:
        cfg = SchedulerConfig(token_universe=TOKENS, backtest_window_days=3, strategies=("ma_crossover",))
        scheduler = BacktestScheduler(cfg, db, hl)
        try:
            summary = await scheduler.run_once(datetime.fromtimestamp(now / 1000, UTC))
        finally:
            await scheduler.shutdown()
    assert summary.status == "ok", summary.errors
    results = {r.symbol: r for r in summary.results}
    sharpes = sorted(r.sharpe_ratio for r in results.values())
    threshold = sharpes[len(sharpes) // 2]  # about half the tokens pass
    criteria = SelectionCriteria(
        strategy="ma_crossover",
        min_sharpe_ratio=threshold,
        min_win_rate=0.0,
        max_drawdown=1.0,
        min_num_trades=1,
        top_n=4,
    )
    selection = await TokenSelector(db, criteria).select(now=summary.window.end + timedelta(minutes=1))
    passing = [s for s, r in results.items() if r.sharpe_ratio >= threshold and r.num_trades >= 1]
    score = {
        s: 0.4 * r.sharpe_ratio + 0.3 * r.win_rate + 0.3 * (1 - float(r.max_drawdown))
        for s, r in results.items()
    }
    expected = sorted(passing, key=lambda s: (-score[s], s))[:4]
    assert len(passing) >= 6
    assert selection.approved == expected
    assert not selection.fallback_used
    stored = await db.latest_selection("ma_crossover")
    assert stored is not None
    assert stored.approved == expected
    # Raise the bar beyond every token: nothing passes, the fallback approves the best 3 by Sharpe among
    # the tokens whose Sharpe is at least fallback_min_sharpe (0: never a losing backtest).
    by_sharpe = sorted(results, key=lambda s: (-results[s].sharpe_ratio, s))
    strict = SelectionCriteria(strategy="ma_crossover", min_sharpe_ratio=sharpes[-1] + 1)
    at = summary.window.end + timedelta(minutes=1)
    fallback = await TokenSelector(db, strict).select(now=at)
    assert fallback.approved == [s for s in by_sharpe if results[s].sharpe_ratio >= 0.0][:3]
    assert fallback.fallback_used == bool(fallback.approved)
    floor = sharpes[len(sharpes) // 2]
    lenient = await TokenSelector(db, replace(strict, fallback_min_sharpe=floor)).select(now=at)
    assert lenient.fallback_used
    assert lenient.approved == by_sharpe[:3]
    assert all(results[s].sharpe_ratio >= floor for s in lenient.approved)
    assert (await db.latest_selection("ma_crossover")).fallback_used  # type: ignore[union-attr]
