"""Serving the dashboard on ``[server] host:port``: ``algo-trade dashboard`` and the daemon both use it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self

from aiohttp import web
from loguru import logger

from algo_trade_core import AppConfig, DatabaseError, ServerConfig
from algo_trade_dashboard._app import create_app
from algo_trade_dashboard._security import check_bind
from algo_trade_data import DatabaseClient

__all__ = ["DashboardServer"]


class DashboardServer:
    """The dashboard listening on a TCP address, as an async context manager.

    The address is checked before anything listens: a non-loopback host without a token raises
    :class:`~algo_trade_core.ConfigError` (the CLI exits 2 on it).

    Args:
        config: the whole configuration.
        db: an open client to share (the daemon's), else the dashboard opens its own.
        server: ``[server]`` settings overriding ``config.server`` (host, port, token).
        clock: "now" of every page (default: the wall clock).
    """

    def __init__(
        self,
        config: AppConfig,
        *,
        db: DatabaseClient | None = None,
        server: ServerConfig | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = server or config.server
        check_bind(self.settings.host, self.settings.token)
        self.app = create_app(config, db=db, server=self.settings, clock=clock)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (IPv6 hosts in brackets)."""
        host = self.settings.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port if self.port is not None else self.settings.port}"

    async def start(self) -> None:
        """Listen (port 0 picks a free port; :attr:`port` tells which).

        Raises:
            OSError: the address cannot be bound (in use, not an address of this machine).
        """
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # the bound socket tells the port actually chosen
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        logger.info("dashboard at {}", self.url)

    async def stop(self) -> None:
        """Stop listening, end the event streams, close the dashboard's own database client."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            try:
                await runner.cleanup()
            except DatabaseError as exc:  # closing its pool must not fail a shutdown
                logger.warning("dashboard: closing its database client failed: {}", exc)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
