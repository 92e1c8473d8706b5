"""`algo-trade data fetch|import|export|status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from algo_trade_cli._common import (
    ConfigOption,
    IntervalOption,
    JsonOption,
    console,
    fail,
    parse_time,
    progress_bar,
    resolve_config,
    resolve_interval,
    run_async,
)
from algo_trade_cli._format import fmt_time
from algo_trade_core import INTERVALS, AppConfig

app = typer.Typer(
    help="Candle history: fetch from Hyperliquid, import and export files, show what is stored.",
    no_args_is_help=True,
)

_SUFFIXES = {".csv", ".parquet", ".pq", ".feather", ".arrow", ".ipc"}
_NOT_CANDLES = ("funding_rate", "-mark", "-index", "premium")


def expand_paths(paths: list[Path], interval: str | None) -> list[Path]:
    """Expand folders into their candle files (skipping funding/mark files and other intervals)."""
    from algo_trade_data import parse_freqtrade_name

    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        for child in sorted(path.iterdir()):
            if child.suffix.lower() not in _SUFFIXES or any(k in child.name for k in _NOT_CANDLES):
                continue
            name = parse_freqtrade_name(child.name)
            if interval is not None and name is not None and name.interval != interval:
                continue
            out.append(child)
    return out


async def _import(
    cfg: AppConfig, paths: list[Path], symbol: str | None, interval: str | None, exchange: str, as_json: bool
) -> int:
    from algo_trade_data import DatabaseClient, import_candle_files

    files = expand_paths(paths, interval)
    if not files:
        fail("no candle files found in " + ", ".join(map(str, paths)))
    async with await DatabaseClient.connect(cfg.database) as db:
        with progress_bar() as progress:
            task = progress.add_task("importing", total=len(files))
            results = await import_candle_files(
                db,
                files,
                symbol=symbol,
                interval=interval,
                exchange=exchange,
                on_result=lambda r: progress.advance(task),
            )
    failed = [r for r in results if not r.ok]
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "path": str(r.path),
                        "symbol": r.symbol,
                        "interval": r.interval,
                        "rows": r.rows,
                        "written": r.written,
                        "error": r.error,
                    }
                    for r in results
                ]
            )
        )
    else:
        table = Table(title=f"imported {len(results) - len(failed)} of {len(results)} file(s)")
        for col in ("file", "symbol", "interval", "rows", "first", "last", "result"):
            table.add_column(col, justify="right" if col == "rows" else "left")
        for r in results:
            table.add_row(
                r.path.name,
                r.symbol or "",
                r.interval or "",
                f"{r.rows:,}",
                fmt_time(r.first),
                fmt_time(r.last),
                "[green]ok[/]" if r.ok else f"[red]{r.error}[/]",
            )
        console.print(table)
    return 1 if failed else 0


async def _status(
    cfg: AppConfig, symbol: str | None, interval: str | None, exchange: str | None, as_json: bool
) -> None:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        rows = await db.candle_status(symbol, interval, exchange)
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "symbol": r.symbol,
                        "exchange": r.exchange,
                        "interval": r.interval,
                        "bars": r.bars,
                        "first": r.first.isoformat(),
                        "last": r.last.isoformat(),
                        "gaps": r.gaps,
                        "missing_bars": r.missing_bars,
                    }
                    for r in rows
                ]
            )
        )
        return
    if not rows:
        console.print("no candles stored yet: `algo-trade data import FILES` or `algo-trade data fetch`")
        return
    table = Table(title="candle store")
    for col in ("symbol", "exchange", "interval", "bars", "first bar", "last bar", "gaps", "missing"):
        table.add_column(col, justify="right" if col in ("bars", "gaps", "missing") else "left")
    for r in rows:
        table.add_row(
            r.symbol,
            r.exchange,
            r.interval,
            f"{r.bars:,}",
            fmt_time(r.first),
            fmt_time(r.last),
            str(r.gaps),
            f"{r.missing_bars:,}",
        )
    console.print(table)


async def _fetch(cfg: AppConfig, symbols: list[str], interval: str, days: float, as_json: bool) -> int:
    from algo_trade_data import DatabaseClient, HyperliquidClient, refresh_many

    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    async with await DatabaseClient.connect(cfg.database) as db, HyperliquidClient(cfg.hyperliquid) as hl:
        with progress_bar() as progress:
            progress.add_task(f"fetching {len(symbols)} token(s) {interval}", total=None)
            summary = await refresh_many(hl, db, symbols, interval, start, end)
    if as_json:
        print(
            json.dumps(
                {
                    "reports": {
                        s: {
                            "fetched": r.fetched,
                            "stored": r.stored,
                            "truncated": r.truncated,
                            "message": r.message,
                        }
                        for s, r in summary.reports.items()
                    },
                    "failures": summary.failures,
                }
            )
        )
    else:
        table = Table(title=f"fetch {interval} since {fmt_time(start)}")
        for col in ("symbol", "fetched", "stored", "last bar", "note"):
            table.add_column(col)
        for s, r in summary.reports.items():
            table.add_row(s, str(r.fetched), str(r.stored), fmt_time(r.last_bar), r.message)
        for s, reason in summary.failures.items():
            table.add_row(s, "", "", "", f"[red]{reason}[/]")
        console.print(table)
    return 1 if summary.failures else 0


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (CSV, Parquet, freqtrade Feather).")],
    symbol: Annotated[str | None, typer.Option("--symbol", help="Token, when the file does not say.")] = None,
    interval: Annotated[
        str | None,
        typer.Option("--interval", help="Bar interval; with folders, only files of this interval."),
    ] = None,
    exchange: Annotated[str, typer.Option("--exchange", help="Stored with the candles.")] = "hyperliquid",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate and load candle files into the store (a bad file is rejected whole; good ones load)."""
    cfg = resolve_config(config)
    if interval is not None and interval not in INTERVALS:
        fail(f"--interval: expected one of {', '.join(INTERVALS)}, got {interval!r}", 2)
    raise typer.Exit(run_async(_import(cfg, paths, symbol, interval, exchange, as_json)))


@app.command("status")
def status(
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this token.")] = None,
    interval: Annotated[str | None, typer.Option("--interval", help="Only this bar interval.")] = None,
    exchange: Annotated[str | None, typer.Option("--exchange", help="Only candles of this exchange.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per symbol and interval: bar count, first and last bar, gaps."""
    run_async(_status(resolve_config(config), symbol, interval, exchange, as_json))


@app.command("fetch")
def fetch(
    symbol: Annotated[
        list[str] | None,
        typer.Option("--symbol", "-s", help="Repeatable; default: the configured token universe."),
    ] = None,
    interval: IntervalOption = None,
    days: Annotated[
        float | None,
        typer.Option(
            "--days",
            help="How far back (default: the backtest window). The exchange keeps only 5000 candles.",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch the candles the store lacks from Hyperliquid (only the missing tail)."""
    cfg = resolve_config(config)
    iv = resolve_interval(interval, cfg)
    symbols = symbol or list(cfg.scheduler.token_universe)
    raise typer.Exit(run_async(_fetch(cfg, symbols, iv, days or cfg.scheduler.backtest_window_days, as_json)))


ExportFormat = Literal["csv", "parquet", "feather"]
_FORMAT_NAMES: tuple[ExportFormat, ...] = ("csv", "parquet", "feather")
_EXPORT_SUFFIXES: dict[str, ExportFormat] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
}


def export_format(out: Path, given: str | None) -> ExportFormat:
    """The file format: ``--format`` when given (it must not contradict a known suffix), else the suffix."""
    by_suffix = _EXPORT_SUFFIXES.get(out.suffix.lower())
    if given is None:
        if by_suffix is None:
            fail(
                f"--out {out}: cannot tell the format from {out.suffix or 'no suffix'!r}; use .csv, .parquet "
                "or .feather, or pass --format csv|parquet|feather",
                2,
            )
        return by_suffix
    chosen = next((name for name in _FORMAT_NAMES if name == given.lower()), None)
    if chosen is None:
        fail(f"--format: expected csv, parquet or feather, got {given!r}", 2)
    if by_suffix is not None and by_suffix != chosen:
        fail(f"--format {chosen} contradicts the suffix of --out {out} ({by_suffix}); change one of them", 2)
    return chosen


@app.command("export")
def export(
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Token to export, e.g. BTC.")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Target file: .csv, .parquet or .feather (freqtrade's layout)."),
    ],
    interval: IntervalOption = None,
    start: Annotated[str | None, typer.Option("--start", help="ISO time (inclusive).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="ISO time (exclusive).")] = None,
    exchange: Annotated[
        str, typer.Option("--exchange", help="Exchange the candles are stored under.")
    ] = "hyperliquid",
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv, parquet or feather (Arrow IPC); default: from the suffix of --out."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write stored candles to CSV (the original system's columns), Parquet or Feather (freqtrade's).

    Example: algo-trade data export -s BTC --interval 1h -o BTC_USDC_USDC-1h-futures.feather
    """
    cfg = resolve_config(config)
    fmt = export_format(out, file_format)
    iv = resolve_interval(interval, cfg)
    t0 = parse_time(start, "--start") or datetime(1970, 1, 1, tzinfo=UTC)
    t1 = parse_time(end, "--end") or datetime.now(UTC) + timedelta(days=1)

    async def go() -> int:
        from algo_trade_data import DatabaseClient, write_candle_file

        async with await DatabaseClient.connect(cfg.database) as db:
            frame = await db.query_candles(symbol, iv, t0, t1, exchange)
        if frame.height:
            write_candle_file(frame, out, file_format=fmt)
        return int(frame.height)

    n = run_async(go())
    if n == 0:
        fail(f"no {iv} candles stored for {symbol} ({exchange}) in the window")
    console.print(f"wrote {n:,} bars to {out} ({fmt})")
    if fmt == "feather":
        from algo_trade_data import parse_freqtrade_name

        name = parse_freqtrade_name(out.name)
        if name is None or (name.symbol, name.interval) != (symbol, iv):
            console.print(
                f"note: Feather holds no symbol or interval; freqtrade (and `data import`) read them from a "
                f"name like {symbol}_USDC_USDC-{iv}-futures.feather"
            )
