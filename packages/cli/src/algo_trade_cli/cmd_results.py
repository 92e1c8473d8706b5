"""`algo-trade results latest|history`."""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from algo_trade_cli._common import (
    ConfigOption,
    JsonOption,
    console,
    err_console,
    fail,
    resolve_config,
    run_async,
)
from algo_trade_cli._tables import results_table
from algo_trade_core import AppConfig
from algo_trade_data import BacktestResultRecord

CsvOption = Annotated[
    Path | None, typer.Option("--csv", help="Also write the rows to this CSV file (every stored column).")
]

app = typer.Typer(
    help="Stored backtest results: the latest per token, or one token's history.", no_args_is_help=True
)


def _json(record: BacktestResultRecord) -> dict[str, Any]:
    out = asdict(record)
    for key, value in out.items():
        if isinstance(value, Decimal):
            out[key] = float(value)
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


async def _latest(cfg: AppConfig, strategy: str) -> list[BacktestResultRecord]:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        latest = await db.query_latest_backtest_results(strategy)
    return sorted(latest.values(), key=lambda r: r.symbol)


async def _history(cfg: AppConfig, symbol: str, strategy: str, limit: int) -> list[BacktestResultRecord]:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        return await db.query_result_history(symbol, strategy, limit=limit)


@app.command("latest")
def latest(
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Default: [token_selection] strategy.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    csv_path: CsvOption = None,
) -> None:
    """The latest stored result of each token."""
    cfg = resolve_config(config)
    records = run_async(_latest(cfg, strategy or cfg.token_selection.strategy))
    _write_csv(csv_path, records, as_json)
    if as_json:
        print(json.dumps([_json(r) for r in records]))
    elif not records:
        console.print("no results stored yet: run `algo-trade sweep`")
    else:
        console.print(results_table(records, f"latest results ({len(records)} tokens)"))


@app.command("history")
def history(
    symbol: Annotated[str, typer.Argument(help="Token, e.g. BTC.")],
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Default: the strategy of the token_selection section.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest N results.")] = 50,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="PNG of Sharpe and return by backtest window end, one line per interval and parameter set.",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    csv_path: CsvOption = None,
) -> None:
    """One row per stored result of one token, newest first.

    Example: algo-trade results history SOL --plot sol.png --csv sol.csv
    """
    cfg = resolve_config(config)
    records = run_async(_history(cfg, symbol, strategy or cfg.token_selection.strategy, limit))
    if not records:
        fail(f"no stored results for {symbol}")
    if as_json:
        print(json.dumps([_json(r) for r in records]))
    else:
        console.print(results_table(records, f"{symbol}: {len(records)} run(s)"))
    _write_csv(csv_path, records, as_json)
    if plot is not None:
        from algo_trade_cli._plots_history import history_lines, plot_history

        lines = history_lines(records)
        plot_history(
            plot,
            title=f"{symbol}: {len(records)} stored result(s) by backtest window end, {len(lines)} line(s)",
            lines=lines,
        )
        (err_console if as_json else console).print(f"wrote {plot}")


def _write_csv(path: Path | None, records: list[BacktestResultRecord], as_json: bool) -> None:
    if path is None:
        return
    from algo_trade_cli._export import write_results_csv

    rows = write_results_csv(path, records)
    (err_console if as_json else console).print(f"wrote {rows} result(s) to {path}")
