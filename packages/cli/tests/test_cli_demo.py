"""`algo-trade demo` offline: on the real candle files, and on labelled synthetic candles."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import HL_FILES, Cli


def test_demo_on_files_sweeps_selects_and_starts_bots(cli: Cli) -> None:
    if not HL_FILES.is_dir():
        pytest.skip(f"real candle files not found at {HL_FILES} (the shared data folder is absent)")
    out = cli("demo", "--offline", "--data-dir", str(HL_FILES))
    assert "using the candle files" in out
    assert "20 token(s) ok, 0 failed" in out
    assert "token selection (quad_ma)" in out
    assert "paper bots after the replay (" in out
    # The walk-forward on the files' 1h history, with its verdict, stored.
    assert "walk-forward: does selecting by backtest pay out of sample? (1h bars)" in out
    assert "verdict: Out of sample over" in " ".join(out.split())
    studies = cli.json("walkforward", "list")
    assert len(studies) == 1
    assert studies[0]["interval"] == "1h"
    assert "where to look" in out
    bots = cli.json("bots", "list", "--all")
    assert bots
    assert all(b["bot_id"].startswith("replay:") and b["state"] == "stopped" for b in bots)
    assert cli.json("bots", "list") == []  # stopped bots are listed only with --all
    detail = cli.json("bots", "status", bots[0]["bot_id"])
    assert detail["symbol"] == bots[0]["symbol"]
    assert len(detail["fills"]) == min(detail["num_fills"], 20)
    assert bots[0]["bot_id"] in cli("bots", "status", bots[0]["bot_id"])
    cli("bots", "status", "quad_ma:NOPE", code=1)


def test_demo_without_exchange_or_files_says_synthetic(cli: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[scheduler]\ntoken_universe = ['AAA', 'BBB']\nbacktest_window_days = 3\n"
        "[token_selection]\nstrategy = 'quad_ma'\n"
    )
    out = cli("demo", "--offline", "--config", str(cfg))
    assert "SYNTHETIC" in out
    assert "2 token(s) ok" in out
    # Three days of synthetic 1m bars: the walk-forward shrinks its schedule to fit them, and says so.
    assert "only 3.0 days stored" in " ".join(out.split())
    latest = cli.json("results", "latest", "--config", str(cfg))
    synthetic = [r for r in latest if r["symbol"] in ("AAA", "BBB")]
    assert len(synthetic) == 2
    assert {r["exchange"] for r in synthetic} == {"synthetic"}
