"""`algo-trade selection history`: tokens x stored selections, each cell what the token was."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from algo_trade_cli._common import (
    ConfigOption,
    JsonOption,
    console,
    err_console,
    parse_time,
    resolve_config,
    run_async,
)
from algo_trade_cli._format import fmt_time
from algo_trade_core import AppConfig

if TYPE_CHECKING:  # annotations only: the store client imports the database driver
    from algo_trade_data import SelectionRecord

__all__ = ["SelectionCell", "SelectionGrid", "app", "cell_of", "selection_grid"]

app = typer.Typer(help="Stored token selections over time.", no_args_is_help=True)

# Criterion names as the selector stores them -> the short label (and colour) of a failed cell.
_CRITERIA = {
    "max_result_age_hours": "stale",
    "min_window_coverage": "coverage",
    "min_sharpe_ratio": "Sharpe",
    "fallback_min_sharpe": "Sharpe",
    "min_win_rate": "win rate",
    "max_drawdown": "drawdown",
    "min_num_trades": "trades",
    "allowed_regimes": "regime",
    "min_psr": "PSR",
    "min_dsr": "DSR",
}
# Explanations written as sentences ("win rate 48.3 % < 50 %") are recognised by their words.
_WORDS = (
    ("sharpe", "Sharpe"),
    ("win rate", "win rate"),
    ("drawdown", "drawdown"),
    ("coverage", "coverage"),
    ("trades", "trades"),
    ("old", "stale"),
    ("age", "stale"),
)


@dataclass(frozen=True, slots=True)
class SelectionCell:
    """One token in one selection: approved, fallback, beyond top_n, failed (why) or absent."""

    status: str  # approved | fallback | beyond top_n | failed | absent
    rank: int | None = None
    failed: tuple[str, ...] = ()  # the stored explanations, in order
    criterion: str | None = None  # the first failed criterion's short label

    @property
    def colour_key(self) -> str:
        return (self.criterion or "failed") if self.status == "failed" else self.status

    @property
    def label(self) -> str:
        if self.status == "approved":
            return f"✓ {self.rank}" if self.rank else "✓"
        if self.status == "fallback":
            return f"FB {self.rank}" if self.rank else "FB"
        if self.status == "beyond top_n":
            return "> top_n"
        if self.status == "failed":
            more = f" +{len(self.failed) - 1}" if len(self.failed) > 1 else ""
            return f"✗ {self.criterion or self.failed[0]}{more}"
        return ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "rank": self.rank, "failed": list(self.failed)}


def _failure(item: Any) -> tuple[str, str | None]:
    """(text, short label) of one stored failed-criterion entry (a name, a sentence or a mapping)."""
    if isinstance(item, dict):
        name = str(item.get("criterion") or item.get("name") or "")
        text = str(item.get("message") or item.get("text") or name or item)
    else:
        name = text = str(item)
    if name in _CRITERIA:
        return text, _CRITERIA[name]
    lowered = text.lower()
    return text, next((label for word, label in _WORDS if word in lowered), None)


def cell_of(detail: dict[str, Any], *, fallback_selection: bool) -> SelectionCell:
    """Read one token's stored explanation (``token_selections.details`` entry)."""
    rank = detail.get("rank")
    rank = int(rank) if isinstance(rank, int) else None
    if detail.get("approved"):
        fallback = bool(detail.get("fallback", fallback_selection))
        return SelectionCell("fallback" if fallback else "approved", rank)
    failures = [_failure(item) for item in detail.get("failed") or []]
    if not failures:
        return SelectionCell("beyond top_n", rank)
    return SelectionCell("failed", None, tuple(t for t, _ in failures), failures[0][1])


@dataclass(frozen=True, slots=True)
class SelectionGrid:
    """Tokens (rows, most often approved first) x selections (columns, oldest first)."""

    symbols: list[str]
    times: list[datetime]
    fallback: list[bool]
    run_ids: list[str | None]
    cells: list[list[SelectionCell]]


def selection_grid(records: Sequence[SelectionRecord]) -> SelectionGrid:
    """Build the grid from selections in time order; a token missing from a selection is ``absent``."""
    columns = [
        {
            str(d.get("symbol")): cell_of(d, fallback_selection=r.fallback_used)
            for d in r.details
            if isinstance(d, dict)
        }
        for r in records
    ]
    symbols = sorted(
        {s for column in columns for s in column},
        key=lambda s: (
            -sum(c[s].status in ("approved", "fallback") for c in columns if s in c),
            s.lower(),
        ),
    )
    absent = SelectionCell("absent")
    return SelectionGrid(
        symbols=symbols,
        times=[r.selected_at for r in records],
        fallback=[r.fallback_used for r in records],
        run_ids=[r.run_id for r in records],
        cells=[[column.get(s, absent) for column in columns] for s in symbols],
    )


_STYLE = {"approved": "bold green", "fallback": "bold yellow", "beyond top_n": "green", "failed": "red"}


def grid_table(grid: SelectionGrid, title: str) -> Table:
    table = Table(title=title)
    table.add_column("token")
    for when, fallback in zip(grid.times, grid.fallback, strict=True):
        table.add_column(when.strftime("%m-%d\n%H:%M") + ("\nFALLBACK" if fallback else ""), justify="left")
    table.add_column("approved", justify="right")
    for symbol, row in zip(grid.symbols, grid.cells, strict=True):
        approved = sum(c.status in ("approved", "fallback") for c in row)
        table.add_row(
            symbol,
            *(f"[{_STYLE[c.status]}]{c.label}[/]" if c.status in _STYLE else c.label for c in row),
            f"{approved}/{len(row)}",
        )
    return table


def _json(grid: SelectionGrid, records: Sequence[SelectionRecord], strategy: str | None) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "symbols": grid.symbols,
        "selections": [
            {
                "selected_at": r.selected_at.isoformat(),
                "run_id": r.run_id,
                "fallback": r.fallback_used,
                "approved": list(r.approved),
                "tokens": {s: grid.cells[i][j].to_json() for i, s in enumerate(grid.symbols)},
            }
            for j, r in enumerate(records)
        ],
    }


async def _load(
    cfg: AppConfig, strategy: str | None, limit: int, since: datetime | None
) -> list[SelectionRecord]:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        return await db.selection_history(strategy, limit=limit, since=since)


@app.command("history")
def history(
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Default: the strategy of the token_selection section (optimised: with [optimisation] "
            "enabled, the selections among per-token choices).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest N selections.")] = 10,
    since: Annotated[
        str | None, typer.Option("--since", help="Only selections from this time (ISO).")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a token x time strip as a PNG.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens x selections: approved (rank), fallback, beyond top_n, or the criterion that failed.

    Example: algo-trade selection history --limit 30 --plot selections.png
    """
    cfg = resolve_config(config)
    # With [optimisation] enabled the stored selections are among per-token choices ("optimised").
    name = strategy or ("optimised" if cfg.optimisation.enabled else cfg.token_selection.strategy)
    records = run_async(_load(cfg, name, limit, parse_time(since, "--since")))
    grid = selection_grid(records)
    if as_json:
        print(json.dumps(_json(grid, records, name)))
    elif not records:
        console.print(f"no selections stored for {name}: `algo-trade token-selection` or a sweep stores one")
    else:
        title = (
            f"{name}: {len(records)} selection(s), {fmt_time(records[0].selected_at)} → "
            f"{fmt_time(records[-1].selected_at)} UTC"
        )
        console.print(grid_table(grid, title))
        console.print(
            "✓ n approved (rank) · FB n fallback pick · > top_n passed but cut · ✗ first failed criterion "
            "(+k more; `--json` lists them)"
        )
    if plot is not None and records:
        from algo_trade_cli._plots_history import plot_selection_strip

        plot_selection_strip(
            plot,
            title=f"token selection history ({name}): {len(records)} selection(s)",
            grid=grid,
        )
        (err_console if as_json else console).print(f"wrote {plot}")
