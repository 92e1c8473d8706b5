"""The `algo-trade` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from algo_trade_cli import cmd_config
from algo_trade_cli._common import setup_logging

app = typer.Typer(
    name="algo-trade",
    help="Which tokens should my bots watch right now? Backtests on a schedule, selection, paper bots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cmd_config.app, name="config")


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")] = False,
) -> None:
    setup_logging(verbose)


def main() -> None:
    """Console-script entry point."""
    app()
