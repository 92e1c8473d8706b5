"""Alerts against a local aiohttp webhook receiver: retries after failures, a slow or dead webhook never
holds up the caller (nor the log-file notifier), the URL's secret path stays out of the logs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from algo_trade_bot_orchestrator import AlertDispatcher, JsonLineNotifier, WebhookNotifier, alert_text
from algo_trade_data import BotEventRecord


class Receiver:
    """A webhook endpoint that answers 500 to the first ``fail`` requests and sleeps ``delay`` s each."""

    def __init__(self, *, fail: int = 0, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.requests) <= self.fail:
            return web.Response(status=500, text="try later")
        return web.Response(text="ok")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks/T000/B000/secret-token", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hooks/T000/B000/secret-token"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver(fail=2) as r:
        yield r


def event(n: int = 0) -> BotEventRecord:
    return BotEventRecord(
        event_key=f"ma_crossover:DOGE:{n}:stop:max_drawdown",
        time=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        bot_id="ma_crossover:DOGE",
        symbol="DOGE",
        strategy_name="ma_crossover",
        kind="stop",
        details={"rule": "max_drawdown", "reason": f"drawdown 31.00% reached max_drawdown 30.00% #{n}"},
    )


async def test_the_webhook_retries_until_the_receiver_takes_the_alert(receiver: Receiver) -> None:
    hook = WebhookNotifier(receiver.url, timeout_s=2.0, retries=3, backoff_s=0.01)
    alerts = AlertDispatcher([hook])
    alerts.publish(event())
    assert await alerts.drain(5.0)
    await alerts.close()
    assert hook.attempts == 3
    assert len(receiver.requests) == 3
    body = receiver.requests[-1]
    assert body["event"] == event().to_json_dict()
    assert body["text"] == body["content"] == alert_text(event().to_json_dict())
    assert "max_drawdown 30.00%" in body["text"]
    assert alerts.counts() == {hook.name: {"sent": 1, "failed": 0, "dropped": 0}}
    assert "secret-token" not in hook.name


async def test_a_slow_webhook_blocks_neither_the_caller_nor_the_log_file(tmp_path: Path) -> None:
    async with Receiver(delay=3.0) as slow:
        hook = WebhookNotifier(slow.url, timeout_s=1.0, retries=1, backoff_s=0.01)
        log = tmp_path / "alerts" / "bots.jsonl"
        alerts = AlertDispatcher([hook, JsonLineNotifier(log)])
        began = time.perf_counter()
        for n in range(3):
            alerts.publish(event(n))
        assert time.perf_counter() - began < 0.05  # publish only enqueues

        def logged() -> int:
            return len(log.read_text().splitlines()) if log.exists() else 0

        while logged() < 3 and time.perf_counter() - began < 5.0:  # noqa: ASYNC110 - a file, not an event
            await asyncio.sleep(0.01)
        # Every alert is in the file while the webhook has not even given up on the first one.
        assert alerts.counts()[hook.name] == {"sent": 0, "failed": 0, "dropped": 0}
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        assert [x["details"]["reason"][-2:] for x in lines] == ["#0", "#1", "#2"]
        assert lines[0] == event(0).to_json_dict()
        assert await alerts.drain(30.0)
        assert alerts.counts()[hook.name] == {"sent": 0, "failed": 3, "dropped": 0}
        assert hook.attempts == 6  # each alert: the attempt and one retry, each cut at 1 s
        await alerts.close()


async def test_a_full_queue_drops_the_oldest_waiting_alert() -> None:
    async with Receiver(delay=0.5) as slow:
        hook = WebhookNotifier(slow.url, timeout_s=2.0, retries=0)
        alerts = AlertDispatcher([hook], queue_size=2)
        alerts.publish(event(0))
        while not slow.requests:  # noqa: ASYNC110 - the receiver's list, not an event
            await asyncio.sleep(0.01)  # until the worker holds #0 (in flight)
        for n in (1, 2, 3):
            alerts.publish(event(n))  # #1 is pushed out by #3
        assert await alerts.drain(10.0)
        await alerts.close()
        assert [r["event"]["details"]["reason"][-2:] for r in slow.requests] == ["#0", "#2", "#3"]
        assert alerts.counts()[hook.name] == {"sent": 3, "failed": 0, "dropped": 1}
