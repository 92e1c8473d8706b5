"""The demo's bot step: paper bots for the approved tokens, fed a replay of stored candles.

Without the exchange the demo cannot stream live candles, so it publishes the last stored bars (the ones
after the sweep's window) to the bots through the bot-orchestrator's in-memory feed
(:class:`~algo_trade_bot_orchestrator.MemoryFeed`, the market-data hub's interface without a network).
The bots warm up from the store as they would live. They are labelled ``replay:...`` and stopped at the
end, so a later daemon does not restore them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.table import Table

from algo_trade_cli._common import console
from algo_trade_cli._format import fmt_num, fmt_time
from algo_trade_core import AppConfig, datetime_to_ms, strategy_params

if TYPE_CHECKING:
    import polars as pl

    from algo_trade_bot_orchestrator import BotStatus
    from algo_trade_data import DatabaseClient

__all__ = ["REPLAY_BARS", "live_bots", "replay_bots"]

REPLAY_BARS = 240


async def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait until ``condition()`` holds (checked every 10 ms); raise TimeoutError naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() >= deadline:
            raise TimeoutError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.01)


def bots_table(statuses: list[BotStatus], title: str) -> Table:
    table = Table(title=title)
    for col in ("bot", "state", "position", "equity", "realised", "trades", "fills", "bars", "last bar"):
        table.add_column(
            col, justify="right" if col in ("equity", "realised", "trades", "fills", "bars") else "left"
        )
    for s in statuses:
        p = s.position
        pos = "flat" if p is None else f"{p.side} {p.quantity:.6g} @ {p.entry_price:.6g}"
        table.add_row(
            s.bot_id,
            s.state.value,
            pos,
            fmt_num(s.equity),
            fmt_num(s.realized_pnl),
            str(s.num_trades),
            str(s.num_fills),
            str(s.bars),
            fmt_time(s.last_candle_time),
        )
    return table


async def replay_bots(
    cfg: AppConfig,
    db: DatabaseClient,
    approved: list[str],
    strategy: str,
    exchange: str,
    replay_from: datetime,
    replay_to: datetime,
) -> None:
    """Start a bot per approved token and replay the stored bars in [replay_from, replay_to)."""
    from algo_trade_bot_orchestrator import BotRegistry, BotState, MemoryFeed, bars_from_frame

    interval = cfg.scheduler.interval
    frames: dict[str, pl.DataFrame] = {}
    for symbol in approved:
        frame = await db.query_candles(symbol, interval, replay_from, replay_to, exchange)
        if frame.height:
            frames[symbol] = frame
    if not frames:
        return
    feed = MemoryFeed()
    start_ms = datetime_to_ms(replay_from)
    registry = BotRegistry(
        db,
        feed,
        execution=cfg.backtest,
        bots=cfg.bots,
        clock_ms=lambda: start_ms + 1_000,  # "now" is the replay's start: warm up on the bars before it
        strategy_parameters={strategy: strategy_params(cfg, strategy)},
        checkpoint_s=0.0,
    )
    try:
        for symbol in frames:
            await registry.spawn_bot(
                registry.new_config(
                    symbol,
                    strategy,
                    bot_id=f"replay:{strategy}:{symbol}",
                    exchange=exchange,
                    interval=interval,
                )
            )
        console.print(
            f"bots: started {len(frames)} paper bot(s) for the approved tokens ({', '.join(frames)}), "
            f"warmed up on stored candles; replaying the last {REPLAY_BARS} stored bars through the "
            "in-memory market feed"
        )
        bars = sorted(
            (
                bar
                for symbol, frame in frames.items()
                for bar in bars_from_frame(frame, symbol=symbol, interval=interval)
            ),
            key=lambda bar: (bar.t, bar.symbol),
        )
        for bar in bars:  # in time order across tokens, as the exchange would close them
            feed.publish(bar)
        last = {symbol: frame["timestamp"][-1] for symbol, frame in frames.items()}

        def replayed() -> bool:
            return all(
                s.state in (BotState.ERROR, BotState.STOPPED)
                or (s.last_candle_time is not None and s.last_candle_time >= last[s.symbol])
                for s in registry.statuses()
            )

        await _until(replayed, seconds=60, what="the bots to act on the replayed bars")
        console.print(bots_table(registry.statuses(), f"paper bots after the replay ({len(bars):,} bars)"))
    finally:
        ids = [b.bot_id for b in registry.list_bots()]
        await registry.shutdown_all()
        await db.set_bots_state(ids, "stopped")


async def live_bots(cfg: AppConfig, db: DatabaseClient, approved: list[str], strategy: str) -> None:
    """Start paper bots on the real exchange's WebSocket; they stay stored for `scheduled-backtest`."""
    from algo_trade_bot_orchestrator import BotRegistry
    from algo_trade_data import HyperliquidClient, MarketDataHub

    async with (
        HyperliquidClient(cfg.hyperliquid) as rest,
        MarketDataHub(cfg.hyperliquid, rest=rest, store=db) as hub,
    ):
        registry = BotRegistry(
            db,
            hub,
            candles=rest,
            execution=cfg.backtest,
            bots=cfg.bots,
            strategy_parameters={strategy: strategy_params(cfg, strategy)},
        )
        try:
            started, _ = await registry.sync_bots_with_approved_tokens(approved, strategy)
            await _until(
                lambda: all(hub.is_subscribed(s, cfg.bots.interval) for s in started),
                seconds=20,
                what="the WebSocket subscriptions",
            )
            console.print(
                bots_table(
                    registry.statuses(),
                    f"paper bots started for {', '.join(started)} (warmed up, subscribed on one WebSocket)",
                )
            )
            console.print(
                "they keep their state in the database; `algo-trade scheduled-backtest` resumes them"
            )
        finally:
            await registry.shutdown_all()
