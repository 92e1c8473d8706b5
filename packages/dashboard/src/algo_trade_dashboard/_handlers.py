"""Request handlers: each page and its ``/api/`` twin call the same view; errors become pages.

``/X`` renders the template of page X from the dict that ``/api/X`` returns as JSON, so every figure on
a page can be read by a script too (docs/dashboard.md lists the shapes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from loguru import logger

from algo_trade_core import AlgoTradeError, DatabaseError
from algo_trade_dashboard import _keys as K
from algo_trade_dashboard._bot_events import EVENT_KINDS, bot_events, events_view
from algo_trade_dashboard._context import (
    BadRequest,
    Context,
    PageError,
    check_bot_id,
    check_run_id,
    check_symbol,
)
from algo_trade_dashboard._live import live_vs_backtest, report_chart_view, report_view
from algo_trade_dashboard._security import (
    SESSION_COOKIE,
    SESSION_DAYS,
    safe_next,
    session_value,
    token_matches,
)
from algo_trade_dashboard._token_view import bot_chart_view, candles_view, token_chart_view, token_view
from algo_trade_dashboard._views import (
    bot_view,
    bots_view,
    overview_view,
    parse_iso,
    run_view,
    runs_view,
    selection_view,
)
from algo_trade_dashboard._walkforward import (
    walkforward_chart_view,
    walkforward_list_view,
    walkforward_run_view,
)

__all__ = ["routes"]

View = Callable[[web.Request, Context], Awaitable[dict[str, Any]]]
BOT_PAGE_EVENTS = 100  # a bot page lists its newest 100 events


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def dumps(data: Any) -> str:
    """JSON without NaN or infinity (either becomes null), times as ISO-8601."""
    try:
        return json.dumps(data, allow_nan=False, separators=(",", ":"), default=_default)
    except ValueError:
        return json.dumps(_plain(data), allow_nan=False, separators=(",", ":"), default=_default)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}: expected a whole number from {low} to {high}, got {value}")
    return value


async def _with_context(request: web.Request, view: View) -> dict[str, Any]:
    app = request.app
    async with app[K.STORE].reading() as db:
        ctx = Context(config=app[K.CONFIG], db=db, now=app[K.CLOCK](), rule=app[K.RULE])
        return await view(request, ctx)


def page(template: str, view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page handler: the view's data rendered into ``template``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        data = await _with_context(request, view)
        return aiohttp_jinja2.render_template(template, request, {"data": data, "json": dumps})

    return handler


def api(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An ``/api/`` handler: the view's data as JSON."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=dumps(await _with_context(request, view)), content_type="application/json")

    return handler


# --- the views, with their parameters read and validated ------------------------------------------


async def _overview(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await overview_view(ctx)


async def _selection(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await selection_view(ctx, _int_param(request, "limit", 60, 1, 400))


async def _token(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await token_view(ctx, check_symbol(request.match_info["symbol"]))


async def _token_chart(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await token_chart_view(ctx, check_symbol(request.match_info["symbol"]), request.app[K.CHARTS])


async def _candles(request: web.Request, ctx: Context) -> dict[str, Any]:
    symbol = check_symbol(request.match_info["symbol"])
    interval = request.query.get("interval") or ctx.config.scheduler.interval
    start = parse_iso(request.query.get("start"), "start")
    end = parse_iso(request.query.get("end"), "end")
    return await candles_view(ctx, symbol, interval, start, end)


async def _bots(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await bots_view(ctx)


async def _bot(request: web.Request, ctx: Context) -> dict[str, Any]:
    bot_id = check_bot_id(request.match_info["bot_id"])
    data = await bot_view(ctx, bot_id)
    data["live_vs_backtest"] = await live_vs_backtest(ctx, bot_id, request.app[K.REPORTS])
    data["events"] = await bot_events(ctx, limit=BOT_PAGE_EVENTS, bot_id=bot_id)
    return data


async def _events(request: web.Request, ctx: Context) -> dict[str, Any]:
    bot_id = request.query.get("bot") or None
    kind = request.query.get("kind") or None
    if kind is not None and kind not in EVENT_KINDS:
        raise BadRequest(f"kind: expected one of {', '.join(EVENT_KINDS)}, got {kind!r}")
    limit = _int_param(request, "limit", 50, 1, 1000)
    return await events_view(
        ctx, limit=limit, bot_id=None if bot_id is None else check_bot_id(bot_id), kind=kind
    )


async def _bot_report(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await report_view(ctx, check_bot_id(request.match_info["bot_id"]), request.app[K.REPORTS])


async def _bot_report_chart(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await report_chart_view(ctx, check_bot_id(request.match_info["bot_id"]), request.app[K.REPORTS])


async def _bot_chart(request: web.Request, ctx: Context) -> dict[str, Any]:
    days = _int_param(request, "days", 30, 1, 400)
    return await bot_chart_view(ctx, check_bot_id(request.match_info["bot_id"]), days)


async def _runs(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await runs_view(ctx, _int_param(request, "limit", 50, 1, 1000))


async def _run(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await run_view(ctx, check_run_id(request.match_info["run_id"]))


async def _walkforwards(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await walkforward_list_view(ctx, _int_param(request, "limit", 50, 1, 1000))


async def _walkforward(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await walkforward_run_view(ctx, check_run_id(request.match_info["run_id"]))


async def _walkforward_chart(request: web.Request, ctx: Context) -> dict[str, Any]:
    return await walkforward_chart_view(ctx, check_run_id(request.match_info["run_id"]))


async def _health(request: web.Request) -> web.StreamResponse:
    try:
        async with request.app[K.STORE].reading() as db:
            await db.run_overviews(1)
    except AlgoTradeError as exc:
        body = {"database": {"ok": False, "message": f"{type(exc).__name__}: {exc}"}}
        return web.Response(text=dumps(body), status=503, content_type="application/json")
    return web.Response(
        text=dumps({"database": {"ok": True, "message": None}}), content_type="application/json"
    )


# --- login ---------------------------------------------------------------------------------------


async def _login_form(request: web.Request) -> web.StreamResponse:
    if not request.app[K.TOKEN]:
        raise web.HTTPSeeOther("/")
    context = {"next": safe_next(request.query.get("next")), "error": None}
    return aiohttp_jinja2.render_template("login.html", request, context)


async def _login(request: web.Request) -> web.StreamResponse:
    token = request.app[K.TOKEN]
    if not token:
        raise web.HTTPSeeOther("/")
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null" and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="login refused: the form was posted from another site")
    form = await request.post()
    target = safe_next(str(form.get("next", "/")))
    if not token_matches(str(form.get("token", "")), token):
        logger.warning("dashboard: a login with a wrong token from {}", request.remote)
        context = {"next": target, "error": "That is not the dashboard's token."}
        return aiohttp_jinja2.render_template("login.html", request, context, status=401)
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(token),
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=SESSION_DAYS * 86_400,
    )
    raise response


# --- errors --------------------------------------------------------------------------------------


def _error_response(request: web.Request, status: int, title: str, message: str) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        body = {"error": {"status": status, "title": title, "message": message}}
        return web.Response(text=dumps(body), status=status, content_type="application/json")
    context = {"status": status, "title": title, "message": message, "retry": status == 503}
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


@web.middleware
async def error_pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn the dashboard's errors into pages (or JSON for ``/api/``); the server never goes down."""
    try:
        return await handler(request)
    except PageError as exc:
        return _error_response(request, exc.status, exc.title, exc.message)
    except DatabaseError as exc:
        if "UndefinedTable" in str(exc):  # reachable, but nobody created the schema
            return _error_response(
                request,
                503,
                "database not initialised",
                f"The database has no algo-trade tables yet ({exc}). Create them with `algo-trade db init` "
                "(the dashboard only reads; it never changes the schema). This page tries again every 5 s.",
            )
        return _error_response(
            request,
            503,
            "database unreachable",
            f"The database cannot be read right now ({exc}). This page tries again every 5 seconds and "
            "shows the data as soon as the database is back.",
        )
    except web.HTTPNotFound:
        return _error_response(request, 404, "not found", f"There is no page at {request.path}.")
    except web.HTTPException:
        raise
    except AlgoTradeError as exc:
        return _error_response(request, 500, "error", f"{type(exc).__name__}: {exc}")


def routes(app: web.Application) -> None:
    """Register every page, API endpoint and the static files."""
    r = app.router
    r.add_get("/", page("overview.html", _overview), name="overview")
    r.add_get("/selection", page("selection.html", _selection), name="selection")
    r.add_get("/token/{symbol}", page("token.html", _token), name="token")
    r.add_get("/bots", page("bots.html", _bots), name="bots")
    r.add_get("/bots/{bot_id}", page("bot.html", _bot), name="bot")
    r.add_get("/runs", page("runs.html", _runs), name="runs")
    r.add_get("/runs/{run_id}", page("run.html", _run), name="run")
    r.add_get("/walkforward", page("walkforwards.html", _walkforwards), name="walkforwards")
    r.add_get("/walkforward/{run_id}", page("walkforward.html", _walkforward), name="walkforward")
    r.add_get("/login", _login_form)
    r.add_post("/login", _login)
    r.add_get("/api/overview", api(_overview))
    r.add_get("/api/selection", api(_selection))
    r.add_get("/api/token/{symbol}", api(_token))
    r.add_get("/api/token/{symbol}/chart", api(_token_chart))
    r.add_get("/api/candles/{symbol}", api(_candles))
    r.add_get("/api/bots", api(_bots))
    r.add_get("/api/bots/{bot_id}", api(_bot))
    r.add_get("/api/bots/{bot_id}/chart", api(_bot_chart))
    r.add_get("/api/bots/{bot_id}/report", api(_bot_report))
    r.add_get("/api/bots/{bot_id}/report/chart", api(_bot_report_chart))
    r.add_get("/api/runs", api(_runs))
    r.add_get("/api/runs/{run_id}", api(_run))
    r.add_get("/api/walkforward", api(_walkforwards))
    r.add_get("/api/walkforward/{run_id}", api(_walkforward))
    r.add_get("/api/walkforward/{run_id}/chart", api(_walkforward_chart))
    r.add_get("/api/health", _health)
    r.add_get("/api/events", api(_events))
    r.add_get("/api/stream", app[K.EVENTS].stream)
