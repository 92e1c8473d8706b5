"""Opening and closing the long-lived parts a command needs (database, exchange client, scheduler)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from algo_trade_core import AppConfig

if TYPE_CHECKING:  # imported when a runtime opens: asyncpg and aiohttp stay out of `--help`
    from algo_trade_data import DatabaseClient, HyperliquidClient

__all__ = ["Runtime", "open_runtime"]


@dataclass(slots=True)
class Runtime:
    config: AppConfig
    db: DatabaseClient
    hyperliquid: HyperliquidClient | None


@asynccontextmanager
async def open_runtime(config: AppConfig, *, exchange: bool = True) -> AsyncIterator[Runtime]:
    """Connect to the database (migrating it) and, when asked, open the one Hyperliquid session."""
    from algo_trade_data import DatabaseClient

    async with AsyncExitStack() as stack:
        db = await DatabaseClient.connect(config.database)
        stack.push_async_callback(db.close)
        hl = None
        if exchange:
            from algo_trade_data import HyperliquidClient

            hl = await stack.enter_async_context(HyperliquidClient(config.hyperliquid))
        yield Runtime(config=config, db=db, hyperliquid=hl)
