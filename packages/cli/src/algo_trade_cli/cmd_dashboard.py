"""`algo-trade dashboard`: the read-only web dashboard on [server] host:port until Ctrl+C."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace
from datetime import datetime
from typing import Annotated

import typer

from algo_trade_cli._common import ConfigOption, console, fail, parse_time, resolve_config, run_async
from algo_trade_core import AppConfig, ConfigError, ServerConfig

__all__ = ["dashboard"]


async def _serve(cfg: AppConfig, server: ServerConfig, as_of: datetime | None) -> None:
    # Imported here: the dashboard pulls in aiohttp's server, jinja2 and the engine (app.py stays light).
    from algo_trade_dashboard import DashboardServer

    clock = None if as_of is None else (lambda: as_of)
    try:
        dash = DashboardServer(cfg, server=server, clock=clock)
    except ConfigError as exc:
        fail(str(exc), 2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await dash.start()
    except OSError as exc:
        fail(f"cannot listen on {server.host}:{server.port}: {exc}", 2)
    try:
        pinned = f", as of {as_of.isoformat()}" if as_of is not None else ""
        auth = "token required" if server.token else "no token (loopback only)"
        console.print(f"dashboard at [bold]{dash.url}[/] ({auth}{pinned}); Ctrl+C stops", highlight=False)
        await stop.wait()
    finally:
        await dash.stop()
    console.print("dashboard stopped")


def dashboard(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default: server.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="TCP port (default: server.port, 8080).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Show the selection as of this time (ISO; default now), e.g. over imported history.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the read-only web dashboard: overview, selection audit, tokens, bots, runs.

    Any address but a loopback one needs a token (ALGO_TRADE__SERVER__TOKEN); without one it refuses
    to start (exit 2). Open the address it prints (http://127.0.0.1:8080 by default) in a browser.
    """
    cfg = resolve_config(config)
    server = replace(
        cfg.server,
        host=cfg.server.host if host is None else host,
        port=cfg.server.port if port is None else port,
    )
    run_async(_serve(cfg, server, parse_time(as_of, "--as-of")))
