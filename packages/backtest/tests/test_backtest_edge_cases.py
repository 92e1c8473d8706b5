"""Hand-made edge cases with hand-computed expectations; every case also checks kernel == reference.

Most cases use tiny periods so a setup is a handful of bars: short_1=1, short_2=2, long_1=3, long_2=4,
trend=5 (first signal at bar 5). ``LONG_SETUP`` closes make a long setup at bar 5 (the previous bar is
an exact tie of the short averages, the ``<=`` boundary), so the entry fills at bar 6's open (11).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from algo_trade_backtest import BacktestResult, StrategyRunner, run_backtest
from algo_trade_backtest._reference import reference_backtest, result_differences
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig

SMALL = QuadMaConfig(
    short_1=1,
    short_2=2,
    long_1=3,
    long_2=4,
    trend=5,
    volume_filter=False,
    take_profit=0.1,
    stop_loss=0.05,
    reversal_confirmation_bars=2,
)
EXEC = BacktestConfig(fee_rate=0.001, slippage_bps=10.0)
SLIP = 0.001
LONG_SETUP = [10.0, 10.0, 10.0, 10.0, 10.0, 11.0]
SHORT_SETUP = [10.0, 10.0, 10.0, 10.0, 10.2, 9.0]

Bars = Any


def run_both(
    bars: Bars, params: Any = SMALL, execution: BacktestConfig = EXEC, strategy: str = "quad_ma"
) -> BacktestResult:
    """Run kernel and reference, assert they agree, return the kernel's result."""
    kwargs: dict[str, Any] = {
        "strategy": strategy,
        "params": params,
        "execution": execution,
        "interval": "1h",
    }
    engine = run_backtest(*bars, **kwargs)
    reference = reference_backtest(*bars, **kwargs)
    assert result_differences(engine, reference) == []
    return engine


def long_entry() -> tuple[float, float, float, float]:
    """Entry price, quantity, entry fee and cash after the long entry at bar 6 (open 11)."""
    price = 11.0 * (1.0 + SLIP)
    qty = 10_000.0 / price
    fee = 0.001 * qty * price
    return price, qty, fee, 10_000.0 - qty * price - fee


def test_long_entry_fills_at_next_open_with_slippage_and_fee(bars_from: Callable[..., Bars]) -> None:
    result = run_both(bars_from([*LONG_SETUP, 11.1, 11.2]))
    price, qty, fee, cash = long_entry()
    pos = result.open_position
    assert pos is not None
    assert pos.side == "long"
    assert pos.entry_index == 6
    assert pos.entry_price == pytest.approx(price, rel=1e-15)
    assert pos.qty == pytest.approx(qty, rel=1e-15)
    assert pos.entry_fee == pytest.approx(fee, rel=1e-15)
    assert pos.take_profit == pytest.approx(price * 1.1)
    assert pos.stop_loss == pytest.approx(price * 0.95)
    assert result.trades == []  # an open position is not a trade
    assert list(result.equity[:6]) == [10_000.0] * 6
    assert result.equity[6] == pytest.approx(cash + qty * 11.1, rel=1e-12)
    assert result.equity[7] == pytest.approx(cash + qty * 11.2, rel=1e-12)
    assert result.raw_metrics.final_capital == result.equity[-1]
    assert result.raw_metrics.exposure == pytest.approx(2 / 8)
    assert result.raw_metrics.num_trades == 0


@pytest.mark.parametrize(
    ("bar7", "reason", "raw_exit"),
    [
        # (open, high, low, close): opens below the stop -> stop at the open
        ((10.0, 10.2, 9.8, 10.1), "stop_loss", 10.0),
        # just below the stop (10.46045): still the open, not the level
        ((10.45, 10.6, 10.3, 10.5), "stop_loss", 10.45),
        # opens above the take-profit -> take-profit at the open
        ((12.5, 12.6, 12.3, 12.4), "take_profit", 12.5),
        ((12.12, 12.2, 12.0, 12.1), "take_profit", 12.12),  # just above the level (12.1121)
        # both levels inside the range -> the stop is assumed first, at its level
        ((11.05, 12.5, 10.0, 11.0), "stop_loss", 11.0 * 1.001 * 0.95),
        # only the take-profit inside the range -> at its level
        ((11.05, 12.5, 11.0, 11.0), "take_profit", 11.0 * 1.001 * 1.1),
        # only the stop inside the range -> at its level
        ((11.05, 11.2, 10.0, 11.0), "stop_loss", 11.0 * 1.001 * 0.95),
    ],
)
def test_long_exits_gap_and_range_rules(
    bars_from: Callable[..., Bars], bar7: tuple[float, float, float, float], reason: str, raw_exit: float
) -> None:
    o7, h7, l7, c7 = bar7
    bars = bars_from(
        [*LONG_SETUP, 11.1, c7],
        opens=[10.0] * 6 + [11.0, o7],
        highs=[None] * 7 + [h7],
        lows=[None] * 7 + [l7],
    )
    result = run_both(bars)
    price, qty, fee, _ = long_entry()
    exit_price = raw_exit * (1.0 - SLIP)
    exit_fee = 0.001 * qty * exit_price
    assert len(result.trades) == 1
    trade = result.trades[0]
    assert (trade.side, trade.exit_reason, trade.entry_index, trade.exit_index) == ("long", reason, 6, 7)
    assert trade.exit_price == pytest.approx(exit_price, rel=1e-15)
    assert trade.fees == pytest.approx(fee + exit_fee, rel=1e-12)
    assert trade.pnl == pytest.approx(qty * (exit_price - price) - fee - exit_fee, rel=1e-12)
    assert result.open_position is None
    assert result.raw_metrics.win_rate == (1.0 if trade.pnl > 0 else 0.0)


def test_no_exit_when_the_bar_stays_between_the_levels(bars_from: Callable[..., Bars]) -> None:
    bars = bars_from(
        [*LONG_SETUP, 11.1, 11.0],
        opens=[10.0] * 6 + [11.0, 10.5],
        lows=[None] * 7 + [10.47],
        highs=[None] * 7 + [12.1],
    )
    result = run_both(bars)
    assert result.trades == []
    assert result.open_position is not None


@pytest.mark.parametrize(
    ("high", "low", "reason", "raw_exit"),
    [
        (12.2, 11.0, "take_profit", 11.0 * 1.001 * 1.1),
        (11.5, 10.4, "stop_loss", 11.0 * 1.001 * 0.95),
        (12.2, 10.4, "stop_loss", 11.0 * 1.001 * 0.95),  # both on the entry bar: stop first
    ],
)
def test_exit_on_the_entry_bar(
    bars_from: Callable[..., Bars], high: float, low: float, reason: str, raw_exit: float
) -> None:
    bars = bars_from([*LONG_SETUP, 11.2], highs=[None] * 6 + [high], lows=[None] * 6 + [low])
    result = run_both(bars)
    assert [(t.exit_reason, t.entry_index, t.exit_index) for t in result.trades] == [(reason, 6, 6)]
    assert result.trades[0].exit_price == pytest.approx(raw_exit * (1.0 - SLIP), rel=1e-15)
    assert result.raw_metrics.exposure == 0.0  # flat at every close


def test_short_gap_through_the_stop(bars_from: Callable[..., Bars]) -> None:
    bars = bars_from([*SHORT_SETUP, 8.9, 9.7], opens=[10.0, 10.0, 10.0, 10.0, 10.0, 10.2, 9.0, 9.6])
    result = run_both(bars)
    entry = 9.0 * (1.0 - SLIP)
    assert [(t.side, t.exit_reason, t.entry_index, t.exit_index) for t in result.trades] == [
        ("short", "stop_loss", 6, 7)
    ]
    trade = result.trades[0]
    assert trade.entry_price == pytest.approx(entry, rel=1e-15)
    assert trade.exit_price == pytest.approx(9.6 * (1.0 + SLIP), rel=1e-15)
    qty = 10_000.0 / entry
    fees = 0.001 * qty * (entry + trade.exit_price)
    assert trade.pnl == pytest.approx(qty * (entry - trade.exit_price) - fees)


def test_short_take_profit_inside_the_range(bars_from: Callable[..., Bars]) -> None:
    bars = bars_from([*SHORT_SETUP, 8.9, 8.5], lows=[None] * 7 + [8.0])
    result = run_both(bars)
    assert [(t.side, t.exit_reason, t.exit_index) for t in result.trades] == [("short", "take_profit", 7)]
    assert result.trades[0].exit_price == pytest.approx(9.0 * 0.999 * 0.9 * 1.001, rel=1e-15)


WIDE = QuadMaConfig(
    short_1=1,
    short_2=2,
    long_1=3,
    long_2=4,
    trend=5,
    volume_filter=False,
    take_profit=0.9,
    stop_loss=0.9,
    reversal_confirmation_bars=2,
)
REVERSAL = [*LONG_SETUP, 11.5, 12.0, 8.0, 7.0, 7.5]  # short setup at 8, alignment holds at 9


def test_reversal_confirmed_after_two_bars(bars_from: Callable[..., Bars]) -> None:
    result = run_both(bars_from(REVERSAL), params=WIDE)
    assert [(t.side, t.exit_reason, t.entry_index, t.exit_index) for t in result.trades] == [
        ("long", "reversal", 6, 10)
    ]
    pos = result.open_position
    assert pos is not None
    assert (pos.side, pos.entry_index) == ("short", 10)
    # Two fills at the same price; the new side is sized on the equity after the close and its fee.
    price = 7.0 * (1.0 - SLIP)
    _entry, qty, _fee, cash = long_entry()
    cash += qty * price - 0.001 * qty * price
    assert result.trades[0].exit_price == pos.entry_price == pytest.approx(price, rel=1e-15)
    assert pos.qty == pytest.approx(cash / price, rel=1e-12)


def test_reversal_with_one_confirmation_bar_happens_at_the_setup(bars_from: Callable[..., Bars]) -> None:
    params = QuadMaConfig(**{**_asdict(WIDE), "reversal_confirmation_bars": 1})
    result = run_both(bars_from(REVERSAL), params=params)
    assert [(t.exit_reason, t.exit_index) for t in result.trades] == [("reversal", 9)]


def test_reversal_abandoned_when_the_alignment_breaks(bars_from: Callable[..., Bars]) -> None:
    result = run_both(bars_from([*LONG_SETUP, 11.5, 12.0, 8.0, 12.5, 13.0]), params=WIDE)
    assert result.trades == []
    pos = result.open_position
    assert pos is not None
    assert (pos.side, pos.entry_index) == ("long", 6)
    assert pos.unrealized_pnl == pytest.approx(pos.qty * (13.0 - pos.entry_price) - pos.entry_fee)
    assert result.raw_metrics.final_capital == pytest.approx(result.equity[-1])


def test_stop_loss_drops_a_pending_reversal(bars_from: Callable[..., Bars]) -> None:
    params = QuadMaConfig(**{**_asdict(WIDE), "stop_loss": 0.3})  # stop at 7.7077: hit by bar 9's low 7
    result = run_both(bars_from(REVERSAL), params=params)
    assert [(t.exit_reason, t.exit_index) for t in result.trades] == [("stop_loss", 9)]
    assert result.open_position is None  # no reversal at 10: it was dropped with the position


def test_reentry_on_a_setup_at_the_close_of_the_exit_bar(bars_from: Callable[..., Bars]) -> None:
    params = QuadMaConfig(**{**_asdict(WIDE), "stop_loss": 0.2})  # stop at 8.8088: hit inside bar 8
    result = run_both(bars_from(REVERSAL), params=params)
    assert [(t.side, t.exit_reason, t.exit_index) for t in result.trades] == [("long", "stop_loss", 8)]
    pos = result.open_position
    assert pos is not None
    assert (pos.side, pos.entry_index) == ("short", 9)


def test_warm_up_boundary_with_small_periods(bars_from: Callable[..., Bars]) -> None:
    on_time = run_both(bars_from([*LONG_SETUP, 11.5, 12.0]))
    assert on_time.open_position is not None
    assert on_time.open_position.entry_index == 6
    early = run_both(bars_from([*LONG_SETUP[1:], 11.5, 12.0, 12.5]))  # the same setup at bar 4
    assert early.trades == []
    assert early.open_position is None


def _default_warmup_series(setup_index: int) -> list[float]:
    """Closes rising 0.05 a bar with a dip and a jump making a default quad_ma long setup."""
    closes = [100.0 + 0.05 * i for i in range(130)]
    k = setup_index
    closes[k - 2] = closes[k - 3] - 0.5
    closes[k - 1] = closes[k - 3] - 0.8
    closes[k] = closes[k - 3] + 0.6
    for j in range(k + 1, len(closes)):
        closes[j] = closes[k] + 0.05 * (j - k)
    return closes


def _signal_bars(bars: Bars, params: QuadMaConfig) -> list[int]:
    runner = StrategyRunner("quad_ma", params, interval="1h")
    return [i for i in range(len(bars[0])) if runner.on_bar(*(float(x[i]) for x in bars))]


def test_defaults_no_signal_before_bar_100_and_no_fill_before_101(bars_from: Callable[..., Bars]) -> None:
    volumes = [1.0] * 130
    volumes[100] = 10.0
    bars = bars_from(_default_warmup_series(100), volumes=volumes)
    assert _signal_bars(bars, QuadMaConfig()) == [100]
    result = run_both(bars, params=QuadMaConfig(), execution=BacktestConfig())
    first_fill = result.open_position.entry_index if result.open_position else result.trades[0].entry_index
    assert first_fill == 101

    volumes = [1.0] * 130
    volumes[99] = 10.0
    early = bars_from(_default_warmup_series(99), volumes=volumes)
    # The same pattern one bar earlier is a real setup (a trend of 99 bars takes it) ...
    assert _signal_bars(early, QuadMaConfig(trend=99)) == [99]
    # ... but with trend=100 bar 99 is still warming up: no signal, no fill at 100.
    assert _signal_bars(early, QuadMaConfig()) == []
    assert run_both(early, params=QuadMaConfig()).open_position is None


def test_defaults_on_noisy_data_never_act_before_bar_100(walk: Callable[..., Bars]) -> None:
    params = QuadMaConfig(volume_filter=False, take_profit=0.002, stop_loss=0.002)
    for seed in range(5):
        bars = walk(seed, 400, vol=0.004)
        signals = _signal_bars(bars, params)
        assert signals
        assert min(signals) >= 100
        result = run_both(bars, params=params)
        assert result.trades
        assert min(t.entry_index for t in result.trades) >= 101


def test_zero_volume_bars_block_the_volume_filter(bars_from: Callable[..., Bars]) -> None:
    params = QuadMaConfig(**{**_asdict(SMALL), "volume_filter": True, "volume_factor": 1.5})
    spike = run_both(bars_from([*LONG_SETUP, 11.2], volumes=[1, 1, 1, 1, 1, 3, 1]), params=params)
    assert spike.open_position is not None  # 3 > 1.5 * (1 + 1 + 1 + 3) / 4
    quiet = run_both(bars_from([*LONG_SETUP, 11.2], volumes=[1, 1, 1, 1, 1, 0, 1]), params=params)
    assert quiet.open_position is None
    assert quiet.trades == []
    nothing = run_both(
        bars_from([*LONG_SETUP, 11.2], volumes=[0.0] * 7),
        params=QuadMaConfig(**{**_asdict(params), "volume_factor": 0.0}),
    )
    assert nothing.open_position is None  # 0 > 0 * 0 is false


def test_zero_volume_flat_bars_inside_a_series(walk: Callable[..., Bars]) -> None:
    ts, o, h, lo, c, v = walk(7, 600, vol=0.003)
    for i in range(50, 600, 7):  # no trade: O = H = L = C = previous close, volume 0
        o[i] = h[i] = lo[i] = c[i] = c[i - 1]
        v[i] = 0.0
    params = QuadMaConfig(
        short_1=2,
        short_2=4,
        long_1=8,
        long_2=16,
        trend=32,
        volume_factor=0.5,
        take_profit=0.004,
        stop_loss=0.003,
        reversal_confirmation_bars=1,
    )
    assert run_both((ts, o, h, lo, c, v), params=params).raw_metrics.num_trades > 5


@pytest.mark.parametrize(("price", "fast", "slow"), [(0.1, 3, 7), (0.3, 10, 30), (12.34, 3, 7)])
def test_flat_prices_are_exact_ties(
    bars_from: Callable[..., Bars], price: float, fast: int, slow: int
) -> None:
    # Float averages of a constant need not be equal (so a naive engine would take a side):
    assert sum([price] * fast) / fast != sum([price] * slow) / slow or (
        math.fsum([price] * fast) / fast != math.fsum([price] * slow) / slow
    )
    bars = bars_from([price] * 60)
    cross = run_both(bars, params=MaCrossoverConfig(fast=fast, slow=slow), strategy="ma_crossover")
    quad = run_both(
        bars,
        params=QuadMaConfig(
            short_1=fast, short_2=slow, long_1=slow + 1, long_2=slow + 2, trend=slow + 3, volume_filter=False
        ),
    )
    for result in (cross, quad):
        metrics = result.raw_metrics
        assert result.trades == []
        assert result.open_position is None
        assert (metrics.total_return, metrics.max_drawdown, metrics.sharpe_ratio, metrics.exposure) == (
            0.0,
            0.0,
            0.0,
            0.0,
        )
        assert metrics.buy_hold_return == 0.0
        assert metrics.profit_factor == math.inf
        assert result.metrics.profit_factor is None


def test_ma_crossover_is_always_in_the_market_and_flips(bars_from: Callable[..., Bars]) -> None:
    closes = [10, 11, 12, 13, 12, 11, 10, 9, 10, 11, 12, 13, 14]
    result = run_both(bars_from(closes), params=MaCrossoverConfig(fast=1, slow=2), strategy="ma_crossover")
    # Entry at bar 2 (both averages exist from bar 1); long until the cross at bar 4, and so on.
    assert [(t.side, t.entry_index, t.exit_index, t.exit_reason) for t in result.trades] == [
        ("long", 2, 5, "reversal"),
        ("short", 5, 9, "reversal"),
    ]
    assert result.open_position is not None
    assert result.open_position.side == "long"
    assert result.open_position.take_profit is None
    assert result.raw_metrics.exposure == pytest.approx(11 / 13)


def test_single_bar_and_fraction_sizing(bars_from: Callable[..., Bars]) -> None:
    one = run_both(bars_from([10.0]))
    assert one.raw_metrics.num_bars == 1
    assert one.raw_metrics.sharpe_ratio == 0.0
    half = run_both(bars_from([*LONG_SETUP, 11.2]), execution=BacktestConfig(position_fraction=0.5))
    assert half.open_position is not None
    assert half.open_position.qty * half.open_position.entry_price == pytest.approx(5_000.0)


def _asdict(params: QuadMaConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(params)
