"""One validator: every problem at once, strategy rules inside parameter sets, the same rules for code."""

from __future__ import annotations

from pathlib import Path

import pytest

from algo_trade_core import (
    BacktestConfig,
    ConfigError,
    MaCrossoverConfig,
    ParameterSet,
    QuadMaConfig,
    check_config,
    load_config,
    strategy_params_from_mapping,
)

ISSUE_SETS = "ALGO_TRADE__SCHEDULER__PARAMETER_SETS"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_is_listed_with_file_line_key_and_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[schedular]\n"  # line 1
        "enabled = true\n"
        "[scheduler]\n"
        "cron_expression = '0 0 3 * * 8'\n"  # line 4
        "backtest_window_days = 0\n"  # line 5
        "intervall = '1h'\n"  # line 6
        "[token_selection]\n"
        "weight_sharpe = nan\n"  # line 8
        "[strategy.quad_ma]\n"
        "short_1 = 30\n",  # line 10
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"ALGO_TRADE__BOTS__MAX_BOTS": "0"})
    problems = [str(p) for p in info.value.problems]
    assert problems == [
        f"{path}:1: schedular: unknown section; did you mean 'scheduler'?",
        f"{path}:4: scheduler.cron_expression: expected a cron expression of 6 fields, seconds first: "
        "day_of_week field: 8 is outside 0-7 (0 and 7 are Sunday)",
        f"{path}:5: scheduler.backtest_window_days: expected >= 1, got 0",
        f"{path}:6: scheduler.intervall: unknown key; did you mean 'interval'?",
        f"{path}:8: token_selection.weight_sharpe: expected a finite number, got nan",
        f"{path}:10: strategy.quad_ma.short_1: expected < short_2 (10), got 30",
        "ALGO_TRADE__BOTS__MAX_BOTS: bots.max_bots: expected >= 1, got 0",
    ]
    message = str(info.value)
    assert message.startswith(f"7 problems in {path} with ALGO_TRADE__BOTS__MAX_BOTS:\n")
    assert all(p in message for p in problems)
    assert " in ;" not in message


def test_parameter_sets_from_the_environment_are_checked_at_load() -> None:
    # The issue's example: it passed `config validate`, then `sweep` died with a raw ValueError.
    with pytest.raises(ConfigError) as info:
        load_config(None, env={ISSUE_SETS: '[{strategy = "quad_ma", params = {trend = 0}}]'})
    assert str(info.value) == f"{ISSUE_SETS}: scheduler.parameter_sets[0].params.trend: expected >= 1, got 0"


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (
            '[{strategy = "quad_ma", params = {shrot_1 = 3}}]',
            "scheduler.parameter_sets[0].params.shrot_1: unknown quad_ma parameter; did you mean 'short_1'?",
        ),
        (
            '[{strategy = "quad_ma", params = {trend = 200.0}}]',
            "scheduler.parameter_sets[0].params.trend: expected an integer, got 200.0",
        ),
        (
            '[{strategy = "quad_ma", params = {volume_filter = "no"}}]',
            "scheduler.parameter_sets[0].params.volume_filter: expected true or false, got 'no'",
        ),
        (
            '[{strategy = "quad_ma", params = {take_profit = nan}}]',
            "scheduler.parameter_sets[0].params.take_profit: expected a finite number, got nan",
        ),
        (
            '[{strategy = "ma_crossover", params = {fast = 40}}]',
            "scheduler.parameter_sets[0].params.fast: expected < slow (30), got 40",
        ),
        (
            '[{strategy = "ma_crossover", params = {short_1 = 4}}]',
            "scheduler.parameter_sets[0].params.short_1: unknown ma_crossover parameter; expected one of "
            "fast, slow",
        ),
        (
            '[{strategy = "quadma"}]',
            "scheduler.parameter_sets[0].strategy: expected one of 'quad_ma', 'ma_crossover', got 'quadma'; "
            "did you mean 'quad_ma'?",
        ),
        ("[{params = {trend = 5}}]", "scheduler.parameter_sets[0].strategy: missing; expected one of"),
        (
            '[{strategy = "quad_ma", parms = {}}]',
            "parameter_sets[0].parms: unknown key; did you mean 'params'?",
        ),
        (
            '[{strategy = "quad_ma", params = 3}]',
            "scheduler.parameter_sets[0].params: expected a table, got 3",
        ),
        ("[3]", "scheduler.parameter_sets[0]: expected a table, got 3"),
    ],
)
def test_parameter_set_problems_name_the_key(sets: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env={ISSUE_SETS: sets})
    assert expected in str(info.value)
    assert str(info.value).startswith(ISSUE_SETS)


def test_parameter_sets_apply_to_the_strategy_section(tmp_path: Path) -> None:
    text = (
        "[scheduler]\n"
        "parameter_sets = [{ strategy = 'quad_ma', params = { short_1 = 15 } },\n"
        "                  { strategy = 'quad_ma', params = { short_1 = 25 } },\n"
        "                  { strategy = 'quad_mb' },\n"
        "                  { strategy = 'ma_crossover', params = { slow = 5 } }]\n"
        "[strategy.quad_ma]\nshort_2 = 20\nlong_1 = 30\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    problems = {p.key: p.message for p in info.value.problems}
    # Against [strategy.quad_ma] (short_2 = 20), short_1 = 15 is fine and 25 is not; one broken set
    # (quad_mb) does not hide the others.
    assert problems == {
        "scheduler.parameter_sets[2].strategy": "expected one of 'quad_ma', 'ma_crossover', got 'quad_mb'; "
        "did you mean 'quad_ma'?",
        "scheduler.parameter_sets[1].params.short_1": "expected < short_2 (20), got 25",
        "scheduler.parameter_sets[3].params.fast": "expected < slow (5), got 10",
    }
    assert all(p.line == 2 for p in info.value.problems)  # where parameter_sets starts
    fixed = (
        text.replace("25", "16").replace("{ strategy = 'quad_mb' },\n", "").replace("slow = 5", "slow = 50")
    )
    cfg = load_config(write(tmp_path, fixed), env={})
    assert cfg.scheduler.parameter_sets[0] == ParameterSet(strategy="quad_ma", params={"short_1": 15})


def test_strategy_params_strict_and_loose() -> None:
    assert strategy_params_from_mapping("quad_ma", {"trend": 200}) == QuadMaConfig(trend=200)
    base = QuadMaConfig(short_2=20, long_1=30)
    assert strategy_params_from_mapping("quad_ma", {"short_1": 15}, base=base) == QuadMaConfig(
        short_1=15, short_2=20, long_1=30
    )
    with pytest.raises(ConfigError, match=r"^quad_ma\.trend: expected an integer, got '200'$"):
        strategy_params_from_mapping("quad_ma", {"trend": "200"})
    loose = strategy_params_from_mapping(
        "quad_ma", {"trend": "200", "short_1": " 4", "long_2": 60.0, "volume_filter": "off"}, loose=True
    )
    assert loose == QuadMaConfig(trend=200, short_1=4, long_2=60, volume_filter=False)
    assert type(loose.long_2) is int
    with pytest.raises(ConfigError) as info:
        strategy_params_from_mapping("ma_crossover", {"fast": "ten", "slow": 1}, key_prefix="p")
    assert [str(p) for p in info.value.problems] == [
        "p.fast: expected an integer, got 'ten'",
        "p.slow: expected >= 2, got 1",
    ]
    with pytest.raises(ConfigError, match="unknown strategy 'quad'"):
        strategy_params_from_mapping("quad", {})


def test_check_config_validates_dataclasses_built_in_code() -> None:
    assert check_config(MaCrossoverConfig(fast=5.0), key_prefix="m") == MaCrossoverConfig(fast=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^execution\.fee_rate: expected a finite number, got nan$"):
        check_config(BacktestConfig(fee_rate=float("nan")), key_prefix="execution")
    with pytest.raises(ConfigError, match=r"^q\.short_1: expected an integer, got True$"):
        check_config(QuadMaConfig(short_1=True), key_prefix="q")


def test_a_dashboard_token_comes_from_the_environment_and_a_short_one_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nhost = '192.0.2.10'\n")
    token = "k3y-of-at-least-16-chars"
    config = load_config(path, env={"ALGO_TRADE__SERVER__TOKEN": token})
    assert (config.server.host, config.server.token, config.server.enabled) == ("192.0.2.10", token, False)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"ALGO_TRADE__SERVER__TOKEN": "shortsecret"})
    (problem,) = info.value.problems
    assert str(problem).startswith("ALGO_TRADE__SERVER__TOKEN: server.token: expected an empty string")
    assert "shortsecret" not in str(info.value)  # a secret is never echoed into a message or a log


def test_regime_and_gate_keys_name_the_key_and_what_was_expected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[token_selection]\n"
        "allowed_regimes = ['low', 'hgh']\n"  # line 2
        "regime_lookback_days = 7\n"  # line 3
        "min_psr = 1.5\n"  # line 4
        "min_dsr = -0.1\n",  # line 5
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    problems = [str(p) for p in info.value.problems]
    assert problems == [
        f"{path}:2: token_selection.allowed_regimes[1]: expected one of 'low', 'normal', 'high', "
        "got 'hgh'; did you mean 'high'?",
        f"{path}:3: token_selection.regime_lookback_days: expected >= 30, got 7",
        f"{path}:4: token_selection.min_psr: expected <= 1, got 1.5",
        f"{path}:5: token_selection.min_dsr: expected >= 0, got -0.1",
    ]
    for text, expected in (
        ("allowed_regimes = []", 'expected at least one of "low", "normal", "high"'),
        ("allowed_regimes = ['high', 'high']", "expected each regime once, got high more than once"),
    ):
        with pytest.raises(ConfigError, match=r"token_selection\.allowed_regimes") as info:
            load_config(write(tmp_path, f"[token_selection]\n{text}\n"), env={})
        assert expected in str(info.value)
    loaded = load_config(write(tmp_path, "[token_selection]\nallowed_regimes = ['normal', 'low']\n"), env={})
    assert loaded.token_selection.allowed_regimes == ("normal", "low")
