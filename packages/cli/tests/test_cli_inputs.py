"""What the user types: strict times, freqtrade time ranges, symbol spellings, windows on imported history,
files that say what they hold, and output that is not cut when it goes to a pipe."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from rich.panel import Panel
from rich.table import Table

from algo_trade_cli._backtest_input import bar_spacing_ms
from algo_trade_cli._common import make_console
from algo_trade_cli._inputs import (
    InputError,
    check_interval,
    match_symbol,
    parse_timerange,
    parse_utc,
    resolve_window,
    timerange_text,
)
from algo_trade_data.testing import temporary_database

from .conftest import HL_FILES, Cli

BTC_1H = HL_FILES / "BTC_USDC_USDC-1h-futures.feather"
BTC_1M = HL_FILES / "BTC_USDC_USDC-1m-futures.feather"
SOL_4H = HL_FILES / "SOL_USDC_USDC-4h-futures.feather"


def flat(text: str) -> str:
    return " ".join(text.split())


# -- pure parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01", datetime(2025, 1, 1, tzinfo=UTC)),
        ("20250101", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T12:30", datetime(2025, 1, 1, 12, 30, tzinfo=UTC)),
        ("2025-01-01 12:30:15", datetime(2025, 1, 1, 12, 30, 15, tzinfo=UTC)),
        ("2025-01-01T12:30:00Z", datetime(2025, 1, 1, 12, 30, tzinfo=UTC)),
        ("2025-01-01T14:30:00+02:00", datetime(2025, 1, 1, 12, 30, tzinfo=UTC)),
        ("2025-01-01T14:30:00+0200", datetime(2025, 1, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_times_parse_as_utc(text: str, expected: datetime) -> None:
    value = parse_utc(text, "--start")
    assert value == expected
    assert value.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["20250101-20250201", "2025-1-1", "01/02/2025", "yesterday", "2025-02-30", ""]
)
def test_anything_else_is_rejected_naming_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--start"):
        parse_utc(text, "--start")


def test_a_time_range_given_as_a_time_points_to_timerange() -> None:
    with pytest.raises(InputError, match="pass it as --timerange 20250101-20250201"):
        parse_utc("20250101-20250201", "--start")


def test_freqtrade_timeranges() -> None:
    jan, feb = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    assert parse_timerange("20250101-20250201") == (jan, feb)
    assert parse_timerange("20250101-") == (jan, None)
    assert parse_timerange("-20250201") == (None, feb)
    assert parse_timerange("1735689600-1738368000") == (jan, feb)  # epoch seconds
    for bad in ("-", "2025-01-01", "20250101", "20250101-2025"):
        with pytest.raises(InputError, match="--timerange"):
            parse_timerange(bad)
    assert timerange_text(jan, feb) == "20250101-20250201"
    assert timerange_text(jan, feb + timedelta(hours=5)) == "20250101-20250202"


def test_windows_reject_contradictions() -> None:
    assert resolve_window("2025-01-01", None, None) == (datetime(2025, 1, 1, tzinfo=UTC), None)
    with pytest.raises(InputError, match="must come before the end"):
        resolve_window("2025-02-01", "2025-01-01", None)
    with pytest.raises(InputError, match="must come before the end"):
        resolve_window("2025-01-01", "2025-01-01", None)
    with pytest.raises(InputError, match="--timerange replaces --start/--end"):
        resolve_window("2025-01-01", None, "20250101-20250201")


def test_symbols_map_to_the_exchange_names() -> None:
    known = ["BTC", "ETH", "kPEPE", "S", "SOL"]
    assert match_symbol("BTC", known).note is None
    for typed, name in [
        ("btc", "BTC"),
        ("BTCUSDT", "BTC"),
        ("BTC/USDC:USDC", "BTC"),
        ("eth-perp", "ETH"),
        ("KPEPE", "kPEPE"),
        ("SOL_USDC_USDC", "SOL"),
    ]:
        match = match_symbol(typed, known)
        assert match.symbol == name, typed
        assert match.note is not None
        assert f"traded as {name}" in match.note
    with pytest.raises(InputError, match=r"did you mean BTC\?"):
        match_symbol("BTX", known)
    with pytest.raises(InputError, match="unknown symbol 'ZZZZZ'"):
        match_symbol("ZZZZZ", known)


def test_intervals() -> None:
    assert check_interval("1h") == "1h"
    assert check_interval("4H") == "4h"
    assert check_interval("1M") == "1M"  # a month, never a minute
    with pytest.raises(InputError, match="expected one of 1m, 3m"):
        check_interval("7m")


def test_bar_spacing_ignores_gaps() -> None:
    hour = 3_600_000
    assert bar_spacing_ms([0, hour, 2 * hour, 5 * hour, 6 * hour]) == hour
    assert bar_spacing_ms([0]) is None


# -- output that is not a terminal -------------------------------------------------------------------


def test_a_console_on_a_pipe_prints_tables_at_full_width() -> None:
    buffer = io.StringIO()
    console = make_console(file=buffer)
    table = Table(title="wide")
    for i in range(12):
        table.add_column(f"column {i}")
    table.add_row(*[f"{1_234_567.891 * (i + 1):,.2f}" for i in range(12)])
    console.print(table)
    console.print(Panel("two words", title="box"))
    console.print("a long line " * 20)
    out = buffer.getvalue()
    assert "…" not in out
    assert f"{1_234_567.891 * 12:,.2f}" in out
    assert max(len(line) for line in out.splitlines()) > 150  # the table, not cut at 80
    box = next(line for line in out.splitlines() if "two words" in line)
    assert len(box.strip()) < 20  # a panel is as wide as its content, not the unlimited width
    assert ("a long line " * 20).strip() in out  # text is not wrapped either


# -- the backtest command on imported history --------------------------------------------------------


@pytest.fixture(scope="module")
async def store_url() -> AsyncIterator[str]:
    if not HL_FILES.is_dir():
        pytest.skip(f"real candle files not found at {HL_FILES} (the shared data folder is absent)")
    async with temporary_database() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Cli:
    cli = Cli(store_url)
    cli("data", "import", str(BTC_1H), str(BTC_1M))
    return cli


def bars_between(path: Path, start: datetime, end: datetime) -> int:
    frame = pl.read_ipc(path)
    return frame.filter((pl.col("date") >= start) & (pl.col("date") < end)).height


def test_history_in_the_past_backtests_its_latest_window_and_says_so(store: Cli) -> None:
    out = flat(store("backtest", "-s", "BTC", "-i", "1h"))
    assert "no 1h bars of BTC in the last 30 days (the stored history ends 2025-07-26 03:00)" in out
    assert "latest stored window 2025-06-26 04:00 → 2025-07-26 04:00 instead" in out
    data = store.json("backtest", "-s", "BTC", "-i", "1h")
    end = datetime(2025, 7, 26, 4, tzinfo=UTC)
    assert data["metrics"]["num_bars"] == bars_between(BTC_1H, end - timedelta(days=30), end)


def test_an_empty_window_says_what_was_tried_what_is_stored_and_what_to_paste(store: Cli) -> None:
    out = flat(
        store("backtest", "-s", "BTC", "-i", "1h", "--start", "2026-01-01", "--end", "2026-02-01", code=1)
    )
    assert "no 1h candles for BTC in 2026-01-01 00:00 → 2026-02-01 00:00" in out
    assert "1h 2024-09-04 11:00 → 2025-07-26 03:00 (7,793 bars)" in out
    assert "1m 2025-07-21 11:28 → 2025-07-26 04:55" in out
    assert "--start 2025-06-26T04:00 --end 2025-07-26T04:00" in out
    assert "--timerange 20250626-20250727" in out
    pasted = store.json(
        "backtest", "-s", "BTC", "-i", "1h", "--start", "2025-06-26T04:00", "--end", "2025-07-26T04:00"
    )
    assert pasted["metrics"]["num_bars"] > 700


@pytest.mark.parametrize("typed", ["btc", "BTCUSDT", "BTC/USDC:USDC"])
def test_symbol_spellings_are_mapped_to_the_exchange_name(store: Cli, typed: str) -> None:
    out = flat(store("backtest", "-s", typed, "-i", "1h", "--timerange", "20250601-20250701"))
    assert f"{typed!r} is traded as BTC on Hyperliquid: using BTC" in out
    assert "quad_ma on BTC 1h" in out


def test_an_unknown_symbol_gets_a_suggestion(store: Cli) -> None:
    out = flat(store("backtest", "-s", "BTX", "-i", "1h", code=2))
    assert "unknown symbol 'BTX'; did you mean BTC?" in out


def test_an_interval_that_is_not_stored_lists_the_stored_ones(store: Cli) -> None:
    out = flat(store("backtest", "-s", "BTC", "-i", "4h", code=1))
    assert "no 4h candles stored for BTC (hyperliquid)" in out
    assert "Pass --interval 1m or 1h" in out


def test_start_after_end_is_rejected(store: Cli) -> None:
    out = flat(store("backtest", "-s", "BTC", "--start", "2025-02-01", "--end", "2025-01-01", code=2))
    assert "the start (2025-02-01 00:00) must come before the end (2025-01-01 00:00)" in out


def test_times_are_parsed_strictly(store: Cli) -> None:
    out = flat(store("backtest", "-s", "BTC", "-i", "1h", "--start", "20250101-20250201", code=2))
    assert "a freqtrade time range? pass it as --timerange 20250101-20250201" in out


def test_timerange_and_timeframe_are_freqtrade_spellings(store: Cli) -> None:
    a = store.json("backtest", "-s", "BTC", "-t", "1h", "--timerange", "20250101-20250401")
    b = store.json(
        "backtest", "-s", "BTC", "--interval", "1h", "--start", "2025-01-01", "--end", "2025-04-01"
    )
    assert a == b
    assert a["metrics"]["num_bars"] == bars_between(
        BTC_1H, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    )
    open_end = store.json("backtest", "-s", "BTC", "-i", "1h", "--timerange", "20250701-")
    assert open_end["metrics"]["num_bars"] == bars_between(
        BTC_1H, datetime(2025, 7, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    )
    store("backtest", "-s", "BTC", "--timerange", "20250101-", "--start", "2025-01-01", code=2)


def test_the_default_interval_is_the_scheduler_interval(store: Cli, tmp_path: Path) -> None:
    day = ("--timerange", "20250722-20250723")
    default = store.json("backtest", "-s", "BTC", *day)  # [scheduler] interval = "1m" by default
    one_day = (datetime(2025, 7, 22, tzinfo=UTC), datetime(2025, 7, 23, tzinfo=UTC))
    assert default["metrics"]["num_bars"] == bars_between(BTC_1M, *one_day)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[scheduler]\ninterval = '1h'\n")
    hourly = store.json("backtest", "-s", "BTC", *day, "--config", str(cfg))
    assert hourly["metrics"]["num_bars"] == bars_between(BTC_1H, *one_day) == 24


def test_a_freqtrade_file_says_its_symbol_and_interval(store: Cli) -> None:
    data = store.json("backtest", "--data", str(SOL_4H))
    assert data["metrics"]["window_coverage"] > 0.99  # the bars are 4h apart, as the name says
    out = store("backtest", "--data", str(SOL_4H), "--timerange", "20250101-")
    assert "quad_ma on SOL 4h" in out
    assert "covered by stored bars" not in out  # no false coverage warning


def test_a_file_contradicted_by_the_options_is_refused(store: Cli) -> None:
    out = flat(store("backtest", "-s", "BTC", "--data", str(SOL_4H), code=2))
    assert "--symbol BTC contradicts SOL_USDC_USDC-4h-futures.feather, which holds SOL candles" in out
    out = flat(store("backtest", "-i", "1h", "--data", str(SOL_4H), code=2))
    assert "--interval 1h contradicts SOL_USDC_USDC-4h-futures.feather, which holds 4h bars" in out


def test_the_bar_spacing_of_a_file_must_match_the_interval(store: Cli, tmp_path: Path) -> None:
    frame = pl.read_ipc(SOL_4H).tail(500)
    csv = tmp_path / "sol.csv"
    frame.select(
        pl.col("date").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("timestamp"),
        pl.lit("SOL").alias("symbol"),
        "open",
        "high",
        "low",
        "close",
        "volume",
    ).write_csv(csv)
    out = flat(store("backtest", "--data", str(csv), "-i", "1h", code=2))
    assert "sol.csv: the bars are 4h apart (the most common step), not 1h: pass --interval 4h" in out
    assert store.json("backtest", "--data", str(csv), "-i", "4h")["metrics"]["num_bars"] == 500


def test_sweep_takes_symbols_interval_and_window_days(store: Cli) -> None:
    run = store.json(
        "sweep",
        "-s",
        "BTC",
        "--interval",
        "1h",
        "--window-days",
        "10",
        "--as-of",
        "2025-07-26T04:00Z",
        "--no-refresh",
    )
    assert (run["status"], run["tokens_ok"], run["tokens_failed"]) == ("ok", 1, 0)
    start, end = (datetime.fromisoformat(run["window"][k]) for k in ("start", "end"))
    assert end - start == timedelta(days=10)
    latest = {r["symbol"]: r for r in store.json("results", "latest", "--interval", "1h")}
    assert latest["BTC"]["interval"] == "1h"
    assert latest["BTC"]["num_bars"] == bars_between(BTC_1H, start, end)


def test_tables_are_printed_full_width_when_output_is_not_a_terminal(store: Cli) -> None:
    store.env["COLUMNS"] = "80"  # what CI logs and `| tee` get
    window = ("-s", "BTC", "-i", "1h", "--timerange", "20250101-20250401")
    out = store("backtest", *window, "--trades")
    trades = store.json("backtest", *window)["trades"]
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) > 80
    for trade in trades[:5]:
        entry = datetime.fromisoformat(trade["entry_time"]).strftime("%Y-%m-%d %H:%M")
        row = next(line for line in out.splitlines() if line.startswith(f"│ {entry}"))
        assert trade["exit_reason"] in row


def test_data_export_defaults_to_the_scheduler_interval(store: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[scheduler]\ninterval = '1h'\n")
    hourly, minutes = tmp_path / "btc-1h.csv", tmp_path / "btc-1m.csv"
    store("data", "export", "-s", "BTC", "-o", str(hourly), "--config", str(cfg))
    store("data", "export", "-s", "BTC", "-t", "1m", "-o", str(minutes), "--config", str(cfg))
    assert pl.read_csv(hourly).height == pl.read_ipc(BTC_1H).height
    assert pl.read_csv(minutes).height == pl.read_ipc(BTC_1M).height
