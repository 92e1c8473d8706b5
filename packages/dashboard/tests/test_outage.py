"""The database goes away and comes back: the dashboard says so, keeps serving, and recovers by itself.

The dashboard reaches PostgreSQL through a TCP proxy on 127.0.0.1 that the test can take down (every
open connection is cut and new ones are refused, as when the server stops) and bring back up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from algo_trade_core import DatabaseConfig
from algo_trade_dashboard import create_app
from algo_trade_dashboard._store import Store
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import wait_for


class Proxy:
    """A TCP proxy to ``target`` that can go down (cut and refuse connections) and come back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, as when the server process dies
        self._writers.clear()


@pytest.fixture
async def proxied(market: Any) -> AsyncIterator[tuple[Proxy, TestClient[Any, Any]]]:
    parts = urlsplit(market.url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.up()
    await proxy.down()  # the dashboard starts while the database is away
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    config = replace(
        market.config,
        database=DatabaseConfig(url=url, max_connections=3, command_timeout_s=5),
        server=replace(market.config.server, poll_interval_s=0.05),
    )
    store = Store(config.database, timeout_s=3.0, retry_s=0.0)
    app = create_app(config, clock=market.now, store=store)
    async with TestClient(TestServer(app)) as client:
        yield proxy, client
    await proxy.down()


async def status_of(client: TestClient[Any, Any], path: str) -> int:
    response = await client.get(path)
    await response.read()
    return response.status


async def test_pages_say_the_database_is_down_and_recover_when_it_returns(
    proxied: tuple[Proxy, TestClient[Any, Any]],
) -> None:
    proxy, client = proxied
    page = await client.get("/")
    assert page.status == 503
    text = await page.text()
    assert "database unreachable" in text
    assert "cannot connect to PostgreSQL" in text  # why, with the address (no password)
    assert '<meta http-equiv="refresh" content="5">' in text  # the page retries by itself
    api = await client.get("/api/overview")
    assert api.status == 503
    assert (await api.json())["error"]["title"] == "database unreachable"
    assert await status_of(client, "/api/health") == 503
    assert await status_of(client, "/static/app.css") == 200  # what needs no database still works

    await proxy.up()
    await wait_for(
        lambda: _ok(client, "/"), timeout=20, what="the overview after the database returned", interval=0.1
    )
    assert await status_of(client, "/api/overview") == 200

    await proxy.down()  # an outage of a pool that was working: its connections die
    await wait_for(lambda: _is(client, "/api/overview", 503), timeout=20, what="a 503", interval=0.1)
    assert await status_of(client, "/selection") == 503
    await proxy.up()
    await wait_for(lambda: _ok(client, "/selection"), timeout=20, what="recovery", interval=0.1)
    assert await status_of(client, "/api/health") == 200


async def _ok(client: TestClient[Any, Any], path: str) -> bool:
    return await status_of(client, path) == 200


async def _is(client: TestClient[Any, Any], path: str, status: int) -> bool:
    return await status_of(client, path) == status


async def test_live_updates_say_when_the_database_is_down_and_back(
    proxied: tuple[Proxy, TestClient[Any, Any]], market: Any
) -> None:
    proxy, client = proxied
    await proxy.up()
    response = await client.get("/api/stream")
    assert response.headers["Content-Type"] == "text/event-stream"
    events = _events(response)
    data = await anext_event(events, "bots")
    assert {b["bot_id"] for b in data} == set(market.bot_ids)
    # A change made by another process (the daemon) reaches the page.
    other = await DatabaseClient.connect(market.config.database, migrate=False)
    try:
        await other.set_bot_state(market.traded_bot, "paused")
        data = await anext_event(events, "bots")
        assert {b["bot_id"]: b["state"] for b in data}[market.traded_bot] == "paused"
        await other.set_bot_state(market.traded_bot, "running")
        data = await anext_event(events, "bots")
        assert {b["bot_id"]: b["state"] for b in data}[market.traded_bot] == "running"
    finally:
        await other.close()
    await proxy.down()
    data = await anext_event(events, "database")
    assert data["ok"] is False
    assert "DatabaseError" in data["message"]
    await proxy.up()
    data = await anext_event(events, "database")
    assert data == {"ok": True, "message": None}
    response.close()


async def _events(response: Any) -> AsyncIterator[tuple[str, Any]]:
    name = None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name is not None:
            yield name, json.loads(line[6:])
            name = None


async def anext_event(events: AsyncIterator[tuple[str, Any]], wanted: str) -> Any:
    async with asyncio.timeout(20):
        async for name, data in events:
            if name == wanted:
                return data
    raise AssertionError(f"the stream ended before a {wanted!r} event")


async def test_a_database_without_the_schema_says_how_to_create_it(market: Any) -> None:
    from algo_trade_data.testing import temporary_database

    async with temporary_database() as url:
        config = replace(market.config, database=DatabaseConfig(url=url, max_connections=2))
        async with TestClient(TestServer(create_app(config, clock=market.now))) as client:
            page = await client.get("/")
            assert page.status == 503
            text = await page.text()
            assert "database not initialised" in text
            assert "algo-trade db init" in text
