"""`algo-trade db init|status`."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from algo_trade_cli._common import ConfigOption, JsonOption, console, resolve_config, run_async
from algo_trade_cli._format import fmt_time
from algo_trade_core import AppConfig

app = typer.Typer(help="Create the schema and inspect the database.", no_args_is_help=True)

_TABLES = ("ohlcv", "backtest_results", "backtest_runs", "token_selections", "bots", "fills", "trades")


async def _init(cfg: AppConfig) -> None:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database, migrate=True) as db:
        report = db.migration_report
        applied = report.applied if report else []
        console.print(
            f"database {db.url}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date")
        )
        if db.timescaledb_enabled:
            console.print(f"TimescaleDB: enabled, hypertables: {', '.join(await db.hypertables())}")
        else:
            console.print("TimescaleDB: not available (plain PostgreSQL tables)")
        if report and report.notes:
            for note in report.notes:
                console.print(f"[yellow]note:[/] {note}")


async def _status(cfg: AppConfig, as_json: bool) -> None:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database, migrate=False) as db:
        async with db.pool.acquire() as conn:
            version = await conn.fetchval("SHOW server_version")
            existing = {
                r["relname"]
                for r in await conn.fetch(
                    "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relname = ANY($1::text[])",
                    list(_TABLES),
                )
            }
            counts = {
                t: (await conn.fetchval(f"SELECT count(*) FROM {t}") if t in existing else None)  # noqa: S608 - fixed names
                for t in _TABLES
            }
        migrations = await db.applied_migrations() if "ohlcv" in existing else []
        hypertables = await db.hypertables() if db.timescaledb_enabled else []
        if as_json:
            print(
                json.dumps(
                    {
                        "url": db.url,
                        "server_version": version,
                        "timescaledb": db.timescaledb_enabled,
                        "hypertables": hypertables,
                        "tables": counts,
                        "migrations": [m.name for m in migrations],
                    }
                )
            )
            return
        console.print(
            f"[bold]{db.url}[/]  PostgreSQL {version}; TimescaleDB "
            f"{'enabled' if db.timescaledb_enabled else 'not enabled'}"
        )
        table = Table(title="tables")
        table.add_column("table")
        table.add_column("rows", justify="right")
        table.add_column("hypertable")
        for name, count in counts.items():
            table.add_row(
                name,
                "missing (run `algo-trade db init`)" if count is None else f"{count:,}",
                "yes" if name in hypertables else "",
            )
        console.print(table)
        if migrations:
            console.print(
                "migrations: " + ", ".join(f"{m.name} ({fmt_time(m.applied_at)})" for m in migrations)
            )


@app.command("init")
def init(config: ConfigOption = None) -> None:
    """Apply pending schema migrations (idempotent; also runs on every start)."""
    run_async(_init(resolve_config(config)))


@app.command("status")
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show the server, TimescaleDB, the tables and their row counts, and applied migrations."""
    run_async(_status(resolve_config(config), as_json))
