"""Shared CLI plumbing: the --config option, logging sinks, the console, running coroutines."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from loguru import logger
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from algo_trade_core import AlgoTradeError, AppConfig, load_config

__all__ = [
    "ConfigOption",
    "JsonOption",
    "console",
    "err_console",
    "fail",
    "parse_time",
    "progress_bar",
    "resolve_config",
    "run_async",
    "setup_logging",
]

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

DEFAULT_CONFIG = Path("config/Config.toml")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: $ALGO_TRADE_CONFIG, else ./config/Config.toml when present, "
        "else built-in defaults). ALGO_TRADE__SECTION__KEY variables override single keys.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]

_LIBRARIES = (
    "algo_trade_core",
    "algo_trade_data",
    "algo_trade_backtest",
    "algo_trade_backtest_scheduler",
    "algo_trade_token_selector",
    "algo_trade_bot_orchestrator",
    "algo_trade_pipeline",
    "algo_trade_dashboard",
    "algo_trade_cli",
)


def parse_time(text: str | None, option: str) -> datetime | None:
    """Parse an ISO-8601 option value (UTC when no zone is given); exit 2 naming the option if invalid."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: expected an ISO-8601 time like 2025-07-01 or 2025-07-01T12:00:00Z, got {text!r}", 2)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def progress_bar() -> Progress:
    """The progress bar of long commands (import, fetch, sweep); it disappears when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


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
    """Print an error and exit with ``code`` (never returns)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn the project's own errors into a clear message and exit code 1."""
    try:
        return asyncio.run(coro)
    except AlgoTradeError as exc:
        fail(f"{type(exc).__name__}: {exc}")
