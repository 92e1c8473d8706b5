"""BotConfig: ids that are never parsed, complete validated parameters, JSON round trip; warm-up length."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from algo_trade_backtest import run_backtest
from algo_trade_bot_orchestrator import BotConfig, BotState, strategy_warmup_bars
from algo_trade_core import BacktestConfig, ConfigError, MaCrossoverConfig, QuadMaConfig

FAST_CROSS = {"fast": 5, "slow": 20}
Walk = Callable[..., pl.DataFrame]
Arrays = Callable[[pl.DataFrame], list[Any]]


def test_default_id_is_strategy_and_symbol() -> None:
    config = BotConfig(symbol="kPEPE", strategy="quad_ma")
    assert config.bot_id == "quad_ma:kPEPE"
    assert config.symbol == "kPEPE"


@pytest.mark.parametrize("symbol", ["BTC_quad_ma", "quad_ma_BTC", "A:B", "kBONK"])
def test_symbol_is_a_field_whatever_it_looks_like(symbol: str) -> None:
    config = BotConfig(symbol=symbol, strategy="quad_ma", bot_id="anything at all")
    assert config.symbol == symbol
    assert config.bot_id == "anything at all"


def test_parameters_are_validated_and_stored_complete() -> None:
    config = BotConfig(symbol="BTC", strategy="ma_crossover", parameters={"fast": "5", "slow": 20.0})
    assert config.parameters == {"fast": 5, "slow": 20}
    assert BotConfig(symbol="BTC", strategy="quad_ma").parameters == {
        k: getattr(QuadMaConfig(), k) for k in QuadMaConfig.__dataclass_fields__
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "nope"}, "unknown strategy"),
        ({"parameters": {"fast": 30, "slow": 20}}, "fast"),
        ({"parameters": {"speed": 3}}, "speed"),
        ({"interval": "2m"}, "interval"),
        ({"warmup_bars": -1}, "warmup_bars"),
        ({"symbol": ""}, "symbol"),
    ],
)
def test_invalid_configuration_names_the_bot_and_key(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"symbol": "BTC", "strategy": "ma_crossover"} | kwargs
    with pytest.raises(ConfigError, match=message) as info:
        BotConfig(**values)  # type: ignore[arg-type]
    assert "bot " in str(info.value)


def test_json_round_trip() -> None:
    config = BotConfig(
        symbol="ETH",
        strategy="ma_crossover",
        parameters=FAST_CROSS,
        interval="5m",
        execution=BacktestConfig(
            initial_capital=500.0, fee_rate=0.0002, slippage_bps=2.0, position_fraction=0.5
        ),
        warmup_bars=100,
        bot_id="eth-fast",
    )
    assert BotConfig.from_json_dict(config.to_json_dict()) == config
    with pytest.raises(ConfigError, match="incomplete"):
        BotConfig.from_json_dict({"symbol": "ETH"})


def test_with_changes_validates() -> None:
    config = BotConfig(symbol="ETH", strategy="ma_crossover")
    assert config.with_changes(parameters={"fast": 3}).parameters["fast"] == 3
    with pytest.raises(ConfigError, match="unknown setting"):
        config.with_changes(colour="red")


def test_states_that_consume_bars() -> None:
    assert {s for s in BotState if s.is_active} == {BotState.WARMING_UP, BotState.RUNNING, BotState.PAUSED}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ma_crossover_warmup_is_exactly_the_bars_before_the_first_signal(
    seed: int, walk: Walk, arrays_of: Arrays
) -> None:
    warmup = strategy_warmup_bars("ma_crossover", FAST_CROSS)
    result = run_backtest(
        *arrays_of(walk("X", 300, seed=seed)), strategy="ma_crossover", params=FAST_CROSS, interval="1m"
    )
    # The first signal is at the close of bar index `warmup` and fills at the next open.
    assert result.trades[0].entry_index == warmup + 1
    assert warmup == MaCrossoverConfig(**FAST_CROSS).slow - 1


@pytest.mark.parametrize("seed", range(6))
def test_quad_ma_cannot_trade_during_its_warmup(seed: int, walk: Walk, arrays_of: Arrays) -> None:
    params = {"short_1": 3, "short_2": 6, "long_1": 10, "long_2": 15, "trend": 25, "volume_filter": False}
    warmup = strategy_warmup_bars("quad_ma", params)
    assert warmup == 25
    result = run_backtest(
        *arrays_of(walk("X", 3000, seed=seed, vol=4e-3)), strategy="quad_ma", params=params, interval="1m"
    )
    assert result.trades, "the data should make quad_ma trade"
    assert min(t.entry_index for t in result.trades) >= warmup + 1
