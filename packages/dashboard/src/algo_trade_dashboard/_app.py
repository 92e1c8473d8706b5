"""The aiohttp application: templates, security, error pages, routes, live events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from algo_trade_core import AppConfig, ServerConfig
from algo_trade_dashboard import _keys as K
from algo_trade_dashboard._context import Rule, wall_clock
from algo_trade_dashboard._events import BotEvents
from algo_trade_dashboard._format import FILTERS
from algo_trade_dashboard._handlers import error_pages, routes
from algo_trade_dashboard._live import ReportCache
from algo_trade_dashboard._security import auth_middleware, security_headers
from algo_trade_dashboard._store import Store
from algo_trade_dashboard._token_view import ChartCache
from algo_trade_data import DatabaseClient

__all__ = ["NAV", "create_app"]

HERE = Path(__file__).parent
# (path, label): the nav bar; a later page (walk-forward) is already in it as a placeholder.
NAV = (
    ("/", "Overview"),
    ("/selection", "Selection audit"),
    ("/bots", "Bots"),
    ("/runs", "Runs"),
    ("/walkforward", "Walk-forward"),
)


async def _nav(request: web.Request) -> dict[str, object]:
    path = request.path
    current = next((p for p, _ in reversed(NAV) if p == path or (p != "/" and path.startswith(p))), None)
    if path.startswith("/token/"):
        current = "/selection"
    return {
        "nav": NAV,
        "current": current,
        "as_of": request.app[K.CLOCK](),
        "token_set": bool(request.app[K.TOKEN]),
    }


def create_app(
    config: AppConfig,
    *,
    db: DatabaseClient | None = None,
    server: ServerConfig | None = None,
    clock: Callable[[], datetime] | None = None,
    store: Store | None = None,
) -> web.Application:
    """Build the dashboard application (serve it with :class:`DashboardServer` or aiohttp's runners).

    Args:
        config: the whole configuration (selection rule, schedule, database, ``[server]``).
        db: an open client to share (the daemon's); default: the dashboard opens its own on first use,
            without migrating, and reopens it after an outage.
        server: ``[server]`` settings overriding ``config.server`` (the CLI's ``--host``/``--port``).
        clock: "now" for result ages and the next scheduled runs (default: the wall clock; the CLI's
            ``--as-of`` pins it to look at imported history).
        store: the database access itself (tests use it to shorten time-outs).
    """
    settings = server or config.server
    app = web.Application(middlewares=[error_pages, auth_middleware(settings.token)])
    app[K.CONFIG] = config
    app[K.STORE] = store or Store(config.database if db is None else None, client=db)
    app[K.RULE] = Rule(config)
    app[K.CLOCK] = clock or wall_clock
    app[K.TOKEN] = settings.token
    app[K.EVENTS] = BotEvents(app[K.STORE], settings.poll_interval_s)
    app[K.CHARTS] = ChartCache()
    app[K.REPORTS] = ReportCache()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is HTML-escaped, in every template
        undefined=jinja2.StrictUndefined,
        context_processors=[_nav],
    )
    env.filters.update(FILTERS)
    app.on_response_prepare.append(security_headers)
    routes(app)
    app.router.add_static("/static/", HERE / "static", name="static", append_version=True)

    async def end_streams(app: web.Application) -> None:
        await app[K.EVENTS].close()

    async def close(app: web.Application) -> None:
        await app[K.STORE].close()

    app.on_shutdown.append(end_streams)
    app.on_cleanup.append(close)
    return app
