"""The dashboard's tests read a database filled the way the product fills it, on real candles.

``market`` (session): real Hyperliquid 1h candles of eight tokens imported into a temporary database;
fourteen daily sweeps through the library (`sweep --as-of` at the data's end and the days before),
each followed by the pipeline's selection; paper bots started on the approved tokens of the sweep six
days before the end and fed the real bars that followed, so they hold fills and positions; and one
walk-forward study of the last four weeks (weekly re-selection), stored as `algo-trade walkforward`
stores it. Nothing in it is made up: every figure on a page comes from the engine, the selector, the
bots and the evaluation.

Test modules cannot import this file (``--import-mode=importlib``), so what they share is fixtures.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from algo_trade_backtest_scheduler import BacktestScheduler
from algo_trade_bot_orchestrator import BotRegistry, MemoryFeed, bars_from_frame
from algo_trade_core import (
    AppConfig,
    BotsConfig,
    DatabaseConfig,
    ProtectionConfig,
    SchedulerConfig,
    SelectionCriteria,
    datetime_to_ms,
)
from algo_trade_dashboard import DashboardServer
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import real_candles, temporary_database, wait_for
from algo_trade_pipeline import Pipeline, traded_parameter_set

TOKENS = ("BTC", "ETH", "SOL", "DOGE", "AVAX", "kPEPE", "ARB", "SUI")
END = datetime(2025, 7, 26, 4, tzinfo=UTC)  # the close of the last common 1h bar of the files
SWEEPS = 14
WALKFORWARD_WEEKS = 4  # the study re-selects weekly over the last four weeks of the data
BOTS_FROM_DAY = 6  # bots start on the selection of END - 6 days and trade the real bars after it
HOUR = 3_600_000


@dataclass(frozen=True, slots=True)
class Market:
    """The filled database: its URL, the configuration that filled it, and what it holds."""

    url: str
    config: AppConfig
    end: datetime
    tokens: tuple[str, ...]
    bot_ids: tuple[str, ...]
    run_ids: tuple[str, ...]
    traded_bot: str  # the bot with the most fills
    walkforward_id: str  # the stored walk-forward study

    def now(self) -> datetime:
        """The dashboard's "now": an hour after the last sweep (its results are current)."""
        return self.end + timedelta(hours=1)


def market_config(url: str) -> AppConfig:
    return AppConfig(
        database=DatabaseConfig(url=url, max_connections=6),
        scheduler=SchedulerConfig(
            token_universe=TOKENS, interval="1h", backtest_window_days=30, refresh_data=False
        ),
        # The defaults but 3 trades: 30 days of 1h quad_ma trade 2 to 7 times, so some tokens pass and
        # some fail on every criterion (Sharpe, win rate, trades).
        token_selection=SelectionCriteria(min_num_trades=3),
        bots=BotsConfig(interval="1h"),
    )


async def _run_bots(
    db: DatabaseClient,
    config: AppConfig,
    approved: list[str],
    as_of: datetime,
    frames: dict[str, pl.DataFrame],
) -> tuple[str, ...]:
    """Paper bots on ``approved`` from ``as_of``, fed the real bars that followed it up to the end."""
    clock = {"ms": datetime_to_ms(as_of)}
    feed = MemoryFeed()
    registry = BotRegistry.from_app_config(config, db, feed, clock_ms=lambda: clock["ms"], checkpoint_s=0.0)
    last = datetime_to_ms(END) - HOUR
    try:
        _, params = traded_parameter_set(config)
        started, _ = await registry.sync_bots_with_approved_tokens(approved, "quad_ma", params)
        assert started, "no bot started"
        for symbol in approved:
            later = frames[symbol].filter(pl.col("timestamp") >= as_of)
            for bar in bars_from_frame(later, symbol=symbol, interval="1h"):
                if bar.t <= last:
                    clock["ms"] = bar.t + HOUR + 1_000
                    feed.publish(bar)

        async def caught_up() -> bool:
            bots = await db.list_bots()
            return len(bots) == len(started) and all(
                b.last_candle_time is not None and datetime_to_ms(b.last_candle_time) >= last for b in bots
            )

        await wait_for(caught_up, timeout=60, what="the bots to process the bars", interval=0.05)
    finally:
        await registry.shutdown_all()  # rows stay "running" with their positions, as after a daemon stop
    return tuple(b.bot_id for b in await db.list_bots())


async def _fill(db: DatabaseClient, config: AppConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    frames = {s: real_candles(s, "1h") for s in TOKENS}
    for frame in frames.values():
        await db.upsert_candles(frame)
    scheduler = BacktestScheduler.from_app_config(config, db, None)
    run_ids = []
    bot_ids: tuple[str, ...] = ()
    try:
        for day in range(SWEEPS - 1, -1, -1):
            as_of = END - timedelta(days=day)
            summary = await scheduler.run_once(as_of, refresh=False)
            assert summary.status == "ok", summary.errors
            run_ids.append(summary.run_id)
            cycle = await Pipeline(config, db, clock=lambda at=as_of: at).after_sweep(summary)
            assert cycle.selection is not None, cycle.skipped
            assert cycle.error is None, cycle.error
            if day == BOTS_FROM_DAY:
                bot_ids = await _run_bots(db, config, cycle.selection.approved or [TOKENS[0]], as_of, frames)
    finally:
        await scheduler.shutdown()
    return bot_ids, tuple(run_ids)


async def _walkforward(db: DatabaseClient, config: AppConfig) -> str:
    """A walk-forward study of the market's universe over its last weeks, stored; its id."""
    from algo_trade_bot_orchestrator import strategy_warmup_bars
    from algo_trade_evaluation import WalkForwardSettings, load_bars, run_walkforward, store_walkforward

    settings = WalkForwardSettings.from_config(
        config,
        start=END - timedelta(weeks=WALKFORWARD_WEEKS),
        end=END,
        step=timedelta(days=7),
        window_days=config.scheduler.backtest_window_days,
        interval="1h",
        symbols=TOKENS,
        random_draws=200,
        seed=1,
    )
    warmup = max(settings.warmup_bars, strategy_warmup_bars(settings.strategy, settings.params))
    bars = await load_bars(db, settings, warmup)
    result = await asyncio.to_thread(run_walkforward, bars, settings)
    return await store_walkforward(db, result)


@pytest.fixture(scope="session")
async def market() -> AsyncIterator[Market]:
    async with temporary_database() as url:
        config = market_config(url)
        db = await DatabaseClient.connect(config.database)
        try:
            bot_ids, run_ids = await _fill(db, config)
            fills = {b: len(await db.list_fills(bot_id=b)) for b in bot_ids}
            traded = max(bot_ids, key=lambda b: fills[b])
            assert fills[traded] > 0, fills
            walkforward_id = await _walkforward(db, config)
        finally:
            await db.close()
        yield Market(
            url=url,
            config=config,
            end=END,
            tokens=TOKENS,
            bot_ids=bot_ids,
            run_ids=run_ids,
            traded_bot=traded,
            walkforward_id=walkforward_id,
        )


STOP_FROM = END - timedelta(days=20)
MAX_DRAWDOWN = 0.004  # quad_ma on SOL 1h loses more than 0.4 % from a peak within these 20 days


@dataclass(frozen=True, slots=True)
class Stopped:
    """A database where a protection stopped a paper bot: the bot stored its ``stop`` event itself."""

    config: AppConfig
    bot_id: str
    events: list[dict[str, Any]]  # what `bots events --json` prints: the library's rows, as JSON

    def now(self) -> datetime:
        return END + timedelta(hours=1)


@pytest.fixture(scope="session")
async def stopped() -> AsyncIterator[Stopped]:
    """A paper bot on SOL's real 1h bars with ``[bots.protection] max_drawdown`` low enough for its first
    losing stretch to stop it (no sweep: the dashboard shows the bot and its events)."""
    async with temporary_database() as url:
        config = AppConfig(
            database=DatabaseConfig(url=url, max_connections=4),
            scheduler=SchedulerConfig(
                token_universe=("SOL",), interval="1h", backtest_window_days=30, refresh_data=False
            ),
            bots=BotsConfig(
                interval="1h", shadow_days=0, protection=ProtectionConfig(max_drawdown=MAX_DRAWDOWN)
            ),
        )
        frame = real_candles("SOL", "1h")
        db = await DatabaseClient.connect(config.database)
        try:
            await db.upsert_candles(frame)
            clock = {"ms": datetime_to_ms(STOP_FROM)}
            feed = MemoryFeed()
            registry = BotRegistry.from_app_config(
                config, db, feed, clock_ms=lambda: clock["ms"], checkpoint_s=0.0
            )
            try:
                _, params = traded_parameter_set(config)
                started, _ = await registry.sync_bots_with_approved_tokens(["SOL"], "quad_ma", params)
                assert started == ["SOL"]
                later = frame.filter((pl.col("timestamp") >= STOP_FROM) & (pl.col("timestamp") < END))
                for bar in bars_from_frame(later, symbol="SOL", interval="1h"):
                    clock["ms"] = bar.t + HOUR + 1_000
                    feed.publish(bar)

                async def stop_stored() -> bool:
                    return bool(await db.list_bot_events(kind="stop"))

                await wait_for(stop_stored, timeout=60, what="the drawdown stop to be stored", interval=0.05)
            finally:
                await registry.shutdown_all()
            (bot,) = await db.list_bots()
            events = json.loads(json.dumps([e.to_json_dict() for e in await db.list_bot_events(limit=50)]))
        finally:
            await db.close()
        yield Stopped(config=config, bot_id=bot.bot_id, events=events)


@pytest.fixture
def token_config(market: Market) -> AppConfig:
    """The market's configuration with a dashboard token (for the security tests)."""
    return replace(market.config, server=replace(market.config.server, token="a-token-of-24-characters"))


class ThreadedServer:
    """A :class:`DashboardServer` on its own event loop in a thread, for a blocking client (Selenium)."""

    def __init__(self, config: AppConfig, *, host: str = "127.0.0.1", clock: Callable[[], datetime]) -> None:
        self.server = DashboardServer(config, server=replace(config.server, host=host, port=0), clock=clock)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dashboard", daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def served(market: Market) -> Iterator[ThreadedServer]:
    """The dashboard on 127.0.0.1 (a free port), as of an hour after the market's last sweep."""
    with ThreadedServer(market.config, clock=market.now) as server:
        yield server


@pytest.fixture
def threaded_server() -> type[ThreadedServer]:
    return ThreadedServer
