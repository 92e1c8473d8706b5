"""Selection that explains itself, on the right results: scope, freshness, reasons, the daemon's rule.

These tests run on their own database, so that results stored by other CLI tests cannot enter a scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from algo_trade_backtest import params_hash
from algo_trade_core import datetime_to_ms, load_config
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import temporary_database
from algo_trade_pipeline import Daemon
from algo_trade_token_selector import evaluate

from .conftest import HL_FILES, Cli

AS_OF = "2025-07-26T04:00:00+00:00"
THREE = ("BTC", "ETH", "SOL")
LOOSE = (
    "[token_selection]\nmin_sharpe_ratio = -1000.0\nmin_win_rate = 0.0\nmax_drawdown = 1.0\n"
    "min_num_trades = 0\nfallback_top_n = 0\n"
)


@pytest.fixture(scope="module")
async def own_db_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        yield url


@pytest.fixture(scope="module")
def scli(own_db_url: str) -> Cli:
    if not HL_FILES.is_dir():
        pytest.skip(f"real candle files not found at {HL_FILES} (the shared data folder is absent)")
    cli = Cli(own_db_url)
    for symbol in ("BTC", "ETH", "SOL", "OP", "AVAX", "DOGE"):
        for interval in ("1m", "1h"):
            cli("data", "import", str(HL_FILES / f"{symbol}_USDC_USDC-{interval}-futures.feather"))
    return cli


def write(tmp_path: Path, name: str, text: str, url: str) -> str:
    path = tmp_path / name
    path.write_text(f"[database]\nurl = '{url}'\n{text}")
    return str(path)


def universe(symbols: tuple[str, ...], **scheduler: Any) -> str:
    extra = "".join(f"{k} = {v!r}\n" for k, v in scheduler.items())
    return f"[scheduler]\ntoken_universe = {list(symbols)!r}\nrefresh_data = false\n{extra}"


def test_results_latest_and_token_selection_are_scoped_and_say_where_each_row_comes_from(
    scli: Cli, own_db_url: str, tmp_path: Path
) -> None:
    wide = write(tmp_path, "wide.toml", universe((*THREE, "OP")) + LOOSE, own_db_url)
    hourly = write(tmp_path, "hourly.toml", universe(THREE, interval="1h") + LOOSE, own_db_url)
    cfg = write(tmp_path, "c.toml", universe(THREE) + LOOSE + "top_n = 1\n", own_db_url)
    earlier = scli.json("sweep", "--as-of", "2025-07-26T03:00:00Z", "--config", wide)
    scli.json("sweep", "--as-of", AS_OF, "--config", hourly)
    run = scli.json("sweep", "--as-of", AS_OF, "--config", cfg)

    latest = scli.json("results", "latest", "--config", cfg)
    assert [(r["symbol"], r["interval"], r["run_id"]) for r in latest] == [
        (s, "1m", run["run_id"]) for s in THREE
    ]
    assert all(r["backtest_window_end"] == "2025-07-26T04:00:00+00:00" for r in latest)
    assert all(r["ratio_warning"].startswith("annualised from ") for r in latest)
    wider = {r["symbol"]: r for r in scli.json("results", "latest", "--all-symbols", "--config", cfg)}
    assert set(wider) == {*THREE, "OP"}
    assert wider["OP"]["run_id"] == earlier["run_id"]
    assert {r["interval"] for r in scli.json("results", "latest", "--interval", "1h", "--config", cfg)} == {
        "1h"
    }
    table = scli("results", "latest", "--config", cfg)
    assert "scope: quad_ma, parameter set" in table
    assert run["run_id"][:8] in table
    assert "coverage = bars present / bars the backtest window [start, end) holds" in table

    selection = scli.json("token-selection", "--as-of", AS_OF, "--config", cfg)
    assert selection["stored"] is True
    assert selection["scope"]["symbols"] == list(THREE)
    assert selection["scope"]["interval"] == "1m"
    rows = selection["tokens"]
    assert [(t["interval"], t["run_id"], t["window_end"]) for t in rows] == [
        ("1m", run["run_id"], "2025-07-26T04:00:00+00:00")
    ] * 3
    assert [t["status"] for t in rows] == ["approved", "beyond_top_n", "beyond_top_n"]
    assert [t["note"] for t in rows[1:]] == ["beyond top_n = 1"] * 2
    table = scli("token-selection", "--as-of", AS_OF, "--config", cfg)
    assert "thresholds: pass = Sharpe ≥ -1000.00, win rate ≥ 0 %" in table
    assert "beyond top_n = 1" in table
    assert "window end" in table
    assert run["run_id"][:8] in table
    assert "Sharpe ratio(s) annualised from fewer than 28 days of bars" in table
    widened = scli.json("token-selection", "--as-of", AS_OF, "--all-symbols", "--config", cfg)
    assert {t["symbol"] for t in widened["tokens"]} == {*THREE, "OP"}
    assert widened["stored"] is False


def test_a_backfilled_result_is_stale_today_and_its_sweep_changes_nothing(
    scli: Cli, own_db_url: str, tmp_path: Path
) -> None:
    cfg = write(tmp_path, "c.toml", universe(("AVAX", "DOGE")) + LOOSE, own_db_url)
    out = scli("sweep", "--as-of", AS_OF, "--config", cfg)
    assert "no selection, bots unchanged: the sweep's window ended 2025-07-26 04:00 UTC" in out
    assert "> max_result_age_hours 48" in out
    selection = scli.json("token-selection", "--config", cfg)
    assert selection["approved"] == []
    for token in selection["tokens"]:
        (failed,) = token["failed"]
        assert failed["criterion"] == "max_result_age_hours"
        assert failed["threshold"] == 48.0
        assert failed["text"].startswith("result ")
        assert failed["text"].endswith(" h old > 48 h")
    then = scli.json("token-selection", "--as-of", AS_OF, "--config", cfg)
    assert sorted(then["approved"]) == ["AVAX", "DOGE"]


def test_backtest_and_sweep_compute_coverage_on_the_same_window(
    scli: Cli, own_db_url: str, tmp_path: Path
) -> None:
    cfg = write(tmp_path, "c.toml", universe(("BTC",)), own_db_url)
    run = scli.json("sweep", "--as-of", AS_OF, "--config", cfg)
    (stored,) = [r for r in scli.json("results", "latest", "--config", cfg) if r["run_id"] == run["run_id"]]
    backtest = scli.json("backtest", "-s", "BTC", "-i", "1m", "--end", AS_OF, "--config", cfg)
    assert stored["window_coverage"] < 0.2  # 4.6 days of 1m bars stored in a 30-day window
    assert backtest["metrics"]["window_coverage"] == pytest.approx(stored["window_coverage"])
    report = " ".join(scli("backtest", "-s", "BTC", "-i", "1m", "--end", AS_OF, "--config", cfg).split())
    assert "of the 43,200 that [2025-06-26 04:00, 2025-07-26 04:00) holds at 1m" in report
    assert f"annualised from {stored['num_bars'] / 1440:.1f} days of 1m bars and" in report


async def test_token_selection_approves_what_the_daemon_approves_with_several_parameter_sets(
    scli: Cli, own_db_url: str, tmp_path: Path
) -> None:
    tokens = ("BTC", "ETH", "SOL", "OP", "AVAX", "DOGE")
    trends = sorted((60, 150), key=lambda t: params_hash("quad_ma", {"trend": t, "volume_filter": False}))
    # The bots trade the first quad_ma set configured. Put first the one whose hash sorts last, so that
    # "the newest result of any set, ties broken by params_hash" would rank the other set's results.
    traded, other = trends[1], trends[0]
    digest = {t: params_hash("quad_ma", {"trend": t, "volume_filter": False}) for t in trends}
    text = (
        universe(tokens, backtest_window_days=2)
        + "parameter_sets = ["
        + f"{{ strategy = 'quad_ma', params = {{ trend = {traded}, volume_filter = false }} }}, "
        + f"{{ strategy = 'quad_ma', params = {{ trend = {other}, volume_filter = false }} }}, "
        + "{ strategy = 'ma_crossover', params = { fast = 5, slow = 20 } }]\n"
        + LOOSE
        + "top_n = 3\n[bots]\nenabled = false\n"
    )
    path = write(tmp_path, "sets.toml", text, own_db_url)
    cfg = load_config(path, env={})
    now = datetime.fromisoformat(AS_OF)
    db = await DatabaseClient.connect(cfg.database)
    try:
        daemon = Daemon(cfg, db, None, clock_ms=lambda: datetime_to_ms(now))
        try:
            await daemon.scheduler.run_once()
        finally:
            await daemon.stop()
        (cycle,) = daemon.cycles
        assert cycle.selection is not None, cycle.skipped or cycle.error
        assert len(cycle.selection.approved) == 3
        on_other = await db.query_latest_backtest_results("quad_ma", digest[other])
    finally:
        await db.close()
    # Precondition: the other quad_ma set, ranked alone, approves other tokens.
    assert evaluate(on_other, cfg.token_selection, now).approved != cycle.selection.approved

    manual = await asyncio.to_thread(scli.json, "token-selection", "--as-of", AS_OF, "--config", path)
    assert manual["approved"] == cycle.selection.approved
    assert {t["params_hash"] for t in manual["tokens"]} == {digest[traded]}


def test_token_selection_shows_regime_psr_and_dsr_and_explains_the_gates(
    scli: Cli, own_db_url: str, tmp_path: Path
) -> None:
    gates = "allowed_regimes = ['high']\nmin_psr = 0.9\nmin_dsr = 0.5\nregime_lookback_days = 30\n"
    cfg = write(
        tmp_path,
        "g.toml",
        universe((*THREE, "OP", "AVAX", "DOGE"), interval="1h") + LOOSE + gates,
        own_db_url,
    )
    run = scli.json("sweep", "--as-of", AS_OF, "--config", cfg)
    assert run["status"] == "ok"
    stored = {r["symbol"]: r for r in scli.json("results", "latest", "--config", cfg)}
    assert {r["regime"] for r in stored.values()} <= {"low", "normal", "high"}  # 30 days of lookback: known
    assert all(0.0 <= r["psr"] <= 1.0 for r in stored.values())
    selection = scli.json("token-selection", "--as-of", AS_OF, "--config", cfg)
    regime_failures = 0
    for token in selection["tokens"]:
        result = stored[token["symbol"]]
        assert (token["regime"], token["psr"], token["trials"]) == (result["regime"], result["psr"], 6)
        assert 0.0 <= token["dsr"] <= token["psr"]  # deflating by six trials only lowers it
        expected = []
        if token["regime"] != "high":
            expected.append(f"regime {token['regime']} not in allowed high")
            regime_failures += 1
        if token["psr"] < 0.9:
            expected.append(f"PSR {token['psr']:.2f} < 0.90")
        if token["dsr"] < 0.5:
            expected.append(f"DSR {token['dsr']:.2f} < 0.50")
        assert [f["text"] for f in token["failed"]] == expected, token["symbol"]
        assert token["approved"] == (not expected)
    assert regime_failures > 0
    table = scli("token-selection", "--as-of", AS_OF, "--config", cfg)
    assert "regime in high, PSR ≥ 0.90, DSR ≥ 0.50" in table
    for header in ("regime", "PSR", "DSR"):
        assert header in table
    assert "regime = the window's hourly realised volatility" in table
    latest_table = scli("results", "latest", "--config", cfg)
    assert "regime = the window's hourly realised volatility" in latest_table
    png = tmp_path / "strip.png"  # a regime failure has a colour in the history strip
    history = scli.json("selection", "history", "--limit", "50", "--plot", str(png), "--config", cfg)
    cells = [c for s in history["selections"] for c in s["tokens"].values()]
    assert any(c["failed"] and c["failed"][0].startswith("regime ") for c in cells)
    assert png.read_bytes()[:4] == b"\x89PNG"


OPTIMISED = """[optimisation]
enabled = true
min_dsr = 0.0
chunk_size = 4
[optimisation.quad_ma]
short_1 = [3, 5]
short_2 = [8]
long_1 = [15]
long_2 = [30]
trend = [60]
volume_filter = [false]
take_profit = [0.004, 0.01]
stop_loss = [0.003]
[optimisation.ma_crossover]
fast = [3, 5]
slow = [20, 30]
"""


def test_with_optimisation_enabled_token_selection_shows_each_tokens_choice_with_n_and_dsr(
    scli: Cli, own_db_url: str, tmp_path: Path
) -> None:
    tokens = ("BTC", "ETH", "SOL", "OP")
    # Results of 2025 are old today: a long max_result_age_hours lets the sweep's cycle select on them.
    text = universe(tokens, backtest_window_days=2) + LOOSE + "top_n = 2\nmax_result_age_hours = 1e9\n"
    text += OPTIMISED
    cfg = write(tmp_path, "opt.toml", text, own_db_url)
    run = scli.json("sweep", "--as-of", AS_OF, "--config", cfg)
    assert run["optimisation"]["status"] == "ok"
    assert run["optimisation"]["trials"] == len(tokens) * 8
    assert run["selection"]["strategy"] == "optimised"

    selection = scli.json("token-selection", "--as-of", AS_OF, "--config", cfg)
    assert selection["stored"] is True
    assert selection["strategy"] == "optimised"
    assert selection["min_dsr"] == 0.0
    assert selection["approved"] == run["selection"]["approved"]
    assert len(selection["approved"]) == 2
    for token in selection["tokens"]:
        choice = token["choice"]
        assert choice["strategy"] in ("quad_ma", "ma_crossover")
        assert choice["n_trials"] == 8
        assert choice["dsr"] is None or 0.0 <= choice["dsr"] <= 1.0
        assert choice["source"] == f"optimisation run {run['optimisation']['run_id']}"
        assert token["params_hash"] == params_hash(choice["strategy"], choice["parameters"])

    table = " ".join(scli("token-selection", "--as-of", AS_OF, "--config", cfg).split())
    assert "token selection (optimised): 2 approved" in table
    for header in ("strategy", "parameters", "N", "DSR"):
        assert f" {header} " in table
    assert "DSR ≥ 0.00 over the token's N trials" in table
    assert "each token's chosen strategy and parameter set (latest optimisation)" in table
    history = scli.json("selection", "history", "--config", cfg)
    assert history["strategy"] == "optimised"
    assert history["selections"][-1]["approved"] == selection["approved"]
