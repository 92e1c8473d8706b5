"""`data` commands and `sweep` on bad input, an unreachable exchange, and holes in the history."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from algo_trade_core import ms_to_datetime
from algo_trade_data import BacktestRunRecord, DatabaseClient
from algo_trade_data.testing import FakeHyperliquid, FakeMarket, fake_candles

from .conftest import HL_FILES, Cli

INJECTION = "BTC'; DROP TABLE ohlcv;--"
MINUTE = 60_000


class FakeInThread:
    """A fake Hyperliquid on its own event loop in a thread, for commands that run their own loop."""

    def __init__(self, now_ms: int | None) -> None:
        self.fake = FakeHyperliquid(now_ms=now_ms)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeHyperliquid:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def flat(out: str) -> str:
    """Table output as one line of words (rich wraps long cells over several rows)."""
    return " ".join(out.replace("│", " ").split())


def config_file(tmp_path: Path, api_url: str, *lines: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f"[hyperliquid]\napi_url = '{api_url}'\nmax_retries = 5\n" + "".join(f"{line}\n" for line in lines)
    )
    return path


def db_run(url: str, work: object) -> object:
    async def go() -> object:
        async with await DatabaseClient.connect(url) as db:
            return await work(db)  # type: ignore[operator]

    return asyncio.run(go())


@pytest.mark.parametrize(
    "command",
    [
        ("data", "fetch", "--symbol", INJECTION),
        ("data", "import", "x.csv", "--symbol", INJECTION),
        ("data", "status", "--symbol", INJECTION),
        ("data", "export", "--symbol", INJECTION, "--out", "x.csv"),
        ("data", "repair", "--symbol", INJECTION),
        ("backtest", "--symbol", INJECTION),
        ("results", "history", INJECTION),
        ("sweep", "--symbol", INJECTION),
    ],
)
def test_every_command_that_takes_a_symbol_refuses_one_that_is_no_coin(
    cli: Cli, command: tuple[str, ...]
) -> None:
    out = cli(*command, code=2)
    assert "is not a coin name" in out
    assert "DROP TABLE" in out  # the message names what was given


def test_import_says_no_rows_plainly_and_refuses_absurd_prices(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("timestamp,symbol,open,high,low,close,volume\n")
    out = flat(cli("data", "import", str(empty), "--interval", "1m", code=1))
    assert "imported 0 of 1 file(s)" in out
    assert "no rows: the file holds a header but no data rows" in out
    huge = tmp_path / "huge.csv"
    huge.write_text(
        "timestamp,symbol,open,high,low,close,volume\n2025-01-01T00:00:00Z,HUGE,1e300,1e300,1,2,1\n"
    )
    out = flat(cli("data", "import", str(huge), "--interval", "1m", code=1))
    assert "huge.csv: row 1" in out
    assert "not a plausible price" in out
    assert cli.json("data", "status", "--symbol", "HUGE") == []


def test_import_drops_the_leading_zero_volume_bars_and_says_how_many(cli: Cli) -> None:
    if not HL_FILES.is_dir():
        pytest.skip(f"real candle files not found at {HL_FILES}")
    out = flat(cli("data", "import", str(HL_FILES / "BTC_USDC_USDC-1d-futures.feather")))
    assert "921 leading zero-volume bars dropped" in out
    [row] = cli.json("data", "status", "--symbol", "BTC", "--interval", "1d")
    assert row["bars"] == 1802 - 921
    assert row["first"].startswith("2023-02-26")  # the first day BTC traded on Hyperliquid


def test_fetch_of_an_unknown_symbol_exits_non_zero_naming_it(cli: Cli, tmp_path: Path) -> None:
    now = 1_753_000_000_000
    with FakeInThread(now) as fake:
        fake.add_candles("BTC", "1m", fake_candles(now - 100 * MINUTE, 100, "1m"))
        cfg = config_file(tmp_path, fake.url)
        out = cli(
            "data",
            "fetch",
            "-s",
            "BTC",
            "-s",
            "NOPE",
            "-s",
            "MATIC",
            "--days",
            "0.05",
            "--config",
            str(cfg),
            code=1,
        )
    assert "NOPE is not a Hyperliquid perp" in out
    assert "MATIC is delisted" in out
    assert "2 token(s) failed: NOPE, MATIC" in out


def test_fetch_from_an_unreachable_exchange_says_so_in_one_line(cli: Cli, tmp_path: Path) -> None:
    cfg = config_file(tmp_path, "http://127.0.0.1:1")
    out = flat(cli("data", "fetch", "-s", "BTC", "-s", "ETH", "--config", str(cfg), code=1))
    assert "nothing fetched" in out
    assert "connection refused" in out
    assert out.count("unreachable") == 1


def test_repair_fills_the_holes_the_exchange_still_has_and_names_the_lost_ones(
    cli: Cli, cli_db_url: str, tmp_path: Path
) -> None:
    # The command's client runs on the wall clock: the history ends now, the bar opened last minute
    # being the forming one. The exchange serves the latest 5000 bars (index 1000 on).
    bars = 6_000
    now = int(time.time() * 1000)
    t0 = now - now % MINUTE - (bars - 1) * MINUTE
    source = fake_candles(t0, bars, "1m", seed=9).with_columns(
        pl.lit("RPR").alias("symbol"), pl.lit("hyperliquid").alias("exchange"), pl.lit("1m").alias("interval")
    )
    index = pl.int_range(pl.len())
    kept = source.filter(~index.is_between(300, 319) & ~index.is_between(4_000, 4_049) & (index < 5_990))

    async def store(db: DatabaseClient) -> None:
        await db.upsert_candles(kept)

    db_run(cli_db_url, store)
    with FakeInThread(None) as fake:
        fake.add_candles("RPR", "1m", source)
        fake.markets.append(FakeMarket(name="RPR"))
        cfg = config_file(tmp_path, fake.url)
        status = cli.json("data", "status", "--symbol", "RPR", "--config", str(cfg))
        assert (status[0]["gaps"], status[0]["missing_bars"]) == (2, 70)
        out = flat(cli("data", "repair", "--symbol", "RPR", "--interval", "1m", "--config", str(cfg)))
    assert "filled 50 missing bar(s)" in out
    assert "20 bar(s) in 1 series are older than the exchange keeps" in out
    [after] = cli.json("data", "status", "--symbol", "RPR", "--config", str(cfg))
    assert (after["gaps"], after["missing_bars"], after["unrecoverable_bars"]) == (1, 20, 20)
    assert after["last"] >= ms_to_datetime(t0 + (bars - 2) * MINUTE).isoformat()  # the tail too
    table = flat(cli("data", "status", "--symbol", "RPR", "--config", str(cfg)))
    assert "older than the exchange keeps" in table


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://api.hyperliquid.invalid"])
def test_sweep_offline_backtests_the_stored_candles_with_a_one_line_note(
    cli: Cli, tmp_path: Path, url: str
) -> None:
    if not HL_FILES.is_dir():
        pytest.skip(f"real candle files not found at {HL_FILES}")
    for symbol in ("BTC", "ETH", "SOL"):
        cli("data", "import", str(HL_FILES / f"{symbol}_USDC_USDC-1m-futures.feather"))
    cfg = config_file(
        tmp_path,
        url,
        "[scheduler]",
        "token_universe = ['BTC', 'ETH', 'SOL']",
        "refresh_data = true",
        "backtest_window_days = 3",
    )
    as_of = datetime(2025, 7, 26, 5, tzinfo=UTC).isoformat()
    out = cli("sweep", "--as-of", as_of, "--config", str(cfg))
    assert "3 token(s) ok, 0 failed" in out
    notes = [line for line in out.splitlines() if "unreachable" in line]
    assert len(notes) == 1, out
    assert "no refresh, backtested on the stored candles" in notes[0]
    data = cli.json("sweep", "--as-of", as_of, "--config", str(cfg))
    assert data["status"] == "ok"
    assert len([n for n in data["notes"] if "refresh" in n]) == 1


def test_runs_list_shows_the_runs_marked_interrupted_with_the_reason(cli: Cli, cli_db_url: str) -> None:
    last_seen = datetime(2025, 7, 1, 12, tzinfo=UTC)
    killed = BacktestRunRecord(
        run_id="r-killed-on-another-host",
        started_at=last_seen,
        finished_at=None,
        status="running",
        owner_host="another-host",
        owner_pid=4242,
        heartbeat_at=last_seen,
    )

    async def seed(db: DatabaseClient) -> list[str]:
        await db.record_run(killed)
        return [run.run_id for run in await db.mark_interrupted_runs()]

    assert killed.run_id in db_run(cli_db_url, seed)
    runs = {r["run_id"]: r for r in cli.json("runs", "list", "--status", "interrupted", "--limit", "100")}
    row = runs[killed.run_id]
    assert row["status"] == "interrupted"
    assert row["owner"] == "another-host:4242"
    assert "no heartbeat from another-host:4242" in row["errors"]["*"]
    assert row["finished_at"] == last_seen.isoformat()  # its last sign of life, not the marking time
    assert "interrupted" in flat(cli("runs", "list", "--status", "interrupted"))


def test_the_progress_bar_shows_the_time_remaining() -> None:
    from rich.progress import TimeRemainingColumn

    from algo_trade_cli._common import progress_bar

    bar = progress_bar()
    assert any(isinstance(column, TimeRemainingColumn) for column in bar.columns)
