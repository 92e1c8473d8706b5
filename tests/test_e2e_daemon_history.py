"""A daemon killed (SIGKILL) and restarted while its bots trade leaves no hole in the stored 1m candles.

The daemon runs as a real child process (tests/daemon_child.py) against the fake exchange and the real
database. Bars close while it is down: the pushes are lost, and so are the bars still in its candle
recorder's buffer at the kill. The restarted daemon does not sweep (its cron never fires here), so
what fills the hole is the start itself: the restored bots' replay and the background repair. The
stored history is compared bar by bar with what the fake exchange served.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from algo_trade_core import DatabaseConfig, ms_to_datetime, write_config
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import FakeHyperliquid, real_candles, wait_for
from algo_trade_pipeline import Daemon

from .conftest import MINUTE, client_for, daemon_config
from .test_e2e_daemon_kill import Child, bots_state

COINS = ("BTC", "ETH", "SOL")
UPDATES = 2


async def stored(db: DatabaseClient, coin: str) -> pl.DataFrame:
    return await db.query_candles(coin, "1m", ms_to_datetime(0), ms_to_datetime(2**42))


def served(fake: FakeHyperliquid, coin: str, first: int, last: int) -> pl.DataFrame:
    """The bars the fake exchange serves for ``coin`` with open times in [first, last]."""
    rows = [b for b in fake.bars(coin, "1m") if first <= int(b["t"]) <= last]
    return pl.DataFrame(
        {
            "t": [int(b["t"]) for b in rows],
            **{
                name: [float(b[key]) for b in rows]
                for name, key in (("open", "o"), ("close", "c"), ("volume", "v"))
            },
        }
    )


async def test_a_killed_and_restarted_daemon_leaves_no_hole_in_the_1m_history(
    db: DatabaseClient, tmp_path: Path
) -> None:
    frames = {c: real_candles(c) for c in COINS}
    end = min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values())
    now0 = end - 300 * MINUTE
    start_index = {c: int(f["timestamp"].dt.epoch("ms").search_sorted(now0)) for c, f in frames.items()}
    fake = FakeHyperliquid(now_ms=now0 + 1_000)
    for coin, frame in frames.items():
        fake.add_candles(coin, "1m", frame)
    async with fake:
        cfg = daemon_config(fake, COINS)
        cfg = replace(cfg, database=DatabaseConfig(url=db.url, max_connections=4))
        sweeping, quiet = tmp_path / "sweeping.toml", tmp_path / "quiet.toml"
        write_config(cfg, sweeping)
        # The restarted daemon never sweeps during the test: no refresh can hide what the start does.
        write_config(replace(cfg, scheduler=replace(cfg.scheduler, cron_expression="0 0 3 1 1 *")), quiet)
        bot_ids = {f"ma_crossover:{c}" for c in COINS}

        async def last_stored(coin: str) -> int:
            frame = await stored(db, coin)
            return int(frame["timestamp"].dt.epoch("ms")[-1]) if frame.height else -1

        async def recorded_up_to(t: int) -> bool:
            return all([await last_stored(c) >= t for c in COINS])

        first = Child(sweeping, fake.url)
        await first.start()
        try:

            async def all_running() -> bool:
                state = await bots_state(db)
                return {k for k, v in state.items() if v["state"] == "running"} == bot_ids

            await wait_for(
                all_running, 60, "the first daemon to start a bot per approved token", interval=0.1
            )
            for coin in COINS:
                fake.ws.start_replay(coin, "1m", start_index=start_index[coin], updates_per_bar=UPDATES)
            await fake.ws.step(updates=UPDATES * 20 + 1)  # 20 bars closed, live
            await wait_for(
                lambda: recorded_up_to(now0 + 19 * MINUTE), 30, "the live bars in ohlcv", interval=0.1
            )
            await fake.ws.step(updates=UPDATES * 3)  # 3 more closed: maybe still in the recorder's buffer
        finally:
            await first.kill()

        await fake.ws.step(updates=UPDATES * 40)  # 40 bars close while no daemon runs
        second = Child(quiet, fake.url)
        await second.start()
        try:
            await wait_for(
                lambda: bool(second.printed("READY")), 60, "the second daemon to start", interval=0.1
            )
            assert sorted(second.printed("RESTORED")[0].split()[1].split(",")) == sorted(bot_ids)

            async def resubscribed() -> bool:
                return all(fake.ws.subscriber_count(c, "1m") for c in COINS)

            await wait_for(resubscribed, 30, "the second daemon's subscriptions", interval=0.1)
            await fake.ws.step(updates=UPDATES * 20 + 1)  # 20 more bars, live again
            target = now0 + (20 + 3 + 40 + 19) * MINUTE  # the last of them that has surely closed

            async def no_hole() -> bool:
                for coin in COINS:
                    frame = await stored(db, coin)
                    times = frame["timestamp"].dt.epoch("ms")
                    if frame.height == 0 or times[-1] < target:
                        return False
                    if (times.diff().drop_nulls() != MINUTE).any():
                        return False
                return True

            await wait_for(no_hole, 60, "a 1m history without holes up to the last closed bar", interval=0.2)
        finally:
            await second.kill()

        for coin in COINS:
            frame = await stored(db, coin)
            times = frame["timestamp"].dt.epoch("ms")
            assert times[0] < now0 - 1_000 * MINUTE  # the first sweep's window, fetched over REST
            exchange = served(fake, coin, int(times[0]), int(times[-1]))
            assert exchange["t"].to_list() == times.to_list()  # every bar the exchange served, no other
            for column in ("open", "close", "volume"):
                assert frame[column].to_list() == exchange[column].to_list(), (coin, column)


async def test_stopping_the_daemon_writes_the_bars_still_in_the_recorder(db: DatabaseClient) -> None:
    frames = {c: real_candles(c) for c in COINS}
    end = min(int(f["timestamp"].dt.epoch("ms")[-1]) for f in frames.values())
    now0 = end - 100 * MINUTE
    start_index = {c: int(f["timestamp"].dt.epoch("ms").search_sorted(now0)) for c, f in frames.items()}
    fake = FakeHyperliquid(now_ms=now0 + 1_000)
    for coin, frame in frames.items():
        fake.add_candles(coin, "1m", frame)
    async with fake, client_for(fake) as rest:
        cfg = daemon_config(fake, COINS)
        daemon = Daemon(cfg, db, rest, clock_ms=lambda: fake.now_ms)
        await daemon.start()
        try:
            registry = daemon.registry
            assert registry is not None
            assert daemon.hub is not None
            recorder = daemon.hub.recorder
            assert recorder is not None
            await wait_for(lambda: len(registry.list_bots()) == len(COINS), 60, "a bot per token")
            await wait_for(lambda: all(daemon.hub.is_subscribed(c, "1m") for c in COINS), 20)  # type: ignore[union-attr]
            recorder.flush_s = 3_600.0  # nothing is written until the stop
            await recorder.flush()
            for coin in COINS:
                fake.ws.start_replay(coin, "1m", start_index=start_index[coin], updates_per_bar=UPDATES)
            await fake.ws.step(updates=UPDATES * 10 + 1)
            await wait_for(
                lambda: recorder.pending == 10 * len(COINS), 20, "ten closed bars per coin pending"
            )
        finally:
            await daemon.stop()
        assert recorder.pending == 0
        for coin in COINS:
            frame = await stored(db, coin)
            times = frame["timestamp"].dt.epoch("ms").to_list()
            assert [now0 + i * MINUTE for i in range(10)] == [t for t in times if t >= now0]
