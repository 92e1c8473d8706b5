"""The `algo-trade` command line.

Every command module imports only light modules at the top (see :mod:`._common`), so building this
tree for ``--help`` or a completion request costs a fraction of a second.
"""

from __future__ import annotations

import platform
from typing import Annotated

import typer

from algo_trade_cli import (
    cmd_bots,
    cmd_config,
    cmd_data,
    cmd_db,
    cmd_results,
    cmd_runs,
    cmd_selection,
    cmd_walkforward,
)
from algo_trade_cli._common import console, setup_logging
from algo_trade_cli._help import RootGroup
from algo_trade_cli.cmd_backtest import backtest
from algo_trade_cli.cmd_dashboard import dashboard
from algo_trade_cli.cmd_demo import demo
from algo_trade_cli.cmd_doctor import doctor
from algo_trade_cli.cmd_optimise import optimise
from algo_trade_cli.cmd_sweep import scheduled_backtest, sweep, token_selection

app = typer.Typer(
    name="algo-trade",
    cls=RootGroup,
    help="Which tokens should my bots watch right now? Backtests on a schedule, selection, paper bots.",
    epilog="Start with `algo-trade doctor`, then `algo-trade demo`. -v works before or after a command.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(cmd_config.app, name="config")
app.add_typer(cmd_db.app, name="db")
app.add_typer(cmd_data.app, name="data")
app.add_typer(cmd_results.app, name="results")
app.add_typer(cmd_bots.app, name="bots")
app.add_typer(cmd_runs.app, name="runs")
app.add_typer(cmd_selection.app, name="selection")
app.add_typer(cmd_walkforward.app, name="walkforward")
app.command("backtest")(backtest)
app.command("sweep")(sweep)
app.command("token-selection")(token_selection)
app.command("scheduled-backtest")(scheduled_backtest)
app.command("demo")(demo)
app.command("doctor")(doctor)
app.command("dashboard")(dashboard)  # a light module: the server (aiohttp, jinja2) is imported when it runs
app.command("optimise")(optimise)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("algo-trade-cli")
    except PackageNotFoundError:  # running from a source tree without installing
        own = "unknown"
    return f"algo-trade {own} (Python {platform.python_version()})"


def _show_version(value: bool) -> None:
    if value:
        console.print(_version(), highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Debug logging on stderr (also after the command: algo-trade sweep -v)."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    setup_logging(verbose)


def main() -> None:
    """Console-script entry point."""
    app()
