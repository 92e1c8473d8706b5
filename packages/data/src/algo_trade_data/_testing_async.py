"""Polling helpers for async tests: wait for a condition instead of sleeping a guessed time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["wait_for"]


async def wait_for(
    predicate: Callable[[], object],
    timeout: float = 5.0,  # noqa: ASYNC109 - a deadline on polling is the helper's whole purpose
    *,
    interval: float = 0.002,
    what: str = "",
) -> None:
    """Poll ``predicate`` until it is truthy; raise ``AssertionError`` after ``timeout`` seconds.

    ``what`` describes the awaited condition in the failure message (default: the predicate's name).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"timed out after {timeout} s waiting for {name}")
        await asyncio.sleep(interval)
