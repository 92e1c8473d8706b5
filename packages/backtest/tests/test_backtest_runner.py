"""StrategyRunner: bar by bar equals batch, orders and fills, persistence, warm-up, bad bars."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from algo_trade_backtest import StrategyRunner, run_backtest
from algo_trade_core import BacktestConfig, MaCrossoverConfig, OrderSide, QuadMaConfig, Signal

from .conftest import PARAM_SETS

Bars = Any
ACTIVE = PARAM_SETS[1][1]  # short periods, no volume filter, reversal on the setup bar
CONFIGS: list[tuple[str, Any]] = [PARAM_SETS[0], PARAM_SETS[1], PARAM_SETS[2], PARAM_SETS[4]]


def _feed(runner: StrategyRunner, bars: Bars, start: int = 0, stop: int | None = None) -> list[float]:
    equity = []
    for i in range(start, len(bars[0]) if stop is None else stop):
        runner.on_bar(*(x[i].item() for x in bars))
        equity.append(runner.equity)
    return equity


@pytest.mark.parametrize(("token", "interval"), [("ETH", "1h"), ("SOL", "1m"), ("kSHIB", "1m")])
@pytest.mark.parametrize(("strategy", "params"), CONFIGS)
def test_bar_by_bar_equals_batch_on_real_candles(
    load_candles: Callable[[str, str], Bars], token: str, interval: str, strategy: str, params: Any
) -> None:
    bars = load_candles(token, interval)
    batch = run_backtest(*bars, strategy=strategy, params=params, interval=interval)  # type: ignore[arg-type]
    runner = StrategyRunner(strategy, params, interval=interval, symbol=token)  # type: ignore[arg-type]
    assert _feed(runner, bars) == batch.equity.tolist()
    assert runner.trades == batch.trades
    assert runner.position == batch.open_position
    assert runner.bars_seen == len(bars[0])
    if params is ACTIVE:
        assert len(batch.trades) > 100


@pytest.mark.parametrize(
    "params",
    [
        ACTIVE,
        dataclasses.replace(
            ACTIVE,
            volume_filter=True,
            volume_factor=0.5,
            take_profit=0.05,
            stop_loss=0.03,
            reversal_confirmation_bars=2,
        ),
    ],
)
def test_state_round_trip_through_json_keeps_every_trade(
    walk: Callable[..., Bars], params: QuadMaConfig
) -> None:
    bars = walk(3, 3_000, vol=0.003)
    batch = run_backtest(*bars, strategy="quad_ma", params=params, interval="1m")
    assert len(batch.trades) > 20
    runner = StrategyRunner("quad_ma", params, interval="1m", symbol="X")
    equity = _feed(runner, bars, 0, 100)
    restored_with_position = 0
    for cut in range(100, 3_000, 23):
        state = json.loads(json.dumps(runner.state_dict(), allow_nan=False))
        restored_with_position += runner.position is not None
        runner = StrategyRunner.from_state(state)
        equity += _feed(runner, bars, cut, min(cut + 23, 3_000))
    assert restored_with_position > 3  # some cuts happened with a position open
    assert equity == batch.equity.tolist()
    assert runner.trades == batch.trades
    assert runner.position == batch.open_position


def test_orders_fills_and_pending_signal(bars_from: Callable[..., Bars]) -> None:
    params = QuadMaConfig(
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
    bars = bars_from([10.0, 10.0, 10.0, 10.0, 10.0, 11.0, 11.5, 12.0, 8.0, 7.0, 7.5])
    runner = StrategyRunner(
        "quad_ma", params, BacktestConfig(fee_rate=0.001, slippage_bps=10.0), interval="1h", symbol="BTC"
    )
    orders = [runner.on_bar(*(x[i].item() for x in bars)) for i in range(5)]
    assert orders == [[]] * 5
    assert runner.pending_signal is Signal.NONE
    entry_orders = runner.on_bar(*(x[5].item() for x in bars))  # the long setup at bar 5
    assert [(o.side, o.quantity, o.reason) for o in entry_orders] == [(OrderSide.BUY, None, "entry")]
    assert entry_orders[0].symbol == "BTC"
    assert entry_orders[0].created_at == datetime(2025, 1, 1, 6, tzinfo=UTC)  # bar 5's close
    assert runner.pending_signal is Signal.LONG

    assert runner.on_bar(*(x[6].item() for x in bars)) == []
    fills = runner.last_fills
    assert [(f.side, f.reason, f.price) for f in fills] == [(OrderSide.BUY, "entry", Decimal("11.01100000"))]
    assert fills[0].timestamp == datetime(2025, 1, 1, 6, tzinfo=UTC)
    position = runner.position
    assert position is not None
    assert position.side == "long"

    for i in (7, 8):
        assert runner.on_bar(*(x[i].item() for x in bars)) == []  # the reversal is pending at 8
    reversal = runner.on_bar(*(x[9].item() for x in bars))
    assert [(o.side, o.reason) for o in reversal] == [(OrderSide.SELL, "reversal"), (OrderSide.SELL, "entry")]
    assert reversal[0].quantity == Decimal(repr(position.qty)).quantize(Decimal("0.00000001"))
    runner.on_bar(*(x[10].item() for x in bars))
    assert [(f.side, f.reason) for f in runner.last_fills] == [
        (OrderSide.SELL, "reversal"),
        (OrderSide.SELL, "entry"),
    ]
    assert [t.exit_reason for t in runner.trades] == ["reversal"]
    assert runner.position is not None
    assert runner.position.side == "short"
    assert runner.cash > runner.equity  # a short's proceeds sit in cash


def test_warm_up_fills_the_averages_and_starts_flat(walk: Callable[..., Bars]) -> None:
    bars = walk(5, 2_000, vol=0.003)
    runner = StrategyRunner("ma_crossover", MaCrossoverConfig(), interval="1m")
    runner.warm_up(*(x[:1_000] for x in bars))
    assert runner.bars_seen == 1_000
    assert runner.position is None
    assert runner.trades == []
    assert runner.equity == 10_000.0
    assert runner.pending_orders == []
    # Flat after the warm-up, the crossover orders the side of its averages on the very next bar.
    orders = runner.on_bar(*(x[1_000].item() for x in bars))
    close = [Fraction(x) for x in bars[4][:1_001].tolist()]
    fast_above = sum(close[-10:], Fraction(0)) / 10 > sum(close[-30:], Fraction(0)) / 30
    assert [o.side for o in orders] == [OrderSide.BUY if fast_above else OrderSide.SELL]
    with pytest.raises(ValueError, match="after the last bar"):
        runner.warm_up(*(x[:10] for x in bars))


def test_bad_bars_are_rejected(bars_from: Callable[..., Bars]) -> None:
    runner = StrategyRunner("ma_crossover", None, interval="1m")
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    runner.on_bar(t0, 10.0, 10.5, 9.5, 10.2, 3.0)
    with pytest.raises(ValueError, match="not after the previous bar"):
        runner.on_bar(t0, 10.0, 10.5, 9.5, 10.2, 3.0)
    with pytest.raises(ValueError, match="not after the previous bar"):
        runner.on_bar(t0 - timedelta(minutes=1), 10.0, 10.5, 9.5, 10.2, 3.0)
    later = t0 + timedelta(minutes=1)
    with pytest.raises(ValueError, match="close is not a finite number"):
        runner.on_bar(later, 10.0, 10.5, 9.5, float("nan"), 3.0)
    with pytest.raises(ValueError, match="open must be positive"):
        runner.on_bar(later, -1.0, 10.5, 0.5, 10.2, 3.0)
    with pytest.raises(ValueError, match=r"high 10\.1 is below"):
        runner.on_bar(later, 10.0, 10.1, 9.5, 10.2, 3.0)
    assert runner.bars_seen == 1  # nothing was consumed by the rejected bars


def test_state_rejects_foreign_data() -> None:
    state = StrategyRunner("quad_ma", interval="1h").state_dict()
    with pytest.raises(ValueError, match="expected format"):
        StrategyRunner.from_state({**state, "format": "something else"})
    with pytest.raises(ValueError, match="ring_close has 3 values"):
        StrategyRunner.from_state({**state, "ring_close": [0, 0, 0]})
    with pytest.raises(ValueError, match="ring_close must be a list of integers"):
        StrategyRunner.from_state({**state, "ring_close": [0.5] * len(state["ring_close"])})
    with pytest.raises(ValueError, match="missing \\['cash'\\]"):
        StrategyRunner.from_state(
            {**state, "state": {k: v for k, v in state["state"].items() if k != "cash"}}
        )
    with pytest.raises(ValueError, match="short_1"):
        StrategyRunner.from_state({**state, "params": {**state["params"], "short_1": 50}})


def test_cancel_pending_drops_the_next_orders(bars_from: Callable[..., Bars]) -> None:
    params = QuadMaConfig(short_1=1, short_2=2, long_1=3, long_2=4, trend=5, volume_filter=False)
    bars = bars_from([10.0, 10.0, 10.0, 10.0, 10.0, 11.0, 11.2])
    runner = StrategyRunner("quad_ma", params, interval="1h")
    for i in range(6):
        runner.on_bar(*(x[i].item() for x in bars))
    assert runner.pending_signal is Signal.LONG
    runner.cancel_pending()
    assert runner.pending_orders == []
    runner.on_bar(*(x[6].item() for x in bars))
    assert runner.position is None
    assert runner.last_fills == []


def test_a_state_saved_in_format_1_still_loads_and_trades_on(walk: Callable[..., Bars]) -> None:
    # Saved by the engine of format 1 (float slot lists, rings of float prices) after bar 1501 of
    # this walk, with a long position open: what a bot persisted before decimal units.
    saved = json.loads((Path(__file__).parent / "data" / "runner_state_v1.json").read_text())
    assert saved["format"] == "algo_trade_backtest.StrategyRunner/1"
    runner = StrategyRunner.from_state(saved)
    assert runner.bars_seen == 1_502
    position = runner.position
    assert position is not None
    assert (position.side, position.entry_index, position.entry_price) == ("long", 1_304, 115.99797)
    bars = walk(3, 3_000, vol=0.003)
    batch = run_backtest(*bars, strategy="quad_ma", params=runner.params, interval="1m")
    assert runner.equity == batch.equity[1_501]
    assert _feed(runner, bars, 1_502) == batch.equity[1_502:].tolist()
    assert runner.trades == batch.trades
    assert runner.position == batch.open_position
    assert runner.state_dict()["format"] == "algo_trade_backtest.StrategyRunner/2"


@pytest.mark.parametrize(("strategy", "params"), [PARAM_SETS[1], PARAM_SETS[4]])
def test_run_bars_trades_exactly_like_on_bar_and_mixes_with_it(
    load_candles: Callable[[str, str], Bars], strategy: str, params: Any
) -> None:
    bars = load_candles("SOL", "1m")
    one = StrategyRunner(strategy, params, interval="1m", symbol="SOL")  # type: ignore[arg-type]
    expected = _feed(one, bars)
    many = StrategyRunner(strategy, params, interval="1m", symbol="SOL")  # type: ignore[arg-type]
    n = len(bars[0])
    cuts = [0, 250, 251, n // 2, n]  # batch, a single bar, batch, batch
    equity: list[float] = []
    closed = []
    for lo, hi in itertools.pairwise(cuts):
        if hi - lo == 1:
            many.on_bar(*(x[lo].item() for x in bars))
            equity.append(many.equity)
            continue
        segment, trades = many.run_bars(*(x[lo:hi] for x in bars))
        equity.extend(segment.tolist())
        closed.extend(trades)
    assert equity == expected
    assert many.trades == one.trades
    assert closed == [t for t in one.trades if t.exit_index != 250]  # bar 250 went through on_bar
    assert many.state_dict() == one.state_dict()
    assert many.last_fills == one.last_fills
    with pytest.raises(ValueError, match="not after the previous bar"):
        many.run_bars(*(x[-3:] for x in bars))


def test_prepared_slices_trade_exactly_like_warm_up_and_run_bars(
    load_candles: Callable[[str, str], Bars],
) -> None:
    bars = load_candles("ETH", "1h")
    params = PARAM_SETS[1][1]
    plain = StrategyRunner("quad_ma", params, interval="1h")
    fast = StrategyRunner("quad_ma", params, interval="1h")
    series = fast.prepare(*bars)
    plain.warm_up(*(x[100:300] for x in bars))
    fast.warm_up_prepared(series, 100, 300)
    for lo, hi in ((300, 900), (900, 901), (901, 3000)):
        expected, closed = plain.run_bars(*(x[lo:hi] for x in bars))
        equity, fast_closed = fast.run_prepared(series, lo, hi)
        assert equity.tolist() == expected.tolist()
        assert fast_closed == closed
    assert fast.trades == plain.trades
    assert len(plain.trades) > 20
    assert fast.holds_position == (plain.position is not None)
    assert fast.state_dict() == plain.state_dict()
    with pytest.raises(ValueError, match="not after the previous bar"):
        fast.run_prepared(series, 2000, 2100)
