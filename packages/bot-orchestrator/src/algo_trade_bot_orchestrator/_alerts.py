"""Alerts: bot events sent to pluggable notifiers, behind queues so no bot ever waits for a sink.

- :class:`Notifier`: anything with a ``name`` and an ``async send(event)`` that raises when it failed.
- :class:`JsonLineNotifier`: appends each event as one JSON line to a file.
- :class:`WebhookNotifier`: POSTs each event as JSON (``text`` and ``content`` carry a one-line summary,
  so Slack- and Discord-style incoming webhooks show it; ``event`` carries the whole event), with a
  timeout per attempt and retries with growing pauses.
- :class:`AlertDispatcher`: one bounded queue and one worker task per notifier. :meth:`~AlertDispatcher.
  publish` only enqueues (never awaits), so a slow or unreachable webhook delays its own deliveries and
  nothing else; when a queue is full the oldest waiting event is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from loguru import logger

from algo_trade_core import AlertsConfig
from algo_trade_data import BotEventRecord, backoff_delay

__all__ = [
    "AlertDispatcher",
    "JsonLineNotifier",
    "Notifier",
    "WebhookNotifier",
    "alert_text",
    "notifiers_from_config",
]


class Notifier(Protocol):
    """Delivers one event; raises when it could not (the dispatcher logs it and carries on)."""

    @property
    def name(self) -> str: ...

    async def send(self, event: Mapping[str, Any]) -> None: ...


def alert_text(event: Mapping[str, Any]) -> str:
    """A one-line summary of an event (``BotEventRecord.to_json_dict`` shape) for chat webhooks."""
    details = event.get("details") or {}
    reason = details.get("reason") if isinstance(details, Mapping) else None
    text = f"algo-trade: bot {event.get('bot_id')} {event.get('kind')}"
    return f"{text}: {reason}" if reason else text


class JsonLineNotifier:
    """Append each event as one JSON line to ``path`` (created with its folder when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def name(self) -> str:
        return f"log file {self.path}"

    async def send(self, event: Mapping[str, Any]) -> None:
        line = json.dumps(dict(event), separators=(",", ":"), default=str) + "\n"
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line)


class WebhookNotifier:
    """POST each event as JSON to ``url``; ``retries`` further attempts after a failure.

    An attempt fails on a connection error, on exceeding ``timeout_s`` or on a non-2xx answer. The URL
    is a secret (incoming-webhook URLs carry their token in the path): only its host is ever logged.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retries = retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._session: aiohttp.ClientSession | None = None
        self.attempts = 0  # every POST tried (tests and the log)

    @property
    def name(self) -> str:
        host = self._url.split("://", 1)[-1].split("/", 1)[0]
        return f"webhook {host}"

    async def send(self, event: Mapping[str, Any]) -> None:
        text = alert_text(event)
        payload = {"text": text, "content": text, "event": dict(event)}
        body = json.dumps(payload, separators=(",", ":"), default=str)
        last: BaseException | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(
                    backoff_delay(
                        attempt - 1, base_s=self._backoff_s, max_s=self._max_backoff_s, jitter="none"
                    )
                )
            self.attempts += 1
            try:
                session = self._open()
                async with session.post(
                    self._url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    if 200 <= response.status < 300:
                        return
                    last = RuntimeError(f"HTTP {response.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = exc
            logger.debug("{}: attempt {} failed: {!r}", self.name, attempt + 1, last)
        raise RuntimeError(f"{self.name}: {self._retries + 1} attempts failed, the last with {last!r}")

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def notifiers_from_config(alerts: AlertsConfig) -> list[Notifier]:
    """The notifiers ``[bots.alerts]`` turns on (none by default)."""
    out: list[Notifier] = []
    if alerts.log_file:
        out.append(JsonLineNotifier(alerts.log_file))
    if alerts.webhook_url:
        out.append(
            WebhookNotifier(
                alerts.webhook_url, timeout_s=alerts.webhook_timeout_s, retries=alerts.webhook_retries
            )
        )
    return out


class _Sink:
    def __init__(self, notifier: Notifier, size: int) -> None:
        self.notifier = notifier
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def put(self, event: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.queue.task_done()
            self.dropped += 1
            logger.warning("{}: alert queue full; the oldest alert is dropped", self.notifier.name)
        self.queue.put_nowait(event)

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.notifier.send(event)
                self.sent += 1
            except Exception as exc:  # a sink's trouble is logged; the next alert is tried anyway
                self.failed += 1
                logger.error(
                    "{}: alert for bot {} not delivered: {}", self.notifier.name, event.get("bot_id"), exc
                )
            finally:
                self.queue.task_done()


class AlertDispatcher:
    """Fan bot events out to notifiers without ever blocking the caller (see the module docstring)."""

    def __init__(self, notifiers: Sequence[Notifier], *, queue_size: int = 1000) -> None:
        self._sinks = [_Sink(n, queue_size) for n in notifiers]

    @property
    def notifiers(self) -> list[Notifier]:
        return [s.notifier for s in self._sinks]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per notifier: events ``sent``, ``failed`` (after all retries), ``dropped`` (queue full)."""
        return {
            s.notifier.name: {"sent": s.sent, "failed": s.failed, "dropped": s.dropped} for s in self._sinks
        }

    def start(self) -> None:
        """Start the workers (idempotent; :meth:`publish` starts them too when a loop runs)."""
        for sink in self._sinks:
            if sink.task is None:
                sink.task = asyncio.create_task(sink.run(), name=f"alerts {sink.notifier.name}")

    def publish(self, event: BotEventRecord | Mapping[str, Any]) -> None:
        """Queue ``event`` for every notifier and return at once."""
        payload = event.to_json_dict() if isinstance(event, BotEventRecord) else dict(event)
        self.start()
        for sink in self._sinks:
            sink.put(payload)

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        """Wait until every queued event was delivered or given up; False after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                for sink in self._sinks:
                    await sink.queue.join()
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a bounded wait is the point
        """Deliver what is queued (at most ``timeout`` s), then stop the workers and close sessions."""
        await self.drain(timeout)
        for sink in self._sinks:
            if sink.task is not None:
                sink.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sink.task
                sink.task = None
            closer = getattr(sink.notifier, "close", None)
            if closer is not None:
                await closer()
