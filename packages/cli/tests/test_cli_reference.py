"""docs/cli.md is the generated CLI reference: every command's help, current."""

from __future__ import annotations

from pathlib import Path

from algo_trade_cli._reference import cli_reference, command_paths

DOCS = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def test_the_committed_cli_reference_is_the_generated_one() -> None:
    assert DOCS.read_text(encoding="utf-8") == cli_reference(), "stale docs/cli.md: run `make docs`"


def test_every_command_has_a_section() -> None:
    import typer

    from algo_trade_cli.app import app

    text = DOCS.read_text(encoding="utf-8")
    paths = list(command_paths(typer.main.get_command(app)))
    assert ("walkforward", "show") in paths
    for path in paths:
        assert f"\n## algo-trade {' '.join(path)}\n" in text
