"""`bots report`: a real paper bot on real BTC candles, judged against a stored selection-time result.

The database holds what a daemon would have written: the result the bot was approved on (a backtest of
the 3,000 bars before it started), the bot's row and fills (a real bot fed through the MemoryFeed), and
the bars it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from algo_trade_backtest import params_hash, run_backtest
from algo_trade_bot_orchestrator import BotRegistry, MemoryFeed, bars_from_frame
from algo_trade_core import BotsConfig, TrackingConfig
from algo_trade_data import BacktestResultRecord, BotRecord, DatabaseClient
from algo_trade_data.testing import real_candles, temporary_database, truncate_tables, wait_for
from algo_trade_tracking import Envelope, bot_envelope

from .conftest import Cli

BASIS, LIVE = 3_000, 1_500
PARAMS = {"volume_filter": False, "take_profit": 0.003, "stop_loss": 0.002}


async def _prepare(url: str, frame: pl.DataFrame) -> str:
    async with await DatabaseClient.connect(url) as db:
        await truncate_tables(db)
        basis = frame[:BASIS]
        await db.upsert_candles(basis)
        times = basis["timestamp"]
        result = run_backtest(
            times.dt.epoch("ms").to_numpy(),
            *(basis[c].to_numpy() for c in ("open", "high", "low", "close", "volume")),
            strategy="quad_ma",
            params=PARAMS,
            interval="1m",
        )
        end = frame["timestamp"][BASIS]
        await db.insert_backtest_result(
            BacktestResultRecord(
                timestamp=end,
                symbol="BTC",
                strategy_name="quad_ma",
                parameters=asdict(result.params),
                backtest_window_start=times[0],
                backtest_window_end=end,
                run_id="basis-run",
                params_hash=params_hash("quad_ma", PARAMS),
                **{**result.metrics.to_record_fields(), "window_coverage": 1.0},
            )
        )
        clock_ms = int(times.dt.epoch("ms")[-1]) + 61_000
        feed = MemoryFeed()
        registry = BotRegistry(db, feed, bots=BotsConfig(), clock_ms=lambda: clock_ms, checkpoint_s=60.0)
        bot_id = await registry.spawn_bot(registry.new_config("BTC", "quad_ma", PARAMS))
        bot = registry.get_bot(bot_id)
        assert bot is not None
        live = frame[BASIS : BASIS + LIVE]
        for bar in bars_from_frame(live, symbol="BTC", interval="1m"):
            feed.publish(bar)
        await wait_for(lambda: bot.status().bars == LIVE, timeout=120.0, what="the bot to handle every bar")
        await registry.shutdown_all()
        await db.upsert_candles(live)  # what the hub records in a daemon
        return bot_id


async def _store_unreadable_bot(url: str) -> None:
    now = datetime.now(UTC)
    async with await DatabaseClient.connect(url) as db:
        await db.upsert_bot(
            BotRecord(
                bot_id="quad_ma:ETH",
                symbol="ETH",
                strategy_name="quad_ma",
                parameters={},
                interval="1m",
                state="running",
                created_at=now,
                updated_at=now,
                position={"version": 1, "bars": 3},
            )
        )


async def _envelope(url: str, bot_id: str) -> Envelope | None:
    async with await DatabaseClient.connect(url) as db:
        return await bot_envelope(db, bot_id, TrackingConfig(), horizon_bars=LIVE)


@pytest.fixture(scope="module")
async def report_url() -> AsyncIterator[str]:
    """A database of this module's own: the bot it leaves must not show in other tests' `bots list`."""
    async with temporary_database() as url:
        yield url


def test_bots_report_shows_the_bot_beside_its_backtest_and_inside_its_envelope(
    report_url: str, tmp_path: Path
) -> None:
    cli = Cli(report_url)
    frame = real_candles("BTC", "1m")
    bot_id = asyncio.run(_prepare(report_url, frame))

    [report] = cli.json("bots", "report", bot_id)
    rec = report["reconciliation"]
    assert rec["status"] == "exact", rec["message"]
    assert rec["bars_seen_by_bot"] == rec["bars_in_store"] == LIVE
    assert rec["live_trades"] == rec["expected_trades"] == rec["matched"] >= 10
    assert abs(rec["pnl_gap"]) < 1e-6
    assert "window ended before the bot started" in report["basis"]
    assert "run basis-run" in report["basis"]
    check = report["divergence"]
    assert check["bars"] == LIVE
    assert {"live_drawdown", "drawdown_limit", "trades_low", "trades_high", "cusum"} <= set(check["figures"])
    assert check["ok"] == (check["reasons"] == [])
    assert report["envelope"]["backtest_bars"] == BASIS

    # What a protection builds once per bot and checks on each evaluation: the same envelope.
    envelope = asyncio.run(_envelope(report_url, bot_id))
    assert envelope is not None
    assert (envelope.backtest_bars, envelope.horizon_bars) == (BASIS, LIVE)
    assert envelope.at(LIVE)["drawdown_limit"] == check["figures"]["drawdown_limit"]

    png = tmp_path / "bot.png"
    out = cli("bots", "report", bot_id, "--plot", str(png))
    assert "live vs backtest" in out
    assert "exact" in out
    assert png.stat().st_size > 20_000

    asyncio.run(_store_unreadable_bot(report_url))  # a row without its configuration
    summary = cli("bots", "report")
    assert bot_id in summary
    assert "exact" in summary
    assert "bot quad_ma:ETH: no report: bot quad_ma:ETH: the row holds no configuration" in " ".join(
        summary.split()
    )
    assert "--plot draws one bot: name it" in cli("bots", "report", "--plot", str(png), code=2)


def test_bots_report_of_an_unknown_bot_is_a_clear_error(report_url: str) -> None:
    out = Cli(report_url)("bots", "report", "quad_ma:NOPE", code=1)
    assert "no bot 'quad_ma:NOPE' in the database" in out
