"""Bots and fills against the real local PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from algo_trade_core import DatabaseError, Fill, OrderSide
from algo_trade_data._database import DatabaseClient
from algo_trade_data._records import BotRecord, FillRecord

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def bot(symbol: str = "BTC", **changes: object) -> BotRecord:
    base = BotRecord(
        bot_id=f"quad_ma:{symbol}",
        symbol=symbol,
        strategy_name="quad_ma",
        parameters={"short_1": 5, "long_2": 50},
        interval="1m",
        state="running",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def fill(i: int, bot_id: str | None = "quad_ma:BTC", symbol: str = "BTC") -> FillRecord:
    return FillRecord(
        fill_id=f"{bot_id}:{i}",
        symbol=symbol,
        side="buy" if i % 2 == 0 else "sell",
        quantity=Decimal("0.0123"),
        price=Decimal("104523.5"),
        fee=Decimal("0.5785"),
        timestamp=NOW + timedelta(minutes=i),
        reason="entry" if i % 2 == 0 else "take_profit",
        bot_id=bot_id,
    )


async def test_bots_upsert_get_list_state_delete(clean_db: DatabaseClient) -> None:
    await clean_db.upsert_bot(bot("BTC"))
    await clean_db.upsert_bot(bot("kPEPE", bot_id="quad_ma:kPEPE"))
    position = {"side": "long", "quantity": "0.5", "entry_price": "104000.1", "pending_reversal": None}
    later = bot(
        "BTC",
        state="paused",
        updated_at=NOW + timedelta(hours=1),
        created_at=NOW + timedelta(days=9),
        position=position,
        equity=Decimal("10123.45678901"),
        last_candle_time=NOW,
    )
    await clean_db.upsert_bot(later)
    stored = await clean_db.get_bot("quad_ma:BTC")
    assert stored == replace(later, created_at=NOW)  # created_at is kept from the first insert
    assert [b.bot_id for b in await clean_db.list_bots()] == ["quad_ma:BTC", "quad_ma:kPEPE"]
    assert [b.symbol for b in await clean_db.list_bots(state="running")] == ["kPEPE"]

    assert await clean_db.set_bot_state("quad_ma:kPEPE", "error", error="feed lost")
    errored = await clean_db.get_bot("quad_ma:kPEPE")
    assert errored is not None
    assert (errored.state, errored.error) == ("error", "feed lost")
    assert errored.updated_at > NOW
    assert not await clean_db.set_bot_state("nope", "running")

    assert await clean_db.delete_bot("quad_ma:kPEPE")
    assert not await clean_db.delete_bot("quad_ma:kPEPE")
    assert await clean_db.get_bot("quad_ma:kPEPE") is None


async def test_fills_are_idempotent_on_their_id(clean_db: DatabaseClient) -> None:
    fills = [fill(i) for i in range(5)]
    assert await clean_db.insert_fills(fills) == 5
    # A restarted bot replays the last two fills and adds one: only the new one is stored.
    assert await clean_db.insert_fills([*fills[3:], fill(5)]) == 1
    stored = await clean_db.list_fills(bot_id="quad_ma:BTC")
    assert stored == [*fills, fill(5)]
    assert await clean_db.insert_fills([]) == 0


async def test_core_fills_get_a_deterministic_key(clean_db: DatabaseClient) -> None:
    core = Fill(
        symbol="ETH",
        side=OrderSide.SELL,
        quantity=Decimal("1.5"),
        price=Decimal("3500.25"),
        fee=Decimal("2.36"),
        timestamp=NOW,
        reason="stop_loss",
        bot_id="quad_ma:ETH",
    )
    assert await clean_db.insert_fills([core]) == 1
    assert await clean_db.insert_fills([core]) == 0
    assert await clean_db.insert_fills([replace(core, timestamp=NOW + timedelta(minutes=1))]) == 1
    (first, _) = await clean_db.list_fills(symbol="ETH")
    assert (first.side, first.quantity, first.fill_id) == ("sell", Decimal("1.5"), FillRecord.key_of(core))


async def test_fills_filter_by_bot_symbol_and_time(clean_db: DatabaseClient) -> None:
    await clean_db.insert_fills([fill(i) for i in range(3)] + [fill(i, None, "SOL") for i in range(2)])
    assert len(await clean_db.list_fills()) == 5
    assert len(await clean_db.list_fills(symbol="SOL")) == 2
    assert [f.fill_id for f in await clean_db.list_fills(since=NOW + timedelta(minutes=2))] == [
        "quad_ma:BTC:2"
    ]
    assert len(await clean_db.list_fills(limit=2)) == 2


async def test_fill_columns_are_one_bots_fills_as_stored_oldest_first(clean_db: DatabaseClient) -> None:
    await clean_db.insert_fills([fill(i) for i in (2, 0, 1)] + [fill(i, None, "SOL") for i in range(2)])
    columns = await clean_db.query_fill_columns("quad_ma:BTC", since=NOW + timedelta(minutes=1))
    stored = await clean_db.list_fills(bot_id="quad_ma:BTC", since=NOW + timedelta(minutes=1))
    assert columns.t.tolist() == [int(f.timestamp.timestamp() * 1000) for f in stored]
    assert ["buy" if b else "sell" for b in columns.buy] == [f.side for f in stored] == ["sell", "buy"]
    assert columns.price.tolist() == [float(f.price) for f in stored]
    assert columns.quantity.tolist() == [0.0123, 0.0123]
    assert columns.fee.tolist() == [0.5785, 0.5785]
    assert [columns.reasons[i] for i in columns.reason] == [f.reason for f in stored]
    assert len(await clean_db.query_fill_columns("quad_ma:NOPE")) == 0


async def test_an_invalid_fill_fails_the_whole_batch(clean_db: DatabaseClient) -> None:
    bad = replace(fill(1), quantity=Decimal(0))
    with pytest.raises(DatabaseError, match="insert_fills"):
        await clean_db.insert_fills([fill(0), bad])
    assert await clean_db.list_fills() == []


async def test_bots_state_and_delete_in_one_statement_each(clean_db: DatabaseClient) -> None:
    for symbol in ("BTC", "ETH", "SOL"):
        await clean_db.upsert_bot(bot(symbol, bot_id=f"quad_ma:{symbol}", state="error", error="boom"))
    assert await clean_db.set_bots_state(["quad_ma:BTC", "quad_ma:ETH", "quad_ma:NOPE"], "stopped") == 2
    states = {b.bot_id: (b.state, b.error) for b in await clean_db.list_bots()}
    assert states == {
        "quad_ma:BTC": ("stopped", None),
        "quad_ma:ETH": ("stopped", None),
        "quad_ma:SOL": ("error", "boom"),
    }
    assert await clean_db.delete_bots(["quad_ma:BTC", "quad_ma:SOL", "quad_ma:NOPE"]) == 2
    assert [b.bot_id for b in await clean_db.list_bots()] == ["quad_ma:ETH"]
    assert await clean_db.set_bots_state([], "stopped") == 0
    assert await clean_db.delete_bots([]) == 0
