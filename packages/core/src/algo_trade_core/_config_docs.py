"""The commented ``config/Config.toml`` and ``docs/configuration.md``, generated from the config classes.

Both are pure functions of the :func:`~algo_trade_core._schema.setting` metadata, and tests compare the
committed files with them, so the comments and the reference cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Mapping
from typing import Any, get_args, get_origin

import tomli_w

from algo_trade_core._config import AppConfig
from algo_trade_core._schema import FieldSpec, field_specs, short_type

__all__ = ["config_reference", "config_toml", "toml_value"]

WIDTH = 100
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

_TOML_HEADER = """\
algo-trade configuration: every key at its default, with what it means and the values it accepts.
Delete the keys you do not change: a missing key takes its default.
Environment variables override single keys: ALGO_TRADE__<SECTION>__<KEY>=value, for example
ALGO_TRADE__DATABASE__URL or ALGO_TRADE__STRATEGY__QUAD_MA__TREND=200; the value is read as TOML
(3, true, ["BTC", "ETH"]) and otherwise taken as a plain string.
Written by `algo-trade config init` from the configuration classes; docs/configuration.md lists every
key with its type, default and allowed values. `algo-trade config validate` checks a file.
"""


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else tomli_w.dumps({name: 0}).split(" = ")[0]


def toml_value(value: Any) -> str:
    """Render ``value`` as one inline TOML value (tables inline, tuples as arrays)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[len("v = ") :].rstrip("\n")


def _assignment(name: str, value: Any) -> str:
    line = f"{_key(name)} = {toml_value(value)}"
    if len(line) <= WIDTH or not isinstance(value, list | tuple):
        return line
    items = [toml_value(v) for v in value]  # a long list: items packed on indented lines
    rows: list[str] = []
    row = ""
    for item in items:
        candidate = f"{row} {item}," if row else f"{item},"
        if row and len(candidate) + 4 > WIDTH:
            rows.append(row)
            candidate = f"{item},"
        row = candidate
    rows.append(row)
    return "\n".join([f"{_key(name)} = [", *(f"    {r}" for r in rows), "]"])


def _comment(text: str) -> list[str]:
    text = re.sub(r"(>=|<=|>|<) ", "\\1\0", text)  # never split ">= 1" over two lines
    lines = textwrap.wrap(
        text,
        WIDTH - 2,
        initial_indent="# ",
        subsequent_indent="# ",
        break_on_hyphens=False,
        break_long_words=False,
    )
    return [line.replace("\0", " ") for line in lines]


def _key_comment(spec: FieldSpec) -> list[str]:
    allowed = spec.allowed()
    if allowed and "one of" not in allowed:
        allowed = allowed.replace(" ", "\0")  # bounds stay on one line: ">= 0 and < 1"
    return _comment(f"{spec.help} Allowed: {allowed}." if allowed else spec.help)


def _table(cls: type[Any], obj: Any, path: str, help_text: str) -> list[str]:
    specs = field_specs(cls)
    scalars = [s for s in specs if not s.is_section]
    out: list[str] = [""]
    if scalars:
        out.append(f"[{path}]")
    out += _comment(help_text)
    for spec in scalars:
        value = getattr(obj, spec.name)
        if spec.default_text is not None and value == spec.current_default():
            # An environment-dependent default is not pinned in the file: shown, commented out.
            out += ["", *_key_comment(spec), f"# {_key(spec.name)} = {spec.default_text}"]
        else:
            out += ["", *_key_comment(spec), _assignment(spec.name, value)]
    for spec in specs:
        if spec.is_section:
            out += _table(spec.type, getattr(obj, spec.name), f"{path}.{spec.name}", spec.help)
    return out


def config_toml(config: AppConfig | None = None) -> str:
    """Return ``config`` (default: the defaults) as TOML with a comment explaining every key."""
    config = config if config is not None else AppConfig()
    lines = [f"# {line}".rstrip() for line in _TOML_HEADER.splitlines()]
    for spec in field_specs(AppConfig):
        lines += _table(spec.type, getattr(config, spec.name), spec.name, spec.help)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # "<name>" would be read as an HTML tag, "|" as a column break.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _rows(cls: type[Any], obj: Any) -> list[str]:
    out = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for spec in field_specs(cls):
        if spec.is_section:
            continue
        value = spec.default if obj is None else getattr(obj, spec.name)
        if spec.default_text is not None:
            default = _code(spec.default_text)
        elif value is dataclasses.MISSING:
            default = "(required)"
        else:
            default = _code(toml_value(value).replace("|", "\\|"))
        allowed = _cell(spec.allowed())
        out.append(
            f"| `{spec.name}` | {short_type(spec.type)} | {default} | {allowed} | {_cell(spec.help)} |"
        )
    return out


def _reference_table(cls: type[Any], obj: Any, path: str, help_text: str) -> list[str]:
    specs = field_specs(cls)
    out = ["", f"## `[{path}]`", "", _cell(help_text)]
    if any(not s.is_section for s in specs):
        out += ["", *_rows(cls, obj)]
    for spec in specs:
        inner = get_args(spec.type)[0] if get_origin(spec.type) is tuple else None
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            out += ["", f"Each item of `{path}.{spec.name}` is a table with these keys:", ""]
            out += _rows(inner, None)
    for spec in specs:
        if spec.is_section:
            out += _reference_table(spec.type, getattr(obj, spec.name), f"{path}.{spec.name}", spec.help)
    return out


_REFERENCE_INTRO = """\
# Configuration reference

<!-- Generated from the configuration classes (packages/core/src/algo_trade_core/_config.py) by
`algo-trade config reference > docs/configuration.md`; a test fails when this file is stale. -->

Every command reads the file given by `--config PATH`, else `$ALGO_TRADE_CONFIG`, else
`./config/Config.toml` when it exists, else the built-in defaults below. Every key is optional: a
missing key takes its default. `algo-trade config init` writes a file with every key at its default and
a comment explaining it; `algo-trade config validate` lists every problem of a file (each with the file
and line, the key, what was expected, and "did you mean ...?" for misspelt keys) and prints the next
fire times of the schedule; `algo-trade config show` prints the effective configuration.

Unknown keys, wrong types, values out of range, non-finite numbers (`nan`, `inf`), invalid cron
expressions and impossible strategy parameters (also inside `[scheduler] parameter_sets`) are rejected
when the configuration is loaded, before any command runs.

## Environment overrides

`ALGO_TRADE__<SECTION>__<KEY>=value` overrides one key, so that secrets need not live in the file:
`ALGO_TRADE__DATABASE__URL=postgresql://user:secret@host:5432/algo_trade`. Nested sections add a
level: `ALGO_TRADE__STRATEGY__QUAD_MA__TREND=200`. The value is read as a
TOML value (`3`, `0.5`, `true`, `["BTC", "ETH"]`,
`[{strategy = "quad_ma", params = {trend = 200}}]`) and, when it is not valid TOML, taken as a plain
string. A problem in an overridden value names the variable.

## Cron expressions

`[scheduler] cron_expression` has 6 fields, seconds first: `second minute hour day month day_of_week`,
in UTC. Each field takes `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma-separated list;
months also take `jan`..`dec`. Day of week counts 0 or 7 = Sunday, 1 = Monday ... 6 = Saturday, or
`sun`..`sat`. When both day and day of week are restricted (neither starts with `*`), the schedule fires
on days matching *either*, as in classic cron: `0 0 3 1 * mon` fires at 03:00 on the 1st of each month
and on every Monday. Examples: `0 0 3 * * *` (daily 03:00, the default), `0 */15 * * * *` (every 15
minutes), `0 30 9 * * 1-5` (weekdays 09:30).
"""


def config_reference() -> str:
    """Return the Markdown reference of every section and key (type, default, allowed values, help)."""
    lines = _REFERENCE_INTRO.rstrip("\n").splitlines()
    defaults = AppConfig()
    for spec in field_specs(AppConfig):
        lines += _reference_table(spec.type, getattr(defaults, spec.name), spec.name, spec.help)
    return "\n".join(lines) + "\n"
