"""What each configuration key means: help text, bounds and allowed values, kept on the dataclass fields.

The configuration classes declare every key with :func:`setting`; the validator, the commented
``config/Config.toml`` and ``docs/configuration.md`` all read the same metadata, so none can drift.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any, Literal, get_args, get_origin, get_type_hints

__all__ = [
    "FieldSpec",
    "bounds_text",
    "describe_type",
    "failed_bounds",
    "field_specs",
    "is_finite",
    "setting",
    "short_type",
]

ValueCheck = Callable[[Any], str | None]
Redactor = Callable[[Any], Any]
_BOUND_SYMBOLS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def setting(
    default: Any = MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    help: str,  # the natural name, as in argparse and typer
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[str] | None = None,
    check: ValueCheck | None = None,
    params_of: str | None = None,
    default_text: str | None = None,
    redact: Redactor | None = None,
) -> Any:
    """Declare a configuration key: its default, what it means and which values it accepts.

    Args:
        default: the default value (or ``factory`` for mutable and nested defaults).
        factory: builds the default (nested sections, lists).
        help: one or two sentences for the commented TOML and the reference (plain text, no markup).
        ge: inclusive lower bound of a number.
        gt: exclusive lower bound of a number.
        le: inclusive upper bound of a number.
        lt: exclusive upper bound of a number.
        choices: the allowed values of a string key whose type cannot say them (``interval``).
        check: a further test of the converted value; returns ``None`` when fine, else the problem
            ("expected ..., got ...").
        params_of: for a strategy parameter table, the sibling key that names its strategy.
        default_text: for a default that depends on the environment (``factory``): how the docs state
            it; the generated file then shows the key commented out while it holds that default.
        redact: for a key that holds a secret: turns a value into what may be printed
            (``algo_trade_core.redact_secret``, ``redact_url``); see ``redact_config``.
    """
    metadata = {
        "help": help,
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "choices": tuple(choices) if choices is not None else None,
        "check": check,
        "params_of": params_of,
        "default_text": default_text,
        "redact": redact,
    }
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One key of a configuration section, as :func:`setting` declared it."""

    name: str
    type: Any
    help: str
    default: Any
    bounds: Mapping[str, float]
    choices: tuple[Any, ...] | None
    check: ValueCheck | None
    params_of: str | None
    default_text: str | None = None  # an environment-dependent default, in words
    factory: Callable[[], Any] | None = None  # builds the default now (``default`` is the first one)
    redact: Redactor | None = None  # a secret: what may be printed of a value

    def current_default(self) -> Any:
        """The default as it would be built now (an environment-dependent one may have changed)."""
        return self.factory() if self.factory is not None else self.default

    @property
    def is_section(self) -> bool:
        """True when the key is a nested table of its own (``[strategy.quad_ma]``)."""
        return dataclasses.is_dataclass(self.type)

    def allowed(self) -> str:
        """The accepted values in words (``>= 1``, ``one of "static", "top_volume"``), or ``""``."""
        parts = []
        literal = _literal_choices(self.type)
        if literal or self.choices:
            parts.append("one of " + ", ".join(f'"{c}"' for c in (literal or self.choices or ())))
        elif get_origin(self.type) is tuple and (items := _literal_choices(get_args(self.type)[0])):
            parts.append("each one of " + ", ".join(f'"{c}"' for c in items))
        if self.bounds:
            parts.append(bounds_text(self.bounds))
        return "; ".join(parts)


def _literal_choices(tp: Any) -> tuple[Any, ...]:
    if get_origin(tp) is Literal:
        return get_args(tp)
    return ()


def field_specs(cls: type[Any]) -> tuple[FieldSpec, ...]:
    """Return the keys of a configuration dataclass in declaration order.

    Raises:
        TypeError: a field was declared without :func:`setting` (every key must explain itself).
    """
    specs = _SPECS.get(cls)
    if specs is None:  # type hints are resolved once per class: validation runs for every backtest
        specs = _SPECS[cls] = _field_specs(cls)
    return specs


_SPECS: dict[type[Any], tuple[FieldSpec, ...]] = {}


def _field_specs(cls: type[Any]) -> tuple[FieldSpec, ...]:
    hints = get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} has no help text: declare it with setting(...)")
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = MISSING
        specs.append(
            FieldSpec(
                name=f.name,
                type=hints[f.name],
                help=f.metadata["help"],
                default=default,
                bounds={k: f.metadata[k] for k, _ in _BOUND_SYMBOLS if f.metadata.get(k) is not None},
                choices=f.metadata.get("choices"),
                check=f.metadata.get("check"),
                params_of=f.metadata.get("params_of"),
                default_text=f.metadata.get("default_text"),
                factory=None if f.default_factory is MISSING else f.default_factory,
                redact=f.metadata.get("redact"),
            )
        )
    return tuple(specs)


def bounds_text(bounds: Mapping[str, float]) -> str:
    """``{"ge": 0, "le": 1}`` -> ``">= 0 and <= 1"``."""
    return " and ".join(f"{symbol} {bounds[key]}" for key, symbol in _BOUND_SYMBOLS if key in bounds)


_HOLDS = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}


def failed_bounds(bounds: Mapping[str, float], value: float) -> str:
    """Return the bounds ``value`` breaks in words (``"<= 1"``), or ``""`` when it keeps them all."""
    broken = {k: b for k, b in bounds.items() if not _HOLDS[k](value, b)}
    return bounds_text(broken) if broken else ""


def is_finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


_SCALAR_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}


def describe_type(tp: Any) -> str:
    """Say what a value of type ``tp`` looks like in TOML ("an integer", "a list of strings")."""
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        inner = get_args(tp)[0]
        if inner in _PLURALS:
            return f"a list of {_PLURALS[inner]}"
        if dataclasses.is_dataclass(inner):
            return "a list of tables"
        return f"a list whose items are {describe_type(inner)}"
    if origin is dict or dataclasses.is_dataclass(tp):
        return "a table"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe_type(a) for a in get_args(tp))
    return _SCALAR_WORDS.get(tp, str(tp))


def short_type(tp: Any) -> str:
    """A compact type name for the reference table (``integer``, ``list of strings``, ``table``)."""
    origin = get_origin(tp)
    if origin is Literal:
        return "string"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(short_type(a) for a in get_args(tp))
    if origin is tuple:
        inner = get_args(tp)[0]
        if get_origin(inner) is Literal:
            return "list of strings"
        return "list of tables" if dataclasses.is_dataclass(inner) else f"list of {_PLURALS[inner]}"
    if origin is dict or dataclasses.is_dataclass(tp):
        return "table"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(tp, str(tp))
