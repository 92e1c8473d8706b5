"""The `algo-trade` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from algo_trade_cli import (
    cmd_bots,
    cmd_config,
    cmd_dashboard,
    cmd_data,
    cmd_db,
    cmd_results,
    cmd_runs,
    cmd_selection,
)
from algo_trade_cli._common import setup_logging
from algo_trade_cli.cmd_backtest import backtest
from algo_trade_cli.cmd_demo import demo
from algo_trade_cli.cmd_sweep import scheduled_backtest, sweep, token_selection

app = typer.Typer(
    name="algo-trade",
    help="Which tokens should my bots watch right now? Backtests on a schedule, selection, paper bots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cmd_config.app, name="config")
app.add_typer(cmd_db.app, name="db")
app.add_typer(cmd_data.app, name="data")
app.add_typer(cmd_results.app, name="results")
app.add_typer(cmd_bots.app, name="bots")
app.add_typer(cmd_runs.app, name="runs")
app.add_typer(cmd_selection.app, name="selection")
app.command("backtest")(backtest)
app.command("sweep")(sweep)
app.command("token-selection")(token_selection)
app.command("scheduled-backtest")(scheduled_backtest)
app.command("demo")(demo)
app.command("dashboard")(cmd_dashboard.dashboard)  # light module: the server is imported when it runs


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")] = False,
) -> None:
    setup_logging(verbose)


def main() -> None:
    """Console-script entry point."""
    app()
