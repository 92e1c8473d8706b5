"""`algo-trade walkforward`: a study on imported real candles, stored, listed, shown; bad input refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from algo_trade_data.testing import hyperliquid_file, temporary_database

from .conftest import Cli

TOKENS = ("BTC", "ETH", "SOL", "DOGE")


@pytest.fixture(scope="module")
async def study_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        yield url


@pytest.fixture(scope="module")
def study(study_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Path]:
    """The CLI on a database holding the real 1h candles of four tokens; a 1h configuration."""
    cli = Cli(study_url)
    config = tmp_path_factory.mktemp("wf") / "config.toml"
    universe = ", ".join(f'"{t}"' for t in TOKENS)
    config.write_text(
        f'[scheduler]\ninterval = "1h"\nrefresh_data = false\ntoken_universe = [{universe}]\n'
        '[bots]\ninterval = "1h"\n'
        "[token_selection]\nmin_sharpe_ratio = 0.0\nmin_win_rate = 0.3\ntop_n = 2\n"
    )
    cli("db", "init")
    for token in TOKENS:
        cli("data", "import", str(hyperliquid_file(token, "1h")), "--config", str(config))
    return cli, config


def test_a_study_prints_the_json_shape_stores_it_and_shows_it_again(
    study: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, config = study
    out = cli.json(
        "walkforward", "--from", "2025-03-01", "--to", "2025-05-01", "--random-draws", "50", "-c", str(config)
    )
    assert {"summary", "periods", "statistics", "settings", "run_id"} <= set(out)
    assert {"psr", "dsr", "pbo"} <= set(out["statistics"])
    first = out["periods"][0]
    assert first["start"].startswith("2025-03-01")
    for key in ("approved", "fallback", "turnover", "ic", "selection_return", "universe_return"):
        assert key in first
    assert len(out["periods"]) == 9  # weekly from 2025-03-01 to 2025-05-01
    assert out["summary"]["selection"]["bars"] == 61 * 24
    listed = cli.json("walkforward", "list", "-c", str(config))
    assert listed[0]["run_id"] == out["run_id"]
    shown = cli.json("walkforward", "show", out["run_id"][:10], "-c", str(config))
    for stored, fresh in zip(shown["periods"], out["periods"], strict=True):
        for key in ("start", "end", "approved", "fallback", "ic", "selection_return", "universe_return"):
            assert stored[key] == fresh[key], key
    assert shown["statistics"]["psr"] == pytest.approx(out["statistics"]["psr"])
    # Out-of-sample returns by the regime each token was in at selection, fresh and stored.
    by_regime = out["summary"]["by_regime"]
    assert set(by_regime) == {"low", "normal", "high", "unknown"}
    eligible = sum(len(p["token_returns"]) for p in out["periods"])
    assert sum(s["eligible"] for s in by_regime.values()) == eligible > 0
    assert by_regime["unknown"]["eligible"] == 0  # six months of 1h bars before March: every regime known
    assert all(set(p["regimes"]) >= set(p["token_returns"]) for p in out["periods"])
    assert shown["summary"]["by_regime"] == by_regime
    assert shown["periods"][0]["regimes"] == out["periods"][0]["regimes"]
    png = tmp_path / "wf.png"
    text = cli("walkforward", "show", out["run_id"], "--plot", str(png), "-c", str(config))
    assert "verdict:" in text
    assert "by regime at selection (token-periods, mean out-of-sample return): " in " ".join(text.split())
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_grid_reports_the_best_variant_deflated(study: tuple[Cli, Path], tmp_path: Path) -> None:
    cli, config = study
    before = cli.json("walkforward", "list", "-c", str(config))
    grid = tmp_path / "grid.toml"
    grid.write_text("min_sharpe_ratio = [0.0, 2.0]\ntop_n = [1, 3]\n")
    out = cli.json(
        "walkforward",
        "--from",
        "2025-03-01",
        "--to",
        "2025-05-01",
        "--grid",
        str(grid),
        "--random-draws",
        "20",
        "--no-store",
        "-c",
        str(config),
    )
    assert out["run_id"] is None
    assert out["grid"]["variants"] == 4
    assert 0.0 <= out["grid"]["pbo"] <= 1.0
    assert 0.0 <= out["statistics"]["dsr"] <= 1.0
    assert "distinguishable from luck" in out["grid"]["verdict"]
    assert cli.json("walkforward", "list", "-c", str(config)) == before  # --no-store


@pytest.mark.parametrize(
    ("args", "grid_text", "expected"),
    [
        (("--from", "2030-01-01", "--to", "2030-02-01"), None, "nothing to evaluate"),
        (("--step", "7 days"), None, "--step: expected a positive duration"),
        (("-s", "NOPE"), None, "no 1h candles stored for NOPE"),
        ((), "min_sharp_ratio = [1.0]\n", "unknown key 'min_sharp_ratio' (did you mean 'min_sharpe_ratio'?)"),
        ((), "top_n = [2.5]\n", "expected an integer, got 2.5"),
        ((), "top_n = [0]\n", "top_n"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_nothing_stored(
    study: tuple[Cli, Path], tmp_path: Path, args: tuple[str, ...], grid_text: str | None, expected: str
) -> None:
    cli, config = study
    before = cli.json("walkforward", "list", "-c", str(config))
    extra: tuple[str, ...] = ()
    if grid_text is not None:
        grid = tmp_path / "grid.toml"
        grid.write_text(grid_text)
        extra = ("--grid", str(grid), "--from", "2025-03-01", "--to", "2025-04-01")
    out = cli("walkforward", *args, *extra, "-c", str(config), code=2)
    assert expected in " ".join(out.split())
    assert cli.json("walkforward", "list", "-c", str(config)) == before


SPACE = (
    "[quad_ma]\nshort_1 = [3, 5]\nshort_2 = [8, 13]\nlong_1 = [21]\nlong_2 = [34]\ntrend = [100]\n"
    "take_profit = [0.02]\nstop_loss = [0.01]\n"
    "[ma_crossover]\nfast = [3, 5]\nslow = [21, 34]\n"
)


def test_optimise_chooses_per_token_compares_with_the_fixed_set_and_is_stored(
    study: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, shared = study
    config = tmp_path / "config.toml"  # min_dsr 0: 8 trials on 20 days rarely reach the default 0.95
    config.write_text(shared.read_text() + "[optimisation]\nmin_dsr = 0.0\n")
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    common = ("--from", "2025-03-01", "--to", "2025-03-22", "--random-draws", "20", "-c", str(config))
    out = cli.json("walkforward", "--optimise", "--space", str(space), *common)
    opt = out["summary"]["optimisation"]
    assert opt["spec"]["sets"] == 8  # 4 quad_ma + 4 ma_crossover: every set passes the constraints
    assert opt["spec"]["strategies"] == ["quad_ma", "ma_crossover"]
    # The comparison is the plain walk-forward of the fixed set on the same periods, figure for figure.
    plain = cli.json("walkforward", *common, "--no-store")
    assert opt["fixed"]["selection"] == plain["summary"]["selection"]
    assert opt["fixed"]["psr"] == plain["statistics"]["psr"]
    assert opt["return_vs_fixed"] == pytest.approx(
        out["summary"]["selection"]["total_return"] - plain["summary"]["selection"]["total_return"]
    )
    # Each period: every token's choice among the 8 sets (N = 8), the approved ones trade it.
    assert len(out["periods"]) == 3
    for period in out["periods"]:
        assert set(period["choices"]) == set(TOKENS)
        assert {c["n_trials"] for c in period["choices"].values()} == {8}
        assert all(0.0 <= c["pbo"] <= 1.0 for c in period["choices"].values())
        assert set(period["approved"]) <= set(period["choices"])
    pairs = sum(len(p["approved"]) for p in out["periods"])
    assert opt["pairs"] == pairs > 0
    assert opt["pbo"]["count"] == 3 * len(TOKENS)
    assert opt["pbo"]["min"] <= opt["pbo"]["mean"] <= opt["pbo"]["max"]
    assert opt["degradation"] == pytest.approx(opt["out_of_sample_sharpe"] - opt["in_sample_sharpe"])
    # The regime split covers the optimised study too (six months of history: every regime known).
    assert out["summary"]["by_regime"]["unknown"]["eligible"] == 0
    # Every token's choice is traded by the universe baseline: one pair per token and period.
    assert opt["every_choice"]["pairs"] == 3 * len(TOKENS)
    assert "fixed parameter set" in out["summary"]["verdict"]
    shown = cli.json("walkforward", "show", out["run_id"], "-c", str(config))
    assert shown["summary"]["optimisation"] == opt
    assert [p["choices"] for p in shown["periods"]] == [p["choices"] for p in out["periods"]]
    listed = cli.json("walkforward", "list", "-c", str(config))
    assert listed[0]["strategy"] == "optimised"
    text = " ".join(cli("walkforward", "show", out["run_id"], "-c", str(config)).split())
    assert "walk-forward optimised per token 1h" in text
    assert "in sample → out of sample (approved token's chosen set): Sharpe" in text
    assert "in sample → out of sample (every token's chosen set): Sharpe" in text
    assert "PBO of the per-token choice" in text
    assert "fixed quad_ma parameter set on the same periods" in text
    assert "(N 8, DSR" in text  # the chosen set of each approved token per period


@pytest.mark.parametrize(
    ("args", "space_text", "expected"),
    [
        (("--space", "SPACE"), SPACE, "--space: only with --optimise"),
        (("--optimise", "--grid", "GRID"), SPACE, "--grid and --optimise: one at a time"),
        (
            ("--optimise", "--space", "SPACE"),
            "[quad_ma]\nshort_1 = [30]\nshort_2 = [8]\n",
            "quad_ma.short_2: expected a value above 30",
        ),
        (("--optimise", "--space", "SPACE"), "[quad]\nshort_1 = [3]\n", "expected [quad_ma] and/or"),
    ],
)
def test_bad_optimise_input_is_refused_with_exit_2(
    study: tuple[Cli, Path], tmp_path: Path, args: tuple[str, ...], space_text: str, expected: str
) -> None:
    cli, config = study
    before = cli.json("walkforward", "list", "-c", str(config))
    space = tmp_path / "space.toml"
    space.write_text(space_text)
    grid = tmp_path / "grid.toml"
    grid.write_text("top_n = [1, 2]\n")
    argv = [str(space) if a == "SPACE" else str(grid) if a == "GRID" else a for a in args]
    out = cli("walkforward", *argv, "--from", "2025-03-01", "--to", "2025-03-08", "-c", str(config), code=2)
    assert expected in " ".join(out.split())
    if "SPACE" in args and "--optimise" in args:
        assert str(space) in " ".join(out.split())
    assert cli.json("walkforward", "list", "-c", str(config)) == before
