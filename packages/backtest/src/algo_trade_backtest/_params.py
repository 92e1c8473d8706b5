"""Strategy parameters and execution settings: building, validating, hashing, packing for the kernels.

The ranges come from the core dataclasses (field metadata ``ge/gt/le/lt`` and their ``check()``), so
the configuration loader and the engine reject the same values.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import operator
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, Literal, get_args

import numpy as np

from algo_trade_backtest import _kernels as K
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig

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
_BOUNDS = (
    ("ge", ">=", operator.ge),
    ("gt", ">", operator.gt),
    ("le", "<=", operator.le),
    ("lt", "<", operator.lt),
)


def _config_type(strategy: str) -> type[QuadMaConfig] | type[MaCrossoverConfig]:
    try:
        return _CONFIG_TYPES[strategy]
    except KeyError:
        raise ValueError(f"unknown strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}") from None


def strategy_kind(strategy: str) -> int:
    """Return the kernels' integer code for ``strategy``."""
    _config_type(strategy)
    return K.QUAD_MA if strategy == "quad_ma" else K.MA_CROSSOVER


def _coerce_value(where: str, default: object, value: object) -> int | float | bool:
    """Convert ``value`` to the type of the field's default, or raise ``ValueError`` saying why."""
    if isinstance(value, str):  # command-line style "key=value"
        text = value.strip()
        if isinstance(default, bool):
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        try:
            value = (
                float(text) if isinstance(default, float) or "." in text or "e" in text.lower() else int(text)
            )
        except ValueError:
            raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(default, bool):
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise ValueError(f"{where}: expected a bool, got {value!r}")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, numbers.Integral):
            return int(value)
        as_float = float(value)
        if math.isfinite(as_float) and as_float.is_integer():
            return int(as_float)
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return as_float


def validate_params(strategy: str, params: StrategyParams) -> None:
    """Raise ``ValueError`` naming the parameter when ``params`` is impossible for ``strategy``."""
    cls = _config_type(strategy)
    if not isinstance(params, cls):
        raise ValueError(f"{strategy}: expected {cls.__name__} parameters, got {type(params).__name__}")
    _check_ranges(strategy, params)
    for key, expected in params.check():
        raise ValueError(f"{strategy}.{key}: expected {expected}")


def validate_execution(execution: BacktestConfig) -> None:
    """Raise ``ValueError`` naming the setting when an execution setting is out of range."""
    if not isinstance(execution, BacktestConfig):
        raise ValueError(f"execution: expected a BacktestConfig, got {type(execution).__name__}")
    _check_ranges("execution", execution)


def _check_ranges(section: str, config: Any) -> None:
    for f in fields(config):
        value = getattr(config, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{section}.{f.name}: expected a finite number, got {value}")
        for key, symbol, holds in _BOUNDS:
            bound = f.metadata.get(key)
            if bound is not None and not holds(float(value), float(bound)):
                raise ValueError(f"{section}.{f.name}: expected {symbol} {bound}, got {value}")


def params_from_mapping(strategy: str, mapping: Mapping[str, Any]) -> StrategyParams:
    """Build and validate the parameter dataclass of ``strategy`` from a mapping.

    Missing keys take the dataclass defaults. Values may be numbers, bools or their string spellings
    (``"5"``, ``"0.02"``, ``"false"``); integral floats are accepted for integer parameters.

    Raises:
        ValueError: unknown strategy or key, a value of the wrong type, or an impossible combination
            (for example ``short_1 >= short_2``); the message names the key and what was expected.
    """
    cls = _config_type(strategy)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {strategy} parameter(s) {', '.join(map(repr, unknown))}: expected some of "
            f"{', '.join(known)}"
        )
    defaults = cls()
    values: dict[str, Any] = {
        key: _coerce_value(f"{strategy}.{key}", getattr(defaults, key), value)
        for key, value in mapping.items()
    }
    params = cls(**values)
    validate_params(strategy, params)
    return params


def coerce_params(strategy: str, params: StrategyParams | Mapping[str, Any] | None) -> StrategyParams:
    """Return validated parameters from a dataclass, a mapping, or ``None`` (the defaults)."""
    if params is None:
        params = _config_type(strategy)()
    if isinstance(params, QuadMaConfig | MaCrossoverConfig):
        validate_params(strategy, params)
        return params
    return params_from_mapping(strategy, params)


def params_hash(strategy: str, params: StrategyParams | Mapping[str, Any] | None) -> str:
    """Return a stable 16-hex-digit id of ``strategy`` and its full parameter set.

    The sha256 of canonical JSON (sorted keys, no spaces) of ``{"strategy": ..., "params": ...}`` after
    normalisation: defaults filled in and values converted to the parameter's type, so ``{"fast": 10}``,
    ``{"fast": 10.0}`` and ``MaCrossoverConfig()`` hash alike.
    """
    config = coerce_params(strategy, params)
    canonical = json.dumps(
        {"strategy": strategy, "params": asdict(config)}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
