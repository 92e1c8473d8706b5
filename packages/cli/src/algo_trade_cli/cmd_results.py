"""`algo-trade results latest|history`."""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from algo_trade_cli._common import ConfigOption, JsonOption, console, fail, resolve_config, run_async
from algo_trade_cli._tables import results_table
from algo_trade_core import AppConfig
from algo_trade_data import BacktestResultRecord

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
) -> None:
    """The latest stored result of each token."""
    cfg = resolve_config(config)
    records = run_async(_latest(cfg, strategy or cfg.token_selection.strategy))
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
        str | None, typer.Option("--strategy", help="Default: [token_selection] strategy.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest runs to show.")] = 50,
    plot: Annotated[Path | None, typer.Option("--plot", help="PNG of Sharpe and return over time.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One row per run for one token, newest first."""
    cfg = resolve_config(config)
    records = run_async(_history(cfg, symbol, strategy or cfg.token_selection.strategy, limit))
    if not records:
        fail(f"no stored results for {symbol}")
    if as_json:
        print(json.dumps([_json(r) for r in records]))
    else:
        console.print(results_table(records, f"{symbol}: {len(records)} run(s)"))
    if plot is not None:
        from algo_trade_cli._plots import plot_history

        ordered = sorted(records, key=lambda r: r.timestamp)
        plot_history(
            plot,
            title=f"{symbol} {ordered[0].strategy_name}: results per run",
            times=[r.timestamp for r in ordered],
            sharpe=[r.sharpe_ratio for r in ordered],
            total_return=[float(r.total_return) for r in ordered],
        )
        console.print(f"wrote {plot}")
