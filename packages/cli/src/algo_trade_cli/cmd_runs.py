"""`algo-trade runs list`: the stored sweeps, newest first, with their status and errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from algo_trade_cli._common import ConfigOption, JsonOption, console, fail, resolve_config, run_async
from algo_trade_cli._format import fmt_duration, fmt_time
from algo_trade_core import AppConfig

if TYPE_CHECKING:  # annotations only: the store client imports the database driver
    from algo_trade_data import RunOverview

__all__ = ["app"]

app = typer.Typer(help="Stored backtest sweeps (runs) and how they went.", no_args_is_help=True)

_STATUSES = ("ok", "partial", "failed", "running", "interrupted")
_STATUS_STYLE = {
    "ok": "green",
    "partial": "yellow",
    "failed": "bold red",
    "running": "cyan",
    "interrupted": "magenta",
}


def _json(o: RunOverview) -> dict[str, Any]:
    run = o.run
    return {
        "run_id": run.run_id,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "seconds": o.seconds,
        "tokens_ok": run.tokens_ok,
        "tokens_failed": run.tokens_failed,
        "results": o.results,
        "interval": o.interval,
        "window_start": o.window_start.isoformat() if o.window_start else None,
        "window_end": o.window_end.isoformat() if o.window_end else None,
        "errors": dict(run.errors),
        "owner": None if run.owner_host is None else f"{run.owner_host}:{run.owner_pid}",
    }


def _errors(errors: dict[str, str], shown: int = 2, width: int = 60) -> str:
    """The first errors, one per line, cut to ``width``; ``(+n more)`` for the rest."""
    lines = []
    for symbol, reason in list(errors.items())[:shown]:
        text = f"{symbol}: {reason}"
        lines.append(text if len(text) <= width else text[: width - 1] + "…")
    if len(errors) > shown:
        lines.append(f"(+{len(errors) - shown} more; --json lists all)")
    return "\n".join(lines)


def runs_table(overviews: list[RunOverview]) -> Table:
    table = Table(title=f"backtest runs ({len(overviews)}, newest first)")
    for col in ("run", "started (UTC)", "took", "status", "ok", "failed", "results", "window", "errors"):
        table.add_column(col, justify="right" if col in ("took", "ok", "failed", "results") else "left")
    for o in overviews:
        run = o.run
        style = _STATUS_STYLE.get(run.status, "")
        window = ""
        if o.window_end is not None:
            window = f"{o.interval or '?'} → {fmt_time(o.window_end)}"
        took = fmt_duration(o.seconds) if o.seconds is not None else "[cyan]running[/]"
        table.add_row(
            run.run_id[:8],
            fmt_time(run.started_at),
            took,
            f"[{style}]{run.status}[/]" if style else run.status,
            str(run.tokens_ok),
            f"[red]{run.tokens_failed}[/]" if run.tokens_failed else "0",
            str(o.results),
            window,
            _errors(dict(run.errors)),
        )
    return table


async def _load(cfg: AppConfig, limit: int, status: str | None) -> list[RunOverview]:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        return await db.run_overviews(limit, status=status)


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="The newest N runs.")] = 20,
    status: Annotated[
        str | None, typer.Option("--status", help=f"Only runs with this status: {', '.join(_STATUSES)}.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sweeps, newest first: status, tokens ok/failed, results stored, duration, window, errors.

    Example: algo-trade runs list --limit 5 --status failed
    """
    if status is not None and status not in _STATUSES:
        fail(f"--status: expected one of {', '.join(_STATUSES)}, got {status!r}", 2)
    overviews = run_async(_load(resolve_config(config), limit, status))
    if as_json:
        print(json.dumps([_json(o) for o in overviews]))
    elif not overviews:
        console.print("no runs stored yet: `algo-trade sweep` runs one")
    else:
        console.print(runs_table(overviews))
