"""The CLI end to end: config, db, data import/status, backtest, sweep, selection, results."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from .conftest import HL_FILES, Cli

TOKENS_20 = (
    "BTC",
    "ETH",
    "SOL",
    "AVAX",
    "ARB",
    "OP",
    "POL",
    "ATOM",
    "NEAR",
    "S",
    "INJ",
    "SEI",
    "SUI",
    "APT",
    "TIA",
    "DOGE",
    "kSHIB",
    "WLD",
    "kPEPE",
    "kBONK",
)


def need_files() -> None:
    if not HL_FILES.is_dir():
        pytest.skip(f"real candle files not found at {HL_FILES} (the shared data folder is absent)")


def test_config_commands(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "Config.toml"
    cli("config", "init", str(path))
    assert "cron_expression" in path.read_text()
    cli("config", "init", str(path), code=1)  # refuses to overwrite without --force
    assert "ok" in cli("config", "validate", "--config", str(path))
    assert cli.json("config", "show", "--config", str(path))["scheduler"]["interval"] == "1m"
    path.write_text("[scheduler]\ncron_expression = '0 3 * * *'\n")
    out = cli("config", "validate", "--config", str(path), code=2)
    assert str(path) in out.replace("\n", "")
    assert "scheduler.cron_expression" in out


def test_config_flag_is_honoured(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[database]\nurl = 'postgresql://nobody@127.0.0.1:1/none'\n")
    cli.env.pop("ALGO_TRADE__DATABASE__URL")
    out = cli("db", "status", "--config", str(path), code=1)
    assert "127.0.0.1:1" in out


def test_import_all_default_tokens_and_status_counts_match_the_files(cli: Cli) -> None:
    need_files()
    cli("db", "init")
    for interval in ("1h", "1m"):
        cli("data", "import", str(HL_FILES), "--interval", interval)
    status = {(r["symbol"], r["interval"]): r for r in cli.json("data", "status")}
    for symbol in TOKENS_20:
        for interval in ("1h", "1m"):
            frame = pl.read_ipc(HL_FILES / f"{symbol}_USDC_USDC-{interval}-futures.feather")
            traded = frame.filter(pl.col("volume").cum_max() > 0)  # pre-listing zero-volume bars dropped
            row = status[(symbol, interval)]
            assert row["bars"] == traded.height, (symbol, interval)
            assert row["first"].startswith(traded["date"][0].strftime("%Y-%m-%dT%H:%M"))
            assert row["gaps"] == 0
    table = cli("data", "status", "--symbol", "kPEPE")
    assert "kPEPE" in table
    assert "1m" in table


def test_bad_file_is_rejected_with_file_and_row_and_nothing_written(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,symbol,open,high,low,close,volume\n"
        "2025-01-01T00:00:00Z,BADT,10,11,9,10.5,1\n"
        "2025-01-01T00:01:00Z,BADT,10,9,11,10.5,1\n"
    )
    out = cli("data", "import", str(bad), "--interval", "1m", code=1)
    assert "bad.csv" in out
    assert "row 2" in out
    assert cli.json("data", "status", "--symbol", "BADT") == []


def test_backtest_json_from_file_and_store(cli: Cli, tmp_path: Path) -> None:
    need_files()
    path = HL_FILES / "ETH_USDC_USDC-1h-futures.feather"
    window = (
        "--symbol",
        "ETH",
        "--interval",
        "1h",
        "--strategy",
        "ma_crossover",
        "--param",
        "fast=12",
        "--param",
        "slow=48",
        "--start",
        "2025-01-01",
        "--end",
        "2025-04-01",
    )
    data = cli.json("backtest", *window, "--data", str(path))
    metrics = data["metrics"]
    assert metrics["num_bars"] == 90 * 24  # start <= t < end
    assert metrics["num_trades"] == len(data["trades"]) > 10
    trade = data["trades"][0]
    assert {
        "entry_time",
        "exit_time",
        "side",
        "entry_price",
        "exit_price",
        "qty",
        "pnl",
        "exit_reason",
    } <= set(trade)
    assert trade["exit_reason"] == "reversal"
    assert trade["entry_time"].endswith("+00:00")
    # the same window from the store gives the same numbers
    cli("data", "import", str(path))
    stored = cli.json("backtest", *window)
    assert stored == data
    png = tmp_path / "eq.png"
    out = cli("backtest", "--symbol", "ETH", "--interval", "1h", "--data", str(path), "--plot", str(png))
    assert "Sharpe" in out
    assert png.stat().st_size > 10_000
    assert cli("backtest", "--symbol", "ETH", "--data", str(path), "--param", "colour=red", code=2).count(
        "colour"
    )


def test_sweep_selection_and_results(cli: Cli, tmp_path: Path) -> None:
    need_files()
    cli("data", "import", str(HL_FILES), "--interval", "1m")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[scheduler]\ntoken_universe = ['BTC', 'ETH', 'SOL', 'NEAR', 'OP']\nrefresh_data = false\n"
        "[token_selection]\nmin_win_rate = 0.5\nmin_sharpe_ratio = 1.0\nmin_num_trades = 5\n"
    )
    run = cli.json("sweep", "--as-of", "2025-07-26T05:00:00Z", "--config", str(cfg))
    assert run["status"] == "ok"
    assert run["tokens_ok"] == 5
    latest = {r["symbol"]: r for r in cli.json("results", "latest", "--config", str(cfg))}
    assert set(latest) >= {"BTC", "ETH", "SOL", "NEAR", "OP"}
    assert latest["SOL"]["run_id"] == run["run_id"]
    # The results are of a window that ended 2025-07-26: current as of then, not today.
    selection = cli.json("token-selection", "--as-of", "2025-07-26T05:00:00Z", "--config", str(cfg))
    expected = [
        s
        for s in ("BTC", "ETH", "SOL", "NEAR", "OP")
        if latest[s]["sharpe_ratio"] >= 1.0
        and latest[s]["win_rate"] >= 0.5
        and latest[s]["num_trades"] >= 5
        and latest[s]["max_drawdown"] <= 0.2
    ]
    assert sorted(selection["approved"]) == sorted(expected)
    assert selection["fallback"] is False
    for token in selection["tokens"]:
        assert token["approved"] == (token["symbol"] in expected)
        assert bool(token["failed"]) == (token["symbol"] not in expected)
    table = cli("token-selection", "--as-of", "2025-07-26T05:00:00Z", "--config", str(cfg))
    assert "approved" in table
    history = cli.json("results", "history", "SOL", "--config", str(cfg))
    assert history[0]["run_id"] == run["run_id"]
    png = tmp_path / "hist.png"
    cli("results", "history", "SOL", "--plot", str(png), "--config", str(cfg))
    assert png.exists()
    out = cli("sweep", "--as-of", "2025-07-26T05:00:00Z", "--config", str(cfg))
    assert "5 token(s) ok, 0 failed" in out


def test_export_round_trip(cli: Cli, tmp_path: Path) -> None:
    need_files()
    cli("data", "import", str(HL_FILES / "SOL_USDC_USDC-1h-futures.feather"))
    out_csv = tmp_path / "sol.csv"
    cli("data", "export", "--symbol", "SOL", "--interval", "1h", "--out", str(out_csv))
    back = pl.read_csv(out_csv)
    assert list(back.columns[:7]) == ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
    src = pl.read_ipc(HL_FILES / "SOL_USDC_USDC-1h-futures.feather")
    assert back.height == src.height
    assert json.loads(json.dumps(back["close"].to_list()[:5])) == src["close"].to_list()[:5]
