"""Bot events on the dashboard: a real protection stop of a paper bot on real candles (the ``stopped``
fixture), shown where ``algo-trade bots events`` would show it: ``/api/events``, the overview's alerts
and the bot's page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from algo_trade_dashboard import create_app


@pytest.fixture
async def client(stopped: Any) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(stopped.config, clock=stopped.now)
    async with TestClient(TestServer(app)) as c:
        yield c


async def get_json(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, (path, response.status, await response.text())
    return await response.json()


async def test_events_are_the_rows_of_bots_events(client: TestClient[Any, Any], stopped: Any) -> None:
    (stop,) = [e for e in stopped.events if e["kind"] == "stop"]
    assert (stop["bot_id"], stop["symbol"], stop["details"]["rule"]) == (
        stopped.bot_id,
        "SOL",
        "max_drawdown",
    )
    assert stop["details"]["drawdown"] >= stopped.config.bots.protection.max_drawdown
    assert (await get_json(client, "/api/events"))["events"] == stopped.events
    assert (await get_json(client, f"/api/events?bot={stopped.bot_id}&kind=stop"))["events"] == [stop]
    assert (await get_json(client, "/api/events?bot=quad_ma:XYZ"))["events"] == []
    bad = await get_json(client, "/api/events?kind=boom", 400)
    assert (
        "kind: expected one of stop, alert, shadow_started, shadow_ended, got 'boom'"
        in bad["error"]["message"]
    )

    overview = await get_json(client, "/api/overview")
    assert overview["alerts"] == {"events": stopped.events[-10:]}
    page = await client.get("/")
    text = await page.text()
    assert 'class="badge event stop"' in text
    assert f">{stopped.bot_id}</a>" in text.split("data-alerts", 1)[1]

    bot = await get_json(client, f"/api/bots/{stopped.bot_id}")
    assert bot["events"] == stopped.events
    assert bot["state"] == "stopped"
    html = await (await client.get(f"/bots/{stopped.bot_id}")).text()
    assert stop["details"]["reason"] in html
