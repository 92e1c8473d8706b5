"""Strategy parameters and execution settings: building, validating, hashing, packing for the kernels.

Validation is core's one configuration validator (:func:`algo_trade_core.strategy_params_from_mapping`
and :func:`algo_trade_core.check_config`), so the configuration loader, ``--param k=v`` and library
callers accept and reject the same values. This module keeps the engine's ``ValueError`` contract: a
core ``ConfigError`` is re-raised as ``ValueError`` with the same message.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal, get_args

from algo_trade_backtest import _kernels as K
from algo_trade_core import (
    BacktestConfig,
    ConfigError,
    MaCrossoverConfig,
    QuadMaConfig,
    check_config,
    parameter_set_hash,
    strategy_params_from_mapping,
)

__all__ = [
    "STRATEGIES",
    "StrategyName",
    "StrategyParams",
    "coerce_params",
    "params_from_mapping",
    "params_hash",
    "strategy_kind",
    "validate_execution",
    "validate_params",
]

StrategyName = Literal["quad_ma", "ma_crossover"]
StrategyParams = QuadMaConfig | MaCrossoverConfig
STRATEGIES: tuple[StrategyName, ...] = get_args(StrategyName)
_CONFIG_TYPES: dict[str, type[QuadMaConfig] | type[MaCrossoverConfig]] = {
    "quad_ma": QuadMaConfig,
    "ma_crossover": MaCrossoverConfig,
}


def _config_type(strategy: str) -> type[QuadMaConfig] | type[MaCrossoverConfig]:
    try:
        return _CONFIG_TYPES[strategy]
    except KeyError:
        raise ValueError(f"unknown strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}") from None


def strategy_kind(strategy: str) -> int:
    """Return the kernels' integer code for ``strategy``."""
    _config_type(strategy)
    return K.QUAD_MA if strategy == "quad_ma" else K.MA_CROSSOVER


def _value_error(exc: ConfigError) -> ValueError:
    return ValueError("; ".join(map(str, exc.problems)) or str(exc))


def validate_params(strategy: str, params: StrategyParams) -> StrategyParams:
    """Raise ``ValueError`` naming the parameter when ``params`` is impossible for ``strategy``.

    Returns:
        The parameters with values normalised to their declared types (``5.0`` -> ``5``).
    """
    cls = _config_type(strategy)
    if not isinstance(params, cls):
        raise ValueError(f"{strategy}: expected {cls.__name__} parameters, got {type(params).__name__}")
    return _checked_params(strategy, params)


# Parameter and execution dataclasses are frozen (hashable), and a walk-forward or a sweep checks the
# same few sets thousands of times: the validated result is remembered (errors are not).
@functools.lru_cache(maxsize=4096)
def _checked_params(strategy: str, params: StrategyParams) -> StrategyParams:
    try:
        return check_config(params, key_prefix=strategy)
    except ConfigError as exc:
        raise _value_error(exc) from None


@functools.lru_cache(maxsize=256)
def _checked_execution(execution: BacktestConfig) -> None:
    try:
        check_config(execution, key_prefix="execution")
    except ConfigError as exc:
        raise _value_error(exc) from None


@functools.lru_cache(maxsize=4096)
def _hash_of(strategy: str, params: StrategyParams) -> str:
    return parameter_set_hash(strategy, params)


def validate_execution(execution: BacktestConfig) -> None:
    """Raise ``ValueError`` naming the setting when an execution setting is out of range."""
    if not isinstance(execution, BacktestConfig):
        raise ValueError(f"execution: expected a BacktestConfig, got {type(execution).__name__}")
    _checked_execution(execution)


def params_from_mapping(strategy: str, mapping: Mapping[str, Any]) -> StrategyParams:
    """Build and validate the parameter dataclass of ``strategy`` from a mapping.

    Missing keys take the dataclass defaults. Values may be numbers, bools or their string spellings
    (``"5"``, ``"0.02"``, ``"false"``); integral floats are accepted for integer parameters.

    Raises:
        ValueError: unknown strategy or key, a value of the wrong type, or an impossible combination
            (for example ``short_1 >= short_2``); the message names every bad key and what was expected.
    """
    _config_type(strategy)
    try:
        return strategy_params_from_mapping(strategy, mapping, loose=True)
    except ConfigError as exc:
        raise _value_error(exc) from None


def coerce_params(strategy: str, params: StrategyParams | Mapping[str, Any] | None) -> StrategyParams:
    """Return validated parameters from a dataclass, a mapping, or ``None`` (the defaults)."""
    if params is None:
        params = _config_type(strategy)()
    if isinstance(params, QuadMaConfig | MaCrossoverConfig):
        return validate_params(strategy, params)
    return params_from_mapping(strategy, params)


def params_hash(strategy: str, params: StrategyParams | Mapping[str, Any] | None) -> str:
    """Return a stable 16-hex-digit id of ``strategy`` and its full parameter set.

    The sha256 of canonical JSON (sorted keys, no spaces) of ``{"strategy": ..., "params": ...}`` after
    normalisation: defaults filled in and values converted to the parameter's type, so ``{"fast": 10}``,
    ``{"fast": 10.0}`` and ``MaCrossoverConfig()`` hash alike.
    """
    try:
        return _hash_of(strategy, coerce_params(strategy, params))
    except ConfigError as exc:
        raise _value_error(exc) from None
