"""`bots events`: stored stops, alerts and shadow events, oldest first, filtered by --since/--bot/--kind;
`bots list` marks shadow bots and says why a protection stopped a bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from algo_trade_bot_orchestrator import BotConfig
from algo_trade_data import BotEventRecord, BotRecord, DatabaseClient
from algo_trade_data.testing import temporary_database, truncate_tables

from .conftest import Cli

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(minutes: int, bot_id: str, kind: str, reason: str) -> BotEventRecord:
    return BotEventRecord(
        event_key=f"{bot_id}:{minutes}:{kind}",
        time=T + timedelta(minutes=minutes),
        bot_id=bot_id,
        symbol=bot_id.rsplit(":", 1)[-1],
        strategy_name="ma_crossover",
        kind=kind,
        details={"reason": reason, "rule": "max_drawdown"},
    )


def bot(config: BotConfig, state: str, stop_reason: str | None = None) -> BotRecord:
    return BotRecord(
        bot_id=config.bot_id,
        symbol=config.symbol,
        strategy_name=config.strategy,
        parameters=dict(config.parameters),
        interval="1m",
        state=state,
        created_at=T,
        updated_at=T,
        position={"version": 1, "config": config.to_json_dict(), "stop_reason": stop_reason},
        equity=Decimal(10_000),
    )


@pytest.fixture(scope="module")
async def url() -> AsyncIterator[str]:
    async with temporary_database() as u:
        yield u


async def _fill(url: str) -> None:
    async with await DatabaseClient.connect(url) as db:
        await truncate_tables(db)
        await db.insert_bot_events(
            [
                event(0, "shadow:ma_crossover:ETH", "shadow_started", "token deselected"),
                event(30, "ma_crossover:DOGE", "alert", "divergence check failed (1 of 3 in a row)"),
                event(90, "ma_crossover:DOGE", "stop", "drawdown 31.00% reached max_drawdown 30.00%"),
            ]
        )
        assert await db.insert_bot_events([event(90, "ma_crossover:DOGE", "stop", "again")]) == 0
        live = BotConfig(symbol="DOGE", strategy="ma_crossover")
        shadow = BotConfig(
            symbol="ETH", strategy="ma_crossover", bot_id="shadow:ma_crossover:ETH", shadow_until_ms=1
        )
        await db.upsert_bot(bot(live, "stopped", "max_drawdown: drawdown 31.00% reached max_drawdown 30.00%"))
        await db.upsert_bot(bot(shadow, "running"))


@pytest.fixture
def cli(url: str) -> Cli:
    asyncio.run(_fill(url))
    return Cli(url)


def test_events_lists_stops_alerts_and_shadows_oldest_first_with_filters(cli: Cli) -> None:
    rows = cli.json("bots", "events")
    assert [(r["bot_id"], r["kind"]) for r in rows] == [
        ("shadow:ma_crossover:ETH", "shadow_started"),
        ("ma_crossover:DOGE", "alert"),
        ("ma_crossover:DOGE", "stop"),  # stored once: the replayed key was ignored
    ]
    assert rows[2]["details"]["reason"] == "drawdown 31.00% reached max_drawdown 30.00%"
    assert rows[2]["time"] == "2026-03-01T13:30:00+00:00"
    since = cli.json("bots", "events", "--since", "2026-03-01T12:15")
    assert [r["kind"] for r in since] == ["alert", "stop"]
    assert [r["kind"] for r in cli.json("bots", "events", "--kind", "stop")] == ["stop"]
    assert [r["kind"] for r in cli.json("bots", "events", "--bot", "ma_crossover:DOGE", "--limit", "1")] == [
        "stop"
    ]
    text = " ".join(cli("bots", "events").split())
    assert "3 bot event(s)" in text
    assert "drawdown 31.00% reached max_drawdown 30.00%" in text
    cli("bots", "events", "--since", "yesterday-ish", code=2)
    cli("bots", "events", "--since", "-3h", code=2)
    assert cli.json("bots", "events", "--since", "1h") == []  # the events are months old
    assert len(cli.json("bots", "events", "--since", "36500d")) == 3
    assert "no bot events since" in cli("bots", "events", "--since", "2027-01-01")


def test_list_marks_shadow_bots_and_protection_stops(cli: Cli) -> None:
    rows = {b["bot_id"]: b for b in cli.json("bots", "list", "--all")}
    assert rows["shadow:ma_crossover:ETH"]["shadow"] is True
    assert rows["ma_crossover:DOGE"]["shadow"] is False
    assert rows["ma_crossover:DOGE"]["stop_reason"].startswith("max_drawdown")
    text = " ".join(cli("bots", "list", "--all").split())
    assert "1 of them shadow (token deselected)" in text
    assert "shadow running" in text
    status = " ".join(cli("bots", "status", "ma_crossover:DOGE").split())
    assert "stopped; stopped by max_drawdown: drawdown 31.00% reached max_drawdown 30.00%" in status
    assert "shadow (token deselected" in cli("bots", "status", "shadow:ma_crossover:ETH")


def test_config_show_hides_the_webhook_url(url: str) -> None:
    cli = Cli(url)
    cli.env["ALGO_TRADE__BOTS__ALERTS__WEBHOOK_URL"] = "https://hooks.example.com/services/T1/B2/sekret"
    out = cli("config", "show")
    assert 'webhook_url = "***"' in out
    assert "sekret" not in out
