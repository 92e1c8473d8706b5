"""`algo-trade results latest|history`."""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from algo_trade_cli._common import (
    ConfigOption,
    JsonOption,
    console,
    err_console,
    fail,
    resolve_config,
    run_async,
    valid_symbols,
)
from algo_trade_cli._tables import results_table
from algo_trade_core import AppConfig, bars_span_days, short_ratio_warning

if TYPE_CHECKING:  # annotations only: the store client imports the database driver
    from algo_trade_data import BacktestResultRecord
    from algo_trade_token_selector import SelectionScope

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
    out["span_days"] = bars_span_days(record.num_bars, record.interval)
    out["ratio_warning"] = short_ratio_warning(record.num_bars, record.interval, record.num_trades)
    return out


async def _latest(
    cfg: AppConfig, strategy: str | None, widen: dict[str, Any]
) -> tuple[SelectionScope, list[BacktestResultRecord]]:
    from algo_trade_data import DatabaseClient
    from algo_trade_pipeline import Pipeline
    from algo_trade_token_selector import latest_results

    async with await DatabaseClient.connect(cfg.database) as db:
        scope = await Pipeline(cfg, db).scope(strategy=strategy, **widen)
        latest = await latest_results(db, scope)
    return scope, sorted(latest.values(), key=lambda r: r.symbol)


async def _history(cfg: AppConfig, symbol: str, strategy: str, limit: int) -> list[BacktestResultRecord]:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        return await db.query_result_history(symbol, strategy, limit=limit)


@app.command("latest")
def latest(
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Default: [token_selection] strategy.")
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option("--interval", "-i", help="Results of this interval (default: [scheduler] interval)."),
    ] = None,
    all_intervals: Annotated[
        bool, typer.Option("--all-intervals", help="Each token's latest result of any interval.")
    ] = False,
    params_hash: Annotated[
        str | None,
        typer.Option(
            "--params-hash", help="Results of this parameter set (default: the one the bots trade)."
        ),
    ] = None,
    all_params: Annotated[
        bool, typer.Option("--all-params", help="Each token's latest result of any parameter set.")
    ] = False,
    all_symbols: Annotated[
        bool, typer.Option("--all-symbols", help="Every stored token, not only the configured universe.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    csv_path: CsvOption = None,
) -> None:
    """The latest stored result of each token, in the scope that selection ranks.

    By default: the parameter set the bots trade, at [scheduler] interval, over the configured universe;
    "latest" is the result whose backtest window ends last.
    """
    cfg = resolve_config(config)
    widen: dict[str, Any] = {
        "interval": interval,
        "all_intervals": all_intervals,
        "params_hash": params_hash,
        "all_params": all_params,
        "all_symbols": all_symbols,
    }
    scope, records = run_async(_latest(cfg, strategy, widen))
    _write_csv(csv_path, records, as_json)
    if as_json:
        print(json.dumps([_json(r) for r in records]))
    elif not records:
        console.print(
            f"no results stored in scope ({scope.describe()}): run `algo-trade sweep`, "
            "or widen the scope (--all-symbols, --interval, --all-params)"
        )
    else:
        console.print(f"[dim]scope:[/] {scope.describe()}", highlight=False)
        console.print(results_table(records, f"latest results ({len(records)} tokens)"))


@app.command("history")
def history(
    symbol: Annotated[str, typer.Argument(help="Token, e.g. BTC.")],
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Default: [token_selection] strategy.")
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
    valid_symbols([symbol], "SYMBOL")
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
