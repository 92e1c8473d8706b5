"""Every page's data over /api/, on a database filled by real sweeps on real candles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from algo_trade_dashboard import create_app


@pytest.fixture
async def client(market: Any) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(market.config, clock=market.now)
    async with TestClient(TestServer(app)) as c:
        yield c


async def get_json(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, (path, response.status, await response.text())
    assert response.content_type == "application/json"
    return await response.json()


async def test_overview(client: TestClient[Any, Any], market: Any) -> None:
    data = await get_json(client, "/api/overview")
    assert data["last_sweep"]["run_id"] == market.run_ids[-1]


async def test_pages_render(client: TestClient[Any, Any], market: Any) -> None:
    for path in (
        "/",
        "/selection",
        "/token/BTC",
        "/bots",
        f"/bots/{market.bot_ids[0]}",
        "/runs",
        f"/runs/{market.run_ids[-1]}",
        "/walkforward",
    ):
        response = await client.get(path)
        assert response.status == 200, (path, await response.text())
    for path in ("/api/token/SOL/chart", f"/api/bots/{market.bot_ids[0]}/chart"):
        data = await get_json(client, path)
        assert data["available"], data
