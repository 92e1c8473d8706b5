"""Configuration: defaults, the shipped Config.toml, round trips, env overrides and clear errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from algo_trade_core import (
    DEFAULT_TOKEN_UNIVERSE,
    AppConfig,
    ConfigError,
    ParameterSet,
    QuadMaConfig,
    SchedulerConfig,
    dump_config,
    load_config,
    write_config,
)

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_seeds() -> None:
    cfg = AppConfig()
    assert cfg.scheduler.enabled is True
    assert cfg.scheduler.cron_expression == "0 0 3 * * *"
    assert cfg.scheduler.backtest_window_days == 30
    assert cfg.scheduler.interval == "1m"
    assert len(cfg.scheduler.token_universe) == 20
    assert {"POL", "S", "kPEPE", "kSHIB", "kBONK"} <= set(cfg.scheduler.token_universe)
    ts = cfg.token_selection
    assert (ts.min_sharpe_ratio, ts.min_win_rate, ts.max_drawdown, ts.min_num_trades, ts.top_n) == (
        1.0,
        0.5,
        0.2,
        10,
        10,
    )
    assert (ts.weight_sharpe, ts.weight_win_rate, ts.weight_drawdown, ts.fallback_top_n) == (0.4, 0.3, 0.3, 3)
    assert cfg.backtest.fee_rate == 0.00045
    assert cfg.strategy.quad_ma.trend == 100


def test_shipped_config_file_equals_the_defaults() -> None:
    assert load_config(REPO / "config" / "Config.toml", env={}) == AppConfig()


def test_written_file_loads_back_equal(tmp_path: Path) -> None:
    cfg = replace(
        AppConfig(),
        scheduler=SchedulerConfig(
            cron_expression="*/30 * * * * mon-fri",
            token_universe=("BTC", "ETH"),
            parameter_sets=(ParameterSet(strategy="quad_ma", params={"trend": 200, "volume_filter": False}),),
        ),
        strategy=replace(AppConfig().strategy, quad_ma=QuadMaConfig(short_1=3, take_profit=0.05)),
    )
    path = tmp_path / "out.toml"
    write_config(cfg, path)
    assert load_config(path, env={}) == cfg
    assert "cron_expression" in dump_config(cfg)


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[token_selection]\ntop_n = 3\n"), env={})
    assert cfg.token_selection.top_n == 3
    assert cfg.token_selection.min_sharpe_ratio == 1.0
    assert cfg.scheduler == SchedulerConfig()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[scheduler]\ncron = '0 0 3 * * *'\n", [":2: scheduler.cron: unknown key", "cron_expression"]),
        ("[schedular]\nenabled = true\n", [":1: schedular: unknown section; did you mean 'scheduler'?"]),
        ("[scheduler]\nenabled = 'yes'\n", ["scheduler.enabled: expected true or false, got 'yes'"]),
        (
            "[scheduler]\nbacktest_window_days = 1.5\n",
            ["scheduler.backtest_window_days: expected an integer"],
        ),
        ("[scheduler]\nbacktest_window_days = 0\n", ["scheduler.backtest_window_days: expected >= 1, got 0"]),
        ("[scheduler]\ntoken_universe = 'BTC'\n", ["scheduler.token_universe: expected a list of strings"]),
        ("[scheduler]\ntoken_universe = ['BTC', 3]\n", ["scheduler.token_universe[1]: expected a string"]),
        (
            "[scheduler]\ntoken_universe = ['BTC', 'BTC']\n",
            ["scheduler.token_universe", "BTC more than once"],
        ),
        ("[scheduler]\ntoken_universe = ['BTC', 'E TH']\n", ["scheduler.token_universe", "'E TH'"]),
        (
            "[scheduler]\ncron_expression = '0 3 * * *'\n",
            ["scheduler.cron_expression: expected", "6 fields", "got 5"],
        ),
        (
            "[scheduler]\ncron_expression = '0 61 3 * * *'\n",
            ["scheduler.cron_expression", "minute field '61'"],
        ),
        ("[scheduler]\ncron_expression = '0 0 0 31 2 *'\n", ["scheduler.cron_expression", "never fires"]),
        ("[scheduler]\ninterval = '7m'\n", ["scheduler.interval: expected one of 1m, 3m"]),
        (
            "[scheduler]\nuniverse_mode = 'statik'\n",
            ["'static', 'top_volume', got 'statik'; did you mean 'static'?"],
        ),
        ("[scheduler]\nstrategies = ['quad']\n", ["scheduler.strategies[0]: expected one of 'quad_ma'"]),
        ("[token_selection]\nmin_win_rate = 1.5\n", ["token_selection.min_win_rate: expected <= 1, got 1.5"]),
        (
            "[token_selection]\nweight_sharpe = nan\n",
            ["token_selection.weight_sharpe: expected a finite number, got nan"],
        ),
        (
            "[token_selection]\nmax_result_age_hours = inf\n",
            ["max_result_age_hours: expected a finite number, got inf"],
        ),
        ("[token_selection]\nweight_drawdown = -0.3\n", ["token_selection.weight_drawdown: expected >= 0"]),
        (
            "[token_selection]\nweight_sharpe = 0\nweight_win_rate = 0\nweight_drawdown = 0\n",
            ["token_selection.weight_sharpe: expected at least one score weight > 0"],
        ),
        ("[token_selection]\nfallback_min_sharpe = 'zero'\n", ["fallback_min_sharpe: expected a number"]),
        ("[backtest]\nfee_rate = -0.1\n", ["backtest.fee_rate: expected >= 0, got -0.1"]),
        ("[backtest]\nposition_fraction = 0\n", ["backtest.position_fraction: expected > 0, got 0.0"]),
        (
            "[strategy.quad_ma]\nshort_1 = 10\nshort_2 = 5\n",
            ["strategy.quad_ma.short_1: expected < short_2 (5)"],
        ),
        ("[strategy.ma_crossover]\nfast = 30\nslow = 30\n", ["strategy.ma_crossover.fast: expected < slow"]),
        ("[strategy.quad_mo]\ntrend = 3\n", ["strategy.quad_mo: unknown section; did you mean 'quad_ma'?"]),
        ("[database]\nurl = 'mysql://x'\n", ["database.url: expected a postgresql:// or postgres:// URL"]),
        (
            "[database]\nmin_connections = 20\nmax_connections = 5\n",
            ["database.min_connections: expected <= max_connections (5), got 20"],
        ),
        ("[hyperliquid]\nping_interval_s = 60\n", ["hyperliquid.ping_interval_s: expected < 60, got 60.0"]),
        ("scheduler = 3\n", ["scheduler: expected a table, got 3"]),
        ("[scheduler\n", ["not valid TOML"]),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from {message!r}"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_environment_overrides_single_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[database]\nurl = 'postgresql://file@127.0.0.1/x'\n")
    env = {
        "ALGO_TRADE__DATABASE__URL": "postgresql://env@127.0.0.1:5432/y",
        "ALGO_TRADE__TOKEN_SELECTION__TOP_N": "4",
        "ALGO_TRADE__SCHEDULER__TOKEN_UNIVERSE": '["BTC", "SOL"]',
        "ALGO_TRADE__STRATEGY__QUAD_MA__VOLUME_FILTER": "false",
        "UNRELATED": "1",
    }
    cfg = load_config(path, env=env)
    assert cfg.database.url == "postgresql://env@127.0.0.1:5432/y"
    assert cfg.token_selection.top_n == 4
    assert cfg.scheduler.token_universe == ("BTC", "SOL")
    assert cfg.strategy.quad_ma.volume_filter is False


def test_environment_override_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"ALGO_TRADE__TOKEN_SELECTION__TOP_N": "many"})
    assert str(info.value) == (
        "ALGO_TRADE__TOKEN_SELECTION__TOP_N: token_selection.top_n: expected an integer, got 'many'"
    )
    with pytest.raises(ConfigError, match=r"^ALGO_TRADE__BOTS__COLOUR: bots\.colour: unknown key"):
        load_config(None, env={"ALGO_TRADE__BOTS__COLOUR": "red"})
    with pytest.raises(ConfigError, match=r"^ALGO_TRADE__BOTS____X: expected a name like"):
        load_config(None, env={"ALGO_TRADE__BOTS____X": "1"})


def test_default_universe_has_no_duplicates() -> None:
    assert len(set(DEFAULT_TOKEN_UNIVERSE)) == 20
