"""JSON shapes shared with the CLI's ``--json`` output, so a script reads either the same way.

- :func:`result_json`: one row of ``results latest --json`` / ``results history --json``;
- :func:`run_json`: one row of ``runs list --json``;
- :func:`bot_json`: one row of ``bots list --json``; :func:`fill_json`: one fill of ``bots status --json``;
- ``Selection.to_json()`` (token-selector) is ``token-selection --json`` itself;
- :func:`selection_history_json` (in :mod:`._strip`): ``selection history --json``.

The root test ``tests/test_dashboard_shapes.py`` holds each against the CLI's output on one database.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from algo_trade_bot_orchestrator import read_saved
from algo_trade_core import bars_span_days, short_ratio_warning
from algo_trade_data import BacktestResultRecord, BotRecord, FillRecord, RunOverview

__all__ = ["bot_json", "fill_json", "finite_or_none", "result_json", "run_json"]


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a value goes out as null."""
    if value is None or not math.isfinite(value):
        return None
    return value


def result_json(record: BacktestResultRecord) -> dict[str, Any]:
    """A stored result as ``results latest --json`` prints it (Decimals as floats, ISO times)."""
    out = asdict(record)
    for key, value in out.items():
        if isinstance(value, Decimal):
            out[key] = float(value)
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
    out["span_days"] = bars_span_days(record.num_bars, record.interval)
    out["ratio_warning"] = short_ratio_warning(record.num_bars, record.interval, record.num_trades)
    return out


def run_json(o: RunOverview) -> dict[str, Any]:
    """A sweep as ``runs list --json`` prints it."""
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
    }


def bot_json(record: BotRecord) -> dict[str, Any]:
    """A stored bot as ``bots list --json`` prints it (read from the database, not from a live bot)."""
    saved = read_saved(record)
    return {
        "bot_id": record.bot_id,
        "symbol": record.symbol,
        "strategy": record.strategy_name,
        "interval": record.interval,
        "state": record.state,
        "error": record.error,
        "equity": None if record.equity is None else float(record.equity),
        "position": None if saved.open_position is None else saved.open_position.to_json_dict(),
        "num_trades": saved.num_trades,
        "num_fills": saved.num_fills,
        "realized_pnl": saved.realized_pnl,
        "last_candle_time": None if record.last_candle_time is None else record.last_candle_time.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def fill_json(fill: FillRecord) -> dict[str, Any]:
    """A fill as ``bots status --json`` lists it."""
    return {
        "fill_id": fill.fill_id,
        "side": fill.side,
        "quantity": float(fill.quantity),
        "price": float(fill.price),
        "fee": float(fill.fee),
        "timestamp": fill.timestamp.isoformat(),
        "reason": fill.reason,
    }
