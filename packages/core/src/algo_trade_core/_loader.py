"""Load, validate and write the configuration file.

Validation walks the dataclasses' type hints, so adding a key to a section needs no loader change.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import tomli_w

from algo_trade_core._config import AppConfig
from algo_trade_core._errors import ConfigError

__all__ = ["ENV_PREFIX", "config_from_dict", "config_to_dict", "dump_config", "load_config", "write_config"]

ENV_PREFIX = "ALGO_TRADE__"
T = TypeVar("T")


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        inner = get_args(tp)[0]
        plural = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(inner)
        return f"a list of {plural}" if plural else f"a list whose items are {_describe(inner)}"
    if origin is dict:
        return "a table"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        type(None): "nothing",
    }.get(tp, str(tp))


def _convert(tp: Any, value: Any, key: str, where: str) -> Any:
    """Check ``value`` against type ``tp`` and convert it (lists to tuples, ints to floats)."""

    def fail() -> ConfigError:
        return ConfigError(
            f"{where}: key '{key}' expected {_describe(tp)}, got {type(value).__name__} {value!r}"
        )

    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise fail()
        return _build(tp, value, key, where)
    if origin is Literal:
        if value not in get_args(tp) or type(value) is bool:
            raise fail()
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise fail()
        inner = get_args(tp)[0]
        return tuple(_convert(inner, v, f"{key}[{i}]", where) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise fail()
        val_tp = get_args(tp)[1]
        return {str(k): _convert(val_tp, v, f"{key}.{k}", where) for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):
        for option in get_args(tp):
            try:
                return _convert(option, value, key, where)
            except ConfigError:
                continue
        raise fail()
    if tp is bool:
        if not isinstance(value, bool):
            raise fail()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail()
        return value
    raise fail()


def _check_range(f: dataclasses.Field[Any], value: Any, key: str, where: str) -> None:
    meta = f.metadata
    if not meta or isinstance(value, bool) or not isinstance(value, int | float):
        return
    bounds = []
    ok = True
    if meta.get("ge") is not None:
        bounds.append(f">= {meta['ge']}")
        ok &= value >= meta["ge"]
    if meta.get("gt") is not None:
        bounds.append(f"> {meta['gt']}")
        ok &= value > meta["gt"]
    if meta.get("le") is not None:
        bounds.append(f"<= {meta['le']}")
        ok &= value <= meta["le"]
    if meta.get("lt") is not None:
        bounds.append(f"< {meta['lt']}")
        ok &= value < meta["lt"]
    if not ok:
        raise ConfigError(f"{where}: key '{key}' expected a value {' and '.join(bounds)}, got {value!r}")


def _build(cls: type[T], data: Mapping[str, Any], prefix: str, where: str) -> T:
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        dotted = ", ".join(f"'{prefix + '.' if prefix else ''}{k}'" for k in unknown)
        raise ConfigError(
            f"{where}: unknown key {dotted} in [{prefix or 'top level'}]; "
            f"expected one of {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        converted = _convert(hints[name], value, key, where)
        _check_range(fields[name], converted, key, where)
        kwargs[name] = converted
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        for name, expected in check():
            key = f"{prefix}.{name}" if prefix else name
            raise ConfigError(f"{where}: key '{key}' expected {expected}")
    return obj


def config_from_dict(data: Mapping[str, Any], where: str = "<config>") -> AppConfig:
    """Build and validate an :class:`AppConfig` from parsed TOML."""
    return _build(AppConfig, data, "", where)


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> list[str]:
    applied: list[str] = []
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            raise ConfigError(f"environment variable {name}: expected ALGO_TRADE__SECTION__KEY")
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: '{part}' is not a section")
            node = child
        node[path[-1]] = _parse_env_value(raw)
        applied.append(name)
    return applied


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Load the configuration from ``path`` (defaults when None), then apply environment overrides.

    Environment variables ``ALGO_TRADE__SECTION__KEY=value`` override single keys; the value is read as
    a TOML value (``3``, ``true``, ``["BTC", "ETH"]``) and falls back to a plain string.

    Raises:
        ConfigError: the file is missing or unreadable, or a key is unknown, of the wrong type or out of
            range; the message names the file (or variable), the key and what was expected.
    """
    data: dict[str, Any] = {}
    where = "<defaults>"
    if path is not None:
        p = Path(path)
        where = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"{where}: configuration file not found (create one with `algo-trade config init`)"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read: {exc}") from None
    applied = _apply_env(data, os.environ if env is None else env)
    if applied:
        where = f"{where} (with {', '.join(applied)})"
    return config_from_dict(data, where)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def config_to_dict(config: AppConfig) -> dict[str, Any]:
    """Return the configuration as plain TOML-compatible data."""
    return typing.cast(dict[str, Any], _plain(dataclasses.asdict(config)))


def dump_config(config: AppConfig) -> str:
    """Serialise the configuration to TOML text that :func:`load_config` reads back equal."""
    return tomli_w.dumps(config_to_dict(config))


def write_config(config: AppConfig, path: str | Path) -> None:
    """Write the configuration to ``path`` as TOML."""
    Path(path).write_text(dump_config(config), encoding="utf-8")
