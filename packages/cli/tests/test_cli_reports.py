"""Reports, plots and exports a trader recognises: backtest report, charts, history views, CSV/Feather.

The CLI runs against a database of this module's own (seeded with runs, results and selections), so
nothing here depends on, or disturbs, what the other CLI tests store.
"""

from __future__ import annotations

import csv
import json
import math
import struct
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algo_trade_backtest import backtest_report, run_backtest_frame
from algo_trade_cli._plots import backtest_chart
from algo_trade_cli._plots_history import history_lines
from algo_trade_cli.cmd_selection import cell_of, selection_grid
from algo_trade_core import SelectionCriteria
from algo_trade_data import BacktestResultRecord, BacktestRunRecord, DatabaseClient, SelectionRecord
from algo_trade_data.testing import temporary_database
from algo_trade_token_selector import evaluate

from .conftest import HL_FILES, Cli

T = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)
ETH_WINDOW = (
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


def need_files() -> None:
    if not HL_FILES.is_dir():
        pytest.skip(f"real candle files not found at {HL_FILES} (the shared data folder is absent)")


def result(
    symbol: str,
    *,
    at: datetime,
    end: datetime,
    interval: str = "1h",
    params: dict[str, object] | None = None,
    params_hash: str = "p1",
    run_id: str | None = None,
    **metrics: object,
) -> BacktestResultRecord:
    base = BacktestResultRecord(
        timestamp=at,
        symbol=symbol,
        strategy_name="quad_ma",
        parameters=params
        or {"short_1": 5, "short_2": 10, "long_1": 20, "long_2": 50, "trend": 100, "take_profit": "0.02"},
        sharpe_ratio=1.5,
        total_return=Decimal("0.1"),
        max_drawdown=Decimal("0.05"),
        num_trades=12,
        win_rate=0.55,
        initial_capital=Decimal(10000),
        final_capital=Decimal(11000),
        backtest_window_start=end - timedelta(days=30),
        backtest_window_end=end,
        run_id=run_id,
        interval=interval,
        params_hash=params_hash,
        window_coverage=1.0,
    )
    return replace(base, **metrics)  # type: ignore[arg-type]


# SOL's stored history: the backfill run (newest wall-clock time) has the OLDEST window end.
SOL_HISTORY = [
    result("SOL", at=T, end=datetime(2025, 6, 1, tzinfo=UTC), sharpe_ratio=1.0, run_id="r-ok"),
    result("SOL", at=T + timedelta(hours=1), end=datetime(2025, 6, 15, tzinfo=UTC), sharpe_ratio=2.0),
    result("SOL", at=T + timedelta(hours=2), end=datetime(2025, 5, 1, tzinfo=UTC), sharpe_ratio=-1.0),
    result(
        "SOL",
        at=T + timedelta(hours=1),
        end=datetime(2025, 6, 15, tzinfo=UTC),
        params={"short_1": 3, "short_2": 6, "long_1": 12, "long_2": 24, "trend": 48},
        params_hash="p2",
        sharpe_ratio=0.5,
    ),
    result("SOL", at=T + timedelta(hours=3), end=datetime(2025, 6, 20, tzinfo=UTC), interval="1m"),
]


def selections() -> list[SelectionRecord]:
    """Three selections the selector itself explains: normal (one cut by top_n), fallback, all failing."""
    strong = {"BTC": 2.0, "ETH": 1.8, "SOL": 0.4}
    normal = evaluate(
        {s: result(s, at=T, end=T, sharpe_ratio=v) for s, v in strong.items()},
        SelectionCriteria(top_n=1),
        T,
    )
    fallback = evaluate(
        {s: result(s, at=T, end=T, sharpe_ratio=0.5, win_rate=0.3) for s in ("BTC", "ETH")},
        SelectionCriteria(fallback_top_n=1),
        T + timedelta(days=1),
    )
    none = evaluate(
        {"BTC": result("BTC", at=T, end=T, num_trades=2), "DOGE": result("DOGE", at=T, end=T, win_rate=0.1)},
        SelectionCriteria(fallback_top_n=0),
        T + timedelta(days=2),
    )
    return [
        SelectionRecord(
            selected_at=s.selected_at,
            strategy_name="quad_ma",
            approved=s.approved,
            details=[t.to_json() for t in s.tokens],
            fallback_used=s.fallback_used,
            run_id=f"run-{i}",
        )
        for i, s in enumerate((normal, fallback, none))
    ]


RUNS = [
    BacktestRunRecord(
        run_id="r-ok", started_at=T, finished_at=T + timedelta(seconds=75), status="ok", tokens_ok=1
    ),
    BacktestRunRecord(
        run_id="r-failed",
        started_at=T + timedelta(hours=1),
        finished_at=T + timedelta(hours=1, seconds=3),
        status="failed",
        tokens_failed=3,
        errors={"BTC": "no 1h candles stored", "ETH": "no 1h candles stored", "SOL": "exchange unreachable"},
        config={
            "scheduler": {"interval": "1h"},
            "window": {"start": "2025-06-01T00:00:00+00:00", "end": "2025-07-01T00:00:00+00:00"},
        },
    ),
    BacktestRunRecord(
        run_id="r-running", started_at=T + timedelta(hours=2), finished_at=None, status="running"
    ),
]


@pytest.fixture(scope="module")
async def own_db_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        async with await DatabaseClient.connect(url) as db:
            await db.insert_backtest_results_batch(SOL_HISTORY)
            for run in RUNS:
                await db.record_run(run)
            for selection in selections():
                await db.insert_selection(selection)
        yield url


@pytest.fixture
def own(own_db_url: str) -> Cli:
    """The CLI on the seeded history database."""
    return Cli(own_db_url)


@pytest.fixture(scope="module")
async def store_db_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        yield url


@pytest.fixture
def store(store_db_url: str) -> Cli:
    """The CLI on a database of this module's sweeps and imports (the history database stays as seeded)."""
    return Cli(store_db_url)


# --- backtest report ------------------------------------------------------------------------------


def test_backtest_report_shows_the_freqtrade_figures_with_what_they_were_computed_on(
    own: Cli, tmp_path: Path
) -> None:
    need_files()
    path = str(HL_FILES / "ETH_USDC_USDC-1h-futures.feather")
    table = own("backtest", *ETH_WINDOW, "--data", path)
    for label in (
        "avg trade duration",
        "best trade",
        "worst trade",
        "expectancy",
        "fees paid",
        "long trades",
        "short trades",
        "monthly returns",
    ):
        assert label in table, label
    assert "from 90.0 days" in table  # CAGR says what it was annualised from
    assert "2,160 1h bars, 90.0 days" in table
    for month in ("2025-01", "2025-02", "2025-03"):
        assert month in table

    data = own.json("backtest", *ETH_WINDOW, "--data", path)
    report, metrics, trades = data["report"], data["metrics"], data["trades"]
    assert [m["month"] for m in report["monthly_returns"]] == ["2025-01", "2025-02", "2025-03"]
    growth = math.prod(1 + m["return"] for m in report["monthly_returns"])
    assert growth == pytest.approx(1 + metrics["total_return"], abs=1e-8)
    assert report["long"]["num_trades"] + report["short"]["num_trades"] == metrics["num_trades"]
    assert report["long"]["pnl"] + report["short"]["pnl"] == pytest.approx(sum(t["pnl"] for t in trades))
    # ma_crossover is always in the market: one position is still open, its entry fee counts too
    assert report["fills"] == 2 * len(trades) + 1
    assert report["fees_paid"] > sum(t["fees"] for t in trades)
    assert report["days"] == 90.0
    assert report["cagr"] == pytest.approx((1 + metrics["total_return"]) ** (365 / 90) - 1, rel=1e-6)
    durations = [
        (datetime.fromisoformat(t["exit_time"]) - datetime.fromisoformat(t["entry_time"])).total_seconds()
        for t in trades
    ]
    assert report["max_duration_s"] == max(durations)
    assert report["avg_duration_s"] == pytest.approx(sum(durations) / len(durations))
    best = max(trades, key=lambda t: t["pnl"] / (t["qty"] * t["entry_price"]))
    assert report["best_trade"]["entry_time"] == best["entry_time"]


def test_trades_csv_holds_every_trade(own: Cli, tmp_path: Path) -> None:
    need_files()
    path = str(HL_FILES / "ETH_USDC_USDC-1h-futures.feather")
    out = tmp_path / "trades" / "eth.csv"
    data = own.json("backtest", *ETH_WINDOW, "--data", path, "--trades-csv", str(out))
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(data["trades"]) > 10
    assert [float(r["pnl"]) for r in rows] == [t["pnl"] for t in data["trades"]]  # full precision
    assert rows[0]["symbol"] == "ETH"
    assert rows[0]["entry_time"] == data["trades"][0]["entry_time"]
    assert {r["side"] for r in rows} == {"long", "short"}


def test_backtest_plot_is_written(own: Cli, tmp_path: Path) -> None:
    need_files()
    png = tmp_path / "eth.png"
    out = own(
        "backtest",
        *ETH_WINDOW,
        "--data",
        str(HL_FILES / "ETH_USDC_USDC-1h-futures.feather"),
        "--plot",
        str(png),
    )
    assert f"wrote {png}" in out.replace("\n", "")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1430, 990)  # the tall three-panel chart, 13 x 9 in
    assert png.stat().st_size > 50_000


# --- chart data -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("strategy", "averages"), [("quad_ma", 5), ("ma_crossover", 2)])
def test_chart_draws_the_strategy_averages_and_every_trade_of_a_long_1m_series(
    strategy: str, averages: int
) -> None:
    need_files()
    frame = pl.read_ipc(HL_FILES / "SOL_USDC_USDC-1m-futures.feather").rename({"date": "timestamp"})
    frame = frame.with_columns(pl.col("timestamp").dt.cast_time_unit("ms"))
    result = run_backtest_frame(frame, strategy=strategy, interval="1m")  # type: ignore[arg-type]
    ts = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
    close = frame["close"].to_numpy()
    chart = backtest_chart(
        result,
        backtest_report(result, ts),
        symbol="SOL",
        timestamps_ms=ts,
        first_open=float(frame["open"][0]),
        close=close,
        max_points=600,
    )
    assert frame.height > 5_000
    assert len(chart.averages) == averages
    assert chart.price[0].shape[0] <= 600
    assert chart.equity[0].shape[0] <= 600
    assert close.max() in chart.price[1]
    assert close.min() in chart.price[1]
    assert chart.drawdown[1].max() == pytest.approx(float(result.metrics.max_drawdown), abs=1e-8)
    # every trade keeps both markers, coloured by its outcome; an open position its entry
    entries = [m for m in chart.markers if m.kind == "entry" and m.outcome != "open"]
    exits = [m for m in chart.markers if m.kind == "exit"]
    assert len(entries) == len(exits) == len(result.trades) > 5
    assert [m.outcome == "win" for m in exits] == [t.pnl > 0 for t in result.trades]
    assert [m.side for m in entries] == [t.side for t in result.trades]
    assert [m.price for m in exits] == [t.exit_price for t in result.trades]
    assert sum(m.outcome == "open" for m in chart.markers) == (result.open_position is not None)
    assert "min and max" in chart.note
    assert "Sharpe" in chart.title
    assert "CAGR" in chart.title


# --- results history ------------------------------------------------------------------------------


def test_history_lines_are_by_window_end_one_per_interval_and_parameter_set() -> None:
    lines = history_lines(SOL_HISTORY)
    assert [line.label for line in lines] == [
        "1h quad_ma MA 5/10/20/50/100, TP 2%",
        "1h quad_ma MA 3/6/12/24/48",
        "1m quad_ma MA 5/10/20/50/100, TP 2%",
    ]
    main = lines[0]
    # x is the window end, in order, not the wall-clock time of the run (the backfill comes first)
    assert main.window_end == [datetime(2025, m, d, tzinfo=UTC) for m, d in ((5, 1), (6, 1), (6, 15))]
    assert main.sharpe == [-1.0, 1.0, 2.0]
    same = [replace(SOL_HISTORY[1], timestamp=T + timedelta(days=1), sharpe_ratio=3.0), *SOL_HISTORY]
    assert history_lines(same)[0].sharpe == [-1.0, 1.0, 3.0]  # a re-run window: the newest run wins


def test_results_history_plot_and_csv(own: Cli, tmp_path: Path) -> None:
    png, out = tmp_path / "sol.png", tmp_path / "sol.csv"
    text = own("results", "history", "SOL", "--plot", str(png), "--csv", str(out)).replace("\n", "")
    assert f"wrote {len(SOL_HISTORY)} result(s) to {out}" in text
    assert png.read_bytes()[:4] == b"\x89PNG"
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(SOL_HISTORY)
    assert {"backtest_window_end", "interval", "params_hash", "sharpe_ratio", "parameters"} <= set(rows[0])
    assert json.loads(rows[0]["parameters"])["short_1"] in (3, 5)
    latest = tmp_path / "latest.csv"
    own("results", "latest", "--all-params", "--all-intervals", "--csv", str(latest))
    with latest.open() as fh:
        assert [r["symbol"] for r in csv.DictReader(fh)] == ["SOL"]  # the only token of this database


# --- selection history and runs -------------------------------------------------------------------


def test_selection_cells_read_names_sentences_and_mappings() -> None:
    assert cell_of({"approved": True, "rank": 2}, fallback_selection=False).label == "✓ 2"
    assert cell_of({"approved": True, "rank": 1, "fallback": True}, fallback_selection=True).label == "FB 1"
    assert cell_of({"approved": False, "failed": []}, fallback_selection=False).label == "> top_n"
    named = cell_of({"failed": ["min_win_rate", "min_num_trades"]}, fallback_selection=False)
    assert (named.label, named.colour_key) == ("✗ win rate +1", "win rate")
    sentence = cell_of({"failed": ["Sharpe -5.01 < 1.00"]}, fallback_selection=False)
    assert (sentence.criterion, sentence.failed) == ("Sharpe", ("Sharpe -5.01 < 1.00",))
    mapping = cell_of(
        {"failed": [{"criterion": "max_drawdown", "message": "max drawdown 31 % > 20 %"}]},
        fallback_selection=False,
    )
    assert (mapping.criterion, mapping.failed) == ("drawdown", ("max drawdown 31 % > 20 %",))


def test_selection_grid_marks_each_token_in_each_selection() -> None:
    grid = selection_grid(selections())
    assert grid.symbols == ["BTC", "DOGE", "ETH", "SOL"]  # most often approved first
    btc, doge, eth, sol = ([c.label for c in row] for row in grid.cells)
    assert btc == ["✓ 1", "FB 1", "✗ trades"]
    assert eth == ["> top_n", "✗ Sharpe +1", ""]  # absent from the third selection
    assert sol == ["✗ Sharpe", "", ""]
    assert doge == ["", "", "✗ win rate"]
    assert grid.fallback == [False, True, False]


def test_selection_history_table_json_and_plot(own: Cli, tmp_path: Path) -> None:
    table = own("selection", "history")
    assert "FALLBACK" in table
    assert "✗ Sharpe" in table
    assert "> top_n" in table
    data = own.json("selection", "history")
    assert [s["run_id"] for s in data["selections"]] == ["run-0", "run-1", "run-2"]
    first = data["selections"][0]["tokens"]
    assert first["BTC"] == {"status": "approved", "rank": 1, "failed": []}
    assert first["ETH"] == {"status": "beyond top_n", "rank": 2, "failed": []}
    assert first["SOL"]["status"] == "failed"
    assert len(first["SOL"]["failed"]) == 1  # the stored explanation, as the selector wrote it
    assert data["selections"][1]["tokens"]["BTC"]["status"] == "fallback"
    assert data["selections"][2]["tokens"]["ETH"]["status"] == "absent"
    assert len(own.json("selection", "history", "--limit", "1")["selections"]) == 1
    png = tmp_path / "strip.png"
    own("selection", "history", "--plot", str(png))
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_runs_list_shows_status_counts_duration_and_errors(own: Cli) -> None:
    table = own("runs", "list")
    assert "r-failed"[:8] in table
    assert "1m 15s" in table  # r-ok took 75 s
    assert "BTC: no 1h candles stored" in table
    assert "(+1 more" in table
    runs = own.json("runs", "list")
    assert [r["run_id"] for r in runs] == ["r-running", "r-failed", "r-ok"]
    running, failed, ok = runs
    assert (ok["status"], ok["seconds"], ok["results"], ok["interval"]) == ("ok", 75.0, 1, "1h")
    assert ok["window_end"] == "2025-06-01T00:00:00+00:00"
    assert failed["errors"]["SOL"] == "exchange unreachable"
    assert (failed["results"], failed["interval"], failed["window_end"]) == (
        0,
        "1h",
        "2025-07-01T00:00:00+00:00",
    )
    assert running["seconds"] is None
    assert [r["run_id"] for r in own.json("runs", "list", "--limit", "1")] == ["r-running"]
    assert [r["run_id"] for r in own.json("runs", "list", "--status", "failed")] == ["r-failed"]
    assert "--status" in own("runs", "list", "--status", "broken", code=2)


# --- sweep --json and data export -----------------------------------------------------------------


def test_sweep_json_has_a_row_per_token_with_its_metrics(store: Cli, tmp_path: Path) -> None:
    need_files()
    for symbol in ("BTC", "ETH"):
        store("data", "import", str(HL_FILES / f"{symbol}_USDC_USDC-1h-futures.feather"))
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[scheduler]\ntoken_universe = ['BTC', 'ETH', 'NOPE']\ninterval = '1h'\nrefresh_data = false\n"
    )
    run = store.json("sweep", "--as-of", "2025-07-01T00:00:00Z", "--config", str(cfg))
    tokens = {t["symbol"]: t for t in run["tokens"]}
    assert set(tokens) == {"BTC", "ETH", "NOPE"}
    assert tokens["NOPE"]["ok"] is False
    assert "NOPE" in run["errors"]
    assert tokens["NOPE"]["error"] == run["errors"]["NOPE"]
    btc = tokens["BTC"]
    assert (btc["ok"], btc["error"], btc["num_bars"]) == (True, None, 30 * 24)
    assert btc["window_coverage"] == 1.0
    (metrics,) = btc["results"]
    assert metrics["interval"] == "1h"
    assert metrics["run_id"] == run["run_id"]
    stored = store.json("results", "history", "BTC")[0]
    for key in ("sharpe_ratio", "total_return", "max_drawdown", "num_trades", "win_rate", "params_hash"):
        assert metrics[key] == stored[key], key


def test_data_export_writes_feather_by_suffix_or_format(store: Cli, tmp_path: Path) -> None:
    need_files()
    source = HL_FILES / "SOL_USDC_USDC-1h-futures.feather"
    store("data", "import", str(source))
    out = tmp_path / "SOL_USDC_USDC-1h-futures.feather"
    store("data", "export", "-s", "SOL", "--interval", "1h", "-o", str(out))
    exported, original = pl.read_ipc(out), pl.read_ipc(source)
    assert exported.columns == ["date", "open", "high", "low", "close", "volume"]  # freqtrade's file
    assert exported.height == original.height
    assert exported["close"].to_list() == original["close"].to_list()
    assert exported["date"].dt.epoch("ms").to_list() == original["date"].dt.epoch("ms").to_list()
    other = tmp_path / "sol.bin"
    note = store("data", "export", "-s", "SOL", "--interval", "1h", "-o", str(other), "--format", "feather")
    assert "SOL_USDC_USDC-1h-futures.feather" in note.replace("\n", "")  # how to name it for freqtrade
    assert pl.read_ipc(other).equals(exported)
    err = store(
        "data",
        "export",
        "-s",
        "SOL",
        "--interval",
        "4h",
        "-o",
        str(tmp_path / "x.feather"),
        "--format",
        "csv",
        code=2,
    )
    assert "contradicts" in err
    err = store("data", "export", "-s", "SOL", "--interval", "4h", "-o", str(tmp_path / "x.dat"), code=2)
    assert "--format" in err
    assert not (tmp_path / "x.feather").exists()


def test_parameter_summaries_and_durations_read_as_a_trader_writes_them() -> None:
    from algo_trade_cli._format import fmt_duration, fmt_params

    toml_floats = {
        "short_1": 3.0,
        "short_2": 6.0,
        "long_1": 12,
        "long_2": 24,
        "trend": 48,
        "stop_loss": "0.005",
    }
    assert fmt_params("quad_ma", toml_floats) == "MA 3/6/12/24/48, SL 0.5%"
    assert fmt_params("ma_crossover", {"fast": 12, "slow": 48}) == "MA 12/48"
    assert fmt_params("quad_ma", None) == "defaults"
    assert [fmt_duration(s) for s in (0, 45, 75, 3_600, 90_061)] == [
        "0s",
        "45s",
        "1m 15s",
        "1h 00m",
        "1d 01h 01m",
    ]
    assert fmt_duration(None) == "–"
