"""`bots list|status|stop|prune`: whether a daemon really runs the bots, when each last wrote, stopping
and pruning rows, and a status that reads like a report (no raw floats, no JSON blobs)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from algo_trade_data import BotRecord, DatabaseClient, announce_daemon, live_daemons
from algo_trade_data.testing import temporary_database

from .conftest import Cli

POSITION = {
    "side": "long",
    "quantity": 53.56671234,
    "entry_price": 186.68312345,
    "entry_time": "2025-07-26T01:03:00+00:00",
    "entry_fee": 4.49961234,
    "mark_price": 187.01234567,
    "unrealized_pnl": 13.13456789,
    "take_profit": 190.4167873,
    "stop_loss": 184.8162923,
}


def row(symbol: str, state: str, age: timedelta, *, position: dict[str, Any] | None = None) -> BotRecord:
    now = datetime.now(UTC)
    return BotRecord(
        bot_id=f"quad_ma:{symbol}",
        symbol=symbol,
        strategy_name="quad_ma",
        parameters={"short_1": 5, "short_2": 10},
        interval="1m",
        state=state,
        created_at=now - timedelta(days=60),
        updated_at=now - age,
        error="bar 2025-07-26T01:00:00+00:00: boom" if state == "error" else None,
        position={
            "version": 1,
            "open_position": position,
            "num_trades": 3,
            "num_fills": 7,
            "realized_pnl": 123.45678912,
            "bars": 500,
        },
        equity=Decimal("10123.45678912"),
        last_candle_time=now - age - timedelta(minutes=1),
    )


def rows() -> tuple[BotRecord, ...]:
    """The bots of every test, last written some time before now."""
    return (
        row("BTC", "running", timedelta(hours=2), position=POSITION),
        row("ETH", "running", timedelta(minutes=3)),
        row("SOL", "stopped", timedelta(days=10)),
        row("DOGE", "error", timedelta(days=30)),
        row("NEAR", "stopped", timedelta(days=1)),
    )


@pytest.fixture(scope="module")
async def bots_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        yield url


async def _reset(url: str) -> None:
    async with await DatabaseClient.connect(url) as db:
        await db.delete_bots([b.bot_id for b in await db.list_bots()])
        for record in rows():
            await db.upsert_bot(record)


@pytest.fixture
def bots(bots_url: str) -> Cli:
    asyncio.run(_reset(bots_url))
    return Cli(bots_url)


@contextmanager
def daemon_alive(url: str) -> Iterator[None]:
    """Hold a daemon's presence lock from another thread (as a daemon in another process would)."""
    ready, release = threading.Event(), threading.Event()

    async def hold() -> None:
        async with await DatabaseClient.connect(url) as db, announce_daemon(db):
            ready.set()
            await asyncio.to_thread(release.wait)

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    try:
        assert ready.wait(30), "the daemon lock was not taken"
        yield
    finally:
        release.set()
        thread.join(30)


async def test_a_daemon_is_present_exactly_while_it_holds_the_lock(bots_url: str) -> None:
    async with await DatabaseClient.connect(bots_url) as db:
        assert await live_daemons(db) == []
        async with announce_daemon(db):
            (daemon,) = await live_daemons(db)
            assert daemon.pid == os.getpid()
            assert f"pid {os.getpid()} on " in daemon.describe()
        assert await live_daemons(db) == []


def test_list_says_no_daemon_runs_the_running_bots(bots: Cli) -> None:
    rows = {b["bot_id"]: b for b in bots.json("bots", "list")}
    assert set(rows) == {"quad_ma:BTC", "quad_ma:ETH", "quad_ma:DOGE"}  # stopped ones need --all
    assert rows["quad_ma:BTC"]["trading"] is False
    assert 7100 < rows["quad_ma:BTC"]["last_seen_seconds"] < 7300
    out = bots("bots", "list")
    assert "running (idle: no daemon)" in out
    assert "daemon: none running: the 2 bot(s) marked running are idle" in " ".join(out.split())
    assert re.search(r"quad_ma:BTC .* 2h 0\dm ago", out)


def test_list_shows_a_live_daemon(bots: Cli, bots_url: str) -> None:
    with daemon_alive(bots_url):
        rows = {b["bot_id"]: b for b in bots.json("bots", "list", "--all")}
        out = bots("bots", "list")
    assert rows["quad_ma:BTC"]["trading"] is True
    assert rows["quad_ma:SOL"]["trading"] is False  # stopped: nobody trades it
    assert f"daemon: running (pid {os.getpid()} on " in out
    assert "idle" not in out


def test_status_reads_like_a_report(bots: Cli) -> None:
    out = bots("bots", "status", "quad_ma:BTC")
    assert "{" not in out  # no JSON blob
    assert not re.search(r"\d\.\d{5,}", out)  # no raw floats
    text = " ".join(out.split())
    assert "long 53.5667 @ 186.683 since 2025-07-26 01:03; mark 187.012, unrealised 13.13" in text
    assert "take-profit 190.417, stop-loss 184.816" in text
    assert "equity 10,123.46" in text
    assert "realised PnL 123.46" in text
    assert "quad_ma: short_1=5 short_2=10" in text
    assert "running (idle: no daemon runs it)" in text
    detail = bots.json("bots", "status", "quad_ma:BTC")
    assert detail["position"]["quantity"] == pytest.approx(53.56671234)


def test_stop_marks_bots_stopped_and_says_what_happens_to_a_position(bots: Cli) -> None:
    out = " ".join(bots("bots", "stop", "quad_ma:BTC").split())
    assert "quad_ma:BTC: running → stopped (a restarted daemon will not resume it)" in out
    assert "open paper position (long 53.5667 @ 186.683, unrealised 13.13 at the last close)" in out
    assert "no closing fill is recorded" in out
    states = {b["bot_id"]: b["state"] for b in bots.json("bots", "list", "--all")}
    assert states["quad_ma:BTC"] == "stopped"
    assert states["quad_ma:ETH"] == "running"
    assert "already stopped" in bots("bots", "stop", "quad_ma:BTC")
    bots("bots", "stop", "quad_ma:NOPE", code=1)
    bots("bots", "stop", code=2)  # neither ids nor --all
    bots("bots", "stop", "quad_ma:ETH", "--all", code=2)
    bots("bots", "stop", "--all")
    assert {b["state"] for b in bots.json("bots", "list", "--all")} == {"stopped"}


def test_stop_is_refused_while_a_daemon_runs_the_bots(bots: Cli, bots_url: str) -> None:
    with daemon_alive(bots_url):
        out = " ".join(bots("bots", "stop", "--all", code=1).split())
    assert f"a daemon runs the bots (pid {os.getpid()} on " in out
    assert "Stop the daemon first" in out
    assert {b["state"] for b in bots.json("bots", "list")} >= {"running"}  # nothing changed


def test_prune_removes_old_stopped_and_failed_bots(bots: Cli) -> None:
    dry = bots.json("bots", "prune", "--dry-run")
    assert sorted(dry["bots"]) == ["quad_ma:DOGE", "quad_ma:SOL"]  # NEAR stopped 1 day ago: kept
    assert dry["deleted"] == 0
    out = bots("bots", "prune", "--dry-run")
    assert "would remove 2 bot(s)" in out
    assert "nothing was removed" in out
    assert len(bots.json("bots", "list", "--all")) == 5
    done = json.loads(bots("bots", "prune", "--older-than-days", "0.5", "--json", stdout_only=True))
    assert sorted(done["bots"]) == ["quad_ma:DOGE", "quad_ma:NEAR", "quad_ma:SOL"]
    assert done["deleted"] == 3
    assert sorted(b["bot_id"] for b in bots.json("bots", "list", "--all")) == ["quad_ma:BTC", "quad_ma:ETH"]
    assert "nothing to prune" in bots("bots", "prune")


def test_the_live_states_are_the_bot_orchestrators() -> None:
    from algo_trade_bot_orchestrator import LIVE_STATES
    from algo_trade_cli.cmd_bots import _LIVE

    assert set(_LIVE) == LIVE_STATES
