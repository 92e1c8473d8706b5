"""The one validator of configuration values: types, ranges, finiteness, allowed values, strategy rules.

It walks the dataclasses' type hints and :func:`~algo_trade_core._schema.setting` metadata, so adding a
key needs no change here. Every problem is collected (not only the first) as a
:class:`~algo_trade_core.ConfigProblem` naming the key. The loader, the backtest engine's parameter
coercion (``--param k=v``, mappings, dataclasses built in code) and the scheduler's parameter sets all
call it, so they accept and reject the same values.

Two modes: *strict* for TOML (a quoted ``"5"`` is not a number, ``30.0`` is not an integer) and *loose*
for library callers (``"5"``, ``"false"``, integral floats and numpy scalars are converted).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from algo_trade_core._config import AppConfig, MaCrossoverConfig, ParameterSet, QuadMaConfig, StrategyConfig
from algo_trade_core._errors import ConfigError, ConfigProblem
from algo_trade_core._schema import FieldSpec, describe_type, failed_bounds, field_specs, is_finite

__all__ = [
    "Locate",
    "build_config",
    "check_config",
    "config_from_dict",
    "did_you_mean",
    "parameter_set_hash",
    "strategy_params_from_mapping",
]

T = TypeVar("T")
Locate = Callable[[str], tuple[str, int | None]]
"""Maps a dotted key to where its value came from: (file or variable, line or None)."""

_FAIL: Any = object()  # a value that could not be converted; its problem is already recorded
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@functools.cache
def _strategy_classes() -> dict[str, type[QuadMaConfig] | type[MaCrossoverConfig]]:
    return {spec.name: spec.type for spec in field_specs(StrategyConfig)}


def did_you_mean(word: str, candidates: typing.Iterable[str]) -> str:
    """Return ``" did you mean 'x'?"`` for the closest candidate (difflib), or ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" did you mean '{close[0]}'?" if close else ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Context:
    def __init__(self, *, loose: bool, locate: Locate | None) -> None:
        self.loose = loose
        self.locate = locate
        self.problems: list[ConfigProblem] = []

    def add(self, key: str, message: str) -> None:
        source, line = self.locate(key) if self.locate else ("", None)
        self.problems.append(ConfigProblem(key=key, message=message, source=source, line=line))

    def expected(self, key: str, what: str, value: Any) -> Any:
        self.add(key, f"expected {what}, got {_show(value)}")
        return _FAIL


def _is_numpy_bool(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")


def _scalar(tp: Any, value: Any, key: str, ctx: _Context) -> Any:
    if tp is str:
        return value if isinstance(value, str) else ctx.expected(key, describe_type(tp), value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if ctx.loose and _is_numpy_bool(value):
            return bool(value)
        if ctx.loose and isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        return ctx.expected(key, describe_type(tp), value)
    if type(value) is tp:  # the common case, settled before the slower checks
        return value if tp is int or is_finite(value) else ctx.expected(key, "a finite number", value)
    if isinstance(value, bool) or _is_numpy_bool(value):
        return ctx.expected(key, describe_type(tp), value)
    if ctx.loose and isinstance(value, str):
        try:
            value = float(value) if tp is float else int(value.strip())
        except ValueError:
            try:  # "5.0" for an integer parameter, "1e3" for a count
                value = float(value)
            except ValueError:
                return ctx.expected(key, describe_type(tp), value)
    if tp is int:
        if isinstance(value, int) or (ctx.loose and isinstance(value, numbers.Integral)):
            return int(value)
        if ctx.loose and isinstance(value, numbers.Real):
            number = float(value)
            if is_finite(number) and number.is_integer():
                return int(number)
        return ctx.expected(key, describe_type(tp), value)
    if tp is float:
        if isinstance(value, int | float) or (ctx.loose and isinstance(value, numbers.Real)):
            number = float(value)
            return number if is_finite(number) else ctx.expected(key, "a finite number", value)
        return ctx.expected(key, describe_type(tp), value)
    raise TypeError(f"{key}: configuration type {tp!r} is not supported")


_SCALARS = (bool, int, float, str)


def _convert(tp: Any, value: Any, key: str, ctx: _Context) -> Any:
    """Check ``value`` against type ``tp`` and convert it (lists to tuples, ints to floats)."""
    if tp in _SCALARS:
        return _scalar(tp, value, key, ctx)
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):  # a section built in code is checked like its table
            value = _fields_of(value)
        if not isinstance(value, Mapping):
            return ctx.expected(key, "a table", value)
        return _build(tp, value, key, ctx)[0]
    if origin is Literal:
        choices = get_args(tp)
        if isinstance(value, str) and value in choices:
            return value
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        return (
            ctx.expected(key, describe_type(tp), value)
            if not hint
            else _expected_hint(ctx, key, tp, value, hint)
        )
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return ctx.expected(key, describe_type(tp), value)
        inner = get_args(tp)[0]
        items = [_convert(inner, v, f"{key}[{i}]", ctx) for i, v in enumerate(value)]
        return _FAIL if any(item is _FAIL for item in items) else tuple(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            return ctx.expected(key, "a table", value)
        val_tp = get_args(tp)[1]
        out = {str(k): _convert(val_tp, v, f"{key}.{k}", ctx) for k, v in value.items()}
        return _FAIL if any(v is _FAIL for v in out.values()) else out
    if origin in (types.UnionType, typing.Union):
        tables = [a for a in get_args(tp) if dataclasses.is_dataclass(a)]
        if isinstance(value, Mapping) and len(tables) == 1:  # a table: say what is wrong inside it
            return _convert(tables[0], value, key, ctx)
        for option in get_args(tp):
            trial = _Context(loose=ctx.loose, locate=None)
            converted = _convert(option, value, key, trial)
            if converted is not _FAIL:
                return converted
        return ctx.expected(key, describe_type(tp), value)
    return _scalar(tp, value, key, ctx)


def _expected_hint(ctx: _Context, key: str, tp: Any, value: Any, hint: str) -> Any:
    ctx.add(key, f"expected {describe_type(tp)}, got {_show(value)};{hint}")
    return _FAIL


def _check_value(spec: FieldSpec, value: Any, key: str, ctx: _Context) -> bool:
    """Bounds, allowed values and the key's own check; record what fails."""
    if spec.bounds and isinstance(value, int | float) and not isinstance(value, bool):
        broken = failed_bounds(spec.bounds, value)
        if broken:
            ctx.add(key, f"expected {broken}, got {_show(value)}")
            return False
    if spec.choices is not None and value not in spec.choices:
        hint = did_you_mean(value, spec.choices) if isinstance(value, str) else ""
        ctx.add(
            key,
            f"expected one of {', '.join(spec.choices)}, got {_show(value)}" + (f";{hint}" if hint else ""),
        )
        return False
    if spec.check is not None:
        problem = spec.check(value)
        if problem is not None:
            ctx.add(key, problem)
            return False
    return True


def _unknown(
    data: Mapping[str, Any], specs: dict[str, FieldSpec], prefix: str, ctx: _Context, what: str
) -> None:
    for name in data:
        if name in specs:
            continue
        key = f"{prefix}.{name}" if prefix else str(name)
        kind = "section" if all(spec.is_section for spec in specs.values()) else what
        hint = did_you_mean(str(name), specs)
        expected = f" expected one of {', '.join(specs)}" if not hint else ""
        ctx.add(key, f"unknown {kind};{hint}{expected}")


def _build(
    cls: type[T],
    data: Mapping[str, Any],
    prefix: str,
    ctx: _Context,
    *,
    base: Any = None,
    run_check: bool = True,
    what: str = "key",
) -> tuple[T, dict[str, Any]]:
    """Build ``cls`` from ``data``; return (instance or ``_FAIL``, the converted keyword arguments)."""
    specs = {spec.name: spec for spec in field_specs(cls)}
    _unknown(data, specs, prefix, ctx, what)
    kwargs: dict[str, Any] = {}
    failed = any(name not in specs for name in data)
    for name, spec in specs.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if base is not None:
                kwargs[name] = getattr(base, name)
            elif spec.default is dataclasses.MISSING:
                failed = True
                ctx.add(key, f"missing; expected {describe_type(spec.type)}")
            continue
        if spec.params_of is not None:
            value = _strategy_overrides(data[name], kwargs.get(spec.params_of, _FAIL), key, ctx)
        else:
            value = _convert(spec.type, data[name], key, ctx)
        if value is _FAIL or not _check_value(spec, value, key, ctx):
            failed = True
            continue
        kwargs[name] = value
    if failed:
        return _FAIL, kwargs
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if run_check and check is not None:
        problems = check()
        for name, expected in problems:
            ctx.add(f"{prefix}.{name}" if prefix else name, f"expected {expected}")
        if problems:
            return _FAIL, kwargs
    return obj, kwargs


def _strategy_overrides(value: Any, strategy: Any, key: str, ctx: _Context) -> Any:
    """Check a parameter set's overrides against its strategy's keys, types and ranges."""
    if not isinstance(value, Mapping):
        return ctx.expected(key, "a table", value)
    if strategy is _FAIL:
        return _FAIL  # the strategy's own problem is recorded; its keys cannot be checked
    cls = _strategy_classes()[strategy]
    obj, _ = _build(cls, value, key, ctx, run_check=False, what=f"{strategy} parameter")
    if obj is _FAIL:
        return _FAIL
    return {name: getattr(obj, name) for name in value}


def config_from_dict(data: Mapping[str, Any], *, locate: Locate | None = None, where: str = "") -> AppConfig:
    """Build and validate an :class:`AppConfig` from parsed TOML (strict types).

    Raises:
        ConfigError: every problem found, each naming its key (and, through ``locate``, its file/line).
    """
    ctx = _Context(loose=False, locate=locate)
    config, sections = _build(AppConfig, data, "", ctx)
    strategies = sections.get("strategy", _FAIL if "strategy" in data else StrategyConfig())
    if strategies is not _FAIL:
        _parameter_sets_on_strategies(data, strategies, ctx)
    if len(ctx.problems) > 1:
        raise ConfigError.from_problems(
            ctx.problems, title=f"{len(ctx.problems)} problems in {where or 'the configuration'}"
        )
    if ctx.problems:
        raise ConfigError.from_problems(ctx.problems)
    return config


def _parameter_sets_on_strategies(data: Mapping[str, Any], strategies: StrategyConfig, ctx: _Context) -> None:
    """The one rule that spans two sections: each parameter set applied to ``[strategy.<name>]``.

    Each set is checked on its own, so one broken set (already reported) does not hide the others.
    """
    scheduler = data.get("scheduler")
    sets = scheduler.get("parameter_sets") if isinstance(scheduler, Mapping) else None
    if not isinstance(sets, list | tuple):
        return
    for i, raw in enumerate(sets):
        key = f"scheduler.parameter_sets[{i}]"
        pset = _convert(ParameterSet, raw, key, _Context(loose=False, locate=None))  # reported already
        if pset is not _FAIL:
            base = getattr(strategies, pset.strategy)
            _strategy_params(pset.strategy, pset.params, base, f"{key}.params", ctx)


def _strategy_params(strategy: str, mapping: Any, base: Any, prefix: str, ctx: _Context) -> Any:
    classes = _strategy_classes()
    if strategy not in classes:
        ctx.add(prefix or "strategy", f"unknown strategy {strategy!r}; expected one of {', '.join(classes)}")
        return _FAIL
    if not isinstance(mapping, Mapping):
        return ctx.expected(prefix or strategy, "a table", mapping)
    return _build(classes[strategy], mapping, prefix, ctx, base=base, what=f"{strategy} parameter")[0]


def strategy_params_from_mapping(
    strategy: str,
    mapping: Mapping[str, Any],
    *,
    base: QuadMaConfig | MaCrossoverConfig | None = None,
    key_prefix: str | None = None,
    loose: bool = False,
) -> QuadMaConfig | MaCrossoverConfig:
    """Build and validate one strategy's parameters: ``mapping`` overrides ``base`` (default: defaults).

    Args:
        strategy: ``"quad_ma"`` or ``"ma_crossover"``.
        mapping: parameter overrides.
        base: the parameters the overrides apply to (``[strategy.<name>]``); the dataclass defaults when None.
        key_prefix: how keys are named in problems (default: the strategy name, ``quad_ma.short_1``).
        loose: also accept strings (``"5"``, ``"false"``), integral floats and numpy scalars.

    Raises:
        ConfigError: unknown strategy or key, wrong type, out of range, or an impossible combination
            (``short_1 >= short_2``); every problem is listed, each naming its key.
    """
    ctx = _Context(loose=loose, locate=None)
    params = _strategy_params(strategy, mapping, base, strategy if key_prefix is None else key_prefix, ctx)
    if ctx.problems:
        raise ConfigError.from_problems(ctx.problems, title="")
    return typing.cast(QuadMaConfig | MaCrossoverConfig, params)


def build_config(cls: type[T], data: Mapping[str, Any], *, key_prefix: str = "", loose: bool = False) -> T:
    """Build and validate any configuration section from a mapping (missing keys take defaults).

    Raises:
        ConfigError: every problem found, each naming its key under ``key_prefix``.
    """
    ctx = _Context(loose=loose, locate=None)
    obj, _ = _build(cls, data, key_prefix, ctx)
    if ctx.problems:
        raise ConfigError.from_problems(ctx.problems)
    return obj


def check_config(obj: T, *, key_prefix: str = "", loose: bool = True) -> T:
    """Validate a configuration dataclass built in code; return it with values normalised.

    Raises:
        ConfigError: a value of the wrong type, out of range or not finite, or an impossible combination.
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise ConfigError(
            f"{key_prefix or 'config'}: expected a configuration dataclass, got {type(obj).__name__}"
        )
    return build_config(type(obj), _fields_of(obj), key_prefix=key_prefix, loose=loose)


def _fields_of(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def parameter_set_hash(strategy: str, params: QuadMaConfig | MaCrossoverConfig | Mapping[str, Any]) -> str:
    """Return a stable 16-hex-digit id of ``strategy`` and its full parameter set.

    The sha256 of canonical JSON (sorted keys, no spaces) of ``{"strategy": ..., "params": ...}`` after
    normalisation: defaults filled in and values converted to the parameter's type, so ``{"fast": 10}``,
    ``{"fast": 10.0}`` and ``MaCrossoverConfig()`` hash alike. It keys stored results
    (``backtest_results.params_hash``), so it must never change for a given parameter set.

    Raises:
        ConfigError: unknown strategy or parameters that are not a valid set.
    """
    if isinstance(params, QuadMaConfig | MaCrossoverConfig):
        normalised = check_config(params, key_prefix=strategy)
    else:
        normalised = strategy_params_from_mapping(strategy, params, loose=True)
    canonical = json.dumps(
        {"strategy": strategy, "params": dataclasses.asdict(normalised)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
