"""Parity: a bot fed a replayed real candle stream trades exactly like the backtest engine.

Real Hyperliquid BTC 1m candles (about 6,800 bars, ``../shared/data/real-candles``): the first bars go
to the store for the warm-up, the rest are published one by one as closed bars. The bot's fills in the
database must be the fills of ``run_backtest`` over the strategy's warm-up plus the live bars (the
engine cannot trade during the warm-up, so both start flat on the first live bar).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from algo_trade_backtest import BacktestResult, run_backtest
from algo_trade_bot_orchestrator import BotState, FeedBar, strategy_warmup_bars
from algo_trade_core import to_decimal

STORED = 500  # bars in the store before the bot starts
PARAMS = {
    "ma_crossover": {"fast": 5, "slow": 20},
    "quad_ma": {"volume_filter": False, "take_profit": 0.003, "stop_loss": 0.002},
}


def expected_fills(result: BacktestResult) -> list[tuple[Any, ...]]:
    """(time, side, price, quantity, reason) of every fill the engine made, in order."""
    out = []
    for trade in result.trades:
        entry_side = "buy" if trade.side == "long" else "sell"
        exit_side = "sell" if trade.side == "long" else "buy"
        out.append(
            (trade.entry_time, entry_side, to_decimal(trade.entry_price), to_decimal(trade.qty), "entry")
        )
        out.append(
            (
                trade.exit_time,
                exit_side,
                to_decimal(trade.exit_price),
                to_decimal(trade.qty),
                trade.exit_reason,
            )
        )
    if result.open_position is not None:
        pos = result.open_position
        out.append(
            (
                pos.entry_time,
                "buy" if pos.side == "long" else "sell",
                to_decimal(pos.entry_price),
                to_decimal(pos.qty),
                "entry",
            )
        )
    # Within a bar: a reversal's close, then the entry at the open, then a TP/SL exit inside the bar.
    rank = {"reversal": 0, "entry": 1}
    return sorted(out, key=lambda f: (f[0], rank.get(f[4], 2)))


@pytest.mark.parametrize("strategy", ["ma_crossover", "quad_ma"])
async def test_bot_on_replayed_real_candles_matches_the_backtest(
    strategy: str,
    make_desk: Any,
    real_btc_1m: pl.DataFrame,
    bars_of: Callable[[pl.DataFrame], list[FeedBar]],
    arrays_of: Callable[[pl.DataFrame], list[Any]],
    eventually: Callable[..., Any],
) -> None:
    desk = make_desk(checkpoint_s=60.0)  # rows on fills and state changes, as a daemon would
    frame = real_btc_1m
    bars = bars_of(frame)
    await desk.store(frame[:STORED])
    desk.clock.after_bar(bars[STORED - 1].t)
    reg = desk.registry
    bot = reg.get_bot(await reg.spawn_bot(reg.new_config("BTC", strategy, PARAMS[strategy])))

    desk.publish(bars[STORED:])
    await eventually(
        lambda: bot.status().bars == len(bars) - STORED, timeout=120.0, what="the bot to handle every bar"
    )
    assert bot.status().state is BotState.RUNNING

    warmup = strategy_warmup_bars(strategy, bot.config.parameters)
    batch = run_backtest(
        *arrays_of(frame[STORED - warmup :]), strategy=strategy, params=PARAMS[strategy], interval="1m"
    )
    assert len(batch.trades) >= 20, "choose parameters that trade often"
    status = bot.status()
    assert status.num_trades == len(batch.trades)
    assert status.equity == batch.equity[-1]
    if batch.open_position is None:
        assert status.position is None
    else:
        assert status.position is not None
        assert (status.position.side, status.position.entry_time) == (
            batch.open_position.side,
            batch.open_position.entry_time,
        )

    assert await bot.flushed()
    stored = await desk.db.list_fills(bot_id=bot.bot_id)
    got = [(f.timestamp, f.side, f.price, f.quantity, f.reason) for f in stored]
    assert got == expected_fills(batch)
    assert all(isinstance(f.fee, Decimal) and f.fee > 0 for f in stored)
