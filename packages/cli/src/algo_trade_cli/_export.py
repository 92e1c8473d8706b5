"""CSV exports: a backtest's trades (`backtest --trades-csv`) and stored results (`results --csv`).

Times are ISO-8601 UTC, numbers in their shortest round-trip form, parameters as JSON text; the file
is written next to its destination and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algo_trade_backtest import BacktestTrade, trade_return
from algo_trade_data import BacktestResultRecord

if TYPE_CHECKING:
    from algo_trade_backtest_scheduler import TokenOutcome

__all__ = [
    "RESULT_CSV_COLUMNS",
    "TRADE_CSV_COLUMNS",
    "record_json",
    "token_json",
    "write_results_csv",
    "write_trades_csv",
]

TRADE_CSV_COLUMNS = (
    "symbol",
    "strategy",
    "interval",
    "side",
    "entry_time",
    "exit_time",
    "duration_s",
    "entry_price",
    "exit_price",
    "qty",
    "fees",
    "pnl",
    "return",
    "exit_reason",
    "entry_index",
    "exit_index",
)
RESULT_CSV_COLUMNS = tuple(f.name for f in fields(BacktestResultRecord))


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=True)
    return value


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    count = 0
    try:
        with partial.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for row in rows:
                writer.writerow([_cell(v) for v in row])
                count += 1
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return count


def write_trades_csv(
    path: Path, trades: Sequence[BacktestTrade], *, symbol: str, strategy: str, interval: str
) -> int:
    """Write one row per closed trade; return the number of rows."""
    return _write(
        path,
        TRADE_CSV_COLUMNS,
        (
            (
                symbol,
                strategy,
                interval,
                t.side,
                t.entry_time,
                t.exit_time,
                (t.exit_time - t.entry_time).total_seconds(),
                t.entry_price,
                t.exit_price,
                t.qty,
                t.fees,
                t.pnl,
                trade_return(t),
                t.exit_reason,
                t.entry_index,
                t.exit_index,
            )
            for t in trades
        ),
    )


def write_results_csv(path: Path, records: Sequence[BacktestResultRecord]) -> int:
    """Write one row per stored result with every column of ``backtest_results``; return the count."""
    return _write(
        path, RESULT_CSV_COLUMNS, ([getattr(r, name) for name in RESULT_CSV_COLUMNS] for r in records)
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def record_json(record: BacktestResultRecord) -> dict[str, Any]:
    """A stored result as JSON values: Decimals as floats, times ISO-8601."""
    return {f.name: _plain(getattr(record, f.name)) for f in fields(record)}


def token_json(token: TokenOutcome) -> dict[str, Any]:
    """One token of a sweep: outcome, bars, coverage, and each result's metrics (`sweep --json`)."""
    return {
        "symbol": token.symbol,
        "ok": token.ok,
        "error": token.error,
        "num_bars": token.num_bars,
        "window_coverage": token.window_coverage,
        "refreshed_bars": token.refreshed_bars,
        "notes": list(token.notes),
        "results": [record_json(r) for r in token.results],
    }
