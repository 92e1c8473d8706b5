"""Help that explains itself: an example on every command, references kept, no type noise.

Typer renders help text as rich markup, so "Default: [scheduler] interval." printed as "Default:
interval." (the reference was read as a style tag), and it shows every flag's type as ``<bool>`` and a
repeatable option as ``<list[str]>``. :class:`RootGroup` fixes that once, when the command tree is
built: help texts are markup-escaped (they are plain text in the source), flags show no type,
repeatable values show ``<str>...``, and each command gets its example (:data:`EXAMPLES`) as epilog.
It also lets ``-v/--verbose`` follow the command (``algo-trade sweep -v``), like freqtrade's.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape
from typer.core import TyperGroup

__all__ = ["EXAMPLES", "RootGroup"]

# One example per command, shown at the end of its --help. A command may bring its own epilog instead.
EXAMPLES: dict[str, str] = {
    "backtest": "algo-trade backtest -s BTC -t 1h --timerange 20250101-20250401 --trades",
    "sweep": "algo-trade sweep -s BTC -s ETH -i 1h --window-days 60 --as-of 2025-07-01 --no-refresh",
    "token-selection": "algo-trade token-selection --json",
    "scheduled-backtest": "algo-trade scheduled-backtest --run-now",
    "demo": "algo-trade demo --offline --data-dir ./candles",
    "doctor": "algo-trade doctor --offline",
    "dashboard": "algo-trade dashboard --port 8081 --as-of 2025-07-01",
    "optimise": "algo-trade optimise -s BTC -s ETH -i 1h --as-of 2025-07-01 --space s.toml --plot opt.png",
    "config init": "algo-trade config init my-config.toml",
    "config show": "algo-trade config show --json",
    "config validate": "algo-trade config validate -c my-config.toml",
    "db init": "algo-trade db init",
    "db status": "algo-trade db status --json",
    "data fetch": "algo-trade data fetch -s BTC -s ETH --interval 1h --days 30",
    "data repair": "algo-trade data repair -s BTC -s ETH --interval 1m",
    "data import": "algo-trade data import ./user_data/data/hyperliquid --interval 1h",
    "data export": "algo-trade data export -s BTC --interval 1h -o btc-1h.parquet",
    "data status": "algo-trade data status --symbol BTC",
    "results latest": "algo-trade results latest --json",
    "results history": "algo-trade results history BTC --plot btc-history.png",
    "bots list": "algo-trade bots list --all",
    "bots status": "algo-trade bots status quad_ma:BTC",
    "bots stop": "algo-trade bots stop quad_ma:BTC",
    "bots prune": "algo-trade bots prune --older-than-days 30 --dry-run",
    "bots events": "algo-trade bots events --since 24h --kind stop",
    "bots report": "algo-trade bots report quad_ma:BTC --plot bot.png",
    "walkforward list": "algo-trade walkforward list --limit 5",
    "walkforward show": "algo-trade walkforward show 3f2a9c1b --plot study.png",
}

VERBOSE_FLAGS = ("-v", "--verbose")
_LIST_TYPE = re.compile(r"<list\[(.+)\]>")


def _repeatable(display: Any) -> Any:
    """Wrap a parameter's type display: "<list[str]>" reads "<str>..." (a repeatable value)."""

    def display_type_rich(ctx: Any) -> Any:
        shown = display(ctx)
        match = _LIST_TYPE.fullmatch(shown) if isinstance(shown, str) else None
        return f"<{match[1]}>..." if match else shown

    return display_type_rich


def _tidy_param(param: Any) -> None:
    if getattr(param, "_algo_trade_tidy", False):
        return
    if param.help:
        param.help = escape(param.help)
    if getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""  # a flag takes no value: no "<bool>"
    if hasattr(param, "display_type_rich"):  # typer >= 0.16 shows types this way
        param.display_type_rich = _repeatable(param.display_type_rich)
    param._algo_trade_tidy = True


def _tidy(command: Any, path: tuple[str, ...]) -> None:
    for param in command.params:
        _tidy_param(param)
    if command.help:
        command.help = escape(command.help)
    subcommands = getattr(command, "commands", None)
    if subcommands is None:  # a command, not a group: it gets its example
        example = EXAMPLES.get(" ".join(path))
        if not command.epilog and example is not None:
            command.epilog = f"Example: {example}"
        if command.epilog:
            command.epilog = escape(command.epilog)
        return
    for name, sub in subcommands.items():
        _tidy(sub, (*path, name))


def _prepare_help_options(command: Any, ctx: Any) -> None:
    """Create each command's --help option now (typer caches it per command) without a type shown."""
    option = command.get_help_option(ctx)
    if option is not None:
        _tidy_param(option)
    for sub in getattr(command, "commands", {}).values():
        _prepare_help_options(sub, ctx)


def hoist_verbose(args: list[str]) -> list[str]:
    """Move ``-v``/``--verbose`` given after the command to the front (up to a ``--``)."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in VERBOSE_FLAGS]
    if not flags or all(a in VERBOSE_FLAGS for a in args[: len(flags)]):
        return args
    rest = [a for a in args[:end] if a not in VERBOSE_FLAGS]
    return [VERBOSE_FLAGS[0], *rest, *args[end:]]


class RootGroup(TyperGroup):
    """The ``algo-trade`` group: tidies the help of the whole tree and accepts ``-v`` anywhere."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _tidy(self, ())

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:  # --install-completion and --show-completion are added after __init__
            _tidy_param(param)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _prepare_help_options(command, ctx)
        return command

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_verbose(list(args)))
