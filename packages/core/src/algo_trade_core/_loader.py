"""Load the configuration file with its environment overrides, and write it back as commented TOML.

Validation is :mod:`algo_trade_core._validate`'s; this module only finds where each value came from (the
file and its line, or the environment variable) so that every problem can say so.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algo_trade_core._config import AppConfig
from algo_trade_core._config_docs import config_toml
from algo_trade_core._errors import ConfigError, ConfigProblem
from algo_trade_core._validate import config_from_dict

__all__ = ["ENV_PREFIX", "config_to_dict", "dump_config", "load_config", "write_config"]

ENV_PREFIX = "ALGO_TRADE__"
_HEADER = re.compile(r"^\[\s*([A-Za-z0-9_.\- ]+?)\s*\]")
_KEY = re.compile(r"^([A-Za-z0-9_\-]+)\s*=")


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[str, str], list[ConfigProblem]]:
    """Apply ``ALGO_TRADE__SECTION__KEY`` variables; return {dotted key: variable} and the problems."""
    applied: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            problems.append(ConfigProblem("", "expected a name like ALGO_TRADE__SECTION__KEY", name))
            continue
        node = data
        for i, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                key = ".".join(path[: i + 1])
                problems.append(ConfigProblem(key, "is a value, not a section", name))
                break
            node = child
        else:
            node[path[-1]] = _parse_env_value(raw)
            applied[".".join(path)] = name
    return applied, problems


def _key_lines(text: str) -> dict[str, int]:
    """Map each ``section.key`` (and section) of a TOML text to its line, best effort."""
    lines: dict[str, int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("[["):
            continue
        header = _HEADER.match(stripped)
        if header:
            section = header.group(1).replace(" ", "")
            lines.setdefault(section, number)
            continue
        key = _KEY.match(stripped)
        if key:
            lines.setdefault(f"{section}.{key.group(1)}" if section else key.group(1), number)
    return lines


def _parents(key: str) -> list[str]:
    """``a.b[0].c`` -> ``["a.b[0].c", "a.b[0]", "a.b", "a"]``."""
    out = [key]
    while True:
        cut = max(key.rfind("."), key.rfind("["))
        if cut <= 0:
            return out
        key = key[:cut]
        out.append(key)


def _locator(source: str, lines: dict[str, int], env: dict[str, str]) -> Any:
    def locate(key: str) -> tuple[str, int | None]:
        for parent in _parents(key):
            if parent in env:
                return env[parent], None
        for parent in _parents(key):
            if parent in lines:
                return source, lines[parent]
        return source, None

    return locate


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Load the configuration from ``path`` (defaults when None), then apply environment overrides.

    Environment variables ``ALGO_TRADE__SECTION__KEY=value`` override single keys; the value is read as
    a TOML value (``3``, ``true``, ``["BTC", "ETH"]``) and falls back to a plain string.

    Raises:
        ConfigError: the file is missing or unreadable, or values are invalid. Every problem is listed
            (``error.problems``), each with the file and line (or the variable), the key and what was
            expected, with "did you mean ...?" for misspelt keys.
    """
    data: dict[str, Any] = {}
    source = ""
    lines: dict[str, int] = {}
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except FileNotFoundError:
            raise _file_error(
                source, "configuration file not found (create one with `algo-trade config init`)"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise _file_error(source, f"not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _file_error(source, f"cannot read: {exc}") from None
        lines = _key_lines(text)
    applied, problems = _apply_env(data, os.environ if env is None else env)
    where = source or "the built-in defaults"
    if applied:
        where = f"{where} with {', '.join(sorted(applied.values()))}"
    config: AppConfig | None = None
    try:
        config = config_from_dict(data, locate=_locator(source, lines, applied), where=where)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems or config is None:
        raise _error(problems, where)
    return config


def _file_error(source: str, message: str) -> ConfigError:
    return ConfigError.from_problems([ConfigProblem("", message, source)])


def _error(problems: list[ConfigProblem], where: str) -> ConfigError:
    if len(problems) == 1:
        return ConfigError.from_problems(problems)
    ordered = sorted(problems, key=lambda p: (p.line is None, p.line or 0))  # file order, then the rest
    return ConfigError.from_problems(ordered, title=f"{len(problems)} problems in {where}")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def config_to_dict(config: AppConfig) -> dict[str, Any]:
    """Return the configuration as plain TOML/JSON-compatible data."""
    return typing.cast(dict[str, Any], _plain(dataclasses.asdict(config)))


def dump_config(config: AppConfig) -> str:
    """Serialise the configuration as commented TOML that :func:`load_config` reads back equal."""
    return config_toml(config)


def write_config(config: AppConfig, path: str | Path) -> None:
    """Write the configuration to ``path`` as commented TOML."""
    Path(path).write_text(dump_config(config), encoding="utf-8")
