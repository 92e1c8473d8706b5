"""The data of each page, as JSON-ready dicts: ``/api/<page>`` returns them, the page renders them.

Every read goes through the library calls the CLI uses (``DatabaseClient`` methods, ``TokenSelector``
on ``algo_trade_pipeline.selection_scope``); the selection is evaluated, never recorded.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from algo_trade_core import next_fire_times
from algo_trade_dashboard._bot_events import OVERVIEW_EVENTS, bot_events
from algo_trade_dashboard._context import BadRequest, Context, NotFound
from algo_trade_dashboard._shapes import bots_json, fill_json, result_json, run_json
from algo_trade_dashboard._strip import AUDIT_COLUMNS, audit_cells, criterion_checks, selection_history_json
from algo_trade_dashboard._walkforward import last_walkforward
from algo_trade_token_selector import Selection, criteria_text

__all__ = [
    "bot_view",
    "bots_view",
    "overview_view",
    "parse_iso",
    "run_view",
    "runs_view",
    "selection_json",
    "selection_view",
]

EXTRA_TOKEN_FIELDS = ("regime", "psr", "dsr")  # shown when the selector starts to provide them


def stale_note(selection: Selection) -> str | None:
    """Say so when every result is too old to pass, with the time to evaluate at instead."""
    tokens = selection.tokens
    if not tokens or not all("max_result_age_hours" in t.failed_criteria for t in tokens):
        return None
    newest = max(t.window_end for t in tokens)
    return (
        f"every stored result is older than {selection.criteria.max_result_age_hours:g} h at "
        f"{selection.selected_at:%Y-%m-%d %H:%M} UTC (the newest window ended {newest:%Y-%m-%d %H:%M} UTC): "
        "no sweep ran lately, or the results are a backfill. Run `algo-trade sweep`, or open the dashboard "
        f"as of that history: `algo-trade dashboard --as-of {newest:%Y-%m-%dT%H:%MZ}`."
    )


def selection_json(selection: Selection) -> dict[str, Any]:
    """``token-selection --json`` (``stored`` is false: the dashboard evaluates, it never records)."""
    return {**selection.to_json(), "stored": False}


def _explained(selection: Selection) -> dict[str, Any]:
    data = selection_json(selection)
    data["thresholds"] = criteria_text(selection.criteria)
    data["scope_text"] = selection.scope.describe() if selection.scope is not None else "every result"
    data["stale"] = stale_note(selection)
    return data


async def overview_view(ctx: Context, strip_limit: int = 14) -> dict[str, Any]:
    """Last sweep, the approved tokens, next runs, running bots, alerts, the recent selections, the
    last walk-forward study."""
    db = ctx.db
    runs, selection, bots, history, walkforward, events = await asyncio.gather(
        db.run_overviews(1),
        ctx.selection(),
        db.list_bots(),
        db.selection_history(ctx.config.token_selection.strategy, limit=strip_limit),
        last_walkforward(ctx),
        bot_events(ctx, limit=OVERVIEW_EVENTS),
    )
    scheduler = ctx.config.scheduler
    fires = next_fire_times(scheduler.cron_expression, ctx.now, 3) if scheduler.enabled else []
    stored = history[-1] if history else None
    return {
        "as_of": ctx.now.isoformat(),
        "last_sweep": run_json(runs[0]) if runs else None,
        "selection": _explained(selection),
        "last_stored_selection": None
        if stored is None
        else {
            "selected_at": stored.selected_at.isoformat(),
            "approved": list(stored.approved),
            "fallback": stored.fallback_used,
            "run_id": stored.run_id,
        },
        "schedule": {
            "enabled": scheduler.enabled,
            "cron_expression": scheduler.cron_expression,
            "next_runs": [f.isoformat() for f in fires],
        },
        "bots": await bots_json(ctx.db, [b for b in bots if b.state != "stopped"]),
        "alerts": {"events": events},  # `bots events --json --limit 10`: the newest ten, oldest first
        "history": selection_history_json(history, ctx.config.token_selection.strategy),
        "last_walkforward": walkforward,
    }


async def selection_view(ctx: Context, limit: int = 60) -> dict[str, Any]:
    """Every token with its metrics and criteria, score and status; the approved list over time."""
    selection, history = await asyncio.gather(
        ctx.selection(),
        ctx.db.selection_history(ctx.config.token_selection.strategy, limit=limit),
    )
    data = _explained(selection)
    criteria = data["criteria"]
    data["checks"] = {
        t["symbol"]: criterion_checks(t, criteria, selection.selected_at) for t in data["tokens"]
    }
    data["extra_fields"] = [f for f in EXTRA_TOKEN_FIELDS if any(f in t for t in data["tokens"])]
    allowed = selection.criteria.allowed_regimes
    data["columns"] = [
        {
            "criterion": c,
            "label": f"regime ∈ {', '.join(allowed)}"
            if c == "allowed_regimes" and len(allowed) < 3
            else label,
        }
        for c, label, _ in AUDIT_COLUMNS
    ]
    data["cells"] = {t["symbol"]: audit_cells(t, data["checks"][t["symbol"]]) for t in data["tokens"]}
    data["history"] = selection_history_json(history, ctx.config.token_selection.strategy)
    data["as_of"] = ctx.now.isoformat()
    return data


async def runs_view(ctx: Context, limit: int = 50) -> dict[str, Any]:
    """``runs list --json`` under ``runs``."""
    return {"runs": [run_json(o) for o in await ctx.db.run_overviews(limit)]}


async def run_view(ctx: Context, run_id: str) -> dict[str, Any]:
    """One sweep: its row and every result it stored."""
    run, results = await asyncio.gather(ctx.db.get_run(run_id), ctx.db.query_run_results(run_id))
    if run is None:
        raise NotFound(f"no backtest run {run_id!r} is stored (the runs page lists them)")
    seconds = None if run.finished_at is None else (run.finished_at - run.started_at).total_seconds()
    window = run.config.get("window") if isinstance(run.config, dict) else None
    return {
        "run_id": run.run_id,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "seconds": seconds,
        "tokens_ok": run.tokens_ok,
        "tokens_failed": run.tokens_failed,
        "errors": dict(run.errors),
        "window": window if isinstance(window, dict) else None,
        "results": [result_json(r) for r in results],
    }


async def bots_view(ctx: Context) -> dict[str, Any]:
    """Every stored bot (``bots list --all --json``); each bot's page has it against its backtest."""
    return {"bots": await bots_json(ctx.db, await ctx.db.list_bots())}


async def bot_view(ctx: Context, bot_id: str, fills_limit: int = 200) -> dict[str, Any]:
    """One bot with its newest fills (``bots status --json``); the handler adds its live vs backtest."""
    record = await ctx.db.get_bot(bot_id)
    if record is None:
        raise NotFound(f"no bot {bot_id!r} is stored (the bots page lists them)")
    fills = await ctx.db.list_fills(bot_id=bot_id)
    (info,) = await bots_json(ctx.db, [record])
    info["fills"] = [fill_json(f) for f in fills[-fills_limit:]]
    info["fills_total"] = len(fills)
    return info


def parse_iso(text: str | None, name: str) -> datetime | None:
    """Parse an ISO query parameter (UTC when no zone is given); raise BadRequest naming it."""
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name}: expected an ISO-8601 time like 2025-07-01T12:00:00Z, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
