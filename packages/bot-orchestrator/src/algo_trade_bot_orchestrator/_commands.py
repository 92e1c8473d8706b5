"""The messages a bot's command queue carries; each carries the future its reply goes to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from algo_trade_bot_orchestrator._config import BotConfig

__all__ = [
    "Command",
    "Pause",
    "Resume",
    "Shutdown",
    "Start",
    "Status",
    "Stop",
    "UpdateConfig",
]


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False, kw_only=True, slots=True)
class _Base:
    reply: asyncio.Future[Any] = field(default_factory=_future)

    def answer(self, value: Any) -> None:
        if not self.reply.done():
            self.reply.set_result(value)

    def fail(self, exc: BaseException) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


@dataclass(eq=False, kw_only=True, slots=True)
class Start(_Base):
    """Warm up (or restore) and begin trading on the next closed bar."""


@dataclass(eq=False, kw_only=True, slots=True)
class Stop(_Base):
    """Stop trading: ``close`` closes an open position at the next bar's open, ``drain`` waits for the
    strategy's own exit (no new entries meanwhile).

    ``accepted`` resolves once the bot has taken the stop in hand (state ``stopping``, persisted, or
    already ``stopped``); ``reply`` when it has stopped (after the closing fill when there is one).
    """

    mode: Literal["close", "drain"] = "close"
    accepted: asyncio.Future[Any] = field(default_factory=_future)

    def accept(self, value: Any) -> None:
        if not self.accepted.done():
            self.accepted.set_result(value)

    def answer(self, value: Any) -> None:
        self.accept(value)
        _Base.answer(self, value)

    def fail(self, exc: BaseException) -> None:
        if not self.accepted.done():
            self.accepted.set_exception(exc)
            self.accepted.exception()  # retrieved: the reply carries the same error to the caller
        _Base.fail(self, exc)


@dataclass(eq=False, kw_only=True, slots=True)
class Pause(_Base):
    """Stop taking new positions; bars keep flowing (indicators stay warm, TP/SL still exit)."""


@dataclass(eq=False, kw_only=True, slots=True)
class Resume(_Base):
    """Take new positions again."""


@dataclass(eq=False, kw_only=True, slots=True)
class UpdateConfig(_Base):
    """Replace the configuration (same symbol, strategy and interval; the bot is flat or paused)."""

    config: BotConfig


@dataclass(eq=False, kw_only=True, slots=True)
class Status(_Base):
    """Reply with the latest :class:`~algo_trade_bot_orchestrator.BotStatus` snapshot."""


@dataclass(eq=False, kw_only=True, slots=True)
class Shutdown(_Base):
    """End the task without touching the position (daemon exit): the stored state is restored later."""


Command = Start | Stop | Pause | Resume | UpdateConfig | Status | Shutdown
