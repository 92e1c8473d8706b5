"""Shared CLI plumbing: the --config option, logging sinks, the console, running coroutines.

Only light modules are imported here and at the top of every command module (typer, rich, loguru,
``algo_trade_core``): ``algo-trade --help``, shell completion and the read commands must start in well
under a second, so numba, polars, aiohttp and asyncpg are imported inside the functions that use them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine, Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn, TypeVar

import typer
from loguru import logger
from rich.console import Console, ConsoleDimensions
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from algo_trade_cli._inputs import InputError, check_interval, parse_utc
from algo_trade_core import AlgoTradeError, AppConfig, load_config

__all__ = [
    "ConfigOption",
    "IntervalOption",
    "JsonOption",
    "console",
    "err_console",
    "fail",
    "make_console",
    "parse_time",
    "progress_bar",
    "resolve_config",
    "resolve_interval",
    "run_async",
    "setup_logging",
    "valid_symbols",
]

T = TypeVar("T")

# Wide enough for any table: when the output is not a terminal, nothing is cut to fit.
_PIPE_WIDTH = 100_000


class OutputConsole(Console):
    """A rich console that prints full width when its output is not a terminal.

    Rich lays out for 80 columns when stdout is a pipe or a file (``make demo | tee``, CI logs,
    ``| less``), cutting tables and truncating numbers to "1,234.…". Here the width is unlimited
    instead, each table or panel takes its natural width, and text is not wrapped. The check happens
    at every print: the same console serves a terminal and, in tests, a captured stream.
    """

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal:
            return super().size
        return ConsoleDimensions(_PIPE_WIDTH, super().size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if not self.is_terminal and objects and kwargs.get("width") is None:
            if all(isinstance(o, str) for o in objects):
                kwargs.setdefault("soft_wrap", True)
            else:  # a panel would stretch to the full (unlimited) width: give it its content's
                kwargs["width"] = max(Measurement.get(self, self.options, o).maximum for o in objects)
        super().print(*objects, **kwargs)


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """The one console factory of the CLI (full width when the output is not a terminal)."""
    return OutputConsole(stderr=stderr, file=file)


console = make_console()
err_console = make_console(stderr=True)

DEFAULT_CONFIG = Path("config/Config.toml")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: $ALGO_TRADE_CONFIG, else ./config/Config.toml when present, "
        "else built-in defaults). ALGO_TRADE__SECTION__KEY variables override single keys.",
        show_default=False,
        metavar="<file>",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
IntervalOption = Annotated[
    str | None,
    typer.Option(
        "--interval",
        "-i",
        "--timeframe",
        "-t",
        help="Bar interval (freqtrade's timeframe): 1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d 3d 1w 1M. "
        "Default: [scheduler] interval.",
        show_default=False,
        metavar="<interval>",
    ),
]

_LIBRARIES = (
    "algo_trade_core",
    "algo_trade_data",
    "algo_trade_backtest",
    "algo_trade_backtest_scheduler",
    "algo_trade_token_selector",
    "algo_trade_bot_orchestrator",
    "algo_trade_pipeline",
    "algo_trade_dashboard",
    "algo_trade_optimisation",
    "algo_trade_cli",
)


def parse_time(text: str | None, option: str) -> datetime | None:
    """Parse an ISO date or date-time option (UTC unless it has an offset); exit 2 naming the option."""
    if text is None:
        return None
    try:
        return parse_utc(text, option)
    except InputError as exc:
        fail(str(exc), 2)


def resolve_interval(value: str | None, cfg: AppConfig, option: str = "--interval") -> str:
    """The interval a command uses: the option's (checked), else ``[scheduler] interval``."""
    if value is None:
        return cfg.scheduler.interval
    try:
        return check_interval(value, option)
    except InputError as exc:
        fail(str(exc), 2)


def progress_bar() -> Progress:
    """The progress bar of long commands (import, fetch, repair, sweep); it disappears when done.

    Steps advance whatever happened to them (a failed token is a step done), so the bar always
    reaches its end, and the remaining time is estimated from the steps so far.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def valid_symbols(symbols: Iterable[str], option: str = "--symbol") -> list[str]:
    """Return ``symbols`` when each follows the exchange's naming; else exit 2 naming the bad one."""
    from algo_trade_data import symbol_problem  # loads only the naming rules (no polars, no aiohttp)

    out = list(symbols)
    for symbol in out:
        problem = symbol_problem(symbol)
        if problem is not None:
            fail(f"{option}: {problem}", 2)
    return out


def setup_logging(verbose: bool = False) -> None:
    """Send the libraries' logs to stderr (only the CLI configures sinks)."""
    logger.remove()
    level = "DEBUG" if verbose or os.environ.get("ALGO_TRADE_DEBUG") else "INFO"
    logger.add(
        sys.stderr, level=level, format="<dim>{time:HH:mm:ss}</dim> <level>{level: <7}</level> {message}"
    )
    for name in _LIBRARIES:
        logger.enable(name)


def config_path(path: Path | None) -> Path | None:
    """Return the file the configuration comes from, or None for the built-in defaults."""
    if path is not None:
        return path
    env = os.environ.get("ALGO_TRADE_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def resolve_config(path: Path | None) -> AppConfig:
    """Load the configuration for a command, exiting with a clear message when it is invalid."""
    try:
        return load_config(config_path(path))
    except AlgoTradeError as exc:
        fail(str(exc), code=2)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit with ``code`` (never returns). ``message`` is plain text: a config section
    like ``[quad_ma]`` in it is printed, not read as console markup."""
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn the project's own errors into a clear message and exit code 1."""
    try:
        return asyncio.run(coro)
    except AlgoTradeError as exc:
        fail(f"{type(exc).__name__}: {exc}")
