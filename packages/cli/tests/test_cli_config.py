"""`config init|show|validate|reference`: every problem listed, comments kept, fire times from the trigger."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

from algo_trade_core import config_reference, config_toml, next_fire_times

from .conftest import Cli

REPO = Path(__file__).resolve().parents[3]
SETS = "ALGO_TRADE__SCHEDULER__PARAMETER_SETS"


def test_validate_lists_every_problem_with_suggestions(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "Config.toml"
    path.write_text(
        "[schedular]\nenabled = true\n"
        "[scheduler]\ncron_expression = '0 3 * * *'\ninterval = '[red]5m'\n"
        "[token_selection]\nweight_sharpe = nan\ntop_m = 3\n"
    )
    out = cli("config", "validate", "--config", str(path), code=2)
    assert f"error: 5 configuration problems ({path}):" in out
    expected = [
        f"{path}:1: schedular: unknown section; did you mean 'scheduler'?",
        f"{path}:4: scheduler.cron_expression: expected a cron expression of 6 fields, seconds first: "
        "expected 6 fields 'second minute hour day month day_of_week', got 5 in '0 3 * * *'",
        f"{path}:5: scheduler.interval: expected one of 1m, 3m, 5m",  # the value's brackets survive
        "got '[red]5m'",
        f"{path}:7: token_selection.weight_sharpe: expected a finite number, got nan",
        f"{path}:8: token_selection.top_m: unknown key; did you mean 'top_n'?",
    ]
    for fragment in expected:
        assert fragment in out, f"{fragment!r} missing from:\n{out}"
    assert " in ;" not in out
    assert "Traceback" not in out


def test_validate_prints_the_next_fires_of_the_trigger(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "Config.toml"
    path.write_text("[scheduler]\ncron_expression = '0 0 3 1 * mon'\n")
    out = cli("config", "validate", "--config", str(path))
    assert out.startswith(f"ok {path}: cron '0 0 3 1 * mon', 20 tokens, interval 1m\n")
    shown = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out.split("next sweeps:")[1])
    expected = next_fire_times("0 0 3 1 * mon", datetime.now(UTC), 3)
    assert shown == [f.strftime("%Y-%m-%d %H:%M:%S") for f in expected]
    # Classic cron: the 1st of a month or a Monday, so never more than a week apart.
    assert all((b - a).days <= 7 for a, b in itertools.pairwise(expected))
    show = cli("config", "show", "--config", str(path), stdout_only=True)
    assert f"# next sweeps: {', '.join(shown)} (UTC)" in show


def test_sweep_with_an_impossible_parameter_set_is_a_clear_error(cli: Cli) -> None:
    # The example: it passed `config validate`, then `sweep` died with a raw ValueError traceback.
    cli.env[SETS] = '[{strategy = "quad_ma", params = {trend = 0}}]'
    for command in (["config", "validate"], ["sweep", "--no-refresh"], ["scheduled-backtest"]):
        out = cli(*command, code=2)
        assert f"{SETS}: scheduler.parameter_sets[0].params.trend: expected >= 1, got 0" in out, out
        assert "Traceback" not in out
    cli.env[SETS] = '[{strategy = "ma_crossover", params = {fast = 40}}]'
    out = cli("sweep", "--no-refresh", code=2)
    assert f"{SETS}: scheduler.parameter_sets[0].params.fast: expected < slow (30), got 40" in out


def test_init_writes_the_commented_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "Config.toml"
    cli("config", "init", str(path))
    text = path.read_text()
    assert text == config_toml() == (REPO / "config" / "Config.toml").read_text()
    assert "# When sweeps run, in UTC" in text
    assert "# The web dashboard (`algo-trade dashboard`; the daemon too when enabled)" in text
    cli("config", "init", str(path), code=1)  # refuses to overwrite without --force
    cli("config", "init", str(path), "--force")
    assert cli("config", "init", "--stdout", stdout_only=True) == text
    assert "ok" in cli("config", "validate", "--config", str(path))


def test_show_output_loads_back(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "in.toml"
    source.write_text("[scheduler]\nparameter_sets = [{ strategy = 'quad_ma', params = { trend = 150 } }]\n")
    shown = tmp_path / "shown.toml"
    shown.write_text(cli("config", "show", "--config", str(source), stdout_only=True))
    as_json = cli.json("config", "show", "--config", str(shown))
    assert as_json["scheduler"]["parameter_sets"] == [{"strategy": "quad_ma", "params": {"trend": 150}}]


def test_reference_is_the_committed_doc(cli: Cli) -> None:
    out = cli("config", "reference", stdout_only=True)
    assert out == config_reference() == (REPO / "docs" / "configuration.md").read_text()


TOKEN = "dashboard-token-0123456789abcdef"
PASSWORD = "pg-pass-4f9c2e"


def test_show_redacts_the_token_and_the_database_password(cli: Cli, tmp_path: Path) -> None:
    cli.env["ALGO_TRADE__SERVER__TOKEN"] = TOKEN
    cli.env["ALGO_TRADE__DATABASE__URL"] = f"postgresql://trader:{PASSWORD}@db.internal:5432/algo_trade"
    text = cli("config", "show", stdout_only=True)
    data = cli.json("config", "show")
    for shown in (text, str(data)):
        assert TOKEN not in shown
        assert PASSWORD not in shown
    assert 'token = "***"' in text
    assert 'url = "postgresql://trader:***@db.internal:5432/algo_trade"' in text
    assert "# secrets are shown as ***" in text
    assert data["server"]["token"] == "***"
    assert data["database"]["url"] == "postgresql://trader:***@db.internal:5432/algo_trade"
    # The rest is printed as it is: what a secret is not, is not hidden.
    assert data["server"]["port"] == 8080
    # The printout used as a configuration file fails loudly instead of serving with the token "***".
    path = tmp_path / "shown.toml"
    path.write_text(text)
    del cli.env["ALGO_TRADE__SERVER__TOKEN"]
    out = cli("config", "validate", "--config", str(path), code=2)
    assert "server.token: expected an empty string (no token) or at least 16 characters" in out


def test_show_leaves_an_unset_token_and_a_password_less_url_alone(cli: Cli) -> None:
    cli.env.pop("ALGO_TRADE__SERVER__TOKEN", None)
    data = cli.json("config", "show")
    assert data["server"]["token"] == ""
    assert data["database"]["url"] == cli.env["ALGO_TRADE__DATABASE__URL"]
