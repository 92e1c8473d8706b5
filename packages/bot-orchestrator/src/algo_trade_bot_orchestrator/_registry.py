"""The registry of a process's bots: spawn, remove, list, restore, and sync with the approved tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from loguru import logger

from algo_trade_backtest import STRATEGIES
from algo_trade_bot_orchestrator._alerts import AlertDispatcher
from algo_trade_bot_orchestrator._bot import Bot, BotObserver, StopMode
from algo_trade_bot_orchestrator._config import BotConfig, BotState
from algo_trade_bot_orchestrator._ports import BotStore, CandleSource, MarketFeed
from algo_trade_bot_orchestrator._protection import DivergenceJudge, ProtectionMonitor
from algo_trade_bot_orchestrator._record import read_saved
from algo_trade_bot_orchestrator._shadow import (
    SHADOW_ENDED,
    SHADOW_STARTED,
    STOP,
    cooling_down,
    shadow_id,
    shadow_until_ms,
)
from algo_trade_bot_orchestrator._status import BotStatus
from algo_trade_core import (
    AppConfig,
    BacktestConfig,
    BotsConfig,
    ConfigError,
    ms_to_datetime,
    parameter_set_hash,
    strategy_params,
)
from algo_trade_data import BotEventRecord, BotRecord

__all__ = ["BotRegistry"]

Shadow = tuple[BotConfig, BotRecord | None]
"""A shadow to start: its configuration, and the row it resumes from (the live bot's account)."""

# Stored states a restarted daemon brings back (a stop in progress is carried on).
_RESTORABLE = frozenset({BotState.RUNNING.value, BotState.PAUSED.value, BotState.STOPPING.value})


class BotRegistry:
    """The bots of one process, all fed by one market-data hub and persisted in one store.

    One failing bot never takes the registry down: a bot whose handler raises goes to ``error`` on its
    own; batch operations (:meth:`sync_bots_with_approved_tokens`, :meth:`restore`,
    :meth:`shutdown_all`) log a bot that fails and carry on with the others.

    Args:
        store: the database (``DatabaseClient``): bot rows, fills, warm-up candles.
        feed: the shared market-data hub (``MarketDataHub``): one connection for every bot.
        candles: REST fallback for warm-up candles missing from the store (``HyperliquidClient``).
        execution: default capital, fee, slippage and sizing of new bots (``[backtest]``).
        bots: ``[bots]``: interval, warm-up, what removing does to an open position, the bot limit.
        strategy_parameters: default parameters per strategy (``[strategy.*]``) for synced bots.
        clock_ms: wall clock in epoch ms (tests replaying old candles pin it).
        checkpoint_s: see :class:`~algo_trade_bot_orchestrator.Bot`.
        observer: called by every bot after each decision (benchmarks).
        divergence_judge: the divergence check of ``[bots.protection] divergence_evaluations``.
        alerts: where bots publish their stops and alerts (besides the store and the log).
    """

    def __init__(
        self,
        store: BotStore,
        feed: MarketFeed,
        *,
        candles: CandleSource | None = None,
        execution: BacktestConfig | None = None,
        bots: BotsConfig | None = None,
        strategy_parameters: Mapping[str, Mapping[str, Any]] | None = None,
        clock_ms: Callable[[], int] | None = None,
        checkpoint_s: float = 5.0,
        observer: BotObserver | None = None,
        divergence_judge: DivergenceJudge | None = None,
        alerts: AlertDispatcher | None = None,
    ) -> None:
        self._store = store
        self._feed = feed
        self._candles = candles
        self._execution = execution if execution is not None else BacktestConfig()
        self._settings = bots if bots is not None else BotsConfig()
        self._strategy_parameters = {name: dict(p) for name, p in (strategy_parameters or {}).items()}
        self._clock_ms = clock_ms
        self._checkpoint_s = checkpoint_s
        self._observer = observer
        self._judge = divergence_judge
        self._alerts = alerts
        if self._settings.protection.divergence_evaluations and divergence_judge is None:
            logger.warning(
                "[bots.protection] divergence_evaluations is set but no divergence check is available; "
                "the divergence rule is not evaluated"
            )
        self._bots: dict[str, Bot] = {}
        self._lock = asyncio.Lock()  # spawn/remove/sync/restore see a consistent set of bots

    @classmethod
    def from_app_config(
        cls,
        config: AppConfig,
        store: BotStore,
        feed: MarketFeed,
        *,
        candles: CandleSource | None = None,
        **kwargs: Any,
    ) -> Self:
        """Build a registry with the defaults of ``[backtest]``, ``[bots]`` and ``[strategy.*]``."""
        return cls(
            store,
            feed,
            candles=candles,
            execution=config.backtest,
            bots=config.bots,
            strategy_parameters={name: strategy_params(config, name) for name in STRATEGIES},
            **kwargs,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown_all()

    # -- queries ----------------------------------------------------------------------------------

    def get_bot(self, bot_id: str) -> Bot | None:
        """Return the bot with this id, or None."""
        return self._bots.get(bot_id)

    def list_bots(self) -> list[Bot]:
        """Return the bots (running, paused, stopping or in error), by id."""
        return [self._bots[bot_id] for bot_id in sorted(self._bots)]

    def statuses(self) -> list[BotStatus]:
        """Return every bot's latest snapshot, by id (never waits for a bot)."""
        return [bot.status() for bot in self.list_bots()]

    def new_config(
        self, symbol: str, strategy: str, parameters: Mapping[str, Any] | None = None, **overrides: Any
    ) -> BotConfig:
        """Return a :class:`BotConfig` with the registry's defaults (``[backtest]``, ``[bots]``,
        ``[strategy.*]``); ``parameters`` are merged over the strategy's defaults."""
        merged = {**self._strategy_parameters.get(strategy, {}), **dict(parameters or {})}
        values: dict[str, Any] = {
            "symbol": symbol,
            "strategy": strategy,
            "parameters": merged,
            "interval": self._settings.interval,
            "execution": self._execution,
            "warmup_bars": self._settings.warmup_bars,
        }
        values.update(overrides)
        return BotConfig(**values)

    # -- one bot ----------------------------------------------------------------------------------

    async def spawn_bot(self, config: BotConfig) -> str:
        """Create a bot, start it (warm-up included) and return its id.

        When the store holds a live row (running, paused or stopping) of the same id, symbol, strategy,
        interval and parameters, the bot resumes from it (position and runner state) instead of starting
        fresh: spawning after a restart never forgets an open paper position. On a bot that is stopping,
        the stop is cancelled.

        Raises:
            ValueError: a bot with this id already runs.
            ConfigError: ``[bots] max_bots`` bots are already active.
            Exception: whatever made the start fail (the bot is then listed in state ``error``).
        """
        async with self._lock:
            return await self._spawn(config)

    async def _spawn(self, config: BotConfig, seed: BotRecord | None = None) -> str:
        existing = self._bots.get(config.bot_id)
        if existing is not None:
            if existing.state is BotState.STOPPING:
                await existing.start()
                return config.bot_id
            if existing.state is not BotState.ERROR:
                raise ValueError(f"bot {config.bot_id} already exists ({existing.state})")
            await self._drop(existing, "close")
        record = await self._store.get_bot(config.bot_id)
        resume = record is not None and record.state in _RESTORABLE and _same_bot(record, config)
        if record is not None and not resume and (record.position or {}).get("open_position"):
            logger.warning(
                "bot {}: the stored bot ({}) is not resumable with this configuration; its open "
                "paper position is dropped and the bot starts afresh",
                config.bot_id,
                record.state,
            )
        # From here to the registration nothing awaits: concurrent spawns see each other.
        if config.bot_id in self._bots:
            raise ValueError(f"bot {config.bot_id} already exists ({self._bots[config.bot_id].state})")
        active = sum(
            1 for bot in self._bots.values() if bot.state is not BotState.ERROR and not bot.config.is_shadow
        )
        if not config.is_shadow and active >= self._settings.max_bots:
            raise ConfigError(
                f"cannot start bot {config.bot_id}: [bots] max_bots = {self._settings.max_bots} bots are "
                "already active"
            )
        bot = self._make_bot(config, seed if seed is not None else record if resume else None)
        await bot.start()
        return config.bot_id

    def _make_bot(self, config: BotConfig, record: BotRecord | None) -> Bot:
        protection = None
        if not config.is_shadow:  # a shadow only watches: nothing stops it but its end
            protection = ProtectionMonitor(
                self._settings.protection,
                interval=config.interval,
                initial_capital=config.execution.initial_capital,
                judge=self._judge,
            )
        bot = Bot(
            config,
            store=self._store,
            feed=self._feed,
            candles=self._candles,
            record=record,
            clock_ms=self._clock_ms,
            checkpoint_s=self._checkpoint_s,
            observer=self._observer,
            protection=protection,
            alerts=self._alerts,
            protection_stop=self._default_mode(),
        )
        self._bots[config.bot_id] = bot
        bot.launch()
        bot.add_done_callback(self._forget)
        return bot

    def _forget(self, bot: Bot) -> None:
        if self._bots.get(bot.bot_id) is bot:
            del self._bots[bot.bot_id]

    async def remove_bot(self, bot_id: str, *, drain: bool | None = None, wait: bool = True) -> BotStatus:
        """Stop a bot and drop it from the registry.

        An open paper position is closed at the next bar's open (the fill is recorded), or, with
        ``drain=True``, left to the strategy's own exit (no new entries meanwhile); ``None`` follows
        ``[bots] on_remove``. With ``wait`` return once the bot has stopped; otherwise once the stop is
        accepted (the bot leaves the registry by itself when done).

        Raises:
            KeyError: no bot has this id.
        """
        bot = self._bots.get(bot_id)
        if bot is None:
            raise KeyError(f"no bot {bot_id!r}")
        if drain is None:
            return await self._drop(bot, self._default_mode(), wait=wait)
        return await self._drop(bot, "drain" if drain else "close", wait=wait)

    async def _drop(self, bot: Bot, mode: StopMode, *, wait: bool = True) -> BotStatus:
        if bot.done:
            self._forget(bot)
            return bot.status()
        status = await bot.stop(mode, wait=wait)
        if wait:
            await bot.wait_done()
            self._forget(bot)
        return status

    # -- all bots ---------------------------------------------------------------------------------

    async def sync_bots_with_approved_tokens(
        self,
        approved: Sequence[str],
        strategy_name: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        choices: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None,
        strategies: Collection[str] = (),
    ) -> tuple[list[str], list[str]]:
        """Make the live bots of ``strategy_name`` match the approved symbols exactly.

        Bots are matched by their ``symbol`` field (ids are never parsed). A symbol no longer approved
        has its bot removed the ``[bots] on_remove`` way without waiting for the next bar (and gets a
        shadow bot for ``[bots] shadow_days``); an approved symbol without a bot gets one
        (``parameters`` over the strategy's defaults), unless a protection stopped its bot less than
        ``[bots.protection] cooldown_hours`` ago; a bot that is stopping is kept instead (unless a
        protection stops it); one in error is replaced. Shadow bots and bots of other strategies are
        left alone, except a shadow whose token is approved again or whose time is over: it ends. A
        symbol that fails to start is logged and left out of ``started``.

        With ``choices`` (per-token optimisation), each approved symbol trades its own ``(strategy,
        parameters)`` (a symbol without one trades ``strategy_name`` with ``parameters``), and the sync
        covers the bots of ``strategy_name``, of ``strategies`` and of every chosen strategy: a bot
        whose symbol is still approved but whose strategy or parameters are no longer the chosen ones
        is removed the ``on_remove`` way like a dropped token's, and a bot with the chosen set starts
        (id ``{strategy}:{symbol}:{hash[:8]}``, so a draining predecessor keeps its own); such a
        symbol is listed in both ``started`` and ``stopped``. A stopping bot that trades the chosen set
        is kept, as a re-approved one is.

        Returns:
            (started symbols in approval order, stopped symbols in alphabetical order).
        """
        if choices is not None:
            return await self._sync_choices(approved, strategy_name, parameters, choices, strategies)
        wanted = list(dict.fromkeys(approved))
        wanted_set = set(wanted)
        async with self._lock:
            mine: dict[str, list[Bot]] = {}
            for bot in self._bots.values():
                if bot.config.strategy == strategy_name and not bot.config.is_shadow:
                    mine.setdefault(bot.config.symbol, []).append(bot)

            stopped: list[str] = []
            deselected: dict[str, Shadow] = {}
            for symbol in sorted(set(mine) - wanted_set):
                removing = [b for b in mine[symbol] if b.state not in (BotState.STOPPING, BotState.STOPPED)]
                shadow = await self._retire(removing, shadow=True)
                if shadow is not None:
                    deselected[symbol] = shadow
                if removing:
                    stopped.append(symbol)

            cooling = await self._cooling([strategy_name], mine)
            to_start: list[str] = []
            for symbol in wanted:
                bots = mine.get(symbol, [])
                if any(b.state not in (BotState.STOPPING, BotState.ERROR) for b in bots):
                    continue  # it already trades
                if symbol in cooling:
                    logger.info(
                        "bot sync: {} {} stays stopped until {} (protection cooldown)",
                        strategy_name,
                        symbol,
                        cooling[symbol].isoformat(),
                    )
                    continue
                to_start.append(symbol)
            await self._sync_shadows([strategy_name], wanted_set, deselected)
            results = await asyncio.gather(
                *(
                    self._start_symbol(symbol, strategy_name, parameters, mine.get(symbol, []))
                    for symbol in to_start
                ),
                return_exceptions=True,
            )
            started: list[str] = []
            for symbol, result in zip(to_start, results, strict=True):
                if isinstance(result, BaseException):
                    logger.error("bot for approved token {} did not start: {!r}", symbol, result)
                else:
                    started.append(symbol)
        logger.info("bots synced for {}: started {}, stopped {}", strategy_name, started, stopped)
        return started, stopped

    # -- cooldowns and shadow bots (see _shadow) ------------------------------------------------------

    def _now_ms(self) -> int:
        return self._clock_ms() if self._clock_ms is not None else int(datetime.now(UTC).timestamp() * 1000)

    async def _cooling(
        self, strategies: Collection[str], mine: Mapping[str, list[Bot]]
    ) -> dict[str, datetime]:
        """Symbols sync must not (re)start: a protection stopped their bot (of any of ``strategies``)
        within the cooldown, or is stopping it right now (its event may not be stored yet)."""
        hours = self._settings.protection.cooldown_hours
        now = ms_to_datetime(self._now_ms())
        cooling: dict[str, datetime] = {}
        for strategy in sorted(set(strategies)):
            try:
                stops = await self._store.latest_bot_events(STOP, strategy)
            except Exception as exc:  # without the events, only the bots in hand say what is stopping
                logger.error("bot sync: protection stops unreadable, cooldowns not applied: {!r}", exc)
                stops = {}
            for symbol, until in cooling_down(stops, now, hours).items():
                cooling[symbol] = max(until, cooling.get(symbol, until))
        for symbol, bots in mine.items():
            if any(b.state is BotState.STOPPING and b.status().stop_reason for b in bots):
                cooling.setdefault(symbol, now + timedelta(hours=hours))
        return cooling

    async def _retire(self, removing: Sequence[Bot], *, shadow: bool) -> Shadow | None:
        """Stop ``removing`` the ``on_remove`` way (without waiting for a drain); with ``shadow``, first
        take the shadow that carries on the live bot's paper account (None when there is none)."""
        shadowed = self._shadowed(removing) if shadow else None
        carried = None if shadowed is None else self._shadow_of(shadowed)
        drops = await asyncio.gather(
            *(self._drop(b, self._default_mode(), wait=False) for b in removing),
            return_exceptions=True,
        )
        for bot, dropped in zip(removing, drops, strict=True):
            if isinstance(dropped, BaseException):
                logger.error("bot {}: stop failed: {!r}", bot.bot_id, dropped)
        return carried

    def _shadowed(self, removing: Sequence[Bot]) -> Bot | None:
        """The removed live bot a shadow carries on (one that trades; none in error), if shadows are on."""
        if self._settings.shadow_days <= 0:
            return None
        return next((b for b in removing if b.state in (BotState.RUNNING, BotState.PAUSED)), None)

    def _shadow_of(self, live: Bot) -> Shadow:
        """The shadow of a live bot about to be removed: its configuration and the live bot's paper
        account as of now (taken before the stop, which may close the position at the next bar)."""
        now_ms = self._now_ms()
        config = live.config.with_changes(
            bot_id=shadow_id(live.bot_id),
            shadow_until_ms=shadow_until_ms(now_ms, self._settings.shadow_days),
        )
        return config, live.seed_record(config)

    async def _sync_shadows(
        self, strategies: Collection[str], wanted: Collection[str], deselected: Mapping[str, Shadow]
    ) -> None:
        """End shadows whose token is approved again or whose time is over; give each deselected token a
        shadow that carries on its removed live bot's paper account (position included)."""
        now_ms = self._now_ms()
        shadows = {
            b.config.symbol: b
            for b in list(self._bots.values())
            if b.config.is_shadow and b.config.strategy in strategies
        }
        for symbol, shadow in shadows.items():
            until = shadow.config.shadow_until_ms or 0
            if symbol in wanted or until <= now_ms:
                reason = "token approved again" if symbol in wanted else "shadow period over"
                await self._end_shadow(shadow, reason, now_ms)
        days = self._settings.shadow_days
        if days <= 0:
            return
        for symbol, (config, seed) in deselected.items():
            if config.bot_id in self._bots:
                continue
            try:
                await self._spawn(config, seed)
            except Exception as exc:  # the live side of sync matters more than the shadow
                logger.error("shadow bot for deselected token {} did not start: {!r}", symbol, exc)
                continue
            details: dict[str, Any] = {
                "reason": "token deselected",
                "shadow_until": ms_to_datetime(config.shadow_until_ms or 0),
                "continues": "the live bot's position" if seed is not None else "nothing (a fresh bot)",
            }
            await self._record_event(config, SHADOW_STARTED, now_ms, details)

    async def _end_shadow(self, shadow: Bot, reason: str, now_ms: int) -> None:
        try:
            status = await self._drop(shadow, "close", wait=False)  # never wait for a bar here
        except Exception as exc:
            logger.error("shadow bot {}: stop failed: {!r}", shadow.bot_id, exc)
            return
        details = {
            "reason": reason,
            "equity": status.equity,
            "realized_pnl": status.realized_pnl,
            "num_trades": status.num_trades,
        }
        await self._record_event(shadow.config, SHADOW_ENDED, now_ms, details)

    async def _record_event(self, config: BotConfig, kind: str, now_ms: int, details: dict[str, Any]) -> None:
        event = BotEventRecord(
            event_key=f"{config.bot_id}:{now_ms}:{kind}",
            time=ms_to_datetime(now_ms),
            bot_id=config.bot_id,
            symbol=config.symbol,
            strategy_name=config.strategy,
            kind=kind,
            details=details,
        )
        logger.info("bot {}: {} ({})", config.bot_id, kind, details.get("reason"))
        try:
            await self._store.insert_bot_events([event])
        except Exception as exc:  # the event is in the log; the bots go on
            logger.error("bot {}: {} event not stored: {!r}", config.bot_id, kind, exc)

    async def _sync_choices(
        self,
        approved: Sequence[str],
        strategy_name: str,
        parameters: Mapping[str, Any] | None,
        choices: Mapping[str, tuple[str, Mapping[str, Any]]],
        strategies: Collection[str],
    ) -> tuple[list[str], list[str]]:
        wanted: dict[str, BotConfig] = {}
        for symbol in dict.fromkeys(approved):
            strategy, params = choices.get(symbol, (strategy_name, parameters or {}))
            config = self.new_config(symbol, strategy, params)
            tag = parameter_set_hash(strategy, config.parameters)[:8]
            wanted[symbol] = config.with_changes(bot_id=f"{strategy}:{symbol}:{tag}")
        managed = {strategy_name, *strategies, *(c.strategy for c in wanted.values())}
        async with self._lock:
            mine: dict[str, list[Bot]] = {}
            for bot in self._bots.values():
                if bot.config.strategy in managed and not bot.config.is_shadow:
                    mine.setdefault(bot.config.symbol, []).append(bot)

            def trades_choice(bot: Bot) -> bool:
                want = wanted.get(bot.config.symbol)
                return (
                    want is not None
                    and bot.config.strategy == want.strategy
                    and dict(bot.config.parameters) == dict(want.parameters)
                )

            stopped: list[str] = []
            deselected: dict[str, Shadow] = {}
            for symbol in sorted(mine):
                removing = [
                    b
                    for b in mine[symbol]
                    if b.state not in (BotState.STOPPING, BotState.STOPPED) and not trades_choice(b)
                ]
                shadow = await self._retire(removing, shadow=symbol not in wanted)
                if shadow is not None:
                    deselected[symbol] = shadow
                if removing:
                    stopped.append(symbol)

            cooling = await self._cooling(managed, mine)
            to_start: list[str] = []
            for symbol in wanted:
                same = [b for b in mine.get(symbol, []) if trades_choice(b)]
                if any(b.state not in (BotState.STOPPING, BotState.ERROR) for b in same):
                    continue  # it already trades the chosen set
                if symbol in cooling:
                    logger.info(
                        "bot sync: {} stays stopped until {} (protection cooldown)",
                        symbol,
                        cooling[symbol].isoformat(),
                    )
                    continue
                to_start.append(symbol)
            await self._sync_shadows(managed, set(wanted), deselected)
            results = await asyncio.gather(
                *(
                    self._start_config(wanted[symbol], [b for b in mine.get(symbol, []) if trades_choice(b)])
                    for symbol in to_start
                ),
                return_exceptions=True,
            )
            started: list[str] = []
            for symbol, result in zip(to_start, results, strict=True):
                if isinstance(result, BaseException):
                    logger.error("bot for approved token {} did not start: {!r}", symbol, result)
                else:
                    started.append(symbol)
        logger.info("bots synced to per-token choices: started {}, stopped {}", started, stopped)
        return started, stopped

    async def _start_config(self, config: BotConfig, same: list[Bot]) -> None:
        """Start ``config``: keep a stopping bot that trades the same set, replace one in error."""
        stopping = [b for b in same if b.state is BotState.STOPPING]
        if stopping:
            await stopping[0].start()
            return
        for bot in same:  # in error
            await self._drop(bot, "close")
        await self._spawn(config)

    def _default_mode(self) -> StopMode:
        return "drain" if self._settings.on_remove == "drain" else "close"

    async def _start_symbol(
        self, symbol: str, strategy: str, parameters: Mapping[str, Any] | None, bots: list[Bot]
    ) -> None:
        stopping = [b for b in bots if b.state is BotState.STOPPING]
        if stopping:
            await stopping[0].start()  # approved again before its stop completed: keep it
            return
        for bot in bots:  # in error: replace it
            await self._drop(bot, "close")
        await self._spawn(self.new_config(symbol, strategy, parameters))

    async def restore(self) -> list[str]:
        """Bring back the bots the store lists as running, paused or stopping (after a restart).

        Each resumes with its saved runner state and open position, replays the bars that closed while
        the daemon was down (from the store, else REST), and skips bars it already handled, so no fill
        is recorded twice. A row that cannot be restored is marked ``error`` with the reason.

        Returns:
            The ids of the restored bots.
        """
        restored: list[str] = []
        async with self._lock:
            records = [
                r
                for r in await self._store.list_bots()
                if r.state in _RESTORABLE and r.bot_id not in self._bots
            ]
            results = await asyncio.gather(*(self._restore_one(r) for r in records), return_exceptions=True)
            for record, result in zip(records, results, strict=True):
                if isinstance(result, BaseException):
                    logger.error("bot {} could not be restored: {!r}", record.bot_id, result)
                    await self._mark_error(record, f"restore failed: {type(result).__name__}: {result}")
                else:
                    restored.append(record.bot_id)
        return restored

    async def _restore_one(self, record: BotRecord) -> None:
        saved = read_saved(record).config
        if saved is not None:
            config = saved
        else:  # a row written by something else than a bot: rebuild from its columns and the defaults
            config = self.new_config(
                record.symbol,
                record.strategy_name,
                record.parameters,
                interval=record.interval,
                bot_id=record.bot_id,
            )
        if config.bot_id != record.bot_id or config.symbol != record.symbol:
            raise ConfigError(f"stored configuration of bot {record.bot_id} names another bot or symbol")
        await self._make_bot(config, record).start()

    async def _mark_error(self, record: BotRecord, reason: str) -> None:
        if record.bot_id in self._bots:
            return  # the bot itself recorded its error
        try:
            await self._store.upsert_bot(
                replace(record, state=BotState.ERROR.value, error=reason, updated_at=datetime.now(UTC))
            )
        except Exception as exc:
            logger.error("bot {}: could not record its error: {!r}", record.bot_id, exc)

    async def shutdown_all(self) -> None:
        """End every bot's task, leaving their stored state for :meth:`restore` (positions stay open)."""
        async with self._lock:  # after a sync or restore in progress, never in the middle of one
            await self._shutdown_bots()

    async def _shutdown_bots(self) -> None:
        bots = list(self._bots.values())
        results = await asyncio.gather(*(bot.shutdown() for bot in bots), return_exceptions=True)
        for bot, result in zip(bots, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("bot {}: shutdown failed: {!r}", bot.bot_id, result)
                bot.kill()
        self._bots.clear()


def _same_bot(record: BotRecord, config: BotConfig) -> bool:
    return (
        record.symbol == config.symbol
        and record.strategy_name == config.strategy
        and record.interval == config.interval
        and dict(record.parameters) == dict(config.parameters)
    )
