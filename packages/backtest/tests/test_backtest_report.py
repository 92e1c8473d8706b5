"""The freqtrade-style report: a hand-checked example, then invariants on real backtests."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from algo_trade_backtest import BacktestTrade, OpenPosition, backtest_report, build_report, run_backtest
from algo_trade_backtest._report import cagr

D = datetime(2025, 1, 30, tzinfo=UTC)


def day(n: float) -> datetime:
    return D + timedelta(days=n)


def trade(side: str, entry: float, exit_: float, price: float, qty: float, pnl: float) -> BacktestTrade:
    return BacktestTrade(
        entry_time=day(entry),
        exit_time=day(exit_),
        side=side,  # type: ignore[arg-type]
        entry_price=price,
        exit_price=price,
        qty=qty,
        fees=9.0,
        pnl=pnl,
        exit_reason="reversal",
        entry_index=0,
        exit_index=1,
    )


# Daily bars on 2025-01-30, 01-31, 02-01, 02-28 and 03-01: 31 days from the first open to the last close.
TIMES = [day(0), day(1), day(2), day(29), day(30)]
EQUITY = [10_000.0, 10_100.0, 10_000.0, 10_500.0, 11_000.0]
TRADES = [
    trade("long", 0, 1, 100.0, 100.0, 100.0),  # +1 % of a 10,000 notional, 1 day
    trade("short", 2, 29.5, 50.0, 200.0, -200.0),  # -2 %, 27.5 days, closed in February
    trade("long", 29, 30.25, 10.0, 1000.0, 300.0),  # +3 %, 1.25 days, closed on 1 March
]
OPEN = OpenPosition(
    side="short",
    entry_time=day(30),
    entry_index=4,
    entry_price=11.0,
    qty=1.0,
    entry_fee=4.5,
    mark_price=11.0,
    unrealized_pnl=-4.5,
    take_profit=None,
    stop_loss=None,
)


def test_hand_checked_example() -> None:
    r = build_report(
        timestamps=np.array([int(t.timestamp() * 1000) for t in TIMES], dtype=np.int64),
        equity=EQUITY,
        trades=TRADES,
        initial_capital=10_000.0,
        interval="1d",
        open_position=OPEN,
    )
    assert r.start == day(0)
    assert r.end == datetime(2025, 3, 2, tzinfo=UTC)
    assert r.days == 31.0
    assert (r.num_trades, r.winners, r.losers) == (3, 2, 1)
    # durations 1, 27.5 and 1.25 days
    assert r.min_duration == timedelta(days=1)
    assert r.max_duration == timedelta(days=27.5)
    assert r.avg_duration == timedelta(days=29.75 / 3)
    assert r.best_trade is not None
    assert r.best_trade.trade is TRADES[2]
    assert r.best_trade.ret == pytest.approx(0.03)
    assert r.worst_trade is not None
    assert r.worst_trade.trade is TRADES[1]
    assert r.worst_trade.ret == pytest.approx(-0.02)
    # avg win 200, avg loss 200, win rate 2/3: expectancy 2/3*200 - 1/3*200, ratio (1 + 1) * 2/3 - 1
    assert (r.avg_win, r.avg_loss) == (200.0, 200.0)
    assert r.expectancy == pytest.approx(200.0 / 3)
    assert r.expectancy_ratio == pytest.approx(1.0 / 3)
    # three closed trades at 9 each, plus the open position's entry fee
    assert r.fees_paid == pytest.approx(31.5)
    assert r.fills == 7
    assert (r.long.num_trades, r.long.winners, r.long.win_rate, r.long.pnl) == (2, 2, 1.0, 400.0)
    assert (r.short.num_trades, r.short.winners, r.short.win_rate, r.short.pnl) == (1, 0, 0.0, -200.0)
    assert r.cagr == pytest.approx(1.1 ** (365 / 31) - 1)
    months = [(m.month, m.bars, m.start_equity, m.end_equity, m.num_trades, m.pnl) for m in r.monthly]
    assert months == [
        ("2025-01", 2, 10_000.0, 10_100.0, 1, 100.0),
        ("2025-02", 2, 10_100.0, 10_500.0, 1, -200.0),
        ("2025-03", 1, 10_500.0, 11_000.0, 1, 300.0),
    ]
    assert [m.ret for m in r.monthly] == pytest.approx([0.01, 10_500 / 10_100 - 1, 11_000 / 10_500 - 1])
    assert r.monthly[1].first_bar == day(2)
    assert r.monthly[1].last_bar == day(29)


def test_json_form_carries_every_figure_and_monthly_returns_as_a_list() -> None:
    data = build_report(
        timestamps=np.array([int(t.timestamp() * 1000) for t in TIMES], dtype=np.int64),
        equity=EQUITY,
        trades=TRADES,
        initial_capital=10_000.0,
        interval="1d",
    ).to_json_dict()
    assert data["days"] == 31.0
    assert data["avg_duration_s"] == pytest.approx(29.75 / 3 * 86_400)
    assert data["best_trade"]["return"] == pytest.approx(0.03)
    assert data["best_trade"]["entry_time"] == "2025-02-28T00:00:00+00:00"
    assert data["fees_paid"] == 27.0  # no open position this time
    assert [m["month"] for m in data["monthly_returns"]] == ["2025-01", "2025-02", "2025-03"]
    assert data["long"] == {"side": "long", "num_trades": 2, "winners": 2, "win_rate": 1.0, "pnl": 400.0}


def test_no_trades_and_no_losers() -> None:
    ts = np.array([0, 3_600_000], dtype=np.int64)
    r = build_report(
        timestamps=ts, equity=[10_000.0, 10_000.0], trades=[], initial_capital=10_000.0, interval="1h"
    )
    assert r.num_trades == 0
    assert r.avg_duration is None
    assert r.best_trade is None
    assert r.expectancy == 0.0
    assert r.expectancy_ratio is None
    assert r.cagr == 0.0
    assert r.days == pytest.approx(2 / 24)
    one_winner = build_report(
        timestamps=np.array([int(t.timestamp() * 1000) for t in TIMES], dtype=np.int64),
        equity=EQUITY,
        trades=TRADES[:1],
        initial_capital=10_000.0,
        interval="1d",
    )
    assert one_winner.expectancy_ratio is None  # no losing trade: the ratio is undefined
    assert one_winner.expectancy == 100.0


def test_cagr_edges() -> None:
    assert cagr(10_000.0, 20_000.0, 365.0) == pytest.approx(1.0)
    assert cagr(10_000.0, 5_000.0, 730.0) == pytest.approx(0.5**0.5 - 1)
    assert cagr(10_000.0, 0.0, 30.0) == -1.0
    assert cagr(10_000.0, 100_000.0, 0.1) is None  # 10x in 2.4 hours: not a number to show
    assert cagr(10_000.0, 10_000.0, 0.0) is None


@pytest.mark.parametrize(
    ("timestamps", "expected"),
    [
        (np.array([0, 1], dtype=np.int64), "expected 5 values"),
        (np.array([0, 2, 1, 3, 4], dtype=np.int64), "strictly increasing"),
        (np.array([0.5, 1, 2, 3, 4]), "epoch milliseconds"),
    ],
)
def test_bad_timestamps_are_named(timestamps: np.ndarray, expected: str) -> None:
    with pytest.raises(ValueError, match="timestamps") as info:
        build_report(timestamps=timestamps, equity=EQUITY, trades=[], initial_capital=1.0, interval="1d")
    assert expected in str(info.value)


@pytest.mark.parametrize(("strategy", "interval"), [("quad_ma", "1m"), ("ma_crossover", "1h")])
def test_real_backtest_report_agrees_with_the_metrics_and_trades(
    load_candles: Callable[[str, str], tuple[np.ndarray, ...]], strategy: str, interval: str
) -> None:
    bars = load_candles("ETH", interval)
    result = run_backtest(*bars, strategy=strategy, interval=interval)  # type: ignore[arg-type]
    report = backtest_report(result, bars[0])
    m = result.raw_metrics
    assert report.num_trades == m.num_trades == report.long.num_trades + report.short.num_trades
    assert report.winners / max(report.num_trades, 1) == pytest.approx(m.win_rate)
    assert report.final_equity == pytest.approx(m.final_capital)
    growth = math.prod(1 + month.ret for month in report.monthly)
    assert growth == pytest.approx(m.final_capital / m.initial_capital, rel=1e-9)
    assert sum(month.bars for month in report.monthly) == m.num_bars
    assert sum(month.num_trades for month in report.monthly) == m.num_trades
    assert math.fsum(month.pnl for month in report.monthly) == pytest.approx(
        math.fsum(t.pnl for t in result.trades)
    )
    open_fee = result.open_position.entry_fee if result.open_position else 0.0
    assert report.fees_paid == pytest.approx(math.fsum(t.fees for t in result.trades) + open_fee)
    assert report.expectancy == pytest.approx(math.fsum(t.pnl for t in result.trades) / m.num_trades)
    assert report.days == pytest.approx(m.num_bars * {"1m": 1 / 1440, "1h": 1 / 24}[interval], rel=0.01)
    assert report.cagr is not None
    assert report.cagr == pytest.approx((1 + m.total_return) ** (365 / report.days) - 1)
