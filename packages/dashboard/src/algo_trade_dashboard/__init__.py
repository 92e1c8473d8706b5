"""algo-trade dashboard: the read-only web pages of the product (aiohttp, server-rendered).

- :func:`create_app`: the aiohttp application (pages, ``/api/`` JSON, server-sent events, static files).
- :class:`DashboardServer`: serve it on ``[server] host:port`` as an async context manager (the CLI's
  ``algo-trade dashboard`` and the daemon with ``[server] enabled = true``).
- :func:`check_bind`: refuse a non-loopback address without a token (a ``ConfigError``).

Every page reads the store through the library calls the CLI uses; nothing here writes to it.
"""

from loguru import logger

from algo_trade_dashboard._app import create_app
from algo_trade_dashboard._security import check_bind, is_loopback
from algo_trade_dashboard._server import DashboardServer

logger.disable("algo_trade_dashboard")

__all__ = ["DashboardServer", "check_bind", "create_app", "is_loopback"]
