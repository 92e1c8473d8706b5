"""The daemon with [optimisation] enabled: sweep → optimisation (every trial stored) → selection among
the per-token choices → one bot per approved token, trading that token's own strategy and parameters."""

from __future__ import annotations

from dataclasses import replace

from algo_trade_bot_orchestrator import BotState
from algo_trade_core import MaCrossoverSpace, OptimisationConfig, QuadMaSpace
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import FakeHyperliquid, real_candles, wait_for
from algo_trade_pipeline import Daemon
from algo_trade_token_selector import OPTIMISED

from .conftest import MINUTE, client_for, daemon_config

COINS = ("BTC", "ETH", "SOL", "AVAX")
SPACE = OptimisationConfig(
    enabled=True,
    min_dsr=0.0,
    chunk_size=4,
    quad_ma=QuadMaSpace(
        short_1=(3,),
        short_2=(8,),
        long_1=(15,),
        long_2=(30,),
        trend=(60, 90),
        volume_filter=(False,),
        take_profit=(0.01,),
        stop_loss=(0.005,),
    ),
    ma_crossover=MaCrossoverSpace(fast=(3, 5, 8), slow=(20, 40)),
)


async def test_each_approved_tokens_bot_trades_its_chosen_strategy_and_parameters(db: DatabaseClient) -> None:
    frames = {c: real_candles(c) for c in COINS}
    end = min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values())
    fake = FakeHyperliquid(now_ms=end - 100 * MINUTE + 1_000)
    for coin, frame in frames.items():
        fake.add_candles(coin, "1m", frame)
    async with fake, client_for(fake) as rest:
        cfg = replace(daemon_config(fake, COINS), optimisation=SPACE)
        daemon = Daemon(cfg, db, rest, clock_ms=lambda: fake.now_ms)
        await daemon.start()
        try:
            await wait_for(lambda: daemon.cycle_count >= 1, timeout=60, what="the first sweep")
            cycle = daemon.cycles[0]
            assert cycle.error is None, cycle.error
            assert cycle.optimisation is not None
            assert cycle.optimisation.status == "ok"
            trials = await db.query_trials(cycle.optimisation.run_id)
            assert len(trials) == len(COINS) * (2 + 6)
            selection = cycle.selection
            assert selection is not None
            assert selection.strategy_name == OPTIMISED
            assert len(selection.approved) == 3
            registry = daemon.registry
            assert registry is not None
            bots = {b.config.symbol: b for b in registry.list_bots() if b.state is BotState.RUNNING}
            assert set(bots) == set(selection.approved)
            for symbol, choice in selection.choices.items():
                bot = bots[symbol]
                assert bot.config.strategy == choice.strategy
                assert dict(bot.config.parameters) == dict(choice.parameters)
                row = await db.get_bot(bot.bot_id)
                assert row is not None
                assert dict(row.parameters) == dict(choice.parameters)
        finally:
            await daemon.stop()
