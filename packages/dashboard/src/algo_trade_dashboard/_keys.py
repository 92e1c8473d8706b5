"""Typed keys of what the aiohttp application holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from algo_trade_core import AppConfig

if TYPE_CHECKING:
    from algo_trade_dashboard._context import Rule
    from algo_trade_dashboard._events import BotEvents
    from algo_trade_dashboard._live import ReportCache
    from algo_trade_dashboard._store import Store
    from algo_trade_dashboard._token_view import ChartCache

__all__ = ["CHARTS", "CLOCK", "CONFIG", "EVENTS", "REPORTS", "RULE", "STORE", "TOKEN"]

CONFIG: web.AppKey[AppConfig] = web.AppKey("config")
STORE: web.AppKey[Store] = web.AppKey("store")
RULE: web.AppKey[Rule] = web.AppKey("rule")
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
TOKEN: web.AppKey[str] = web.AppKey("token")
EVENTS: web.AppKey[BotEvents] = web.AppKey("events")
CHARTS: web.AppKey[ChartCache] = web.AppKey("charts")
REPORTS: web.AppKey[ReportCache] = web.AppKey("reports")
