"""PaperBook: the runner's trades with ids and counters, order gating, forced closes, persistence."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from algo_trade_backtest import run_backtest
from algo_trade_bot_orchestrator import BotConfig, FeedBar, PaperBook, PaperFill
from algo_trade_core import BacktestConfig, OrderSide

FAST_CROSS = {"fast": 5, "slow": 20}
QUAD = {
    "short_1": 3,
    "short_2": 6,
    "long_1": 10,
    "long_2": 15,
    "trend": 25,
    "volume_filter": False,
    "take_profit": 0.004,
    "stop_loss": 0.003,
}
Walk = Callable[..., pl.DataFrame]
Bars = Callable[[pl.DataFrame], list[FeedBar]]
Arrays = Callable[[pl.DataFrame], list[Any]]


def config(strategy: str = "ma_crossover", **kwargs: Any) -> BotConfig:
    params = FAST_CROSS if strategy == "ma_crossover" else QUAD
    return BotConfig(symbol="BTC", strategy=strategy, parameters=params, **kwargs)


def feed(book: PaperBook, bars: list[FeedBar], mode: str = "all") -> list[PaperFill]:
    fills: list[PaperFill] = []
    for bar in bars:
        fills += book.on_bar(bar, orders=mode)  # type: ignore[arg-type]
    return fills


@pytest.mark.parametrize("strategy", ["ma_crossover", "quad_ma"])
def test_bar_by_bar_equals_the_backtest(strategy: str, walk: Walk, bars_of: Bars, arrays_of: Arrays) -> None:
    frame = walk("BTC", 1500, seed=7, vol=4e-3)
    book = PaperBook(config(strategy))
    fills = feed(book, bars_of(frame))
    result = run_backtest(*arrays_of(frame), strategy=strategy, params=book._config.parameters, interval="1m")
    assert result.trades
    assert book.num_trades == len(result.trades)
    assert book.equity == result.equity[-1]
    assert book.num_fills == len(fills)
    exits = [f.fill for f in fills if f.is_exit]
    assert [float(f.price) for f in exits] == pytest.approx([t.exit_price for t in result.trades], abs=1e-8)
    ids = [f.fill_id for f in fills]
    assert len(set(ids)) == len(ids)
    assert all(f.fill.bot_id == f"{strategy}:BTC" for f in fills)


def test_fill_ids_depend_only_on_the_bar_and_position(walk: Walk, bars_of: Bars) -> None:
    bars = bars_of(walk("BTC", 400, seed=3))
    first = [f.fill_id for f in feed(PaperBook(config()), bars)]
    again = [f.fill_id for f in feed(PaperBook(config()), bars)]
    assert first == again
    assert all(fid.startswith("ma_crossover:BTC:") for fid in first)


def test_warm_up_leaves_the_book_flat_and_ready(walk: Walk, bars_of: Bars, arrays_of: Arrays) -> None:
    frame = walk("BTC", 600, seed=11)
    history = frame[:300].select(
        pl.col("timestamp").dt.epoch("ms").alias("t"), "open", "high", "low", "close", "volume"
    )
    book = PaperBook(config())
    assert book.warm_up(history) == 300
    assert book.is_flat
    assert book.equity == 10_000.0
    live = feed(book, bars_of(frame[300:]))
    # Same as a backtest that starts with just the strategy's warm-up before the live bars.
    batch = run_backtest(
        *arrays_of(frame[300 - book.min_warmup_bars :]),
        strategy="ma_crossover",
        params=FAST_CROSS,
        interval="1m",
    )
    assert book.num_trades == len(batch.trades)
    assert book.equity == batch.equity[-1]
    assert live[0].fill.timestamp == batch.trades[0].entry_time


def test_paused_book_takes_no_entries_but_still_exits(walk: Walk, bars_of: Bars) -> None:
    bars = bars_of(walk("BTC", 3000, seed=5, vol=4e-3))
    running = PaperBook(config("quad_ma"))
    fills = []
    for bar in bars:
        fills = running.on_bar(bar)
        if any(f.fill.reason == "entry" for f in fills):
            break
    assert running.position is not None, "quad_ma should have entered"
    entry_at = bars.index(bar)
    paused_fills = feed(running, bars[entry_at + 1 :], mode="none")
    assert not any(f.fill.reason == "entry" for f in paused_fills)
    exits = [f for f in paused_fills if f.is_exit]
    assert [f.fill.reason for f in exits][:1] in (["take_profit"], ["stop_loss"])
    assert len(exits) == 1
    assert running.is_flat


def test_paused_book_discards_a_pending_order(walk: Walk, bars_of: Bars) -> None:
    bars = bars_of(walk("BTC", 400, seed=3))
    book = PaperBook(config())
    fed = 0
    while book.pending_signal == 0:
        book.on_bar(bars[fed])
        fed += 1
    assert book.is_flat
    assert book.on_bar(bars[fed], orders="none") == []  # the entry decided before the pause is dropped
    assert book.is_flat
    assert book.on_bar(bars[fed + 1])  # the next signal is acted on once running again


def test_draining_turns_a_reversal_into_an_exit(walk: Walk, bars_of: Bars, arrays_of: Arrays) -> None:
    frame = walk("BTC", 400, seed=3)
    bars = bars_of(frame)
    result = run_backtest(*arrays_of(frame), strategy="ma_crossover", params=FAST_CROSS, interval="1m")
    first_exit = result.trades[0]
    book = PaperBook(config())
    feed(book, bars[: first_exit.entry_index + 1])
    assert book.position is not None
    drained = feed(book, bars[first_exit.entry_index + 1 : first_exit.exit_index + 1], mode="exits")
    assert [f.fill.reason for f in drained] == ["signal"]
    assert book.finished
    assert book.is_flat
    # The exit is the batch's reversal close leg: same bar, price, quantity and PnL.
    exit_fill = drained[0].fill
    assert exit_fill.timestamp == first_exit.exit_time
    assert float(exit_fill.price) == pytest.approx(first_exit.exit_price, abs=1e-8)
    assert book.equity == pytest.approx(10_000.0 + first_exit.pnl, abs=1e-9)
    with pytest.raises(RuntimeError, match="closed"):
        book.on_bar(bars[first_exit.exit_index + 1])


@pytest.mark.parametrize("side", ["long", "short"])
def test_forced_close_prices_like_the_engine(side: str, walk: Walk, bars_of: Bars, arrays_of: Arrays) -> None:
    frame = walk("BTC", 400, seed=3)
    bars = bars_of(frame)
    result = run_backtest(*arrays_of(frame), strategy="ma_crossover", params=FAST_CROSS, interval="1m")
    trade = next(t for t in result.trades if t.side == side)
    book = PaperBook(config())
    feed(book, bars[: trade.exit_index])
    pos = book.position
    assert pos is not None
    assert pos.side == side
    [closing] = book.close_at_open(bars[trade.exit_index])
    fill = closing.fill
    assert fill.reason == "close"
    assert fill.side == (OrderSide.SELL if side == "long" else OrderSide.BUY)
    assert float(fill.price) == pytest.approx(trade.exit_price, abs=1e-8)
    assert float(fill.quantity) == pytest.approx(trade.qty, abs=1e-8)
    assert closing.fill_id == f"ma_crossover:BTC:{bars[trade.exit_index].t}:0"
    # Cash after the close = capital + the net PnL of every trade up to this one (fees included).
    upto = result.trades[: result.trades.index(trade) + 1]
    assert book.equity == pytest.approx(10_000.0 + sum(t.pnl for t in upto), rel=1e-12)
    assert book.realized_pnl == pytest.approx(book.equity - 10_000.0, abs=1e-9)


def test_fee_and_slippage_come_from_the_configuration(walk: Walk, bars_of: Bars) -> None:
    bars = bars_of(walk("BTC", 300, seed=3))
    execution = BacktestConfig(fee_rate=0.001, slippage_bps=20.0)
    book = PaperBook(config(execution=execution))
    fills = [f.fill for f in feed(book, bars)]
    entry = fills[0]
    bar = next(b for b in bars if b.t == int(entry.timestamp.timestamp() * 1000))
    slip = 1 + 20 / 10_000 if entry.side == OrderSide.BUY else 1 - 20 / 10_000
    assert float(entry.price) == pytest.approx(bar.open * slip, rel=1e-9)
    assert float(entry.fee) == pytest.approx(0.001 * float(entry.price * entry.quantity), rel=1e-6)


def test_state_survives_json(walk: Walk, bars_of: Bars) -> None:
    bars = bars_of(walk("BTC", 600, seed=9))
    straight = PaperBook(config())
    feed(straight, bars)
    first = PaperBook(config())
    feed(first, bars[:350])
    saved = json.loads(json.dumps(first.state_dict()))
    second = PaperBook.from_state(config(), saved)
    assert second.num_trades == first.num_trades
    assert second.position == first.position
    feed(second, bars[350:])
    assert (second.equity, second.num_trades, second.num_fills) == (
        straight.equity,
        straight.num_trades,
        straight.num_fills,
    )
    with pytest.raises(ValueError, match="interval"):
        PaperBook.from_state(config(interval="5m"), saved)


@pytest.mark.parametrize("strategy", ["ma_crossover", "quad_ma"])
def test_run_bars_trades_like_on_bar_and_close_value_is_the_forced_close(
    strategy: str, walk: Walk, bars_of: Bars, arrays_of: Arrays
) -> None:
    frame = walk("BTC", 1500, seed=11, vol=4e-3)
    bars = bars_of(frame)
    one, many = PaperBook(config(strategy)), PaperBook(config(strategy))
    equity_one = []
    for bar in bars[:900]:
        one.on_bar(bar)
        equity_one.append(one.equity)
    equity_many = [*many.run_bars(*(a[:600] for a in arrays_of(frame)))]
    for bar in bars[600:700]:  # mixed with single bars
        many.on_bar(bar)
        equity_many.append(many.equity)
    equity_many += many.run_bars(*(a[700:900] for a in arrays_of(frame))).tolist()
    assert equity_many == equity_one
    assert (many.num_trades, many.num_fills) == (one.num_trades, one.num_fills)
    assert one.num_trades > 10
    # With a position open, a close at the next open costs what close_at_open charges, without closing.
    i = 900
    while many.position is None:
        many.on_bar(bars[i])
        i += 1
    cash = many.close_value(bars[i].open)
    assert cash != many.equity  # the fee and slippage of the close, at least
    assert not many.finished
    many.close_at_open(bars[i])
    assert many.finished
    assert many.equity == cash
