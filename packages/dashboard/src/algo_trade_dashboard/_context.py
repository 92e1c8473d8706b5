"""What every view reads from: the configuration, the store, "now", the selection rule; and its errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from algo_trade_core import AppConfig
from algo_trade_data import DatabaseClient
from algo_trade_pipeline import selection_scope, traded_parameter_set, universe_of_latest_sweep
from algo_trade_token_selector import Selection, SelectionScope, TokenSelector

__all__ = [
    "BadRequest",
    "Context",
    "NotFound",
    "PageError",
    "Rule",
    "check_bot_id",
    "check_run_id",
    "check_symbol",
]

# Hyperliquid coin names (BTC, kPEPE, a HIP-3 "dex:NAME"); run ids are UUID hex or a given name; bot ids
# are "{strategy}:{symbol}" or a given name. Anything else never reaches the database.
_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,39}")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BOT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,95}")


class PageError(Exception):
    """A request the dashboard answers with an error page (or an ``{"error": ...}`` JSON object)."""

    status = 500
    title = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PageError):
    status = 404
    title = "not found"


class BadRequest(PageError):
    status = 400
    title = "bad request"


def _check(pattern: re.Pattern[str], value: str, what: str, expected: str) -> str:
    if not pattern.fullmatch(value):
        shown = value if len(value) <= 60 else value[:57] + "…"
        raise BadRequest(f"not a {what}: {shown!r}; expected {expected}")
    return value


def check_symbol(value: str) -> str:
    """Return ``value`` when it can be a coin name, else raise :class:`BadRequest` saying why."""
    return _check(_SYMBOL, value, "token name", "letters, digits and . _ : - (at most 40), e.g. BTC or kPEPE")


def check_run_id(value: str) -> str:
    """Return ``value`` when it can be a run id, else raise :class:`BadRequest`."""
    return _check(_RUN_ID, value, "run id", "letters, digits and . _ - (at most 64), as `runs list` shows")


def check_bot_id(value: str) -> str:
    """Return ``value`` when it can be a bot id, else raise :class:`BadRequest`."""
    return _check(_BOT_ID, value, "bot id", "e.g. quad_ma:BTC, as `bots list` shows")


@dataclass(slots=True)
class Rule:
    """The selection rule of one configuration: the parameter set the bots trade, computed once."""

    config: AppConfig
    params_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.params_hash = traded_parameter_set(self.config)[0]

    async def scope(self, db: DatabaseClient, symbols: tuple[str, ...] | None = None) -> SelectionScope:
        """The product's scope (``algo_trade_pipeline.selection_scope``), or that scope for ``symbols``."""
        universe = symbols
        if universe is None and self.config.scheduler.universe_mode == "top_volume":
            universe = await universe_of_latest_sweep(db)
        return selection_scope(self.config, params_hash=self.params_hash, symbols=universe)


@dataclass(slots=True)
class Context:
    """One request's view of the product: configuration, store, the time it is evaluated at."""

    config: AppConfig
    db: DatabaseClient
    now: datetime
    rule: Rule

    async def selection(self) -> Selection:
        """The selection of the product's scope as of ``now``, evaluated and NOT recorded."""
        scope = await self.rule.scope(self.db)
        return await TokenSelector(self.db, self.config.token_selection).select(
            scope, now=self.now, record=False
        )


def wall_clock() -> datetime:
    return datetime.now(UTC)


Clock = Callable[[], datetime]
