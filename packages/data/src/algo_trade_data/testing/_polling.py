"""Polling for async tests: wait for a condition instead of sleeping a guessed time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

__all__ = ["wait_for"]


async def wait_for(
    predicate: Callable[[], object] | Callable[[], Awaitable[object]],
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline on polling is the helper's whole purpose
    what: str = "",
    *,
    interval: float = 0.002,
) -> None:
    """Poll ``predicate`` until it is truthy; raise ``AssertionError`` after ``timeout`` seconds.

    ``predicate`` may be a plain or an async callable (a database query, say; poll those with a larger
    ``interval``). ``what`` describes the awaited condition in the failure message (default: the
    predicate's name).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if loop.time() >= deadline:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"timed out after {timeout} s waiting for {name}")
        await asyncio.sleep(interval)
