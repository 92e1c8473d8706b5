"""The selection rule, defined once: the parameter set the bots trade, the sweep's interval, the universe."""

from __future__ import annotations

from dataclasses import asdict, replace

from algo_trade_backtest import params_hash
from algo_trade_core import AppConfig, ParameterSet, QuadMaConfig, SchedulerConfig
from algo_trade_pipeline import selection_scope, traded_parameter_set

FIRST = ParameterSet(strategy="quad_ma", params={"trend": 80})
SECOND = ParameterSet(strategy="quad_ma", params={"trend": 120})
CROSS = ParameterSet(strategy="ma_crossover", params={"fast": 5, "slow": 20})


def with_sets(*sets: ParameterSet, **scheduler: object) -> AppConfig:
    return AppConfig(scheduler=SchedulerConfig(parameter_sets=sets, **scheduler))  # type: ignore[arg-type]


def test_the_bots_trade_the_first_set_configured_for_the_strategy() -> None:
    cfg = with_sets(CROSS, FIRST, SECOND)
    digest, params = traded_parameter_set(cfg)
    assert params == asdict(replace(QuadMaConfig(), trend=80))
    assert digest == params_hash("quad_ma", params)
    assert traded_parameter_set(cfg, "ma_crossover")[1] == {"fast": 5, "slow": 20}


def test_without_parameter_sets_the_strategy_section_is_traded() -> None:
    cfg = AppConfig()
    assert traded_parameter_set(cfg) == (
        params_hash("quad_ma", asdict(QuadMaConfig())),
        asdict(QuadMaConfig()),
    )
    # The sweep does not run ma_crossover: its section is what bots of it would trade.
    assert traded_parameter_set(cfg, "ma_crossover")[1] == {"fast": 10, "slow": 30}


def test_default_scope_is_the_traded_set_the_interval_and_the_universe() -> None:
    cfg = with_sets(FIRST, SECOND, interval="1h", token_universe=("BTC", "ETH"))
    scope = selection_scope(cfg)
    assert scope.strategy == "quad_ma"
    assert scope.params_hash == traded_parameter_set(cfg)[0]
    assert scope.interval == "1h"
    assert scope.symbols == ("BTC", "ETH")


def test_each_part_of_the_scope_widens_on_its_own() -> None:
    cfg = with_sets(FIRST, SECOND, token_universe=("BTC", "ETH"))
    assert selection_scope(cfg, all_params=True).params_hash is None
    assert selection_scope(cfg, params_hash="abc").params_hash == "abc"
    assert selection_scope(cfg, interval="5m").interval == "5m"
    assert selection_scope(cfg, all_intervals=True).interval is None
    assert selection_scope(cfg, all_symbols=True).symbols is None
    assert selection_scope(cfg, symbols=["SOL"]).symbols == ("SOL",)
    widened = selection_scope(cfg, all_symbols=True)
    assert (widened.params_hash, widened.interval) == (selection_scope(cfg).params_hash, "1m")


def test_top_volume_universe_is_left_to_the_sweep() -> None:
    cfg = AppConfig(scheduler=SchedulerConfig(universe_mode="top_volume"))
    assert selection_scope(cfg).symbols is None
    assert selection_scope(cfg, symbols=["BTC"]).symbols == ("BTC",)
