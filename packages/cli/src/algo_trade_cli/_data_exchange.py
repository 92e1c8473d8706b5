"""`data fetch` and `data repair`: what the exchange gave, what filled the holes, what is lost for good."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.table import Table

from algo_trade_cli._common import console, fail, progress_bar
from algo_trade_cli._format import fmt_time
from algo_trade_core import AppConfig

if TYPE_CHECKING:
    from algo_trade_data import CandleGap, RefreshReport, RefreshSummary, RepairSummary

__all__ = ["fetch_candles", "repair_stored"]


def _gaps_json(gaps: tuple[CandleGap, ...]) -> list[dict[str, Any]]:
    return [{"start": g.start.isoformat(), "end": g.end.isoformat(), "bars": g.bars} for g in gaps]


def _report_json(r: RefreshReport) -> dict[str, Any]:
    return {
        "fetched": r.fetched,
        "stored": r.stored,
        "repaired": r.repaired,
        "unfilled": r.unfilled,
        "unrecoverable": _gaps_json(r.unrecoverable),
        "truncated": r.truncated,
        "message": r.message,
    }


def _summary_rows(table: Table, interval: str, summary: RefreshSummary, *, with_interval: bool) -> None:
    for symbol, r in summary.reports.items():
        lost = f"[red]{r.unrecoverable_bars:,}[/]" if r.unrecoverable else "0"
        cells = [symbol, interval] if with_interval else [symbol]
        table.add_row(*cells, str(r.fetched), str(r.repaired), lost, fmt_time(r.last_bar), r.message)
    for symbol, reason in summary.failures.items():
        cells = [symbol, interval] if with_interval else [symbol]
        table.add_row(*cells, "", "", "", "", f"[red]{reason}[/]")


def _table(title: str, *, with_interval: bool) -> Table:
    table = Table(title=title)
    for col in ("symbol", *(("interval",) if with_interval else ()), "fetched", "repaired", "lost"):
        table.add_column(col, justify="left" if col in ("symbol", "interval") else "right")
    table.add_column("last bar")
    table.add_column("note")
    return table


async def fetch_candles(cfg: AppConfig, symbols: list[str], interval: str, days: float, as_json: bool) -> int:
    """Refresh ``symbols`` over the last ``days``; exit code 1 when a token failed or nothing answered."""
    from algo_trade_data import DatabaseClient, HyperliquidClient, refresh_many

    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    async with await DatabaseClient.connect(cfg.database) as db, HyperliquidClient(cfg.hyperliquid) as hl:
        with progress_bar() as progress:
            task = progress.add_task(f"fetching {len(symbols)} token(s) {interval}", total=len(symbols))
            summary = await refresh_many(
                hl, db, symbols, interval, start, end, on_done=lambda symbol: progress.advance(task)
            )
    if summary.unreachable is not None:
        fail(f"nothing fetched: {summary.unreachable}")
    if as_json:
        print(
            json.dumps(
                {
                    "reports": {s: _report_json(r) for s, r in summary.reports.items()},
                    "failures": summary.failures,
                }
            )
        )
    else:
        table = _table(f"fetch {interval} since {fmt_time(start)}", with_interval=False)
        _summary_rows(table, interval, summary, with_interval=False)
        console.print(table)
    if summary.failures:
        fail(f"{len(summary.failures)} token(s) failed: {', '.join(summary.failures)}")
    return 0


async def repair_stored(
    cfg: AppConfig, symbols: list[str] | None, intervals: list[str] | None, as_json: bool
) -> int:
    """Repair the selected stored series; print what was filled and what is lost for good."""
    from algo_trade_data import DatabaseClient, HyperliquidClient, repair_candles, stored_series

    async with await DatabaseClient.connect(cfg.database) as db, HyperliquidClient(cfg.hyperliquid) as hl:
        series = await stored_series(db, symbols, intervals)
        if not series:
            fail(
                "nothing to repair: no Hyperliquid candles stored"
                + (" for the given --symbol/--interval" if symbols or intervals else "")
                + " (name both --symbol and --interval to fetch a series not stored yet)"
            )
        with progress_bar() as progress:
            task = progress.add_task(f"repairing {len(series)} series", total=len(series))
            summary = await repair_candles(hl, db, series, on_done=lambda s, i: progress.advance(task))
    if summary.unreachable is not None:
        fail(f"nothing repaired: {summary.unreachable}")
    if as_json:
        print(json.dumps(_repair_json(summary)))
    else:
        _print_repair(summary)
    return 1 if summary.failures else 0


def _repair_json(summary: RepairSummary) -> dict[str, Any]:
    return {
        "repaired": summary.repaired,
        "fetched": summary.fetched,
        "series": [
            {"symbol": s, "interval": iv, **_report_json(r)}
            for iv, part in summary.by_interval.items()
            for s, r in part.reports.items()
        ],
        "failures": [{"symbol": s, "interval": iv, "error": e} for (s, iv), e in summary.failures.items()],
    }


def _print_repair(summary: RepairSummary) -> None:
    table = _table("repair", with_interval=True)
    for interval, part in summary.by_interval.items():
        _summary_rows(table, interval, part, with_interval=True)
    console.print(table)
    lost = summary.unrecoverable
    console.print(
        f"filled {summary.repaired:,} missing bar(s), fetched {summary.fetched:,} new bar(s); "
        + (
            f"{sum(g.bars for gaps in lost.values() for g in gaps):,} bar(s) in {len(lost)} series are "
            "older than the exchange keeps and can only come from files (`algo-trade data import`)"
            if lost
            else "nothing is lost for good"
        )
    )
