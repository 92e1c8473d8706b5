"""`algo-trade data fetch|repair|import|export|status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

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
    valid_symbols,
)
from algo_trade_cli._format import fmt_time
from algo_trade_core import INTERVALS, AppConfig

if TYPE_CHECKING:
    from algo_trade_data import FileImportResult

app = typer.Typer(
    help="Candle history: fetch from Hyperliquid, repair holes, import and export files, show the store.",
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


def _import_row(r: FileImportResult) -> tuple[str, ...]:
    note = "[green]ok[/]" if r.ok else f"[red]{r.error}[/]"
    if r.ok and r.dropped_zero_volume:
        note += f" ({r.dropped_zero_volume:,} leading zero-volume bars dropped)"
    return (
        r.path.name,
        r.symbol or "",
        r.interval or "",
        f"{r.rows:,}",
        fmt_time(r.first),
        fmt_time(r.last),
        note,
    )


def _import_json(r: FileImportResult) -> dict[str, Any]:
    return {
        "path": str(r.path),
        "symbol": r.symbol,
        "interval": r.interval,
        "rows": r.rows,
        "written": r.written,
        "dropped_zero_volume": r.dropped_zero_volume,
        "error": r.error,
    }


def _import_table(title: str, results: list[FileImportResult]) -> Table:
    table = Table(title=title)
    for col in ("file", "symbol", "interval", "rows", "first", "last", "result"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for r in results:
        table.add_row(*_import_row(r))
    return table


async def _import(
    cfg: AppConfig, paths: list[Path], symbol: str | None, interval: str | None, exchange: str, as_json: bool
) -> int:
    from algo_trade_data import DatabaseClient, ImportInterrupted, import_candle_files

    files = expand_paths(paths, interval)
    if not files:
        fail("no candle files found in " + ", ".join(map(str, paths)))
    interrupted: ImportInterrupted | None = None
    results: list[FileImportResult] = []
    async with await DatabaseClient.connect(cfg.database) as db:
        with progress_bar() as progress:
            task = progress.add_task("importing", total=len(files))
            try:
                results = await import_candle_files(
                    db,
                    files,
                    symbol=symbol,
                    interval=interval,
                    exchange=exchange,
                    on_result=lambda r: progress.advance(task),
                )
            except ImportInterrupted as exc:
                interrupted = exc
    if interrupted is not None:  # say what is stored before the error
        if as_json:
            print(json.dumps([_import_json(r) for r in interrupted.results]))
        elif interrupted.results:
            console.print(_import_table("handled before the database failed", interrupted.results))
        fail(f"{type(interrupted).__name__}: {interrupted}")
    failed = [r for r in results if not r.ok]
    if as_json:
        print(json.dumps([_import_json(r) for r in results]))
    else:
        title = f"imported {len(results) - len(failed)} of {len(results)} file(s)"
        console.print(_import_table(title, results))
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
                        "unrecoverable_gaps": r.unrecoverable_gaps,
                        "unrecoverable_bars": r.unrecoverable_bars,
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
    numeric = ("bars", "gaps", "missing", "unrecoverable")
    for col in ("symbol", "exchange", "interval", "bars", "first bar", "last bar", *numeric[1:]):
        table.add_column(col, justify="right" if col in numeric else "left")
    for r in rows:
        lost = f"[red]{r.unrecoverable_bars:,}[/]" if r.unrecoverable_bars else "0"
        table.add_row(
            r.symbol,
            r.exchange,
            r.interval,
            f"{r.bars:,}",
            fmt_time(r.first),
            fmt_time(r.last),
            str(r.gaps),
            f"{r.missing_bars:,}",
            lost,
        )
    console.print(table)
    repairable = sum(r.repairable_bars for r in rows)
    lost_total = sum(r.unrecoverable_bars for r in rows)
    if repairable:
        console.print(
            f"{repairable:,} missing bar(s) are still on the exchange: `algo-trade data repair` fills them"
        )
    if lost_total:
        console.print(
            f"{lost_total:,} missing bar(s) are older than the exchange keeps (5000 bars per series) and "
            "can only come from files (`algo-trade data import`)"
        )


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
    if symbol is not None:
        valid_symbols([symbol])
    raise typer.Exit(run_async(_import(cfg, paths, symbol, interval, exchange, as_json)))


@app.command("status")
def status(
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this token.")] = None,
    interval: Annotated[str | None, typer.Option("--interval", help="Only this bar interval.")] = None,
    exchange: Annotated[str | None, typer.Option("--exchange", help="Only candles of this exchange.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per symbol and interval: bar count, first and last bar, gaps, and the gaps no repair can fill."""
    if symbol is not None:
        valid_symbols([symbol])
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
    """Fetch the candles the store lacks from Hyperliquid: the tail, and the holes the exchange still has."""
    from algo_trade_cli._data_exchange import fetch_candles

    cfg = resolve_config(config)
    iv = resolve_interval(interval, cfg)
    symbols = valid_symbols(symbol or list(cfg.scheduler.token_universe))
    days = days or cfg.scheduler.backtest_window_days
    raise typer.Exit(run_async(fetch_candles(cfg, symbols, iv, days, as_json)))


@app.command("repair")
def repair(
    symbol: Annotated[
        list[str] | None,
        typer.Option("--symbol", "-s", help="Repeatable; default: every stored Hyperliquid series."),
    ] = None,
    interval: Annotated[
        list[str] | None,
        typer.Option(
            "--interval",
            "-i",
            "--timeframe",
            "-t",
            help="Repeatable; default: every stored interval.",
            show_default=False,
            metavar="<interval>",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fill the holes of the stored history while the exchange still has them; name the lost ones.

    Hyperliquid keeps only the latest 5000 bars per coin and interval (1m: 3.5 days): what fell out
    of that window can only come from files (`data import`).
    """
    from algo_trade_cli._data_exchange import repair_stored

    cfg = resolve_config(config)
    intervals = [resolve_interval(iv, cfg) for iv in interval or []]
    symbols = None if not symbol else valid_symbols(symbol)
    raise typer.Exit(run_async(repair_stored(cfg, symbols, intervals or None, as_json)))


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
    valid_symbols([symbol])
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
