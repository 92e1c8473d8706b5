"""The CLI reference (``docs/cli.md``), generated from the command tree: every command's ``--help``.

``make docs`` writes it; a test fails when the committed file differs, so the reference cannot drift
from the commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["cli_reference", "command_paths"]

_WIDTH = "100"
_INTRO = """\
# CLI reference

<!-- Generated from the command tree by `make docs` (algo_trade_cli._reference); a test fails when this
file is stale. -->

Every command takes `--config PATH` (else `$ALGO_TRADE_CONFIG`, else `./config/Config.toml` when it exists,
else the defaults), `-v/--verbose` before or after the command, and `-h/--help`. Commands that print tables
take `--json` where a program may read the output. The configuration keys named below are described in
[configuration.md](configuration.md).
"""


def command_paths(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group path of a click group, depth first, in name order."""
    for name in sorted(getattr(group, "commands", {})):
        command = group.commands[name]
        if getattr(command, "hidden", False):
            continue
        yield (*path, name)
        if getattr(command, "commands", None):  # a group (typer bundles its own click)
            yield from command_paths(command, (*path, name))


def cli_reference() -> str:
    """Return ``docs/cli.md``: the root help, then one section per command with its help text."""
    import typer
    from typer.testing import CliRunner

    from algo_trade_cli.app import app

    runner = CliRunner()
    env = {"COLUMNS": _WIDTH, "NO_COLOR": "1", "TERM": "dumb", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}

    def help_of(path: tuple[str, ...]) -> str:
        result = runner.invoke(app, [*path, "--help"], env=env, prog_name="algo-trade")
        if result.exit_code != 0:
            raise RuntimeError(f"`algo-trade {' '.join(path)} --help` failed: {result.output}")
        return "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())

    out = [_INTRO, "## algo-trade", "", "```text", help_of(()), "```"]
    for path in command_paths(typer.main.get_command(app)):
        out += ["", f"## algo-trade {' '.join(path)}", "", "```text", help_of(path), "```"]
    return "\n".join(out) + "\n"
