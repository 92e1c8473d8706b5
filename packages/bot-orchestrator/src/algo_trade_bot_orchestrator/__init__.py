"""algo-trade bot-orchestrator: paper-trading bots on one shared market-data feed.

- :class:`BotRegistry`: spawn, remove, list, restore after a restart, and
  :meth:`~BotRegistry.sync_bots_with_approved_tokens` after every sweep.
- :class:`Bot`: one bot as an asyncio task fed by its command queue and by closed bars; it runs the
  engine's :class:`~algo_trade_backtest.StrategyRunner` and records paper fills idempotently.
- :class:`BotConfig`, :class:`BotState`, :class:`BotStatus`: what a bot is, where it is, what it holds.
- :class:`ProtectionMonitor`: the auto-stop rules of ``[bots.protection]`` (a :class:`DivergenceJudge`
  plugs the backtest comparison in); :class:`AlertDispatcher` with :class:`JsonLineNotifier` and
  :class:`WebhookNotifier`: where stops and alerts go; shadow bots (:func:`shadow_id`) keep trading a
  deselected token on paper for ``[bots] shadow_days``.
- :class:`MemoryFeed`: an in-process feed with the hub's interface, for tests and replays.
- :func:`read_saved` / :func:`status_from_record`: a stored ``bots`` row decoded (for the CLI, which reads
  the database while a daemon runs elsewhere); :func:`bot_json`: the row as the CLI's ``bots list
  --json`` and the dashboard show it.

Names load on first use (:func:`~algo_trade_core.lazy_exports`).
"""

from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import lazy_exports

if TYPE_CHECKING:
    from algo_trade_bot_orchestrator._alerts import (
        AlertDispatcher,
        JsonLineNotifier,
        Notifier,
        WebhookNotifier,
        alert_text,
        notifiers_from_config,
    )
    from algo_trade_bot_orchestrator._bot import Bot, BotObserver, StopMode
    from algo_trade_bot_orchestrator._config import BotConfig, BotState
    from algo_trade_bot_orchestrator._memory_feed import (
        FeedBar,
        MemoryFeed,
        MemorySubscription,
        bars_from_frame,
    )
    from algo_trade_bot_orchestrator._paper import PaperBook, PaperFill, fill_id, strategy_warmup_bars
    from algo_trade_bot_orchestrator._ports import BarLike, BotStore, CandleSource, MarketFeed
    from algo_trade_bot_orchestrator._protection import (
        DivergenceJudge,
        DivergenceVerdict,
        LiveStats,
        ProtectionMonitor,
        Trip,
    )
    from algo_trade_bot_orchestrator._record import (
        LIVE_STATES,
        RECORD_VERSION,
        SavedBot,
        bot_json,
        read_saved,
        status_from_record,
    )
    from algo_trade_bot_orchestrator._registry import BotRegistry
    from algo_trade_bot_orchestrator._shadow import shadow_id
    from algo_trade_bot_orchestrator._status import BotStatus, PaperPosition
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "algo_trade_bot_orchestrator._alerts": (
                "AlertDispatcher",
                "JsonLineNotifier",
                "Notifier",
                "WebhookNotifier",
                "alert_text",
                "notifiers_from_config",
            ),
            "algo_trade_bot_orchestrator._bot": (
                "Bot",
                "BotObserver",
                "StopMode",
            ),
            "algo_trade_bot_orchestrator._config": (
                "BotConfig",
                "BotState",
            ),
            "algo_trade_bot_orchestrator._memory_feed": (
                "FeedBar",
                "MemoryFeed",
                "MemorySubscription",
                "bars_from_frame",
            ),
            "algo_trade_bot_orchestrator._paper": (
                "PaperBook",
                "PaperFill",
                "fill_id",
                "strategy_warmup_bars",
            ),
            "algo_trade_bot_orchestrator._ports": (
                "BarLike",
                "BotStore",
                "CandleSource",
                "MarketFeed",
            ),
            "algo_trade_bot_orchestrator._protection": (
                "DivergenceJudge",
                "DivergenceVerdict",
                "LiveStats",
                "ProtectionMonitor",
                "Trip",
            ),
            "algo_trade_bot_orchestrator._record": (
                "LIVE_STATES",
                "RECORD_VERSION",
                "SavedBot",
                "bot_json",
                "read_saved",
                "status_from_record",
            ),
            "algo_trade_bot_orchestrator._registry": ("BotRegistry",),
            "algo_trade_bot_orchestrator._shadow": ("shadow_id",),
            "algo_trade_bot_orchestrator._status": (
                "BotStatus",
                "PaperPosition",
            ),
        },
    )

logger.disable("algo_trade_bot_orchestrator")

__all__ = [
    "LIVE_STATES",
    "RECORD_VERSION",
    "AlertDispatcher",
    "BarLike",
    "Bot",
    "BotConfig",
    "BotObserver",
    "BotRegistry",
    "BotState",
    "BotStatus",
    "BotStore",
    "CandleSource",
    "DivergenceJudge",
    "DivergenceVerdict",
    "FeedBar",
    "JsonLineNotifier",
    "LiveStats",
    "MarketFeed",
    "MemoryFeed",
    "MemorySubscription",
    "Notifier",
    "PaperBook",
    "PaperFill",
    "PaperPosition",
    "ProtectionMonitor",
    "SavedBot",
    "StopMode",
    "Trip",
    "WebhookNotifier",
    "alert_text",
    "bars_from_frame",
    "bot_json",
    "fill_id",
    "notifiers_from_config",
    "read_saved",
    "shadow_id",
    "status_from_record",
    "strategy_warmup_bars",
]
