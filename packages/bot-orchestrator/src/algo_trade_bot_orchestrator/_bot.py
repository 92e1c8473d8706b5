"""The bot actor: one asyncio task per bot, fed by its command queue and by closed bars from the feed.

Everything a bot does happens on its own task, one message at a time, so a bar is always handled
completely (strategy step, paper fills, hand-over to the writer) before the next command or bar.
Status queries read the snapshot published after each message (:meth:`Bot.status`) and never wait for
or disturb the trading; the ``Status`` command answers the same snapshot through the queue.

Life of a bar (:meth:`Bot._on_bar`):

1. bars at or before ``last_candle_time`` are ignored (re-delivered after a reconnect or a restart);
2. the paper book steps the strategy (fills at the open, TP/SL inside the bar, a decision at the close);
3. fills (under deterministic ids ``{bot_id}:{bar open ms}:{n}``) and then the bot row (runner state,
   position, equity, ``last_candle_time``) go to the bot's background :class:`StoreWriter`: after bars
   with fills or a state change, and otherwise at most every ``checkpoint_s`` seconds. Trading never
   waits for the database; the writer retries until the store takes the writes, in order. A restarted
   bot replays the bars after the stored ``last_candle_time`` and produces the same fill ids, so no fill
   is lost or recorded twice;
4. a live bot's protections (:class:`~algo_trade_bot_orchestrator.ProtectionMonitor`) look at the
   bar's equity; a stop they raise is recorded as a ``bot_events`` row (written before the bot row),
   logged and published to the alerts, and the bot stops the ``on_remove`` way (``protection_stop``).
   A shadow bot ends itself (closing its position) on the first bar closing at or after its
   ``shadow_until_ms``;
5. a handler that raises moves the bot to ``error`` (persisted with the reason); it stops consuming
   bars and the other bots are not affected.

Paused bots keep stepping the strategy on every bar (indicators stay warm, an open position's
take-profit/stop-loss still exits) but discard the orders the strategy places: no entries, no
reversals. A bot stopping in ``drain`` mode also takes no entries, and turns the strategy's next
reversal into a plain exit at the next open, after which it stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl
from loguru import logger

from algo_trade_bot_orchestrator._alerts import AlertDispatcher
from algo_trade_bot_orchestrator._commands import (
    Command,
    Pause,
    Resume,
    Shutdown,
    Start,
    Status,
    Stop,
    UpdateConfig,
)
from algo_trade_bot_orchestrator._config import BotConfig, BotState
from algo_trade_bot_orchestrator._history import history_bars, load_history
from algo_trade_bot_orchestrator._paper import OrderMode, PaperBook, PaperFill
from algo_trade_bot_orchestrator._ports import BarLike, BotStore, CandleSource, MarketFeed
from algo_trade_bot_orchestrator._protection import LiveStats, ProtectionMonitor, Trip
from algo_trade_bot_orchestrator._record import RECORD_VERSION, read_saved
from algo_trade_bot_orchestrator._status import BotStatus
from algo_trade_bot_orchestrator._writer import StoreWriter
from algo_trade_core import datetime_to_ms, interval_to_ms, ms_to_datetime, to_decimal
from algo_trade_data import BotEventRecord, BotRecord, FillRecord

__all__ = ["Bot", "BotObserver", "StopMode"]

StopMode = Literal["close", "drain"]
BotObserver = Callable[["Bot", BarLike], None]
"""Called on the bot's task right after the strategy decided on a bar (before the writes)."""


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class _Bar:
    bar: BarLike


class Bot:
    """One paper-trading bot (see the module docstring).

    Create it through :class:`~algo_trade_bot_orchestrator.BotRegistry`; direct use is for tests and
    tools. ``record`` is a stored ``bots`` row to resume from (runner state, position, stop in progress).

    Args:
        config: what to trade and how.
        store: where fills and the bot row go, and where warm-up candles come from.
        feed: the shared market-data hub (closed bars).
        candles: REST fallback for warm-up and catch-up candles the store lacks.
        clock_ms: wall clock (epoch ms): decides which bar is the last closed one at start.
        checkpoint_s: write the bot row at least this often while bars flow without fills.
        final_write_s: how long stopping or shutting down waits for the store to take the last writes.
        observer: called after each decision (latency measurements).
        protection: the bot's protections (live bots; None: none).
        alerts: where the bot's events are published besides the store and the log.
        protection_stop: how a protection stops the bot (``[bots] on_remove``).
    """

    def __init__(
        self,
        config: BotConfig,
        *,
        store: BotStore,
        feed: MarketFeed,
        candles: CandleSource | None = None,
        record: BotRecord | None = None,
        clock_ms: Callable[[], int] | None = None,
        checkpoint_s: float = 5.0,
        final_write_s: float = 10.0,
        observer: BotObserver | None = None,
        protection: ProtectionMonitor | None = None,
        alerts: AlertDispatcher | None = None,
        protection_stop: StopMode = "close",
    ) -> None:
        self._config = config
        self._store = store
        self._feed = feed
        self._candles = candles
        self._record = record
        self._clock_ms = clock_ms if clock_ms is not None else _wall_clock_ms
        self._checkpoint_s = checkpoint_s
        self._final_write_s = final_write_s
        self._observer = observer
        self._protection = protection if protection is not None and protection.active else None
        self._alerts = alerts
        self._protection_stop: StopMode = protection_stop
        self._stop_reason: str | None = None
        self._step_ms = interval_to_ms(config.interval)

        self._inbox: asyncio.Queue[Command | _Bar] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._subscription: Any = None

        self._state = BotState.CREATED
        self._error: str | None = None
        self._book = PaperBook(config)
        self._last_t: int | None = None
        self._warmup_end: int | None = None  # open time of the last warm-up bar: live bars come after it
        self._bars = 0
        self._ignored = 0
        self._stop_mode: StopMode | None = None
        self._state_before_stop = BotState.RUNNING
        self._stop_waiters: list[Stop] = []
        self._created_at = record.created_at if record is not None else datetime.now(UTC)
        self._writer = StoreWriter(store, config.bot_id)
        self._dirty = False
        self._saved_at = 0.0
        self._ended = False
        self._status = self._snapshot()

    # -- handle (any task) ------------------------------------------------------------------------

    @property
    def bot_id(self) -> str:
        return self._config.bot_id

    @property
    def config(self) -> BotConfig:
        return self._config

    @property
    def state(self) -> BotState:
        return self._state

    @property
    def done(self) -> bool:
        """Whether the bot's task has ended (stopped, shut down or crashed)."""
        return self._task is not None and self._task.done()

    @property
    def ignored_bars(self) -> int:
        """Bars dropped because they were at or before the last one handled (re-deliveries)."""
        return self._ignored

    def status(self) -> BotStatus:
        """Return the latest snapshot at once; it never waits for or interrupts the bot."""
        return replace(self._status, unsaved_fills=self._writer.pending_fills)

    async def flushed(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        """Wait until the store has taken every write handed over so far; False after ``timeout`` s."""
        return await self._writer.drain(timeout)

    def add_done_callback(self, callback: Callable[[Bot], None]) -> None:
        """Call ``callback(bot)`` when the bot's task ends (after :meth:`launch`)."""
        if self._task is None:
            raise RuntimeError(f"bot {self.bot_id} is not launched")
        self._task.add_done_callback(lambda _task: callback(self))

    def launch(self) -> None:
        """Create the bot's task (idempotent); commands queued before are handled in order."""
        if self._task is None:
            self._writer.start()
            self._task = asyncio.create_task(self._run(), name=f"bot {self.bot_id}")

    async def wait_done(self) -> None:
        """Wait until the bot's task has ended."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def start(self) -> BotStatus:
        """Warm up (or resume from the stored row) and trade from the next closed bar on.

        On a bot that is stopping, cancel the stop and keep trading.
        """
        result: BotStatus = await self._ask(Start())
        return result

    async def stop(self, mode: StopMode = "close", *, wait: bool = True) -> BotStatus:
        """Stop the bot; an open position is closed at the next bar's open (``close``) or left to the
        strategy's own exit (``drain``). With ``wait``, return once stopped, else once accepted."""
        command = Stop(mode=mode)
        self._send(command)
        result: BotStatus = await (command.reply if wait else command.accepted)
        return result

    async def pause(self) -> BotStatus:
        """Take no new positions (bars keep flowing; TP/SL still exit); see the module docstring."""
        result: BotStatus = await self._ask(Pause())
        return result

    async def resume(self) -> BotStatus:
        """Take new positions again after :meth:`pause`."""
        result: BotStatus = await self._ask(Resume())
        return result

    async def update_config(self, config: BotConfig) -> BotStatus:
        """Replace the configuration; see :class:`~algo_trade_bot_orchestrator._commands.UpdateConfig`."""
        result: BotStatus = await self._ask(UpdateConfig(config=config))
        return result

    async def query_status(self) -> BotStatus:
        """Ask the task for its status (answered between two bars)."""
        result: BotStatus = await self._ask(Status())
        return result

    async def shutdown(self) -> None:
        """Write the latest state and end the task; the row stays running, paused or stopping, so
        :meth:`BotRegistry.restore` brings the bot back with its open position."""
        if self._task is None or self._task.done():
            return
        await self._ask(Shutdown())
        await self.wait_done()

    def seed_record(self, config: BotConfig) -> BotRecord | None:
        """A row from which a bot of ``config`` (same market, strategy and parameters) carries on this
        bot's paper account as of its last bar: runner state, open position, equity and counters (a
        shadow bot continuing a deselected one). None before the first bar or once the book is closed.
        """
        if self._last_t is None or self._book.finished or self._state is BotState.STOPPED:
            return None
        record = self._to_record()
        position = dict(record.position or {})
        position.update(
            config=config.to_json_dict(), stop_mode=None, state_before_stop="running", stop_reason=None
        )
        position.pop("protection", None)
        now = datetime.now(UTC)
        return replace(
            record,
            bot_id=config.bot_id,
            parameters=dict(config.parameters),
            state=BotState.RUNNING.value,
            error=None,
            position=position,
            created_at=now,
            updated_at=now,
        )

    def kill(self) -> None:
        """Cancel the task without any further write (tests simulate a crash with it)."""
        self._writer.kill()
        for task in (self._pump, self._task):
            if task is not None:
                task.cancel()

    def _send(self, command: Command) -> None:
        self.launch()
        if self._task is not None and self._task.done():
            raise RuntimeError(f"bot {self.bot_id} has ended ({self._state}); it takes no more commands")
        self._inbox.put_nowait(command)

    async def _ask(self, command: Command) -> Any:
        self._send(command)
        return await command.reply

    # -- the task ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                item = await self._inbox.get()
                try:
                    if isinstance(item, _Bar):
                        await self._on_bar(item.bar)
                    else:
                        await self._on_command(item)
                except Exception as exc:  # a bug costs this bot, never the task or the other bots
                    await self._fail(f"internal error: {type(exc).__name__}: {exc}")
                if self._ended:
                    break
        finally:
            self._writer.kill()  # a no-op after a clean end; on a crash, unwritten state is dropped
            await self._release_feed()
            self._fail_pending_commands()

    async def _pump_bars(self, queue: asyncio.Queue[Any]) -> None:
        # One hop from the hub's queue into the inbox keeps commands and bars in one ordered stream.
        while True:
            self._inbox.put_nowait(_Bar(await queue.get()))

    async def _release_feed(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            try:
                await self._feed.unsubscribe(subscription)
            except Exception as exc:  # the hub's trouble must not keep a bot from stopping
                logger.warning("bot {}: unsubscribe failed: {!r}", self.bot_id, exc)

    def _fail_pending_commands(self) -> None:
        ended = RuntimeError(f"bot {self.bot_id} has ended ({self._state})")
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if not isinstance(item, _Bar):
                item.fail(ended)
        for waiter in self._stop_waiters:
            waiter.answer(self.status())
        self._stop_waiters.clear()

    # -- commands ---------------------------------------------------------------------------------

    async def _on_command(self, command: Command) -> None:
        """Handle one command; the reply future gets the result or the exception."""
        try:
            if isinstance(command, Status):
                command.answer(self.status())
            elif isinstance(command, Start):
                await self._cmd_start()
                command.answer(self.status())
            elif isinstance(command, Stop):
                await self._cmd_stop(command)
            elif isinstance(command, Pause):
                await self._cmd_pause(pause=True)
                command.answer(self.status())
            elif isinstance(command, Resume):
                await self._cmd_pause(pause=False)
                command.answer(self.status())
            elif isinstance(command, UpdateConfig):
                await self._cmd_update(command.config)
                command.answer(self.status())
            elif isinstance(command, Shutdown):
                self._persist(force=True)
                if not await self._writer.close(self._final_write_s):
                    logger.error(
                        "bot {}: the store did not take its last state; a restart replays from an "
                        "earlier one",
                        self.bot_id,
                    )
                self._ended = True
                command.answer(None)
        except Exception as exc:
            command.fail(exc)

    async def _cmd_start(self) -> None:
        if self._state is BotState.STOPPING:
            self._stop_mode = None
            self._set_state(self._state_before_stop)
            for waiter in self._stop_waiters:  # their stop was cancelled: answer with the live status
                waiter.answer(self.status())
            self._stop_waiters.clear()
            self._persist(force=True)
            return
        if self._state is not BotState.CREATED:
            if self._state is BotState.ERROR:
                raise RuntimeError(
                    f"bot {self.bot_id} is in error ({self._error}); remove it and spawn it again"
                )
            return  # already running or paused
        self._set_state(BotState.WARMING_UP)
        try:
            self._subscription = await self._feed.subscribe(self._config.symbol, self._config.interval)
            self._pump = asyncio.create_task(
                self._pump_bars(self._subscription.queue), name=f"bot {self.bot_id} bars"
            )
            record = self._record
            if record is not None and record.last_candle_time and read_saved(record).book:
                await self._resume_from_record(record)
            else:
                await self._warm_up()
                self._set_state(BotState.RUNNING)
        except Exception as exc:
            await self._fail(f"start failed: {type(exc).__name__}: {exc}")
            raise
        self._record = None
        if not self._ended:
            self._persist(force=True)
        self._status = self._snapshot()

    async def _cmd_stop(self, command: Stop) -> None:
        if self._state in (BotState.CREATED, BotState.ERROR) or self._book.is_flat:
            self._stop_waiters.append(command)
            await self._finish_stop()
            return
        if self._state is not BotState.STOPPING:
            self._state_before_stop = self._state
        self._stop_mode = command.mode
        self._stop_waiters.append(command)
        self._set_state(BotState.STOPPING)
        self._persist(force=True)  # a restarted daemon carries on with the stop
        command.accept(self.status())

    async def _finish_stop(self) -> None:
        """Leave the feed, record the final state and end the task (answering every stop waiter)."""
        await self._release_feed()
        self._stop_mode = None
        if self._state is not BotState.ERROR:
            self._set_state(BotState.STOPPED)
        self._persist(force=True)
        if not await self._writer.close(self._final_write_s):  # the closing fill and "stopped" matter
            logger.error(
                "bot {}: the store did not take its final state; a restart redoes the stop", self.bot_id
            )
        self._ended = True
        self._status = self._snapshot()
        for waiter in self._stop_waiters:
            waiter.answer(self.status())
        self._stop_waiters.clear()

    async def _cmd_pause(self, *, pause: bool) -> None:
        wanted, allowed_from = (
            (BotState.PAUSED, BotState.RUNNING) if pause else (BotState.RUNNING, BotState.PAUSED)
        )
        if self._state is wanted:
            return
        if self._state is not allowed_from:
            verb = "pause" if pause else "resume"
            raise RuntimeError(f"bot {self.bot_id} cannot {verb} while {self._state}")
        self._set_state(wanted)
        self._persist(force=True)

    async def _cmd_update(self, config: BotConfig) -> None:
        old = self._config
        fixed = ("bot_id", "symbol", "strategy", "interval", "exchange")
        changed = [name for name in fixed if getattr(config, name) != getattr(old, name)]
        if changed:
            raise ValueError(f"bot {self.bot_id}: {', '.join(changed)} cannot change; spawn another bot")
        if config == old:
            return
        if not self._book.is_flat:
            raise ValueError(
                f"bot {self.bot_id} holds a position: pause it and let it exit (or stop it) before changing "
                "its configuration"
            )
        self._config = config
        self._book = PaperBook(config)
        if self._state in (BotState.RUNNING, BotState.PAUSED):
            last = self._last_t
            await self._warm_up()  # the new parameters need their own history
            if last is not None and (self._last_t is None or self._last_t < last):
                self._last_t = last  # never act twice on a bar already handled
            self._warmup_end = self._last_t  # the new book trades from here (reconciliation starts here)
        self._persist(force=True)

    # -- warm-up, resume, catch-up ----------------------------------------------------------------

    def _last_closed_t(self) -> int:
        now = self._clock_ms()
        return now - now % self._step_ms - self._step_ms

    async def _history(self, start_ms: int, end_ms: int) -> pl.DataFrame:
        return await load_history(
            self._config, self._store, self._candles, start_ms, end_ms, now_ms=self._clock_ms()
        )

    async def _warm_up(self) -> None:
        """Prime a fresh book with the most recent closed bars (flat: no orders during the warm-up)."""
        needed = max(self._config.warmup_bars, self._book.min_warmup_bars)
        end = self._last_closed_t()
        frame = await self._history(end - (needed - 1) * self._step_ms, end)
        used = self._book.warm_up(frame)
        if used:
            self._last_t = int(frame["t"][-1])
        self._warmup_end = end
        if used < self._book.min_warmup_bars:
            logger.warning(
                "bot {}: only {} of the {} warm-up bars are available; it warms up on live bars",
                self.bot_id,
                used,
                self._book.min_warmup_bars,
            )

    async def _resume_from_record(self, record: BotRecord) -> None:
        saved = read_saved(record)
        assert saved.book is not None  # checked by the caller
        self._book = PaperBook.from_state(self._config, saved.book)
        self._last_t = datetime_to_ms(record.last_candle_time) if record.last_candle_time else None
        self._warmup_end = saved.warmup_end
        self._bars = saved.bars
        self._stop_reason = saved.stop_reason
        if self._protection is not None and saved.protection:
            self._protection.load_state(saved.protection)
        state = BotState(record.state)
        if state is BotState.STOPPING and saved.stop_mode in ("close", "drain"):
            self._stop_mode = "drain" if saved.stop_mode == "drain" else "close"
            self._state_before_stop = saved.state_before_stop
        elif state not in (BotState.RUNNING, BotState.PAUSED):
            state = BotState.RUNNING
        self._set_state(state)
        # Bars that closed while the daemon was down: replay them exactly as if it had kept running.
        if self._last_t is not None:
            frame = await self._history(self._last_t + self._step_ms, self._last_closed_t())
            for bar in history_bars(self._config, frame):
                await self._on_bar(bar)
                if self._state in (BotState.STOPPED, BotState.ERROR):
                    break

    # -- bars -------------------------------------------------------------------------------------

    async def _on_bar(self, bar: BarLike) -> None:
        if self._state not in (BotState.RUNNING, BotState.PAUSED, BotState.STOPPING):
            return
        if self._last_t is not None and bar.t <= self._last_t:
            self._ignored += 1
            return
        try:
            fills, finished = self._trade(bar)
        except Exception as exc:
            at = ms_to_datetime(bar.t).isoformat()
            await self._fail(f"bar {at}: {type(exc).__name__}: {exc}")
            return
        self._last_t = bar.t
        self._bars += 1
        self._dirty = True
        if self._observer is not None:
            try:
                self._observer(self, bar)
            except Exception as exc:  # an observer's bug must not stop the trading
                logger.warning("bot {}: observer failed: {!r}", self.bot_id, exc)
        events: list[BotEventRecord] = []
        if self._state in (BotState.RUNNING, BotState.PAUSED):
            if self._protection is not None:
                finished = self._check_protections(bar, events) or finished
            elif self._config.shadow_until_ms is not None:
                finished = self._check_shadow_end(bar, events) or finished
        self._persist(fills, events=events, force=bool(events))
        if finished:
            await self._finish_stop()
            return
        self._status = self._snapshot()

    def _trade(self, bar: BarLike) -> tuple[list[PaperFill], bool]:
        """Step the book for ``bar`` in the current mode; return the fills and whether the stop is done."""
        if self._state is BotState.STOPPING and self._stop_mode == "close":
            return self._book.close_at_open(bar, reason="close"), True
        mode: OrderMode = "all"
        if self._state is BotState.PAUSED:
            mode = "none"
        elif self._state is BotState.STOPPING:
            mode = "exits"
        fills = self._book.on_bar(bar, orders=mode)
        return fills, self._state is BotState.STOPPING and self._book.is_flat

    # -- protections and shadow end ---------------------------------------------------------------

    def _live_stats(self, bar: BarLike) -> LiveStats:
        monitor = self._protection
        book = self._book
        return LiveStats(
            bot_id=self.bot_id,
            symbol=self._config.symbol,
            strategy=self._config.strategy,
            interval=self._config.interval,
            bar_t=bar.t,
            bars=self._bars,
            num_trades=book.num_trades,
            equity=book.equity,
            initial_capital=self._config.execution.initial_capital,
            peak_equity=book.equity if monitor is None else monitor.peak,
            drawdown=0.0 if monitor is None else monitor.drawdown,
            sharpe=None if monitor is None else monitor.sharpe,
            mean_return=0.0 if monitor is None else monitor.mean_return,
            std_return=None if monitor is None else monitor.std_return,
        )

    def _check_protections(self, bar: BarLike, events: list[BotEventRecord]) -> bool:
        """Run the protections on ``bar``; on a stop, begin it. Return whether the bot is done."""
        assert self._protection is not None
        trips = self._protection.on_bar(
            self._book.equity, self._book.num_trades, lambda: self._live_stats(bar)
        )
        if not trips:
            return False
        stats = self._live_stats(bar).to_json_dict()
        stop: Trip | None = None
        for trip in trips:
            details = {"rule": trip.rule, "reason": trip.reason, **dict(trip.details), "stats": stats}
            if trip.kind == "stop":
                stop = trip
                details["stop_mode"] = self._protection_stop
            events.append(self._event(bar, trip.kind, trip.rule, details))
        if stop is None:
            return False
        self._stop_reason = f"{stop.rule}: {stop.reason}"
        return self._begin_stop(self._protection_stop)

    def _check_shadow_end(self, bar: BarLike, events: list[BotEventRecord]) -> bool:
        until = self._config.shadow_until_ms
        assert until is not None
        if bar.t + self._step_ms < until:
            return False
        self._stop_reason = "shadow period over"
        details = {
            "reason": "shadow period over",
            "equity": self._book.equity,
            "realized_pnl": self._book.realized_pnl,
            "num_trades": self._book.num_trades,
            "shadow_until": ms_to_datetime(until).isoformat(),
        }
        events.append(self._event(bar, "shadow_ended", "shadow", details))
        return self._begin_stop("close")

    def _begin_stop(self, mode: StopMode) -> bool:
        """Stop on the bot's own decision; True when flat (done now), else the stop waits for a bar."""
        if self._book.is_flat:
            return True
        self._state_before_stop = self._state
        self._stop_mode = mode
        self._set_state(BotState.STOPPING)
        return False

    def _event(self, bar: BarLike, kind: str, rule: str, details: dict[str, Any]) -> BotEventRecord:
        event = BotEventRecord(
            event_key=f"{self.bot_id}:{bar.t}:{kind}:{rule}",
            time=ms_to_datetime(bar.t + self._step_ms),
            bot_id=self.bot_id,
            symbol=self._config.symbol,
            strategy_name=self._config.strategy,
            kind=kind,
            details=details,
        )
        log = logger.warning if kind in ("stop", "alert") else logger.info
        log("bot {}: {} ({})", self.bot_id, kind, details.get("reason"))
        if self._alerts is not None:
            self._alerts.publish(event)
        return event

    # -- state and persistence --------------------------------------------------------------------

    def _set_state(self, state: BotState) -> None:
        if state is not self._state:
            logger.info("bot {}: {} -> {}", self.bot_id, self._state, state)
            self._state = state
            self._dirty = True
        self._status = self._snapshot()

    async def _fail(self, reason: str) -> None:
        logger.error("bot {} failed: {}", self.bot_id, reason)
        self._error = reason
        self._set_state(BotState.ERROR)
        await self._release_feed()
        try:
            self._persist(force=True)
        except Exception as exc:  # the error stays visible in the status even if it cannot be stored
            logger.error("bot {}: could not record its error: {!r}", self.bot_id, exc)
        for waiter in self._stop_waiters:
            waiter.answer(self.status())
        self._stop_waiters.clear()

    def _persist(
        self, fills: Sequence[PaperFill] = (), *, events: Sequence[BotEventRecord] = (), force: bool = False
    ) -> None:
        """Hand fills, events and, when due, the bot row to the writer (fills always come with a row)."""
        now = asyncio.get_running_loop().time()
        if not (force or fills or (self._dirty and now - self._saved_at >= self._checkpoint_s)):
            return
        records = [FillRecord.from_fill(f.fill, fill_id=f.fill_id) for f in fills]
        self._writer.submit(records, self._to_record(), events)
        self._dirty = False
        self._saved_at = now

    def _to_record(self) -> BotRecord:
        now = datetime.now(UTC)
        position: dict[str, Any] = {
            "version": RECORD_VERSION,
            "config": self._config.to_json_dict(),
            "book": self._book.state_dict(),
            "open_position": (self._book.position.to_json_dict() if self._book.position else None),
            "bars": self._bars,
            "warmup_end": self._warmup_end,
            "num_trades": self._book.num_trades,
            "num_fills": self._book.num_fills,
            "realized_pnl": self._book.realized_pnl,
            "stop_mode": self._stop_mode,
            "state_before_stop": self._state_before_stop.value,
            "stop_reason": self._stop_reason,
        }
        if self._protection is not None:
            position["protection"] = self._protection.state_dict()
        if self._state is BotState.STOPPED:
            position["book"] = None  # nothing to resume
        state = self._state
        if state is BotState.WARMING_UP or state is BotState.CREATED:
            state = BotState.RUNNING  # what a restart should bring back
        return BotRecord(
            bot_id=self.bot_id,
            symbol=self._config.symbol,
            strategy_name=self._config.strategy,
            parameters=dict(self._config.parameters),
            interval=self._config.interval,
            state=state.value,
            created_at=self._created_at,
            updated_at=now,
            error=self._error,
            position=position,
            equity=to_decimal(self._book.equity),
            last_candle_time=ms_to_datetime(self._last_t) if self._last_t is not None else None,
        )

    def _snapshot(self) -> BotStatus:
        book = self._book
        return BotStatus(
            bot_id=self.bot_id,
            symbol=self._config.symbol,
            strategy=self._config.strategy,
            interval=self._config.interval,
            state=self._state,
            error=self._error,
            position=book.position,
            equity=book.equity,
            initial_capital=self._config.execution.initial_capital,
            realized_pnl=book.realized_pnl,
            num_trades=book.num_trades,
            num_fills=book.num_fills,
            bars=self._bars,
            last_candle_time=ms_to_datetime(self._last_t) if self._last_t is not None else None,
            stop_mode=self._stop_mode,
            unsaved_fills=self._writer.pending_fills,
            updated_at=datetime.now(UTC),
            shadow=self._config.is_shadow,
            stop_reason=self._stop_reason,
        )
