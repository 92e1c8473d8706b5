"""JSON shapes shared with the CLI's ``--json`` output, so a script reads either the same way.

- :func:`result_json`: one row of ``results latest --json`` / ``results history --json``;
- :func:`run_json`: one row of ``runs list --json``;
- :func:`bots_json`: rows of ``bots list --json`` (the bot-orchestrator's ``bot_json``);
- :func:`fill_json`: one fill of ``bots status --json``;
- ``Selection.to_json()`` (token-selector) is ``token-selection --json`` itself;
- :func:`selection_history_json` (in :mod:`._strip`): ``selection history --json``.

The root test ``tests/test_dashboard_shapes.py`` holds each against the CLI's output on one database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from algo_trade_bot_orchestrator import bot_json
from algo_trade_core import bars_span_days, short_ratio_warning
from algo_trade_data import (
    BacktestResultRecord,
    BotRecord,
    DatabaseClient,
    FillRecord,
    RunOverview,
    live_daemons,
)

__all__ = ["bots_json", "fill_json", "finite_or_none", "result_json", "run_json"]


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
    return o.as_json()


async def bots_json(db: DatabaseClient, records: Sequence[BotRecord]) -> list[dict[str, Any]]:
    """Stored bots as ``bots list --json`` prints them (:func:`algo_trade_bot_orchestrator.bot_json`).

    ``trading`` needs to know whether a daemon runs (one look at its presence lock); ``last_seen_seconds``
    is measured to the wall clock, also when the dashboard is pinned to an earlier time (bots are live).
    """
    if not records:
        return []
    running = bool(await live_daemons(db))
    now = datetime.now(UTC)
    return [bot_json(r, now=now, daemon_running=running) for r in records]


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
