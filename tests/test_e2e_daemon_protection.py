"""The daemon for a compressed week: 168 hourly bars of three approved tokens streamed by the fake
exchange, one of them prepared to lose. Its bot's max-drawdown protection fires, the stop is stored in
bot_events, logged to the alert file and POSTed to a local webhook receiver; the following sweeps keep
approving the token but bot sync leaves it stopped (cooldown); the other bots trade the whole week
exactly as the offline engine does on the same bars."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from aiohttp import web

from algo_trade_bot_orchestrator import BotConfig, BotState, FeedBar, PaperBook, strategy_warmup_bars
from algo_trade_core import AlertsConfig, BotsConfig, ProtectionConfig, ms_to_datetime
from algo_trade_data import CANDLE_FRAME_SCHEMA, DatabaseClient
from algo_trade_data.testing import FakeHyperliquid, wait_for
from algo_trade_pipeline import Daemon

from .conftest import client_for, daemon_config

HOUR = 3_600_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % HOUR
HISTORY, WEEK = 72, 168
COINS = ("DOGE", "BTC", "ETH")  # DOGE is prepared to lose
PARAMS = {"fast": 5, "slow": 20}
LIMIT = 0.15


def closes() -> dict[str, np.ndarray]:
    """DOGE rises gently (its backtest is fine), then zigzags 8 % every day: a crossover's worst case."""
    n = HISTORY + WEEK + 2
    hist = 100 * np.exp(np.linspace(0, 0.05, HISTORY))
    k = np.arange(n - HISTORY)
    tri = np.abs((k % 24) - 12) / 12
    out = {"DOGE": np.concatenate((hist, hist[-1] * (1 + 0.08 * (tri - 1))))}
    for seed, coin in ((1, "BTC"), (3, "ETH")):
        rng = np.random.default_rng(seed)
        out[coin] = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    return out


def frame(coin: str, close: np.ndarray) -> pl.DataFrame:
    n = close.size
    open_ = np.concatenate(([close[0]], close[:-1]))
    return pl.DataFrame(
        {
            "timestamp": pl.Series(T0 + HOUR * np.arange(n, dtype=np.int64)).cast(pl.Datetime("ms", "UTC")),
            "symbol": coin,
            "exchange": "hyperliquid",
            "interval": "1h",
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": np.full(n, 1_000.0),
            "trades": pl.Series(np.full(n, 10), dtype=pl.Int64),
        },
        schema=CANDLE_FRAME_SCHEMA,
    )


def offline_equity(coin: str, f: pl.DataFrame) -> np.ndarray:
    """Equity after each bar of the week of a bot warmed up like the daemon's (the bars just before)."""
    book = PaperBook(BotConfig(symbol=coin, strategy="ma_crossover", parameters=PARAMS, interval="1h"))
    need = strategy_warmup_bars("ma_crossover", PARAMS)
    bars = f.select(pl.col("timestamp").dt.epoch("ms").alias("t"), "open", "high", "low", "close", "volume")
    book.warm_up(bars[HISTORY - need : HISTORY])
    out = []
    for t, o, h, lo, c, v in bars[HISTORY : HISTORY + WEEK].iter_rows():
        book.on_bar(FeedBar(symbol=coin, interval="1h", t=t, open=o, high=h, low=lo, close=c, volume=v))
        out.append(book.equity)
    return np.array(out)


def drawdowns(equity: np.ndarray, capital: float) -> np.ndarray:
    return 1 - equity / np.maximum.accumulate(np.concatenate(([capital], equity)))[1:]


class Webhook:
    """A local incoming-webhook receiver (Slack/Discord style): it records every JSON POST."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.posts.append(await request.json())
        return web.Response(text="ok")

    async def __aenter__(self) -> Webhook:
        app = web.Application()
        app.router.add_post("/hook/secret", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook/secret"  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    async with Webhook() as hook:
        yield hook


async def test_a_week_in_which_one_bot_is_stopped_by_its_protection_and_the_others_trade_on(
    db: DatabaseClient, webhook: Webhook, tmp_path: Path
) -> None:
    frames = {coin: frame(coin, close) for coin, close in closes().items()}
    expected = {coin: offline_equity(coin, f) for coin, f in frames.items()}
    capital = 10_000.0
    breach = int(np.argmax(drawdowns(expected["DOGE"], capital) >= LIMIT))
    assert drawdowns(expected["DOGE"], capital)[breach] >= LIMIT  # prepared to lose
    for coin in ("BTC", "ETH"):
        assert drawdowns(expected[coin], capital).max() < LIMIT  # the others never reach the limit

    now0 = T0 + HISTORY * HOUR  # bar HISTORY - 1 has just closed
    fake = FakeHyperliquid(now_ms=now0 + 1_000)
    for coin, f in frames.items():
        fake.add_candles(coin, "1h", f)
    alert_log = tmp_path / "alerts.jsonl"
    async with fake, client_for(fake) as rest:
        cfg = daemon_config(fake, COINS)
        cfg = replace(
            cfg,
            scheduler=replace(cfg.scheduler, interval="1h", backtest_window_days=2),
            bots=BotsConfig(
                interval="1h",
                protection=ProtectionConfig(max_drawdown=LIMIT, cooldown_hours=24 * 30),
                alerts=AlertsConfig(log_file=str(alert_log), webhook_url=webhook.url, webhook_timeout_s=2.0),
            ),
        )
        daemon = Daemon(cfg, db, rest, clock_ms=lambda: fake.now_ms)
        await daemon.start()
        try:
            registry = daemon.registry
            assert registry is not None
            await wait_for(lambda: daemon.cycle_count >= 1, timeout=30, what="the first sweep")
            first = daemon.cycles[0]
            assert first.summary.status == "ok", first.summary.errors
            assert first.selection is not None, first
            assert sorted(first.started) == sorted(COINS), first
            bots = {c: registry.get_bot(f"ma_crossover:{c}") for c in COINS}
            for coin in COINS:
                fake.ws.start_replay(coin, "1h", start_index=HISTORY, updates_per_bar=2)
            await wait_for(lambda: all(daemon.hub.is_subscribed(c, "1h") for c in COINS), timeout=10)  # type: ignore[union-attr]

            def handled(coin: str, index: int) -> bool:
                bot = bots[coin]
                last = bot.status().last_candle_time  # type: ignore[union-attr]
                return bot.done or (last is not None and last >= ms_to_datetime(T0 + index * HOUR))  # type: ignore[union-attr]

            for day in range(7):  # a day at a time; the cron keeps sweeping meanwhile
                await fake.ws.step(updates=2 * 24)
                last = HISTORY + 24 * day + 22  # the last bar closed by the pushes so far
                await wait_for(
                    lambda i=last: all(handled(c, i) for c in COINS), timeout=30, what=f"day {day + 1}"
                )

            losing = bots["DOGE"]
            assert losing is not None
            await wait_for(lambda: losing.done, timeout=10, what="the losing bot to stop")
            assert losing.status().state is BotState.STOPPED
            assert losing.status().position is None
            assert losing.status().stop_reason.startswith("max_drawdown")  # type: ignore[union-attr]

            # Stored (once), logged to the alert file and sent to the webhook.
            (event,) = await db.list_bot_events(kind="stop")
            assert event.bot_id == "ma_crossover:DOGE"
            assert event.details["rule"] == "max_drawdown"
            assert event.time == ms_to_datetime(T0 + (HISTORY + breach + 1) * HOUR)  # the breach bar's close
            assert event.details["drawdown"] == pytest.approx(
                drawdowns(expected["DOGE"], capital)[breach], rel=1e-9
            )
            await wait_for(lambda: len(webhook.posts) >= 1, timeout=10, what="the webhook POST")
            assert webhook.posts[0]["event"] == event.to_json_dict()
            assert "ma_crossover:DOGE stop" in webhook.posts[0]["text"]
            assert [json.loads(line) for line in alert_log.read_text().splitlines()] == [event.to_json_dict()]

            # Still approved by every sweep, never restarted: the cooldown holds.
            seen = daemon.cycle_count
            await wait_for(lambda: daemon.cycle_count >= seen + 2, timeout=30, what="two more sweeps")
            assert "DOGE" in daemon.cycles[-1].selection.approved  # type: ignore[union-attr]
            assert registry.get_bot("ma_crossover:DOGE") is None
            assert (await db.get_bot("ma_crossover:DOGE")).state == "stopped"  # type: ignore[union-attr]

            # The other bots are unaffected: the whole week, exactly as offline, no event of theirs.
            for coin in ("BTC", "ETH"):
                status = bots[coin].status()  # type: ignore[union-attr]
                assert status.state is BotState.RUNNING
                assert status.bars >= WEEK - 1
                assert status.equity == pytest.approx(expected[coin][status.bars - 1], rel=1e-9)
            assert {e.bot_id for e in await db.list_bot_events()} == {"ma_crossover:DOGE"}
        finally:
            await daemon.stop()
