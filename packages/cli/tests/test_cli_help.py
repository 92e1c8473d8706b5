"""Every command's --help: each option explained, config references intact, an example, no type noise;
--version; -v before or after the command."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.models import ArgumentInfo, OptionInfo
from typer.testing import CliRunner

from algo_trade_cli.app import app

from .conftest import Cli

RUNNER = CliRunner()
WIDE = {"COLUMNS": "2000"}  # one line per option: the text can be compared with the source


def commands(group: typer.Typer = app, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(command path, callback) of every command, from the Typer app as written in the source."""
    for info in group.registered_commands:
        assert info.name is not None, info.callback
        yield (*path, info.name), info.callback
    for sub in group.registered_groups:
        assert sub.name is not None
        assert sub.typer_instance is not None
        yield from commands(sub.typer_instance, (*path, sub.name))


def source_helps(callback: Any) -> dict[str, str | None]:
    """Parameter name -> the help string written in the source."""
    hints = typing.get_type_hints(callback, include_extras=True)
    out: dict[str, str | None] = {}
    for name, param in inspect.signature(callback).parameters.items():
        infos = [
            m
            for m in getattr(hints.get(name), "__metadata__", ())
            if isinstance(m, OptionInfo | ArgumentInfo)
        ]
        if isinstance(param.default, OptionInfo | ArgumentInfo):
            infos.append(param.default)
        for info in infos:
            out[name] = info.help
    return out


ALL = sorted(commands(), key=lambda c: c[0])


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in ALL}
    assert {"backtest", "sweep", "doctor", "bots stop", "bots prune", "data import", "config show"} <= names


@pytest.mark.parametrize(("path", "callback"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_help_explains_every_option_with_its_source_text_and_an_example(
    path: tuple[str, ...], callback: Any
) -> None:
    result = RUNNER.invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    helps = source_helps(callback)
    if inspect.signature(callback).parameters:  # `config reference` takes none
        assert helps, f"{path}: no options found"
    for name, help_text in helps.items():
        assert help_text, f"`algo-trade {' '.join(path)}`: option {name} has no help"
        # rich markup must not swallow "[scheduler] interval"-style references
        assert " ".join(help_text.split()) in text, f"{path} {name}: {help_text!r} not shown as written"
    doc = inspect.getdoc(callback) or ""
    assert doc.split("\n\n")[0].replace("\n", " ") in text
    assert f"Example: algo-trade {' '.join(path)}" in text, f"{path}: no example"
    assert "<bool>" not in text
    assert "<list[" not in text


def test_references_to_config_keys_survive() -> None:
    text = " ".join(RUNNER.invoke(app, ["backtest", "--help"], env=WIDE).output.split())
    assert "Default: [scheduler] interval." in text
    assert "Default: [backtest] fee_rate." in text


def test_version() -> None:
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("algo-trade 0.1.0 (Python 3.")


@pytest.mark.parametrize(
    "args", [("-v", "config", "show"), ("config", "show", "-v"), ("config", "show", "--verbose")]
)
def test_verbose_before_or_after_the_command(cli: Cli, args: tuple[str, ...]) -> None:
    assert "[scheduler]" in cli(*args)
