"""The demo's bot step: paper bots for the approved tokens, fed a local replay of stored candles.

Without the exchange the demo cannot stream live candles, so it serves the last stored bars (the ones
after the sweep's window) from a fake Hyperliquid on 127.0.0.1 through the real market-data hub. The
bots are labelled ``replay:...`` and stopped at the end, so a later daemon does not restore them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from rich.table import Table

from algo_trade_bot_orchestrator import BotRegistry, BotStatus
from algo_trade_cli._common import console
from algo_trade_cli._format import fmt_num, fmt_time
from algo_trade_core import AppConfig, HyperliquidConfig, datetime_to_ms, interval_to_ms, strategy_params
from algo_trade_data import DatabaseClient, HyperliquidClient, MarketDataHub
from algo_trade_data.testing import FakeHyperliquid, wait_for

__all__ = ["REPLAY_BARS", "replay_bots"]

REPLAY_BARS = 240
_UPDATES = 3


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
    interval = cfg.scheduler.interval
    step = interval_to_ms(interval)
    fake = FakeHyperliquid(now_ms=datetime_to_ms(replay_from) + 1_000)
    frames: dict[str, pl.DataFrame] = {}
    for symbol in approved:
        frame = await db.query_candles(
            symbol, interval, replay_from - timedelta(milliseconds=step * 5000), replay_to, exchange
        )
        if frame.height:
            frames[symbol] = frame
            fake.add_candles(symbol, interval, frame)
    if not frames:
        return
    async with fake:
        hl_cfg = HyperliquidConfig(
            api_url=fake.url, ws_url=fake.ws_url, backoff_base_s=0.05, backoff_max_s=0.5
        )
        async with (
            HyperliquidClient(hl_cfg, now_ms=lambda: fake.now_ms) as rest,
            MarketDataHub(hl_cfg, rest=rest, store=None) as hub,
        ):
            registry = BotRegistry(
                db,
                hub,
                candles=rest,
                execution=cfg.backtest,
                bots=cfg.bots,
                clock_ms=lambda: fake.now_ms,
                strategy_parameters={strategy: strategy_params(cfg, strategy)},
                checkpoint_s=0.0,
            )
            try:
                for symbol in frames:
                    await registry.spawn_bot(
                        registry.new_config(
                            symbol, strategy, bot_id=f"replay:{strategy}:{symbol}", exchange=exchange
                        )
                    )
                console.print(
                    f"bots: started {len(frames)} paper bot(s) for the approved tokens "
                    f"({', '.join(frames)}), warmed up on stored candles; replaying the last "
                    f"{REPLAY_BARS} stored bars through a local WebSocket (one connection)"
                )
                await wait_for(lambda: all(hub.is_subscribed(s, interval) for s in frames), timeout=10)
                for symbol, frame in frames.items():
                    ts = frame["timestamp"].dt.epoch("ms")
                    fake.ws.start_replay(
                        symbol,
                        interval,
                        start_index=int(ts.search_sorted(datetime_to_ms(replay_from))),
                        updates_per_bar=_UPDATES,
                    )
                await fake.ws.step(updates=_UPDATES * REPLAY_BARS)
                # Each token's final bar stays forming (no later bar closes it): wait for the one before.
                targets = {f"replay:{strategy}:{sym}": f["timestamp"][-2] for sym, f in frames.items()}
                await wait_for(
                    lambda: all(
                        (b.status().last_candle_time or replay_from) >= targets[b.bot_id]
                        for b in registry.list_bots()
                    ),
                    timeout=30,
                    what="the replay",
                )
                console.print(
                    bots_table(
                        registry.statuses(),
                        f"paper bots after the replay ({hub.stats.connections_opened} WebSocket connection)",
                    )
                )
            finally:
                ids = [b.bot_id for b in registry.list_bots()]
                await registry.shutdown_all()
                for bot_id in ids:
                    await db.set_bot_state(bot_id, "stopped")


async def live_bots(cfg: AppConfig, db: DatabaseClient, approved: list[str], strategy: str) -> None:
    """Start paper bots on the real exchange's WebSocket; they stay stored for `scheduled-backtest`."""
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
            await wait_for(lambda: all(hub.is_subscribed(s, cfg.bots.interval) for s in started), timeout=20)
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
