"""Run bookkeeping and honest failures: interrupted runs, a database outage, an unreachable exchange."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import polars as pl
import pytest

from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary
from algo_trade_core import HyperliquidConfig, SchedulerConfig
from algo_trade_data import (
    BacktestRunRecord,
    DatabaseClient,
    HyperliquidClient,
    WeightRateLimiter,
    synthetic_candles,
    this_host,
)
from algo_trade_data.testing import ManualClock, resolve_admin_url, temporary_client, wait_for

END = datetime(2026, 1, 1, tzinfo=UTC)
SYMBOLS = ("SYNA", "SYNB", "SYNC")


def config(**kw: Any) -> SchedulerConfig:
    base: dict[str, Any] = {
        "token_universe": SYMBOLS,
        "backtest_window_days": 2,
        "refresh_data": False,
        "exchange": "hyperliquid",
        "strategies": ("ma_crossover",),
        "max_workers": 2,
    }
    return SchedulerConfig(**(base | kw))


async def store_candles(db: DatabaseClient) -> None:
    frames = [synthetic_candles(s, "1m", END, 2 * 1440) for s in SYMBOLS]
    await db.upsert_candles(pl.concat(frames).with_columns(pl.lit("hyperliquid").alias("exchange")))


class Progress:
    """The sweep's progress callback, counted."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str | None]] = []

    def __call__(self, phase: str, symbol: str | None) -> None:
        self.steps.append((phase, symbol))

    def count(self, phase: str) -> int:
        return sum(1 for p, _ in self.steps if p == phase)


@pytest.fixture
def dead_pid() -> int:
    """The id of a process of this machine that has exited."""
    proc = subprocess.run([sys.executable, "-c", "pass"], check=True)
    del proc
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The id of another live process of this machine (a concurrent sweep's stand-in)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


async def add_run(db: DatabaseClient, run_id: str, **kw: Any) -> None:
    started = kw.pop("started_at", datetime.now(UTC) - timedelta(minutes=2))
    await db.record_run(
        BacktestRunRecord(run_id=run_id, started_at=started, finished_at=None, status="running", **kw)
    )


async def test_runs_nobody_will_finish_are_marked_interrupted_by_the_next_sweep(
    db: DatabaseClient, dead_pid: int, live_pid: int
) -> None:
    await store_candles(db)
    now = datetime.now(UTC)
    host = this_host()
    await add_run(db, "killed", owner_host=host, owner_pid=dead_pid, heartbeat_at=now)
    await add_run(db, "concurrent", owner_host=host, owner_pid=live_pid, heartbeat_at=now)
    await add_run(
        db, "silent-elsewhere", owner_host="other-box", owner_pid=7, heartbeat_at=now - timedelta(hours=1)
    )
    await add_run(db, "busy-elsewhere", owner_host="other-box", owner_pid=8, heartbeat_at=now)
    await add_run(db, "old-unowned", started_at=now - timedelta(hours=3))
    await add_run(db, "mine-but-dead", owner_host=host, owner_pid=os.getpid(), heartbeat_at=now)
    scheduler = BacktestScheduler(config(), db, None)
    try:
        summary = await scheduler.run_once(END)
    finally:
        await scheduler.shutdown()
    assert summary.status == "ok", summary.errors
    runs = {r.run_id: r for r in await db.list_runs(20)}
    assert {k: r.status for k, r in runs.items() if k != summary.run_id} == {
        "killed": "interrupted",
        "concurrent": "running",
        "silent-elsewhere": "interrupted",
        "busy-elsewhere": "running",
        "old-unowned": "interrupted",
        "mine-but-dead": "interrupted",
    }
    assert runs["killed"].errors["*"].startswith(f"no finish recorded; process gone ({host}:{dead_pid}")
    assert "no heartbeat from other-box:7 for 60 min" in runs["silent-elsewhere"].errors["*"]
    assert runs["killed"].finished_at is not None
    mine = runs[summary.run_id]
    assert (mine.status, mine.owner_host, mine.owner_pid) == ("ok", host, os.getpid())
    assert any("marked 4 earlier run(s) interrupted" in note for note in summary.notes)


async def test_the_scheduler_marks_them_when_it_starts(db: DatabaseClient, dead_pid: int) -> None:
    await add_run(db, "killed", owner_host=this_host(), owner_pid=dead_pid, heartbeat_at=datetime.now(UTC))
    scheduler = BacktestScheduler(config(cron_expression="0 0 3 * * *"), db, None)
    scheduler.start()
    try:

        async def marked() -> bool:
            run = await db.get_run("killed")
            return run is not None and run.status == "interrupted"

        await wait_for(marked, 10, "the killed run to be marked at scheduler start", interval=0.05)
    finally:
        await scheduler.shutdown()


async def test_two_concurrent_sweeps_do_not_mark_each_other(db: DatabaseClient) -> None:
    await store_candles(db)
    first, second = BacktestScheduler(config(), db, None), BacktestScheduler(config(), db, None)
    started = asyncio.Event()

    def progress(phase: str, symbol: str | None) -> None:
        started.set()

    async def second_after_first_started() -> RunSummary:
        await started.wait()
        return await second.run_once(END)

    try:
        a, b = await asyncio.gather(first.run_once(END, progress=progress), second_after_first_started())
    finally:
        await first.shutdown()
        await second.shutdown()
    assert (a.status, b.status) == ("ok", "ok")
    assert {r.run_id: r.status for r in await db.list_runs(5)} == {a.run_id: "ok", b.run_id: "ok"}


@pytest.fixture
async def victim() -> AsyncIterator[DatabaseClient]:
    """A database of its own, which the test takes away (refused connections, killed backends)."""
    async with temporary_client(max_connections=3) as client:
        yield client


async def take_database_away(db: DatabaseClient) -> str:
    async with db.pool.acquire() as conn:
        name: str = await conn.fetchval("SELECT current_database()")
    admin = await asyncpg.connect(resolve_admin_url())
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()
    return name


async def give_database_back(name: str) -> None:
    admin = await asyncpg.connect(resolve_admin_url())
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


async def test_a_sweep_during_a_database_outage_says_so_once_and_counts_no_token_ok(
    victim: DatabaseClient, capfd: pytest.CaptureFixture[str]
) -> None:
    await store_candles(victim)
    name = await take_database_away(victim)
    progress = Progress()
    scheduler = BacktestScheduler(config(), victim, None)
    try:
        await asyncio.sleep(1.5)  # asyncpg's pool tries (and fails) to restore its connection floor
        summary = await scheduler.run_once(END, progress=progress)
    finally:
        await scheduler.shutdown()
        await give_database_back(name)
    assert summary.status == "failed"
    assert summary.error is not None
    assert summary.error.startswith("the database is unavailable, nothing was run: ")
    assert summary.tokens_ok == 0
    assert {t.error for t in summary.tokens} == {"not run (database unavailable)"}
    assert (progress.count("load"), progress.count("backtest"), progress.count("insert")) == (3, 3, 1)
    err = capfd.readouterr().err
    assert "Failed to restore the pool connection floor" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://api.hyperliquid.invalid"])
async def test_offline_a_sweep_backtests_the_stored_candles_and_says_so_in_one_line(
    db: DatabaseClient, url: str
) -> None:
    await store_candles(db)
    clock = ManualClock()
    cfg = HyperliquidConfig(api_url=url, max_retries=5)
    limiter = WeightRateLimiter(1200, clock=clock.monotonic, sleep=clock.sleep)
    progress = Progress()
    async with HyperliquidClient(cfg, limiter=limiter, sleep=clock.sleep) as hl:
        scheduler = BacktestScheduler(config(refresh_data=True), db, hl)
        try:
            summary = await scheduler.run_once(END, progress=progress)
        finally:
            await scheduler.shutdown()
    assert summary.status == "ok", summary.errors
    assert summary.tokens_ok == len(SYMBOLS)
    [note] = [n for n in summary.notes if "refresh" in n]
    assert note.startswith("no refresh, backtested on the stored candles: ")
    assert "Hyperliquid is unreachable" in note
    assert all(not t.notes or "partial window" in t.notes[0] for t in summary.tokens)  # nothing per token
    assert clock.sleeps == []  # asked once, no retry, no backoff
    assert [progress.count(p) for p in ("refresh", "load", "backtest", "insert")] == [3, 3, 3, 1]
